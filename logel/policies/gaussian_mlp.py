"""Diagonal-Gaussian MLP policy: log-probabilities, per-sample scores and behavioural cloning.

The MuJoCo policy class of the paper (spec Sec. 5.5): an actor trunk ``obs -> 64 -> 64`` with
tanh activations, a linear mean head and a state-independent log-std,

.. math:: \\pi_\\theta(a|s)=\\mathcal N\\big(a;\\,W h_\\theta(s)+b,\\ \\mathrm{diag}(e^{2\\sigma})\\big).

As in the official code, LOGEL's :math:`\\theta` is **the trunk only** (``d = 4928`` for an
11-dimensional observation); the mean head and the log-std are nuisance parameters that
behavioural cloning estimates but that are not part of :math:`\\theta`, :math:`\\Delta` or the
Jacobian (``include_mean_head=True`` adds the mean head). The trunk's parameter order is the one
of SB3's ``policy.mlp_extractor.policy_net`` (``0.weight, 0.bias, 2.weight, 2.bias``), so a
learner's flattened trunk loads with :func:`load_theta`.

Per-sample scores :math:`\\nabla_\\theta\\log\\pi_\\theta(a_i|s_i)` come in two forms. The
observer uses :func:`layer_scores`: a linear layer :math:`z=Wx+b` has the per-sample gradient
:math:`\\nabla_W\\log\\pi=\\delta x^\\top`, :math:`\\nabla_b\\log\\pi=\\delta` with
:math:`\\delta=\\partial\\log\\pi/\\partial z`, and since the samples are independent one
batched backward pass of :math:`\\sum_i\\log\\pi(a_i|s_i)` gives every sample's :math:`\\delta`
at once. The scores stay factored (:class:`LayerScores`, ``n (widths)`` numbers instead of
``n d``) and :func:`logel.gpomdp_jacobian` forms them a block of columns at a time.
:func:`iter_scores` (``vmap(grad(log_prob))`` over ``functional_call``) materialises the full
``(n, d)`` matrix; it is the reference that :func:`layer_scores` is tested against. Neither makes
per-sample copies of the network (the official code deep-copies it and backpropagates once per
sample, ``reference-code-notes.md`` Sec. 4, MuJoCo #6).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from logel._validation import boolean, choice, integer, real

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class GaussianMLPPolicy(nn.Module):
    """``trunk`` (tanh MLP) -> ``mean`` (linear) and a state-independent ``log_std``.

    Args:
        obs_dim: observation size.
        act_dim: action size.
        hidden: trunk widths (paper: ``(64, 64)``).
        log_std_init: initial log standard deviation (SB3 and the official code: 0).
        seed: seed of the orthogonal initialisation (trunk gain :math:`\\sqrt2`, mean head gain
            ``mean_gain``, zero biases: SB3's ``ortho_init``).
        mean_gain: orthogonal gain of the mean head (SB3: 0.01; the official learner: 1).
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (64, 64),
                 log_std_init: float = 0.0, seed: int | None = 0,
                 mean_gain: float = 0.01) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden = int(obs_dim), int(act_dim), tuple(hidden)
        layers: list[nn.Module] = []
        width = self.obs_dim
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.trunk = nn.Sequential(*layers)
        self.mean = nn.Linear(width, self.act_dim)
        self.log_std = nn.Parameter(torch.full((self.act_dim,), float(log_std_init)))
        gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
        with torch.no_grad():
            for module, gain in [(m, math.sqrt(2.0)) for m in self.trunk
                                 if isinstance(m, nn.Linear)] + [(self.mean, mean_gain)]:
                nn.init.orthogonal_(module.weight, gain=gain, generator=gen)
                module.bias.zero_()

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        """Mean of the Gaussian, ``(B, act_dim)``."""
        return self.mean(self.trunk(obs))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a|s)``, ``(B,)``: the Gaussian log-density summed over action dimensions."""
        return self.log_density(self.mean_action(obs), actions)

    def log_density(self, mean: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log N(a; mean, diag(exp(2 log_std)))``, ``(B,)``, for given means ``(B, act_dim)``."""
        z = (actions - mean) * torch.exp(-self.log_std)
        return (-0.5 * z * z - self.log_std - _LOG_SQRT_2PI).sum(-1)

    log_prob = forward

    def theta_names(self, include_mean_head: bool = False,
                    include_log_std: bool = False) -> list[str]:
        """Names of the parameters that form :math:`\\theta`, in flattening order (trunk, then
        optionally the mean head, then optionally the log standard deviation)."""
        names = [n for n, _ in self.named_parameters() if n.startswith("trunk.")]
        if include_mean_head:
            names += ["mean.weight", "mean.bias"]
        if include_log_std:
            names += ["log_std"]
        return names

    def n_theta(self, include_mean_head: bool = False, include_log_std: bool = False) -> int:
        """``d``, the size of :math:`\\theta`."""
        params = dict(self.named_parameters())
        return sum(params[n].numel()
                   for n in self.theta_names(include_mean_head, include_log_std))


def get_theta(policy: GaussianMLPPolicy, include_mean_head: bool = False,
              include_log_std: bool = False) -> np.ndarray:
    """Flattened :math:`\\theta` ``(d,)`` (float64) in :meth:`~GaussianMLPPolicy.theta_names` order."""
    params = dict(policy.named_parameters())
    return torch.cat([params[n].detach().reshape(-1) for n in
                      policy.theta_names(include_mean_head, include_log_std)]
                     ).double().numpy()


def get_flat_parameters(policy: nn.Module) -> np.ndarray:
    """All parameters of ``policy``, flattened in ``named_parameters`` order (float64)."""
    return torch.cat([p.detach().reshape(-1) for p in policy.parameters()]).double().numpy()


def set_flat_parameters(policy: nn.Module, flat: np.ndarray, names: Sequence[str] | None = None
                        ) -> None:
    """Copy ``flat`` into the named parameters (all of them by default), in order."""
    params = dict(policy.named_parameters())
    names = list(params) if names is None else list(names)
    flat = np.asarray(flat, dtype=np.float64).ravel()
    total = sum(params[n].numel() for n in names)
    if flat.size != total:
        raise ValueError(f"expected {total} values for {len(names)} parameters, got {flat.size}")
    offset = 0
    with torch.no_grad():
        for n in names:
            p = params[n]
            p.copy_(torch.tensor(flat[offset:offset + p.numel()]).reshape(p.shape))
            offset += p.numel()


def load_theta(policy: GaussianMLPPolicy, theta: np.ndarray, include_mean_head: bool = False
               ) -> GaussianMLPPolicy:
    """Write :math:`\\theta` into ``policy`` in place and return it."""
    set_flat_parameters(policy, theta, policy.theta_names(include_mean_head))
    return policy


def policy_from_theta(obs_dim: int, act_dim: int, theta: np.ndarray, *,
                      mean_head: np.ndarray | None = None, log_std: np.ndarray | None = None,
                      hidden: Sequence[int] = (64, 64)) -> GaussianMLPPolicy:
    """A fresh actor holding trunk parameters ``theta`` (and, if given, the flattened mean head
    ``(act_dim * hidden[-1] + act_dim,)`` and the log-std ``(act_dim,)``)."""
    policy = GaussianMLPPolicy(obs_dim, act_dim, hidden)
    load_theta(policy, theta)
    if mean_head is not None:
        set_flat_parameters(policy, mean_head, ["mean.weight", "mean.bias"])
    if log_std is not None:
        set_flat_parameters(policy, log_std, ["log_std"])
    return policy


def _as_tensor(x: np.ndarray | torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(dtype)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    return torch.from_numpy(np.require(x, dtype=np_dtype, requirements=["C", "W"]))


def iter_scores(policy: GaussianMLPPolicy, obs: np.ndarray, actions: np.ndarray, *,
                include_mean_head: bool = False, include_log_std: bool = False,
                chunk_size: int = 2000) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield ``(rows, scores)`` chunks of per-sample :math:`\\nabla_\\theta\\log\\pi(a_i|s_i)`.

    Args:
        policy: the policy; its current parameters are used (not modified).
        obs: ``(n, obs_dim)`` observations (any float dtype; computed in the policy's dtype,
            float32 unless the policy was converted with ``.double()``).
        actions: ``(n, act_dim)`` actions (the *unclipped* Gaussian samples).
        include_mean_head: differentiate w.r.t. the mean head as well as the trunk.
        include_log_std: and w.r.t. the log standard deviation.
        chunk_size: samples per ``vmap`` call (memory ~ ``chunk_size * d * 4`` bytes).

    Yields:
        A row slice and a ``(rows, d)`` tensor in the policy's dtype.
    """
    dtype = next(policy.parameters()).dtype
    obs_t, act_t = _as_tensor(obs, dtype), _as_tensor(actions, dtype)
    if obs_t.ndim != 2 or act_t.ndim != 2 or obs_t.shape[0] != act_t.shape[0]:
        raise ValueError(f"obs and actions must be (n, obs_dim) and (n, act_dim), got "
                         f"{tuple(obs_t.shape)} and {tuple(act_t.shape)}")
    names = policy.theta_names(include_mean_head, include_log_std)
    params = {n: p.detach() for n, p in policy.named_parameters()}
    diff = {n: params[n] for n in names}
    fixed = {n: p for n, p in params.items() if n not in diff}

    def logp(theta: dict[str, torch.Tensor], s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return functional_call(policy, {**fixed, **theta}, (s[None], a[None]))[0]

    score_fn = vmap(grad(logp), in_dims=(None, 0, 0))
    n = obs_t.shape[0]
    for start in range(0, n, chunk_size):
        rows = slice(start, min(n, start + chunk_size))
        g = score_fn(diff, obs_t[rows], act_t[rows])
        yield rows, torch.cat([g[name].reshape(rows.stop - rows.start, -1) for name in names],
                              dim=1)


def per_sample_scores(policy: GaussianMLPPolicy, obs: np.ndarray, actions: np.ndarray, *,
                      include_mean_head: bool = False, include_log_std: bool = False,
                      chunk_size: int = 2000) -> np.ndarray:
    """``(n, d)`` per-sample scores (see :func:`iter_scores`), float32 (``4 n d`` bytes) for a
    float32 policy."""
    dtype = np.float64 if next(policy.parameters()).dtype == torch.float64 else np.float32
    out = np.empty((len(obs), policy.n_theta(include_mean_head, include_log_std)), dtype=dtype)
    for rows, g in iter_scores(policy, obs, actions, include_mean_head=include_mean_head,
                               include_log_std=include_log_std, chunk_size=chunk_size):
        out[rows] = g.numpy()
    return out


@dataclass(frozen=True)
class LayerScores:
    """Per-sample scores of an MLP kept factored by linear layer (a ``ScoreSource``).

    Parameter tensor ``p`` of :math:`\\theta` (in ``GaussianMLPPolicy.theta_names()`` order)
    has per-sample scores ``deltas[p][i, r] * inputs[p][i, c]`` at column ``r * in + c`` of a
    weight ``(out, in)`` (row-major, as ``weight.reshape(-1)``), and ``deltas[p][i, r]`` for a
    bias (``inputs[p]`` is None).

    Attributes:
        deltas: per parameter tensor, ``(n, out)`` output gradients
            :math:`\\partial\\log\\pi(a_i|s_i)/\\partial z_i`.
        inputs: per parameter tensor, ``(n, in)`` layer inputs, or None for a bias.
        names: the parameter names.
    """

    deltas: list[np.ndarray]
    inputs: list[np.ndarray | None]
    names: list[str]
    n_samples: int = field(init=False)
    n_parameters: int = field(init=False)
    _tensor_starts: dict[int, tuple[int, int, int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_samples", int(self.deltas[0].shape[0]))
        blocks, start = {}, 0
        for p, (delta, x) in enumerate(zip(self.deltas, self.inputs, strict=True)):
            blocks[start] = (p, 0, delta.shape[1])
            start += delta.shape[1] * (1 if x is None else x.shape[1])
        object.__setattr__(self, "n_parameters", start)
        object.__setattr__(self, "_tensor_starts", blocks)

    def column_slices(self, max_width: int) -> list[slice]:
        """Whole biases; weights in groups of output rows of at most ``max_width`` columns."""
        out = []
        for start, (p, _, n_out) in self._tensor_starts.items():
            x = self.inputs[p]
            if x is None:
                out.append(slice(start, start + n_out))
                continue
            n_in = x.shape[1]
            per = max(1, int(max_width) // n_in)
            out += [slice(start + r * n_in, start + min(n_out, r + per) * n_in)
                    for r in range(0, n_out, per)]
        return out

    def _factors(self, rows: np.ndarray, cols: slice
                 ) -> tuple[np.ndarray, np.ndarray | None, int, int]:
        """Output gradients ``(len(rows), r1 - r0)`` and inputs ``(len(rows), in)`` (None for a
        bias) of the samples ``rows`` behind columns ``cols``, and the weight rows' count and
        input width."""
        start = max(s for s in self._tensor_starts if s <= cols.start)
        p = self._tensor_starts[start][0]
        x = self.inputs[p]
        n_in = 1 if x is None else x.shape[1]
        r0, r1 = (cols.start - start) // n_in, (cols.stop - start) // n_in
        return self.deltas[p][rows, r0:r1], None if x is None else x[rows], r1 - r0, n_in

    def columns(self, rows: np.ndarray, cols: slice, out: np.ndarray) -> np.ndarray:
        """Float64 scores of samples ``rows``, columns ``cols`` (one of :meth:`column_slices`),
        written into ``out``: :math:`\\delta_{i,r}x_{i,c}` for a weight, :math:`\\delta_{i,r}`
        for a bias."""
        delta, x, n_rows, n_in = self._factors(rows, cols)
        if x is None:
            out[...] = delta
        else:  # torch's broadcast product is several times faster than numpy's here
            torch.mul(torch.from_numpy(delta)[:, :, None], torch.from_numpy(x)[:, None, :],
                      out=torch.from_numpy(out).view(len(rows), n_rows, n_in))
        return out

    def accumulate(self, rows: np.ndarray, cols: slice, previous: np.ndarray,
                   out: np.ndarray) -> np.ndarray:
        """``previous + columns(rows, cols)`` written into ``out`` in one fused pass
        (``torch.addcmul``: :math:`G_{i,t}=G_{i,t-1}+\\delta_{i,t}x_{i,t}^\\top`; a
        :class:`~logel.estimators.CumulativeScoreSource`)."""
        delta, x, n_rows, n_in = self._factors(rows, cols)
        if x is None:
            return np.add(previous, delta, out=out)
        shape = (len(rows), n_rows, n_in)
        torch.addcmul(torch.from_numpy(previous).view(shape), torch.from_numpy(delta)[:, :, None],
                      torch.from_numpy(x)[:, None, :], out=torch.from_numpy(out).view(shape))
        return out

    def dense(self) -> np.ndarray:
        """The ``(n, d)`` float64 score matrix (for tests and small problems)."""
        out = np.empty((self.n_samples, self.n_parameters))
        rows = np.arange(self.n_samples)
        for cols in self.column_slices(self.n_parameters):
            out[:, cols] = self.columns(rows, cols, np.empty((self.n_samples,
                                                              cols.stop - cols.start)))
        return out


def layer_scores(policy: GaussianMLPPolicy, obs: np.ndarray, actions: np.ndarray, *,
                 include_mean_head: bool = False, include_log_std: bool = False
                 ) -> LayerScores:
    """Per-sample scores of ``policy`` as :class:`LayerScores`, from one batched backward pass.

    The forward pass runs in float64 on a copy of the parameters (the policy is not modified),
    keeping each linear layer's input :math:`x` and output :math:`z`; one ``autograd.grad`` of
    :math:`\\sum_i\\log\\pi(a_i|s_i)` with respect to the :math:`z` gives every sample's
    :math:`\\delta_i`, since sample ``i``'s term is the only one that depends on :math:`z_i`.

    Args:
        policy: the policy (its current parameters).
        obs: ``(n, obs_dim)`` observations.
        actions: ``(n, act_dim)`` actions (the *unclipped* Gaussian samples).
        include_mean_head: include the mean head in :math:`\\theta`.
        include_log_std: include the log standard deviation :math:`\\sigma` in
            :math:`\\theta`; its score is :math:`z^2-1` per action dimension, with
            :math:`z=(a-\\mu(s))e^{-\\sigma}`.

    Returns:
        :class:`LayerScores` whose :meth:`~LayerScores.dense` equals ``per_sample_scores`` of
        the policy in float64.
    """
    obs_t, act_t = _as_tensor(obs, torch.float64), _as_tensor(actions, torch.float64)
    if obs_t.ndim != 2 or act_t.ndim != 2 or obs_t.shape[0] != act_t.shape[0]:
        raise ValueError(f"obs and actions must be (n, obs_dim) and (n, act_dim), got "
                         f"{tuple(obs_t.shape)} and {tuple(act_t.shape)}")
    net = copy.deepcopy(policy).double()
    linears = [(f"trunk.{i}", m) for i, m in enumerate(net.trunk) if isinstance(m, nn.Linear)]
    if include_mean_head:
        linears.append(("mean", net.mean))
    inputs: dict[str, torch.Tensor] = {}
    outputs: dict[str, torch.Tensor] = {}
    with torch.enable_grad():
        h = obs_t
        for i, module in enumerate(net.trunk):
            if isinstance(module, nn.Linear):
                inputs[f"trunk.{i}"] = h
                h = outputs[f"trunk.{i}"] = module(h)
            else:
                h = module(h)
        inputs["mean"] = h
        mean = outputs["mean"] = net.mean(h)
        grads = torch.autograd.grad(net.log_density(mean, act_t).sum(),
                                    [outputs[name] for name, _ in linears])
    deltas: list[np.ndarray] = []
    xs: list[np.ndarray | None] = []
    names: list[str] = []
    for (name, _), delta in zip(linears, grads, strict=True):
        d_np = delta.detach().numpy()
        deltas += [d_np, d_np]
        xs += [inputs[name].detach().numpy(), None]
        names += [f"{name}.weight", f"{name}.bias"]
    if include_log_std:
        with torch.no_grad():
            z = (act_t - mean) * torch.exp(-net.log_std)
        deltas.append((z * z - 1.0).numpy())
        xs.append(None)
        names.append("log_std")
    expected = policy.theta_names(include_mean_head, include_log_std)
    if names != expected:
        raise ValueError(f"layer_scores supports Linear/activation trunks; parameters {names} "
                         f"do not match theta {expected}")
    return LayerScores(deltas, xs, names)


# ----------------------------------------------------------------------------- cloning


@dataclass(frozen=True)
class GaussianBCConfig:
    """Behavioural cloning of consecutive Gaussian MLP policies, warm-started step to step.

    The loss is :math:`-\\mathrm{mean}\\log\\pi(a|s)` over one step's samples (entropy
    coefficient 0, as in the official MuJoCo code, spec Sec. 4.2). ``official()`` gives the
    official schedule: one Adam (lr 1e-3) shared by all steps, 1000 iterations per step, each on
    200 samples drawn without replacement.

    Our default ("gentle tracking") fits the first observed step well (100 epochs from a random
    network), then moves each later step only 5 epochs at lr 3e-4, so that
    :math:`\\hat\\Delta_t` follows the change of the data rather than the cloning noise.
    Measured on one Hopper-v5 learner (PPO 16 x 2000 x 20, tuning seed 100, observed policies
    10..19, all 16 environments; true :math:`\\|\\Delta_t\\|` 0.07..0.45):

    mean cosine between :math:`\\hat\\Delta_t` and the true :math:`\\Delta_t`, typical
    :math:`\\|\\hat\\Delta_t\\|`, wall seconds for 10 steps (on a busy 2-core machine):

    * official (env 0, 1000 x 200, lr 1e-3): 0.00, 5.5, 44 s;
    * Adam 20 epochs x 1000, lr 1e-3: 0.00, 1.7, 31 s;
    * full-batch Adam, 200 steps: 0.00, 5.0, 212 s;
    * L-BFGS, 100 iterations (with or without a proximal term): 0.00, 3.0, 110-260 s;
    * default (gentle), fresh network: 0.00, 0.30, 9 s;
    * default, started at the learner's :math:`\\theta_1` (oracle): **0.26**, 0.30, 10 s;
    * Adam 20 epochs, started at :math:`\\theta_1`: 0.10, 1.7, 17 s;
    * L-BFGS 50, started at :math:`\\theta_1`: 0.03, 1.2, 28 s.

    A fresh network converges to a different parameterisation than the learner's, so no design
    can agree with the learner's :math:`\\Delta` in parameter space (first rows); in the
    learner's own parameterisation (oracle start, last rows) cloning that converges harder adds
    more noise and correlates less. The gentle default gives the smallest, learner-sized
    :math:`\\hat\\Delta`, is the cheapest, and its recovered :math:`\\hat\\omega` =
    (0.121, 0.0184, 0.0007) is close to that from the learner's true parameters
    (0.143, 0.0208, -0.0002); with the official cloning and windows it was
    (0.242, 0.0317, -0.002) (true direction (125, 1, -0.001)).
    """

    method: Literal["adam", "lbfgs"] = "adam"
    """``"adam"``: minibatch Adam; ``"lbfgs"``: full-batch L-BFGS per step."""
    lr: float = 3e-4
    """Adam step size (official 1e-3)."""
    iterations: int | None = None
    """Adam iterations per step, each on ``batch_size`` fresh samples (official 1000). ``None``
    means ``epochs`` full passes over the step's data instead."""
    epochs: int = 5
    """Full shuffled passes over each step's data (used when ``iterations`` is None)."""
    batch_size: int = 1000
    """Minibatch size (official 200)."""
    first_step_factor: int = 20
    """Multiplier of the iterations/epochs of the first observed step, which starts from a
    random network rather than from a neighbouring policy (official: 1)."""
    shared_optimizer: bool = True
    """One Adam for all steps, its moments carried over (official), or a fresh one per step."""
    lbfgs_iterations: int = 200
    """L-BFGS iterations per step (``method="lbfgs"``)."""
    proximal_weight: float = 0.0
    """:math:`\\lambda` of an optional :math:`\\frac\\lambda2\\|\\theta-\\hat\\theta_{t-1}\\|^2`
    on the trunk (per sample), an explicit version of the warm start's implicit regulariser."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.method, c + "method", ("adam", "lbfgs"))
        real(self.lr, c + "lr", low=0, low_open=True)
        if self.iterations is not None:
            integer(self.iterations, c + "iterations", low=1)
        for name in ("epochs", "batch_size", "first_step_factor", "lbfgs_iterations"):
            integer(getattr(self, name), c + name, low=1)
        boolean(self.shared_optimizer, c + "shared_optimizer")
        real(self.proximal_weight, c + "proximal_weight", low=0)


    @classmethod
    def official(cls) -> GaussianBCConfig:
        """The official ``mujoco/logel.py`` schedule (1000 x 200 samples, Adam 1e-3, shared)."""
        return cls(method="adam", lr=1e-3, iterations=1000, batch_size=200,
                   first_step_factor=1, shared_optimizer=True)


@dataclass(frozen=True)
class BCResult:
    """Output of :func:`clone_gaussian_policies`.

    Attributes:
        thetas: ``(K, d)`` cloned :math:`\\hat\\theta_1..\\hat\\theta_K` (trunk, plus mean head
            if requested), float64.
        parameters: ``(K, P)`` every parameter of each cloned policy (``named_parameters``
            order), enough to rebuild the policies (:meth:`policy`).
        final_loss: ``(K,)`` mean negative log-likelihood on each step's data after cloning.
    """

    thetas: np.ndarray
    parameters: np.ndarray
    final_loss: np.ndarray

    def policy(self, k: int, obs_dim: int, act_dim: int,
               hidden: Sequence[int] = (64, 64)) -> GaussianMLPPolicy:
        """A fresh policy holding the ``k``-th cloned parameters (an independent copy)."""
        policy = GaussianMLPPolicy(obs_dim, act_dim, hidden)
        set_flat_parameters(policy, self.parameters[k])
        return policy


def _nll(policy: GaussianMLPPolicy, obs: torch.Tensor, act: torch.Tensor) -> float:
    with torch.no_grad():
        return float(-policy(obs, act).mean())


class SequentialCloner:
    """Clones consecutive policies one at a time, each warm-started from the previous estimate:
    :func:`clone_gaussian_policies` fed one policy's data at a time (it is that function's loop),
    so that cloning can start before the last policy's data exist (e.g. while the learner is
    still training).

    Args:
        obs_dim: observation size.
        act_dim: action size.
        config: the optimiser schedule.
        seed: seeds the initial network and the minibatch sampling.
        hidden: trunk widths.
        include_mean_head: whether :math:`\\theta` includes the mean head.
        include_log_std: whether :math:`\\theta` includes the log standard deviation.
        init: start of the first step (default: a fresh orthogonally initialised network).
    """

    def __init__(self, obs_dim: int, act_dim: int, config: GaussianBCConfig = GaussianBCConfig(),
                 *, seed: int = 0, hidden: Sequence[int] = (64, 64),
                 include_mean_head: bool = False, include_log_std: bool = False,
                 init: GaussianMLPPolicy | None = None) -> None:
        self.config = config
        self.include_mean_head, self.include_log_std = include_mean_head, include_log_std
        self.policy = (GaussianMLPPolicy(obs_dim, act_dim, hidden, seed=seed) if init is None
                       else copy.deepcopy(init))
        self._gen = torch.Generator().manual_seed(int(seed) + 1)
        self._trunk = self.policy.theta_names()
        self._params = dict(self.policy.named_parameters())
        self._optimiser: torch.optim.Optimizer | None = None
        self._thetas: list[np.ndarray] = []
        self._flats: list[np.ndarray] = []
        self._losses: list[float] = []

    def add(self, s_np: np.ndarray, a_np: np.ndarray) -> None:
        """Clone the next policy from its ``(n, obs_dim)`` observations and ``(n, act_dim)``
        actions."""
        config, policy, params, trunk = self.config, self.policy, self._params, self._trunk
        s, a = _as_tensor(s_np), _as_tensor(a_np)
        n = s.shape[0]
        anchor = {name: params[name].detach().clone() for name in trunk}
        factor = config.first_step_factor if not self._thetas else 1

        def loss_fn(idx: torch.Tensor | None) -> torch.Tensor:
            ss, aa = (s, a) if idx is None else (s[idx], a[idx])
            loss = -policy(ss, aa).mean()
            if config.proximal_weight:
                loss = loss + 0.5 * config.proximal_weight * sum(
                    ((params[name] - anchor[name]) ** 2).sum() for name in trunk) / n
            return loss

        if config.method == "lbfgs":
            lbfgs = torch.optim.LBFGS(policy.parameters(), lr=1.0,
                                      max_iter=config.lbfgs_iterations * factor,
                                      tolerance_grad=1e-9, tolerance_change=1e-12,
                                      history_size=20, line_search_fn="strong_wolfe")

            def closure() -> torch.Tensor:
                lbfgs.zero_grad()
                loss = loss_fn(None)
                loss.backward()
                return loss

            lbfgs.step(closure)
        elif config.method == "adam":
            if self._optimiser is None or not config.shared_optimizer:
                self._optimiser = torch.optim.Adam(policy.parameters(), lr=config.lr)
            optimiser, gen = self._optimiser, self._gen
            if config.iterations is not None:
                batches: Iterator[torch.Tensor] = (
                    torch.randperm(n, generator=gen)[:min(config.batch_size, n)]
                    for _ in range(config.iterations * factor))
            else:
                batches = (perm[i:i + config.batch_size]
                           for _ in range(config.epochs * factor)
                           for perm in [torch.randperm(n, generator=gen)]
                           for i in range(0, n, config.batch_size))
            for idx in batches:
                optimiser.zero_grad()
                loss_fn(idx).backward()
                optimiser.step()
        else:
            raise ValueError(f"unknown BC method {config.method!r}")
        self._thetas.append(get_theta(policy, self.include_mean_head, self.include_log_std))
        self._flats.append(get_flat_parameters(policy))
        self._losses.append(_nll(policy, s, a))

    @property
    def n_cloned(self) -> int:
        """Policies cloned so far."""
        return len(self._thetas)

    def result(self) -> BCResult:
        """The policies cloned so far (real copies, no aliasing)."""
        if not self._thetas:
            raise ValueError("no policy cloned yet")
        return BCResult(np.stack(self._thetas), np.stack(self._flats), np.asarray(self._losses))


def clone_gaussian_policies(obs: Sequence[np.ndarray], actions: Sequence[np.ndarray],
                            config: GaussianBCConfig = GaussianBCConfig(), *,
                            seed: int = 0, hidden: Sequence[int] = (64, 64),
                            include_mean_head: bool = False, include_log_std: bool = False,
                            init: GaussianMLPPolicy | None = None) -> BCResult:
    """Clone ``K`` consecutive policies, each warm-started from the previous estimate.

    Args:
        obs: ``K`` arrays ``(n_k, obs_dim)`` of (normalised) observations, one per policy.
        actions: ``K`` arrays ``(n_k, act_dim)`` of the unclipped actions taken.
        config: the optimiser schedule.
        seed: seeds the initial network and the minibatch sampling.
        hidden: trunk widths.
        include_mean_head: whether :math:`\\theta` includes the mean head.
        include_log_std: whether :math:`\\theta` includes the log standard deviation.
        init: start of the first step (default: a fresh orthogonally initialised network).

    Returns:
        A :class:`BCResult`; each step's parameters are real copies (no aliasing).
    """
    if len(obs) != len(actions) or not len(obs):
        raise ValueError("obs and actions must be equally long, non-empty sequences")
    obs_dim, act_dim = int(np.shape(obs[0])[1]), int(np.shape(actions[0])[1])
    cloner = SequentialCloner(obs_dim, act_dim, config, seed=seed, hidden=hidden,
                              include_mean_head=include_mean_head,
                              include_log_std=include_log_std, init=init)
    for s_np, a_np in zip(obs, actions, strict=True):
        cloner.add(s_np, a_np)
    return cloner.result()
