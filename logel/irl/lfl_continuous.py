"""Learning from a Learner (LfL) for continuous actions: the MuJoCo baseline (spec Sec. 6).

LfL (Jacq et al., 2019) assumes soft policy improvement, which inverts to
(``reference-code-notes.md`` Secs. 1.2 and 1.4)

.. math::
    r(s,a)+f_k(s)-\\gamma f_k(s')\\approx
    \\alpha\\big[\\log\\pi_{k+1}(a|s)+\\gamma\\,\\mathrm{KL}\\big(\\pi_k(\\cdot|s')\\,\\|\\,
    \\pi_{k+1}(\\cdot|s')\\big)\\big],

for every observed pair ``(k, k+1)``, with one shaping potential :math:`f_k` per pair. Stages,
as in the official ``mujoco/lfl.py``:

1. **Per-step policies** by behavioural cloning, warm-started step to step. Each snapshot is a
   *real copy* (:class:`~logel.policies.gaussian_mlp.BCResult` stores flattened copies). The
   official code appends the live ``state_dict()``, whose tensors alias the network's
   parameters, so every "per-step" policy equals the last one and every KL target is 0
   (``aliasing_bug=True`` reproduces that, for the comparison chapter).
2. **KL network** ``obs -> 128 (tanh) -> m`` heads, regressing the single-sample estimate
   :math:`\\log\\pi_k(a|s)-\\log\\pi_{k+1}(a|s)` on step ``k``'s samples (``a ~ pi_k``), whose
   conditional mean is :math:`\\mathrm{KL}(\\pi_k\\|\\pi_{k+1})(s)`.
3. **Reward network**: a :class:`~logel.policies.gaussian_mlp.GaussianMLPPolicy` whose
   log-density is the reward, :math:`r(s,a)=\\log\\pi_R(a|s)`, initialised by cloning the last
   observed step.
4. **Shaping network** ``obs -> 128 (tanh) -> m`` heads :math:`f_k`, fitted jointly with the
   reward network on the squared residual above (targets detached), :math:`\\alpha=0.7`,
   :math:`\\gamma=0.99`.

Transitions ``(s, a, s')`` are consecutive steps of one environment *within one episode* (the
official code takes the next row of environment 0 even across episode ends). An "epoch" is one
Adam step on a minibatch of ``batch_size`` samples per pair, as in the official loops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from logel._validation import boolean, choice, instance, integer, items, real
from logel.policies.gaussian_mlp import (
    BCResult,
    GaussianBCConfig,
    GaussianMLPPolicy,
    SequentialCloner,
    get_flat_parameters,
    set_flat_parameters,
)
from logel.traces import LearnerTrace


@dataclass(frozen=True)
class LfLContinuousConfig:
    """Options of continuous LfL (defaults: the official MuJoCo values)."""

    steps: tuple[int, ...] | None = None
    """Observed policy indices; None = the last ``min(10, K)`` (official 10..19)."""
    data: Literal["all", "env0"] = "all"
    """Transitions from all environments (ours) or environment 0 only (official)."""
    temperature: float = 0.7
    """:math:`\\alpha` of the soft-improvement model (official 0.7)."""
    gamma: float = 0.99
    """Discount of the shaping term (official 0.99)."""
    bc: GaussianBCConfig = field(default_factory=lambda: GaussianBCConfig(
        method="adam", lr=1e-3, iterations=1000, batch_size=2000, first_step_factor=1,
        shared_optimizer=True))
    """Per-step cloning (official: 1000 epochs of 2000 samples, Adam 1e-3, entropy 0)."""
    kl_epochs: int = 100
    """KL-network epochs (official 100)."""
    reward_init_epochs: int = 3000
    """Cloning epochs of the reward network on the last step (official 3000)."""
    shaping_epochs: int = 1000
    """Joint reward + shaping epochs (official 1000)."""
    batch_size: int = 2000
    """Samples per pair per epoch (official ``n_demos_per_update`` 2000)."""
    lr: float = 1e-3
    """Adam step size of the KL, reward and shaping fits (official 1e-3)."""
    hidden: int = 128
    """Width of the KL and shaping networks (official 128)."""
    aliasing_bug: bool = False
    """Reproduce the official ``state_dict`` aliasing (every cloned policy = the last one)."""
    seed: int = 0
    """Seeds the networks and the minibatches."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        if self.steps is not None:
            items(self.steps, c + "steps", integer)
        choice(self.data, c + "data", ("all", "env0"))
        real(self.temperature, c + "temperature", low=0, low_open=True)
        real(self.gamma, c + "gamma", low=0, high=1)
        instance(self.bc, c + "bc", GaussianBCConfig)
        for name in ("kl_epochs", "reward_init_epochs", "shaping_epochs", "batch_size", "hidden"):
            integer(getattr(self, name), c + name, low=1)
        real(self.lr, c + "lr", low=0, low_open=True)
        boolean(self.aliasing_bug, c + "aliasing_bug")
        integer(self.seed, c + "seed", low=0)



@dataclass(frozen=True)
class LfLContinuousResult:
    """Output of :func:`lfl_continuous`.

    Attributes:
        reward_parameters: flattened parameters of the reward network (``named_parameters``
            order of a :class:`GaussianMLPPolicy` with ``obs_dim``, ``act_dim``, ``hidden``).
        obs_dim, act_dim, hidden: the reward network's shape.
        steps: observed policy indices.
        kl_loss: ``(kl_epochs,)`` training loss of the KL network.
        fit_loss: ``(shaping_epochs,)`` loss of the joint reward + shaping fit.
        kl_targets_mean: ``(m,)`` mean single-sample KL target of each pair (about 0 under the
            aliasing bug).
        seconds: wall time per stage.
    """

    reward_parameters: np.ndarray
    obs_dim: int
    act_dim: int
    hidden: tuple[int, ...]
    steps: tuple[int, ...]
    kl_loss: np.ndarray
    fit_loss: np.ndarray
    kl_targets_mean: np.ndarray
    seconds: dict[str, float]

    def reward_network(self) -> GaussianMLPPolicy:
        """A fresh network holding the recovered reward."""
        net = GaussianMLPPolicy(self.obs_dim, self.act_dim, self.hidden)
        set_flat_parameters(net, self.reward_parameters)
        return net


def _heads(obs_dim: int, n_heads: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, n_heads))


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.require(x, dtype=np.float32, requirements=["C", "W"]))


def transitions(trace: LearnerTrace, k: int, rows: slice = slice(None)
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, a, s')`` of step ``k``: consecutive steps of one environment and one episode."""
    s, a = trace.states[k, rows], trace.actions[k, rows]
    N, T = s.shape[:2]
    valid = np.ones((N, T - 1), dtype=bool)
    if trace.episode_starts is not None:
        valid &= ~trace.episode_starts[k, rows][:, 1:]
    return s[:, :-1][valid], a[:, :-1][valid], s[:, 1:][valid]


def lfl_steps(config: LfLContinuousConfig, n_policies: int) -> tuple[int, ...]:
    """The observed policy indices LfL uses: ``config.steps``, or the last ``min(10, K)``."""
    steps = (tuple(range(max(0, n_policies - 10), n_policies)) if config.steps is None
             else tuple(int(s) for s in config.steps))
    if len(steps) < 2:
        raise ValueError("LfL needs at least two observed policies")
    return steps


class LfLCloning:
    """Stage 1 of :func:`lfl_continuous` (per-step cloning), fed one observed policy at a time.

    :func:`lfl_continuous` builds one from the whole trace; a caller that has each policy's data
    earlier (the learner, as it trains) can feed it step by step (:meth:`add`) and hand it to
    :func:`lfl_continuous`, which then goes on with the KL, reward and shaping stages. Both give
    the same numbers: creating it seeds torch's global generator with ``config.seed`` exactly
    where :func:`lfl_continuous` would, and the cloning runs the same operations in the same
    order; the later stages must then run in the same process, after the cloning.

    Args:
        config: LfL's options (``steps``, ``data``, ``bc``, ``seed``).
        n_policies: ``K``, the number of policies in the trace.
        hidden: trunk widths of the cloned policies (the learner's).
    """

    def __init__(self, config: LfLContinuousConfig, n_policies: int,
                 hidden: tuple[int, ...] = (64, 64)) -> None:
        self.config = config
        self.steps = lfl_steps(config, n_policies)
        """The observed policy indices to clone, in order."""
        self.n_policies = n_policies
        self.hidden = tuple(hidden)
        self.seconds = 0.0
        """Wall time spent cloning so far."""
        self.cpu_seconds = 0.0
        """CPU time spent cloning so far."""
        self._cloner: SequentialCloner | None = None
        torch.manual_seed(config.seed)

    @property
    def next_step(self) -> int | None:
        """The policy index :meth:`add` expects next (None once all are cloned)."""
        done = 0 if self._cloner is None else self._cloner.n_cloned
        return self.steps[done] if done < len(self.steps) else None

    def add(self, k: int, states: np.ndarray, actions: np.ndarray) -> None:
        """Clone policy ``k`` from its ``(n_envs, T, obs_dim)`` states and ``(n_envs, T,
        act_dim)`` actions (the trace's ``states[k]`` and ``actions[k]``)."""
        if k != self.next_step:
            raise ValueError(f"LfLCloning expects policy {self.next_step}, got {k}")
        t0, c0 = time.perf_counter(), time.process_time()
        rows = slice(None) if self.config.data == "all" else slice(0, 1)
        obs_dim, act_dim = states.shape[-1], actions.shape[-1]
        if self._cloner is None:
            self._cloner = SequentialCloner(obs_dim, act_dim, self.config.bc,
                                            seed=self.config.seed, hidden=self.hidden)
        self._cloner.add(states[rows].reshape(-1, obs_dim), actions[rows].reshape(-1, act_dim))
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.process_time() - c0

    def result(self) -> BCResult:
        """The cloned policies (all of :attr:`steps` must have been added)."""
        if self._cloner is None or self.next_step is not None:
            raise ValueError(f"LfLCloning: policy {self.next_step} not cloned yet")
        return self._cloner.result()


MINIBATCH_SEED_OFFSET = 7
"""The minibatch generator of the KL, reward and shaping fits is seeded with ``seed + 7``."""
REWARD_SEED_OFFSET = 1
"""The reward network's orthogonal initialisation is seeded with ``seed + 1``."""


def _minibatch(gen: torch.Generator, n: int, batch_size: int) -> torch.Tensor:
    """One fit's minibatch of ``min(batch_size, n)`` of ``n`` samples (one ``randperm`` draw)."""
    return torch.randperm(n, generator=gen)[:min(batch_size, n)]


def _fit_reward_init(reward_net: GaussianMLPPolicy, s_last: torch.Tensor, a_last: torch.Tensor,
                     config: LfLContinuousConfig, gen: torch.Generator) -> None:
    """Stage 3: clone the last observed step into ``reward_net`` (in place; draws from
    ``gen``)."""
    opt = torch.optim.Adam(reward_net.parameters(), lr=config.lr)
    for _ in range(config.reward_init_epochs):
        idx = _minibatch(gen, len(s_last), config.batch_size)
        opt.zero_grad()
        (-reward_net(s_last[idx], a_last[idx]).mean()).backward()
        opt.step()


def _last_step_data(trace: LearnerTrace, config: LfLContinuousConfig, steps: tuple[int, ...]
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    rows = slice(None) if config.data == "all" else slice(0, 1)
    obs_dim, act_dim = trace.states.shape[-1], trace.actions.shape[-1]
    return (_tensor(trace.states[steps[-1], rows].reshape(-1, obs_dim)),
            _tensor(trace.actions[steps[-1], rows].reshape(-1, act_dim)))


def lfl_reward_init(trace: LearnerTrace, config: LfLContinuousConfig = LfLContinuousConfig()
                    ) -> tuple[np.ndarray, torch.Tensor]:
    """LfL's stage 3 (the reward network cloned on the last observed step) on its own, e.g. in
    another process while :func:`lfl_continuous` runs stages 1 and 2 (its ``reward_init``).

    The fit depends on the earlier stages only through the minibatch generator, whose draws
    during the KL stage (one ``randperm`` per pair and epoch, sized by the pairs' transition
    counts) are replayed here; the network's initialisation has its own seed. The result is
    therefore the one :func:`lfl_continuous` computes in place, bit for bit (tested).

    Returns:
        ``(parameters, generator_state)``: the fitted network's flattened parameters and the
        minibatch generator's state after the fit.
    """
    steps = lfl_steps(config, trace.n_policies)
    rows = slice(None) if config.data == "all" else slice(0, 1)
    gen = torch.Generator().manual_seed(config.seed + MINIBATCH_SEED_OFFSET)
    sizes = [transition_count(trace, k, rows) for k in steps[:-1]]
    for _ in range(config.kl_epochs):
        for n in sizes:
            _minibatch(gen, n, config.batch_size)
    hidden = tuple(trace.metadata.get("hidden", (64, 64)))
    reward_net = GaussianMLPPolicy(trace.states.shape[-1], trace.actions.shape[-1], hidden,
                                   seed=config.seed + REWARD_SEED_OFFSET)
    _fit_reward_init(reward_net, *_last_step_data(trace, config, steps), config, gen)
    return get_flat_parameters(reward_net), gen.get_state()


def transition_count(trace: LearnerTrace, k: int, rows: slice = slice(None)) -> int:
    """``len(transitions(trace, k, rows)[0])`` without building them."""
    N, T = trace.states[k, rows].shape[:2]
    if trace.episode_starts is None:
        return N * (T - 1)
    return int(np.count_nonzero(~trace.episode_starts[k, rows][:, 1:]))


def lfl_continuous(trace: LearnerTrace, config: LfLContinuousConfig = LfLContinuousConfig(),
                   cloning: LfLCloning | None = None,
                   reward_init: Callable[[], tuple[np.ndarray, torch.Tensor]] | None = None
                   ) -> LfLContinuousResult:
    """Fit the LfL reward network ``log pi_R(a|s)`` to a learner's trace.

    ``cloning``: stage 1 started in this process on this trace's first policies
    (:class:`LfLCloning`, fed while the learner trained); the policies it has not cloned yet,
    or all of them by default, are cloned here. ``reward_init``: called once the KL stage is
    done, returns stage 3's result computed elsewhere (:func:`lfl_reward_init` on this trace
    and configuration, e.g. in another process); by default stage 3 runs here.
    """
    K = trace.n_policies
    steps = lfl_steps(config, K)
    rows = slice(None) if config.data == "all" else slice(0, 1)
    obs_dim, act_dim = trace.states.shape[-1], trace.actions.shape[-1]
    hidden = tuple(trace.metadata.get("hidden", (64, 64)))
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    earlier = 0.0 if cloning is None else cloning.seconds  # cloning done before this call
    if cloning is None:
        cloning = LfLCloning(config, K, hidden)
    elif (cloning.config != config or cloning.steps != steps or cloning.hidden != hidden
          or cloning.n_policies != K):
        raise ValueError("cloning was made for another configuration or trace")
    while (k := cloning.next_step) is not None:  # every step not cloned earlier
        cloning.add(k, trace.states[k], trace.actions[k])
    bc = cloning.result()
    gen = torch.Generator().manual_seed(config.seed + MINIBATCH_SEED_OFFSET)
    policies = [bc.policy(len(steps) - 1 if config.aliasing_bug else i, obs_dim, act_dim, hidden)
                for i in range(len(steps))]
    for p in policies:
        p.requires_grad_(False)
    seconds["bc"] = time.perf_counter() - t0 + earlier

    m = len(steps) - 1
    data = []
    for i, k in enumerate(steps[:-1]):
        s, a, s2 = (_tensor(x) for x in transitions(trace, k, rows))
        with torch.no_grad():
            kl_target = policies[i](s, a) - policies[i + 1](s, a)
            logp_next = policies[i + 1](s, a)
        data.append((s, a, s2, kl_target, logp_next))

    def batch(n: int) -> torch.Tensor:
        return _minibatch(gen, n, config.batch_size)

    # --- KL regression
    t0 = time.perf_counter()
    kl_net = _heads(obs_dim, m, config.hidden)
    opt = torch.optim.Adam(kl_net.parameters(), lr=config.lr)
    kl_loss = []
    for _ in range(config.kl_epochs):
        opt.zero_grad()
        loss = torch.zeros(())
        for i, (s, _, _, target, _) in enumerate(data):
            idx = batch(len(s))
            loss = loss + ((kl_net(s[idx])[:, i] - target[idx]) ** 2).mean()
        loss.backward()
        opt.step()
        kl_loss.append(float(loss.detach()))
    kl_net.requires_grad_(False)
    seconds["kl"] = time.perf_counter() - t0

    # --- reward network: clone the last observed step
    t0 = time.perf_counter()
    # built here in any case: its nn.Linear layers draw from the global generator (then
    # re-initialised from their own seed), which the shaping network's initialisation follows
    reward_net = GaussianMLPPolicy(obs_dim, act_dim, hidden,
                                   seed=config.seed + REWARD_SEED_OFFSET)
    if reward_init is None:
        _fit_reward_init(reward_net, *_last_step_data(trace, config, steps), config, gen)
    else:
        parameters, gen_state = reward_init()
        set_flat_parameters(reward_net, parameters)
        gen.set_state(gen_state)
    seconds["reward_init"] = time.perf_counter() - t0

    # --- joint reward + shaping fit (targets detached)
    t0 = time.perf_counter()
    shaping = _heads(obs_dim, m, config.hidden)
    targets = []
    with torch.no_grad():
        for i, (_, _, s2, _, logp_next) in enumerate(data):
            targets.append(config.temperature * (logp_next + config.gamma * kl_net(s2)[:, i]))
    opt = torch.optim.Adam([*reward_net.parameters(), *shaping.parameters()], lr=config.lr)
    fit_loss = []
    for _ in range(config.shaping_epochs):
        opt.zero_grad()
        loss = torch.zeros(())
        for i, (s, a, s2, _, _) in enumerate(data):
            idx = batch(len(s))
            resid = (reward_net(s[idx], a[idx]) + shaping(s[idx])[:, i]
                     - config.gamma * shaping(s2[idx])[:, i] - targets[i][idx])
            loss = loss + (resid ** 2).mean()
        loss.backward()
        opt.step()
        fit_loss.append(float(loss.detach()))
    seconds["shaping"] = time.perf_counter() - t0

    return LfLContinuousResult(
        get_flat_parameters(reward_net), obs_dim, act_dim, hidden, steps, np.asarray(kl_loss),
        np.asarray(fit_loss), np.array([float(d[3].mean()) for d in data]), seconds)
