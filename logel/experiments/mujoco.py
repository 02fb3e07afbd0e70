"""MuJoCo experiments (spec Sec. 5.5): PPO learner -> LOGEL and LfL -> PPO observers.

For each seed:

1. the learner (:func:`logel.learners.ppo.train_ppo`) trains PPO on the true reward and leaves a
   :class:`~logel.traces.LearnerTrace` (kept in memory; never written to the artifacts);
2. LOGEL (:func:`logel.irl.neural.neural_logel`) recovers :math:`\\hat\\omega` from the last
   observed policies, and LfL (:func:`logel.irl.lfl_continuous.lfl_continuous`) a reward
   network;
3. two observers, fresh PPO agents with the learner's hyper-parameters, train for 30 updates
   (paper budget) on :math:`\\hat\\omega^\\top\\phi` and on :math:`\\log\\pi_R(a|s)`; the ``Monitor``
   logs the *true* episode return, and each curve is the mean of the last 10 finished true
   returns after each update (the official metric).

Run from the command line::

    python -m logel.experiments.mujoco --env Hopper-v5 --seeds 0-4 --budget paper [--parity sb3]

**The learner** (:attr:`~logel.learners.ppo.PPOConfig.parity`, learner and observers alike).
``"official"`` (the default) is the paper's learner: Gaussian mean head initialised orthogonal
with gain 1, log-std at 0, control cost and :math:`\\|a\\|^2` feature on the raw sampled action
(the simulator clamps the control), time limits as in the official PPO (no bootstrap at
truncations, the forced masks of rollout step 1000). ``"sb3"`` is SB3's learner (head gain
0.01, the action clipped before ``env.step``, bootstrapped truncations): the learner of every
artifact committed before the option existed, reproduced bit for bit.

**Speed** (issue "MuJoCo at the speed limit"). With ``parallel=True`` (the default, except at
the smoke budget) a seed uses two processes: the LfL chain (LfL, its observer) runs in its own
process from the start, cloning LfL's per-step policies while the learner trains
(:class:`LfLPipeline`), the learner stepping half of its 16 simulators in a second thread when
two cores are idle (without LfL it instead steps half of its environments in a second process),
then the LOGEL chain (LOGEL, its observer) runs beside the rest of the LfL chain, one core
each; the LOGEL worker first fits LfL's reward network (LfL's stage 3,
:func:`~logel.irl.lfl_continuous.lfl_reward_init`) while the LfL process runs LfL's KL stage,
since the LfL chain is the longer one. Every environment step runs gymnasium's step,
the time limit, ``Monitor``, episode statistics and features for all 16 environments at once
(:class:`~logel.envs.mujoco_features.BatchedFeatureSteps`). The observers replace the reward for all environments at once
(:class:`~logel.envs.mujoco_features.VecLinearFeatureReward`,
:class:`~logel.envs.mujoco_features.VecCallableReward`) and the vector environment no longer
deep-copies its infos. None of this changes a number: each environment sees the same actions and
seed, every stage seeds itself, and the vectorised rewards repeat each environment's float64
arithmetic exactly (tests compare both layouts and both reward paths bit for bit), so results
of the same seed are identical to the one-process run (``parallel=False``). ``timings.json``
holds each stage's own wall time (``learner``, ``logel``, ``lfl``, ``observer_logel``,
``observer_lfl``; ``lfl`` includes its cloning, of which ``lfl_cloned_during_learner`` ran
while the learner trained), its CPU time (``<stage>_cpu``, both processes of the learner;
steadier than wall time on a shared machine), the wall times ``learner_wall``,
``after_learner_wall`` and ``total_wall``, ``learner_env_processes``,
``learner_physics_threads``, ``observer_lfl_threads_once_alone`` (whether the LfL observer
stepped its simulators in two threads once the LOGEL chain had ended, :data:`TAIL_IDLE_CORES`)
and, in the pipelined layout, ``lfl_reward_init_in_logel_worker_cpu`` (the CPU time of LfL's reward-network fit, which
the LOGEL worker ran: not in ``lfl_cpu``). The learner and the observers skip PPO's training
after their last rollout, which changes nothing they record
(:attr:`~logel.learners.ppo.LeanPPO.train_last`), and collect their rollouts with
:class:`~logel.learners.ppo.LeanPPO`, SB3's operations without SB3's overheads.

Results go to ``artifacts/mujoco[_<parity>][_<budget>]/<env>/seed_<k>/`` (:func:`variant_name`:
no budget for ``paper``, no parity for ``sb3``, so ``artifacts/mujoco/`` keeps the committed
SB3-learner runs and ``artifacts/mujoco_official/`` receives the paper's learner): small files
only (curves, recovered weights and learning rates, BCD objective, LfL reward-network
parameters, the config, in which ``learner.parity`` is recorded) and a ``manifest.json`` with
hashes (:mod:`logel.artifacts`). A seed whose manifest verifies and whose config matches is
skipped, so an interrupted sweep resumes where it stopped. :func:`load_results` reads either
learner (``parity="sb3"`` by default: the committed runs chapter 8 shows).

Choices that are ours, not the official code's: the observers' recovered reward goes through
``VecNormalize``'s return normalisation (the official LOGEL observer trains on the raw
:math:`\\hat\\omega^\\top\\phi`, whose scale is arbitrary since :math:`\\omega` is identified only
up to scale); the LfL reward network sees observations normalised with the learner's frozen
statistics of the last observed step (the official observer used its own running statistics,
an input shift); observers use seed ``10_000 + seed`` (the official code used 42 everywhere).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from logel import artifacts, cli
from logel._validation import boolean, choice, instance, integer, text
from logel.cli import Command
from logel.envs.mujoco_features import (
    VecCallableReward,
    VecLinearFeatureReward,
    env_family,
    feature_names,
    per_row_matmul,
)
from logel.experiments.budgets import BUDGETS, Budget, check_budget
from logel.irl.lfl_continuous import (
    LfLCloning,
    LfLContinuousConfig,
    lfl_continuous,
    lfl_reward_init,
)
from logel.irl.neural import NeuralLOGELConfig, neural_logel, summary
from logel.learners.ppo import (
    PARITIES,
    PPOConfig,
    normalise_observations,
    train_ppo,
)
from logel.policies.gaussian_mlp import GaussianBCConfig
from logel.traces import LearnerTrace

log = logging.getLogger(__name__)

VERSION = "v2"
"""Bump when a change alters results; stored in every manifest. ``v1``: float32 ``vmap`` scores
and padded coordinate blocks in the LOGEL Jacobian; ``v2``: per-layer float64 scores in the
compact layout (:func:`logel.irl.observer.step_jacobians`), Jacobians moved by ~1e-7 relative."""

OBSERVER_UPDATES = 30
"""Observer PPO updates at the paper budget (official: 30 x 16 x 2000 = 960k steps)."""

TRUE_WEIGHTS = {"Hopper": [1 / 0.008, 1.0, -1e-3]}
""":math:`\\omega^\\star` in feature units (gymnasium v5 defaults; Reacher has none)."""


@dataclass(frozen=True)
class MujocoBudget:
    """Sizes of every MuJoCo stage at one budget, as overrides of each stage's configuration
    (``paper``: none, the defaults are the spec's sizes)."""

    learner: dict[str, int] = field(default_factory=dict)
    """The learner's data sizes (environments, steps per environment, updates), shared by the
    PPO learner (:func:`ppo_config`) and E1's policy-gradient learner
    (:func:`logel.experiments.mujoco_controls.pg_config`)."""
    ppo: dict[str, int] = field(default_factory=dict)
    """PPO's own sizes (minibatch, epochs)."""
    observer_updates: int = OBSERVER_UPDATES
    """PPO updates of each observer."""
    logel: dict[str, int] = field(default_factory=dict)
    """Neural LOGEL's sizes (:class:`~logel.irl.neural.NeuralLOGELConfig`)."""
    logel_bc: dict[str, int] = field(default_factory=dict)
    """Neural LOGEL's behavioural cloning (:class:`~logel.policies.gaussian_mlp.GaussianBCConfig`)."""
    lfl: dict[str, int] = field(default_factory=dict)
    """LfL's epochs and batch (:class:`~logel.irl.lfl_continuous.LfLContinuousConfig`)."""
    lfl_bc: dict[str, int] = field(default_factory=dict)
    """LfL's per-step cloning."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        for name in ("learner", "ppo", "logel", "logel_bc", "lfl", "lfl_bc"):
            sizes = getattr(self, name)
            if not isinstance(sizes, dict):
                raise TypeError(f"{c}{name} must be a dict of sizes, got {sizes!r}")
            for key, value in sizes.items():
                integer(value, f"{c}{name}[{key!r}]", low=1)
        integer(self.observer_updates, c + "observer_updates", low=1)


MUJOCO_BUDGETS: dict[Budget, MujocoBudget] = {
    "paper": MujocoBudget(),
    "book": MujocoBudget(learner={"n_envs": 8, "n_steps": 1000}, ppo={"batch_size": 500},
                         observer_updates=20,
                         lfl={"kl_epochs": 50, "reward_init_epochs": 600, "shaping_epochs": 300},
                         lfl_bc={"iterations": 200}),
    "smoke": MujocoBudget(learner={"n_envs": 2, "n_steps": 200, "n_updates": 3},
                          ppo={"batch_size": 100, "n_epochs": 2}, observer_updates=3,
                          logel={"max_iter": 200}, logel_bc={"epochs": 2, "batch_size": 100},
                          lfl={"kl_epochs": 5, "reward_init_epochs": 10, "shaping_epochs": 10,
                               "batch_size": 200},
                          lfl_bc={"iterations": 10, "batch_size": 200}),
}
"""The MuJoCo experiments' sizes per budget. ``paper``: the spec (learner 16 x 2000 x 20,
observers 30 updates, official LfL epochs); ``book``: learner 8 x 1000 x 20, observers 20
updates, LfL epochs / 5 (ours); ``smoke``: learner 2 x 200 x 3 with minibatch 100, observers 3
updates, tiny cloning and LfL (seconds; for tests only)."""


def ppo_config(budget: str, **overrides: Any) -> PPOConfig:
    """The PPO learner's configuration at a compute budget (:data:`MUJOCO_BUDGETS`)."""
    b = MUJOCO_BUDGETS[check_budget(budget)]
    return replace(PPOConfig(), **{**b.learner, **b.ppo, **overrides})


def logel_config(budget: str) -> NeuralLOGELConfig:
    """Neural LOGEL's configuration at a compute budget (:data:`MUJOCO_BUDGETS`)."""
    b = MUJOCO_BUDGETS[check_budget(budget)]
    cfg = NeuralLOGELConfig()
    if not (b.logel or b.logel_bc):
        return cfg
    return replace(cfg, bc=GaussianBCConfig(**b.logel_bc), **b.logel)


def lfl_config(budget: str) -> LfLContinuousConfig:
    """LfL's configuration at a compute budget (:data:`MUJOCO_BUDGETS`)."""
    b = MUJOCO_BUDGETS[check_budget(budget)]
    cfg = LfLContinuousConfig()
    if not (b.lfl or b.lfl_bc):
        return cfg
    return replace(cfg, bc=replace(cfg.bc, **b.lfl_bc), **b.lfl)


@dataclass(frozen=True)
class MujocoConfig:
    """One MuJoCo experiment at one budget (everything but the seed)."""

    env_id: str = "Hopper-v5"
    """Gymnasium id (Hopper-v5 or Reacher-v5)."""
    budget: str = "paper"
    """``smoke`` | ``book`` | ``paper``: sizes of every stage."""
    learner: PPOConfig = field(default_factory=PPOConfig)
    """The learner (its seed is replaced by the run's seed)."""
    observer: PPOConfig = field(default_factory=lambda: replace(
        PPOConfig(), n_updates=OBSERVER_UPDATES, record=False))
    """The observers' PPO (fresh agents, learner hyper-parameters, 30 updates)."""
    logel: NeuralLOGELConfig = field(default_factory=NeuralLOGELConfig)
    """LOGEL options (its seed is replaced by the run's seed)."""
    lfl: LfLContinuousConfig = field(default_factory=LfLContinuousConfig)
    """LfL options (its seed is replaced by the run's seed)."""
    run_lfl: bool = True
    """Run the LfL baseline and its observer."""
    parallel: bool = True
    """Use two processes: the learner steps half of its environments in a second process (if
    two cores are idle when it starts), then the LOGEL chain (LOGEL, its observer) and the LfL
    chain (LfL, its observer) run in two processes, one core each. False runs every stage in
    this process, one after the other. A layout, not a result option: every layout gives the
    same numbers (tested)."""
    version: str = VERSION
    """Result version, recorded in the manifest."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        check_env(self.env_id, c + "env_id")
        choice(self.budget, c + "budget", BUDGETS)
        instance(self.learner, c + "learner", PPOConfig)
        instance(self.observer, c + "observer", PPOConfig)
        instance(self.logel, c + "logel", NeuralLOGELConfig)
        instance(self.lfl, c + "lfl", LfLContinuousConfig)
        boolean(self.run_lfl, c + "run_lfl")
        boolean(self.parallel, c + "parallel")
        text(self.version, c + "version")


def experiment_config(env_id: str = "Hopper-v5", budget: str = "paper",
                      parity: str = "official", **overrides: Any) -> MujocoConfig:
    """The configuration of ``env_id`` at ``budget`` with the learner ``parity``.

    ``paper``: the spec (learner 16 x 2000 x 20, observers 30 updates, official LfL epochs).
    ``book``: learner 8 x 1000 x 20, observers 20 updates, LfL epochs / 5 (ours).
    ``smoke``: learner 2 x 200 x 3, observers 3 updates, tiny cloning and LfL (tests only),
    in one process (``parallel=False``).
    ``parity`` (:attr:`~logel.learners.ppo.PPOConfig.parity`, learner and observers):
    ``"official"``, the paper's learner (default), or ``"sb3"``, the learner of the artifacts
    committed before the option existed.
    """
    check_budget(budget)
    env_family(env_id)
    learner = ppo_config(budget, env_id=env_id, parity=parity)
    observer = replace(learner, n_updates=MUJOCO_BUDGETS[budget].observer_updates, record=False)
    logel_cfg = logel_config(budget)
    lfl_cfg = lfl_config(budget)
    # smoke: starting the worker processes (imports) takes longer than the stages themselves
    return replace(MujocoConfig(env_id=env_id, budget=budget, learner=learner,
                                observer=observer, logel=logel_cfg, lfl=lfl_cfg,
                                parallel=budget != "smoke"), **overrides)


def variant_name(budget: str, parity: str) -> str:
    """``mujoco[_<parity>][_<budget>]``: the folder of one budget and learner parity.

    The parity is named for every learner but ``"sb3"``, whose folders (``mujoco/``,
    ``mujoco_<budget>/``) hold the artifacts written before the option existed.
    """
    if parity not in PARITIES:
        raise ValueError(f"parity must be one of {PARITIES}, got {parity!r}")
    return ("mujoco" + ("" if parity == "sb3" else f"_{parity}")
            + ("" if budget == "paper" else f"_{budget}"))


def output_dir(config: MujocoConfig, seed: int, root: Path | None = None) -> Path:
    """``<root>/mujoco[_<parity>][_<budget>]/<env>/seed_<seed>`` (see :func:`variant_name`)."""
    root = artifacts.artifact_root() if root is None else Path(root)
    name = variant_name(config.budget, config.learner.parity)
    return root / name / config.env_id / f"seed_{seed}"


def trace_name(config: MujocoConfig, seed: int) -> str:
    """File name of a kept learner trace: ``<env>_<budget>[_<parity>]_seed<k>.npz`` (no parity
    for ``"sb3"``, as :func:`variant_name`)."""
    parity = config.learner.parity
    return (f"{config.env_id}_{config.budget}" + ("" if parity == "sb3" else f"_{parity}")
            + f"_seed{seed}.npz")


def config_dict(config: MujocoConfig, seed: int) -> dict[str, Any]:
    """JSON form of the configuration of one seed."""
    return {"experiment": "mujoco", "seed": seed, **asdict(config)}


def lfl_reward_function(result: Any, mean: np.ndarray, var: np.ndarray, clip: float) -> Any:
    """The LfL reward :math:`\\log\\pi_R(a|s)` as a numpy function of observations and actions.

    ``reward(obs, action)`` takes one transition (``(obs_dim,)``, ``(act_dim,)``: a float) or a
    batch (``(n, obs_dim)``, ``(n, act_dim)``: an ``(n,)`` array). The observer calls it once per
    step for all its environments (:class:`~logel.envs.mujoco_features.VecCallableReward`); a
    float64 numpy copy of the network is several times faster than torch on so few samples.
    Each row of a batch gets exactly the float64 arithmetic of a single call (stacked
    ``matmul``, see :func:`~logel.envs.mujoco_features.per_row_matmul`).
    """
    net = result.reward_network()
    layers = [(m.weight.detach().double().numpy().T, m.bias.detach().double().numpy())
              for m in net.trunk if isinstance(m, torch.nn.Linear)]
    head_w = net.mean.weight.detach().double().numpy().T
    head_b = net.mean.bias.detach().double().numpy()
    log_std = net.log_std.detach().double().numpy()
    inv_std = np.exp(-log_std)
    const = float(-(log_std.sum() + 0.5 * np.log(2.0 * np.pi) * log_std.size))

    def reward(obs: np.ndarray, action: np.ndarray) -> Any:
        obs = np.asarray(obs)
        single = obs.ndim == 1
        h = normalise_observations(np.atleast_2d(obs), mean, var, clip).astype(np.float64)
        for w, b in layers:
            h = np.tanh(per_row_matmul(h, w) + b)
        a = np.atleast_2d(np.asarray(action, dtype=np.float64))
        z = (a - (per_row_matmul(h, head_w) + head_b)) * inv_std
        r = const - 0.5 * np.matmul(z[:, None, :], z[:, :, None])[:, 0, 0]
        return float(r[0]) if single else r

    return reward


def learner_trace(config: PPOConfig, trace_path: Path | None = None, env_processes: int = 1,
                  on_record: Any = None, physics_threads: int = 1
                  ) -> tuple[LearnerTrace, np.ndarray, np.ndarray]:
    """Train the learner, or load its trace from ``trace_path`` if one with this config is there.

    The trace (about 100 MB per paper-budget seed) is never part of the committed artifacts;
    keeping it in a scratch directory lets the observer stages be re-run without the learner.
    ``env_processes``: see :func:`~logel.learners.ppo.train_ppo` (same trace either way).
    ``on_record`` and ``physics_threads``: passed to :func:`~logel.learners.ppo.train_ppo`
    (``on_record`` is not called when the trace is loaded).

    Returns:
        ``(trace, curve, update_seconds)``.
    """
    if trace_path is not None and Path(trace_path).is_file():
        trace = LearnerTrace.load(trace_path)
        if same_learner(trace.metadata.get("config"), config):
            log.info("learner trace loaded from %s", trace_path)
            meta = trace.metadata
            curve = np.array([np.nan if v is None else v for v in meta["learner_curve"]])
            return trace, curve, np.asarray(meta["update_seconds"])
        log.info("%s holds another learner configuration: retraining", trace_path)
    # the training after the last rollout changes nothing the trace records
    run = train_ppo(config, env_processes=env_processes, on_record=on_record, train_last=False,
                    physics_threads=physics_threads)
    assert run.trace is not None
    if trace_path is not None:
        Path(trace_path).parent.mkdir(parents=True, exist_ok=True)
        run.trace.save(trace_path)
    return run.trace, run.curve, run.update_seconds


def _logel_stage(trace: LearnerTrace, config: MujocoConfig, seed: int) -> dict[str, Any]:
    """LOGEL on the learner's trace: ``{"weights", "summary", "seconds"}``."""
    t0, c0 = time.perf_counter(), time.process_time()
    logel_result = neural_logel(trace, replace(config.logel, seed=seed))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    weights = logel_result.weights
    logel_summary = summary(logel_result)
    logel_summary["feature_names"] = feature_names(config.env_id)
    family = env_family(config.env_id)
    if family in TRUE_WEIGHTS:
        w_star = np.asarray(TRUE_WEIGHTS[family])
        logel_summary["true_weights"] = w_star.tolist()
        logel_summary["cosine_to_true"] = float(
            weights @ w_star / (np.linalg.norm(weights) * np.linalg.norm(w_star) + 1e-300))
    log.info("%s seed %d: LOGEL %.1fs, weights %s", config.env_id, seed, seconds,
             np.array2string(weights, precision=4))
    return {"weights": weights, "summary": logel_summary, "seconds": seconds, "cpu": cpu}


def _lfl_stage(trace: LearnerTrace, config: MujocoConfig, seed: int,
               cloning: LfLCloning | None = None,
               reward_init: Callable[[], tuple[np.ndarray, torch.Tensor]] | None = None
               ) -> dict[str, Any]:
    """LfL on the learner's trace: ``{"result", "obs_mean", "obs_var", "seconds", "cpu",
    "cloned_earlier"}``; ``cloning``: LfL's cloning, fed while the learner trained (its time
    counts in ``seconds`` and ``cpu``; ``cloned_earlier`` is that part); ``reward_init``: LfL's
    reward-network fit done in another process (:func:`_lfl_reward_init`; its time does not
    count here, only the wait for it)."""
    earlier, earlier_cpu = (0.0, 0.0) if cloning is None else (cloning.seconds,
                                                               cloning.cpu_seconds)
    t0, c0 = time.perf_counter(), time.process_time()
    lfl_result = lfl_continuous(trace, replace(config.lfl, seed=seed), cloning, reward_init)
    seconds = time.perf_counter() - t0 + earlier
    cpu = time.process_time() - c0 + earlier_cpu
    log.info("%s seed %d: LfL %.1fs (%s)", config.env_id, seed, seconds,
             {k: round(v, 1) for k, v in lfl_result.seconds.items()})
    last = lfl_result.steps[-1]
    return {"result": lfl_result, "obs_mean": np.asarray(trace.metadata["obs_rms_mean"][last]),
            "obs_var": np.asarray(trace.metadata["obs_rms_var"][last]), "seconds": seconds,
            "cpu": cpu, "cloned_earlier": earlier}


def _observer_config(config: MujocoConfig, seed: int) -> PPOConfig:
    return replace(config.observer, seed=10_000 + seed, record=False)


def _observe(name: str, config: MujocoConfig, seed: int, **train: Any) -> dict[str, Any]:
    """One observer: fresh PPO (``train_ppo(..., **train)``) with the observer's seed."""
    t0 = time.perf_counter()
    # the training after the last rollout changes nothing the observer records
    run = train_ppo(_observer_config(config, seed), train_last=False, **train)
    seconds = time.perf_counter() - t0
    log.info("%s seed %d: %s observer %.1fs, curve %s", config.env_id, seed, name, seconds,
             np.round(run.curve, 1))
    return {"curve": run.curve, "update_seconds": run.update_seconds, "seconds": seconds,
            "cpu": run.cpu_seconds, "episode_stats": run.episode_stats}


def _observe_logel(weights: np.ndarray, config: MujocoConfig, seed: int) -> dict[str, Any]:
    """The LOGEL observer: fresh PPO on :math:`\\hat\\omega^\\top\\phi`."""
    return _observe("LOGEL", config, seed,
                    vec_reward=lambda venv: VecLinearFeatureReward(venv, weights))


def _observe_lfl(lfl: dict[str, Any], config: MujocoConfig, seed: int,
                 physics_threads: int | Callable[[], int] = 1) -> dict[str, Any]:
    """The LfL observer: fresh PPO on :math:`\\log\\pi_R(a|s)` (``physics_threads``: see
    :func:`~logel.learners.ppo.train_ppo`)."""
    fn = lfl_reward_function(lfl["result"], lfl["obs_mean"], lfl["obs_var"], config.learner.clip_obs)
    return _observe("LfL", config, seed, features=False,
                    vec_reward=lambda venv: VecCallableReward(venv, fn),
                    physics_threads=physics_threads)


def logel_chain(trace: LearnerTrace, config: MujocoConfig, seed: int) -> dict[str, Any]:
    """LOGEL, then its observer (one worker of the parallel layout).

    Returns:
        ``{"logel": {"weights", "summary", "seconds", "cpu"}, "observer": {"curve",
        "update_seconds", "seconds", "cpu", "episode_stats"}}``.
    """
    logel = _logel_stage(trace, config, seed)
    return {"logel": logel, "observer": _observe_logel(logel["weights"], config, seed)}


def lfl_chain(trace: LearnerTrace, config: MujocoConfig, seed: int,
              cloning: LfLCloning | None = None,
              reward_init: Callable[[], tuple[np.ndarray, torch.Tensor]] | None = None,
              observer_threads: int | Callable[[], int] = 1) -> dict[str, Any]:
    """LfL, then its observer (the other worker of the parallel layout); ``cloning`` and
    ``reward_init``: see :func:`_lfl_stage`; ``observer_threads``: the observer's physics
    threads (:func:`~logel.learners.ppo.train_ppo`'s ``physics_threads``).

    Returns:
        ``{"lfl": {"result", "obs_mean", "obs_var", "seconds", "cpu"}, "observer": {"curve",
        "update_seconds", "seconds", "cpu", "episode_stats"}}``.
    """
    lfl = _lfl_stage(trace, config, seed, cloning, reward_init)
    return {"lfl": lfl, "observer": _observe_lfl(lfl, config, seed, observer_threads)}


def _lfl_reward_init(trace: LearnerTrace, config: MujocoConfig, seed: int
                     ) -> tuple[np.ndarray, torch.Tensor, float]:
    """LfL's reward-network fit (:func:`~logel.irl.lfl_continuous.lfl_reward_init`), run by
    the LOGEL worker of the pipelined layout for the LfL process: ``(parameters,
    generator_state, cpu_seconds)``."""
    c0 = time.process_time()
    parameters, gen_state = lfl_reward_init(trace, replace(config.lfl, seed=seed))
    return parameters, gen_state, time.process_time() - c0


def _lfl_pipeline_worker(steps: Any, results: Any, config: MujocoConfig, seed: int,
                         log_level: int, alone: Any) -> None:
    """The LfL chain's process of the pipelined layout (:class:`LfLPipeline`)."""
    _init_worker(log_level)
    try:
        cloning = LfLCloning(replace(config.lfl, seed=seed), config.learner.n_updates,
                             tuple(config.learner.hidden))
        while True:
            message = steps.get()
            if message[0] == "step":
                _, k, states, actions = message
                if k == cloning.next_step:
                    cloning.add(k, states, actions)
            elif message[0] == "trace":  # LfL clones any step not sent (e.g. a loaded trace)
                _, trace, elsewhere = message
                reward_init = None
                if elsewhere:
                    def reward_init() -> tuple[np.ndarray, torch.Tensor]:
                        # the next message is the fit the main process forwards
                        kind, parameters, gen_state = steps.get()
                        if kind != "reward_init":
                            raise RuntimeError(f"expected LfL's reward fit, got {kind!r}")
                        return parameters, gen_state
                # once the LOGEL chain is done, the observer has both cores to itself
                results.send(("done", lfl_chain(
                    trace, config, seed, cloning, reward_init,
                    lambda: PIPELINE_PHYSICS_THREADS if alone.is_set() else 1)))
                return
            else:
                return
    except BaseException:
        import traceback

        results.send(("error", traceback.format_exc()))


class LfLPipeline:
    """The LfL chain in its own process, started before the learner: LfL's per-step cloning
    (:class:`~logel.irl.lfl_continuous.LfLCloning`) runs on the second core while the learner
    trains (each observed policy's data are sent as soon as its rollout is recorded, through a
    queue that never blocks the learner), then, given the whole trace, the rest of LfL and the
    LfL observer. The process seeds and computes exactly what :func:`lfl_chain` does in one
    process (same operations, same order), so the results are the same (tested)."""

    def __init__(self, config: MujocoConfig, seed: int) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._steps = ctx.Queue()
        self._results, remote = ctx.Pipe(duplex=False)
        self._alone = ctx.Event()
        self._process = ctx.Process(
            target=_lfl_pipeline_worker, daemon=True,
            args=(self._steps, remote, config, seed, logging.getLogger().getEffectiveLevel(),
                  self._alone))
        self._process.start()
        remote.close()

    def send_step(self, k: int, states: np.ndarray, actions: np.ndarray) -> None:
        """Hand over policy ``k``'s recorded data (a :func:`~logel.learners.ppo.train_ppo`
        ``on_record`` callback)."""
        self._steps.put(("step", k, states, actions))

    def send_trace(self, trace: LearnerTrace, reward_init_elsewhere: bool = False) -> None:
        """Hand over the whole trace: LfL and its observer then run to the end; with
        ``reward_init_elsewhere`` LfL waits for its reward-network fit
        (:meth:`send_reward_init`) after its KL stage."""
        self._steps.put(("trace", trace, reward_init_elsewhere))

    def set_alone(self) -> None:
        """Tell the process that it has the machine to itself (the other chain is done): its
        observer then steps its simulators in :data:`PIPELINE_PHYSICS_THREADS` threads from its
        next rollout on (same numbers)."""
        self._alone.set()

    def send_reward_init(self, parameters: np.ndarray, gen_state: torch.Tensor) -> None:
        """Hand over LfL's reward-network fit computed in another process
        (:func:`_lfl_reward_init`)."""
        self._steps.put(("reward_init", parameters, gen_state))

    def result(self) -> dict[str, Any]:
        """Wait for the chain's result (as :func:`lfl_chain` returns it)."""
        while not self._results.poll(1.0):
            if not self._process.is_alive():
                raise RuntimeError("the LfL process ended without a result")
        kind, value = self._results.recv()
        self._process.join(timeout=30)
        if kind == "error":
            raise RuntimeError(f"the LfL process failed:\n{value}")
        return value

    def close(self) -> None:
        """Stop the process if it still runs (after an error elsewhere)."""
        if self._process.is_alive():
            self._steps.put(("stop",))
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=10)
        self._steps.cancel_join_thread()  # nothing left to deliver: the process has ended
        self._steps.close()


def idle_cores(seconds: float = 0.5) -> float:
    """Cores left idle by every process on the machine over ``seconds`` (from ``/proc/stat``;
    ``os.cpu_count()`` where it cannot be read)."""
    def snapshot() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return values[3] + values[4], sum(values)  # idle + iowait, total

    n = os.cpu_count() or 1
    try:
        idle0, total0 = snapshot()
        time.sleep(seconds)
        idle1, total1 = snapshot()
    except (OSError, ValueError, IndexError):
        return float(n)
    return n * (idle1 - idle0) / max(total1 - total0, 1)


LEARNER_SPLIT_IDLE_CORES = 1.5
"""The learner steps its environments in two processes only if this many cores are idle when
it starts: the two processes work in lock step, and when another program holds one of the two
cores they are slower than one process (the results are the same either way)."""
TAIL_IDLE_CORES = 0.8
"""When the LOGEL chain ends before the LfL chain, the LfL observer steps its simulators in two
threads from its next rollout on if this many cores are idle (the second one, mostly)."""
PIPELINE_PHYSICS_THREADS = 2
"""In the pipelined layout, the learner steps half of its simulators in a second thread
(:meth:`~logel.envs.mujoco_features.BatchedFeatureSteps.set_threads`) if
:data:`LEARNER_SPLIT_IDLE_CORES` are idle when the seed starts: LfL's cloning, beside it, holds
the second core for only about a quarter of the learner's time (after each of the last 10
rollouts)."""


def _one_blas_thread() -> None:
    """One BLAS thread in this process: the stages run one process per core, and a
    multi-threaded BLAS on small matrices only oversubscribes the cores (as the Makefile's
    ``OMP_NUM_THREADS=1``, for a command run outside ``make``)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _init_worker(log_level: int) -> None:
    torch.set_num_threads(1)
    _one_blas_thread()
    logging.basicConfig(level=log_level, format="%(asctime)s %(message)s")


def _run_chains(trace: LearnerTrace, config: MujocoConfig, seed: int,
                pipeline: LfLPipeline | None = None
                ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The LOGEL chain and the LfL chain, in two processes or one after the other; with a
    ``pipeline`` the LfL chain is already running in its process (it gets the trace)."""
    if pipeline is not None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # the LfL chain (rest of LfL, its observer) is longer than the LOGEL chain: the LOGEL
        # worker first fits LfL's reward network (LfL's stage 3, which needs only the trace)
        # while the LfL process runs its KL stage, then runs LOGEL and its observer
        pipeline.send_trace(trace, reward_init_elsewhere=True)
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_init_worker,
                                 initargs=(logging.getLogger().getEffectiveLevel(),)) as pool:
            reward_init = pool.submit(_lfl_reward_init, trace, config, seed)
            future_logel = pool.submit(logel_chain, trace, config, seed)
            parameters, gen_state, reward_init_cpu = reward_init.result()
            pipeline.send_reward_init(parameters, gen_state)
            chain_logel = future_logel.result()
        alone = idle_cores() >= TAIL_IDLE_CORES
        if alone:
            pipeline.set_alone()
        chain_lfl = pipeline.result()
        chain_lfl["lfl"]["reward_init_elsewhere_cpu"] = reward_init_cpu
        chain_lfl["observer"]["threads_once_alone"] = alone
        return chain_logel, chain_lfl
    if not config.parallel or not config.run_lfl:
        logel = _logel_stage(trace, config, seed)
        lfl = _lfl_stage(trace, config, seed) if config.run_lfl else None
        a = {"logel": logel, "observer": _observe_logel(logel["weights"], config, seed)}
        b = None if lfl is None else {"lfl": lfl, "observer": _observe_lfl(lfl, config, seed)}
        return a, b
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a fresh interpreter per worker (fork would copy torch's thread pools and locks)
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker,
                             initargs=(logging.getLogger().getEffectiveLevel(),)) as pool:
        future_b = pool.submit(lfl_chain, trace, config, seed)  # the longer chain first
        future_a = pool.submit(logel_chain, trace, config, seed)
        return future_a.result(), future_b.result()


def same_learner(stored: Any, config: PPOConfig) -> bool:
    """Whether a trace's stored learner configuration is ``config`` (:data:`ADDED_OPTIONS`)."""
    current = artifacts.jsonable(asdict(config))
    if not isinstance(stored, dict):
        return False
    for (*parents, key), old_value in ADDED_OPTIONS.items():
        if parents == ["learner"] and key not in stored and current.get(key) == old_value:
            del current[key]
    return stored == current


def run_seed(config: MujocoConfig, seed: int, out: Path | None = None,
             trace_path: Path | None = None) -> dict[str, Any]:
    """Learner, LOGEL, LfL and observers for one seed; writes the artifacts to ``out``.

    With ``config.parallel`` and LfL, the LfL chain runs in its own process from the start
    (:class:`LfLPipeline`): LfL clones each observed policy on the second core while the
    learner trains in this process (stepping half of its simulators in a second thread if two
    cores are idle, :data:`PIPELINE_PHYSICS_THREADS`), then finishes LfL and runs its observer once it has the
    trace, while a second worker process fits LfL's reward network for it (LfL's stage 3,
    beside LfL's KL stage), then runs LOGEL and its observer. With ``config.parallel`` and no
    LfL, the learner steps its environments in two processes
    (:class:`~logel.learners.ppo.SplitVecEnv`) if two cores are idle
    (:data:`LEARNER_SPLIT_IDLE_CORES`), then runs the LOGEL chain in a worker. Otherwise every
    stage runs in this process, in the order learner, LOGEL, LfL, LOGEL observer, LfL observer.
    Every stage seeds itself, so every layout gives the same numbers.

    Args:
        config: the experiment.
        seed: learner seed (observers use ``10_000 + seed``).
        out: artifact directory, or None to write nothing.
        trace_path: optional scratch file for the learner trace (see :func:`learner_trace`).

    Returns:
        A summary dict (learner and observer curves, recovered weights, timings).
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    # measured before LfL's process starts (its start-up would hold a core for a moment)
    split = config.parallel and idle_cores() >= LEARNER_SPLIT_IDLE_CORES
    pipeline = LfLPipeline(config, seed) if config.parallel and config.run_lfl else None
    try:
        env_processes = 2 if split and pipeline is None else 1
        physics_threads = PIPELINE_PHYSICS_THREADS if split and pipeline is not None else 1
        timings["learner_physics_threads"] = physics_threads
        trace, learner_curve, learner_seconds = learner_trace(
            replace(config.learner, seed=seed, record=True), trace_path,
            env_processes=env_processes,
            on_record=None if pipeline is None else pipeline.send_step,
            physics_threads=physics_threads)
        result = _after_learner(config, seed, out, t_start, t0, timings, env_processes, trace,
                                learner_curve, learner_seconds, pipeline)
    finally:
        if pipeline is not None:
            pipeline.close()
    return result


def _after_learner(config: MujocoConfig, seed: int, out: Path | None, t_start: float,
                   t0: float, timings: dict[str, float], env_processes: int,
                   trace: LearnerTrace, learner_curve: np.ndarray,
                   learner_seconds: np.ndarray, pipeline: LfLPipeline | None
                   ) -> dict[str, Any]:
    """:func:`run_seed` from the learner's timings on: LOGEL, LfL, observers, artifacts."""
    timings["learner_env_processes"] = env_processes
    timings["learner"] = float(np.sum(learner_seconds))
    timings["learner_wall"] = time.perf_counter() - t0
    if trace.metadata.get("cpu_seconds") is not None:
        timings["learner_cpu"] = float(trace.metadata["cpu_seconds"])
    log.info("%s seed %d: learner %.1fs, curve %s", config.env_id, seed, timings["learner"],
             np.round(learner_curve, 1))

    t0 = time.perf_counter()
    chain_logel, chain_lfl = _run_chains(trace, config, seed, pipeline)
    parts = {"logel": chain_logel["logel"], "observer_logel": chain_logel["observer"]}
    if chain_lfl is not None:
        parts.update(lfl=chain_lfl["lfl"], observer_lfl=chain_lfl["observer"])
    for name, part in parts.items():
        timings[name] = float(part["seconds"])
        timings[f"{name}_cpu"] = float(part["cpu"])
    if chain_lfl is not None:
        timings["lfl_cloned_during_learner"] = float(chain_lfl["lfl"]["cloned_earlier"])
        if "reward_init_elsewhere_cpu" in chain_lfl["lfl"]:
            timings["lfl_reward_init_in_logel_worker_cpu"] = float(
                chain_lfl["lfl"]["reward_init_elsewhere_cpu"])
            timings["observer_lfl_threads_once_alone"] = int(
                chain_lfl["observer"]["threads_once_alone"])
    timings["after_learner_wall"] = time.perf_counter() - t0
    timings["total_wall"] = time.perf_counter() - t_start
    log.info("%s seed %d: %.1fs in all (%s)", config.env_id, seed, timings["total_wall"],
             {k: round(v, 1) for k, v in timings.items()})
    logel_summary = chain_logel["logel"]["summary"]
    obs_logel = chain_logel["observer"]
    obs_lfl = None if chain_lfl is None else chain_lfl["observer"]

    steps_per_update = config.learner.n_envs * config.learner.n_steps
    result = {
        "learner_curve": learner_curve,
        "learner_update_seconds": learner_seconds,
        "logel": logel_summary,
        "observer_logel_curve": obs_logel["curve"],
        "observer_lfl_curve": None if obs_lfl is None else obs_lfl["curve"],
        "timings": timings,
    }
    if out is not None:
        observer_cfg = _observer_config(config, seed)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        artifacts.save_json(out / "config.json", config_dict(config, seed))
        learner_stats = {f"episode_{k}": np.array([np.nan if x is None else x for x in v])
                         for k, v in trace.metadata.get("learner_episode_stats", {}).items()}
        artifacts.save_arrays(out / "learner.npz", curve=learner_curve,
                              update_seconds=learner_seconds,
                              env_steps=(np.arange(len(learner_curve)) + 1) * steps_per_update,
                              learning_rates=np.asarray(trace.metadata["learning_rates_used"]),
                              **learner_stats)
        artifacts.save_json(out / "logel.json", logel_summary)
        obs_steps = (np.arange(observer_cfg.n_updates) + 1) * (observer_cfg.n_envs
                                                               * observer_cfg.n_steps)
        artifacts.save_arrays(out / "observer_logel.npz", curve=obs_logel["curve"],
                              env_steps=obs_steps, update_seconds=obs_logel["update_seconds"],
                              **_episode_arrays(obs_logel))
        if chain_lfl is not None and obs_lfl is not None:
            lfl = chain_lfl["lfl"]
            lfl_result = lfl["result"]
            artifacts.save_arrays(out / "observer_lfl.npz", curve=obs_lfl["curve"],
                                  env_steps=obs_steps, update_seconds=obs_lfl["update_seconds"],
                                  **_episode_arrays(obs_lfl))
            artifacts.save_arrays(out / "lfl.npz", reward_parameters=lfl_result.reward_parameters,
                                  obs_mean=lfl["obs_mean"], obs_var=lfl["obs_var"],
                                  kl_loss=lfl_result.kl_loss,
                                  fit_loss=lfl_result.fit_loss,
                                  kl_targets_mean=lfl_result.kl_targets_mean,
                                  steps=np.asarray(lfl_result.steps))
        artifacts.save_json(out / "timings.json", timings)
        artifacts.write_manifest(out, config=config_dict(config, seed), seeds=[seed],
                                 wall_time_seconds=time.perf_counter() - t_start,
                                 extra={"experiment": "mujoco", "version": config.version,
                                        "observer_seed": observer_cfg.seed})
    return result


def _episode_arrays(observer: dict[str, Any]) -> dict[str, np.ndarray]:
    """An observer's per-update episode statistics as ``episode_<name>`` arrays."""
    return {f"episode_{k}": v for k, v in observer.get("episode_stats", {}).items()}


ADDED_OPTIONS: dict[tuple[str, ...], Any] = {("logel", "jacobian_data"): "all",
                                             ("logel", "block_bytes"): 4e6,
                                             ("logel", "include_log_std"): False,
                                             ("logel", "convergence"): "weights",
                                             ("learner", "parity"): "sb3",
                                             ("observer", "parity"): "sb3",
                                             ("learner", "optimizer"): "adam",
                                             ("observer", "optimizer"): "adam",
                                             ("learner", "head_gain"): None,
                                             ("observer", "head_gain"): None,
                                             ("learner", "raw_control"): None,
                                             ("observer", "raw_control"): None}
"""Options added after artifacts were written, with the value that reproduces those artifacts:
a stored configuration that lacks one matches a current one that has this value."""

REMOVED_OPTIONS: tuple[tuple[str, ...], ...] = (("logel", "chunk_size"),
                                                ("logel", "memory_bytes"))
"""Options that no longer exist (they set memory use only, not results): ignored when stored."""

LAYOUT_OPTIONS: tuple[tuple[str, ...], ...] = (("parallel",),)
"""Options that choose how a seed runs, not what it computes (both values give the same numbers,
tested): recorded in the manifest, ignored when comparing configurations, so a seed computed in
one layout (or before the option existed: one process) is not recomputed in the other."""


def _part(tree: Any, path: Sequence[str]) -> Any:
    for name in path:
        tree = tree.get(name, {}) if isinstance(tree, dict) else {}
    return tree


def same_config(directory: Path, config: MujocoConfig, seed: int) -> bool:
    """Whether ``directory`` holds ``config``'s options for ``seed`` (the result version aside:
    see :func:`stored_version`)."""
    stored = artifacts.read_manifest(directory).get("config")
    current = artifacts.jsonable(config_dict(config, seed))
    if not isinstance(stored, dict):
        return False
    for (*parents, key), old_value in ADDED_OPTIONS.items():
        stored_part, current_part = _part(stored, parents), _part(current, parents)
        if key not in stored_part and current_part.get(key) == old_value:
            del current_part[key]
    for *parents, key in REMOVED_OPTIONS:
        _part(stored, parents).pop(key, None)
    for *parents, key in LAYOUT_OPTIONS:
        _part(stored, parents).pop(key, None)
        _part(current, parents).pop(key, None)
    stored.pop("version", None)
    current.pop("version", None)
    return stored == current


def stored_version(directory: Path) -> str | None:
    """The result version that wrote ``directory`` (from its manifest)."""
    return artifacts.read_manifest(directory).get("config", {}).get("version")


README = """# MuJoCo results: {env_id}, budget `{budget}`, learner parity `{parity}`

Generated by `logel.experiments.mujoco` (result version {version}); regenerate with

    python -m logel.experiments.mujoco --env {env_id} --seeds <seeds> --budget {budget} --parity {parity}

One folder per seed (`seed_<k>/`), each complete only if its `manifest.json` verifies
(`logel.artifacts.verify`); load them with
`logel.experiments.mujoco.load_results("{env_id}", "{budget}", parity="{parity}")`.

| file | content |
|---|---|
| `config.json` | the full configuration of the seed |
| `learner.npz` | learner curve (mean of the last 10 true episode returns after each update), env steps, learning rates, seconds per update |
| `logel.json` | LOGEL: recovered weights and learning rates, BCD objective, identifiability, cloning diagnostics |
| `lfl.npz` | LfL: reward-network parameters, the observation statistics it uses, KL and fit losses |
| `observer_logel.npz`, `observer_lfl.npz` | observers' true-return curves (fresh PPO on each recovered reward) |
| `timings.json` | wall (and CPU) time of each stage |
| `manifest.json` | config, seeds, versions, git SHA, hardware, wall time, SHA-256 of every file |

No trajectories are stored.
"""


def run(config: MujocoConfig, seeds: Sequence[int], root: Path | None = None,
        force: bool = False, trace_dir: Path | None = None) -> dict[int, str]:
    """Run every seed not already complete; returns ``{seed: "done" | "skipped"}``.

    ``trace_dir``: keep (and reuse) learner traces there, one ``<env>_<budget>_seed<k>.npz``.
    """
    status = {}
    if seeds:
        base = output_dir(config, seeds[0], root).parent
        artifacts.atomic_write_text(base / "README.md", README.format(
            env_id=config.env_id, budget=config.budget, version=config.version,
            parity=config.learner.parity))
    for seed in seeds:
        out = output_dir(config, seed, root)
        if not force and artifacts.is_complete(out):
            if not same_config(out, config, seed):
                raise RuntimeError(f"{out} holds a different configuration; pass --force to "
                                   "overwrite it")
            if stored_version(out) != config.version:
                raise RuntimeError(f"{out} was written by result version "
                                   f"{stored_version(out)}, this code is {config.version}; "
                                   "pass --force to recompute it")
            log.info("seed %d: %s verifies, skipped", seed, out)
            status[seed] = "skipped"
            continue
        trace_path = None if trace_dir is None else Path(trace_dir) / trace_name(config, seed)
        run_seed(config, seed, out, trace_path)
        status[seed] = "done"
    return status


def load_results(env_id: str, budget: str = "paper", root: Path | None = None,
                 parity: str = "sb3") -> dict[int, dict[str, Any]]:
    """Every complete seed of ``env_id`` at ``budget`` and learner ``parity``, each verified
    against its manifest.

    ``parity`` defaults to ``"sb3"``, the learner of the committed artifacts (what chapter 8
    shows until the official-learner runs are committed); pass ``"official"`` for the paper's
    learner, the default of :func:`experiment_config` and :func:`run`.

    Raises:
        logel.artifacts.ArtifactError: if a seed directory fails verification.
    """
    base = output_dir(experiment_config(env_id, budget, parity=parity), 0, root).parent
    return {seed: artifacts.load(d) for seed, d in artifacts.seed_folders(base).items()}


# ------------------------------------------------------------------------------ command line


@dataclass(frozen=True, kw_only=True)
class MujocoCommand:
    """The options every MuJoCo command shares (``logel run mujoco*``); the sizes of every stage
    follow from the budget (:data:`MUJOCO_BUDGETS`)."""

    env: str = "Hopper-v5"
    """Gymnasium id: Hopper-v5 or Reacher-v5."""
    budget: Budget = "paper"
    """Sizes of every stage: smoke (seconds), book or paper (hours)."""
    root: Path | None = None
    """Artifact root (default: $LOGEL_ARTIFACTS or <repo>/artifacts)."""
    force: bool = False
    """Re-run complete seeds (otherwise they are skipped)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        check_env(self.env, c + "env")
        choice(self.budget, c + "budget", BUDGETS)
        boolean(self.force, c + "force")


def check_env(env_id: str, name: str) -> str:
    """``env_id`` if it is a string naming a supported MuJoCo environment (Hopper or Reacher),
    else a ``TypeError``/``ValueError`` naming ``name``."""
    text(env_id, name)
    try:
        env_family(env_id)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    return env_id


def require_directory(path: Path, option: str) -> None:
    """A ``ValueError`` naming ``option`` unless ``path`` is a directory (a ``TypeError`` unless
    it is a path at all)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{option} must be a path, got {path!r}")
    if not Path(path).is_dir():
        raise ValueError(f"{option} {str(path)!r} is not a directory")


def start_logging() -> None:
    """INFO logging with times, one torch and one BLAS thread (a MuJoCo command's set-up)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    _one_blas_thread()


@dataclass(frozen=True, kw_only=True)
class MujocoRunCommand(MujocoCommand):
    """``logel run mujoco``: learner, LOGEL and LfL, and their observers, for every seed."""

    parity: str = "official"
    """The learner: the paper's ('official') or SB3's choices ('sb3', the committed artifacts
    under artifacts/mujoco/)."""
    sequential: bool = False
    """One process (parallel=False): same results, slower."""
    lfl: bool = True
    """Run LfL and its observer."""
    trace_dir: Path | None = None
    """Scratch directory that keeps learner traces (~100 MB per seed) so that later runs reuse
    them instead of retraining the learner."""

    def __post_init__(self) -> None:
        super().__post_init__()
        c = type(self).__name__ + "."
        choice(self.parity, c + "parity", PARITIES)
        boolean(self.sequential, c + "sequential")
        boolean(self.lfl, c + "lfl")


def _execute(options: MujocoRunCommand, args: Any) -> int:
    start_logging()
    config = experiment_config(options.env, options.budget, parity=options.parity,
                               run_lfl=options.lfl)
    if options.sequential:
        config = replace(config, parallel=False)
    status = run(config, args.seeds, options.root, options.force, options.trace_dir)
    log.info("finished: %s", status)
    return 0


# logel run mujoco: run of experiment_config over --seeds.
COMMAND = Command(config=MujocoRunCommand, execute=_execute, seeds="0-4",
                  choices={"parity": PARITIES})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco ...``: the same as ``logel run mujoco ...``."""
    return cli.run("mujoco", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
