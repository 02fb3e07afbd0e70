"""LOGEL for neural (Gaussian MLP) policies: the MuJoCo observer (spec Secs. 4 and 5.5).

Pipeline, for observed policies :math:`\\pi_{\\theta_1}..\\pi_{\\theta_{m+1}}` of a
:class:`~logel.traces.LearnerTrace`:

1. behavioural cloning, warm-started step to step (:func:`~logel.policies.gaussian_mlp.
   clone_gaussian_policies`), gives :math:`\\hat\\theta_t` (the actor trunk);
2. :math:`\\hat\\Delta_t=\\hat\\theta_{t+1}-\\hat\\theta_t`;
3. per-step Jacobians :math:`\\widehat{\\nabla\\psi}_t` by :func:`logel.gpomdp_jacobian` (the
   project's only estimator) on per-sample scores at :math:`\\hat\\theta_t`, kept factored by
   layer (:func:`~logel.policies.gaussian_mlp.layer_scores`) in the compact trajectory layout
   (:class:`logel.estimators.TrajectoryLayout`): :func:`step_jacobian`;
4. :func:`logel.fit` (block-coordinate descent) with :math:`\\alpha^{(0)}\\sim\\mathcal U[0,1)`
   drawn from the seeded generator, as the official code does unseeded.

**Trajectories** (``segments``). By default (``"episodes"``) every environment row of every step
is split at its real episode starts (``trace.episode_starts``) into left-aligned trajectories
padded to the longest one, with a mask; each trajectory's discount restarts at its first step.
All ``n_envs`` rows are used. ``"official"`` reproduces the official code: environment 0 only,
its first ``40 x 50`` steps cut into 40 windows of 50 steps regardless of episode ends (for
Reacher these coincide with episodes; for Hopper they do not).

**Memory and time.** Each linear layer's per-sample score is an outer product
:math:`\\delta x^\\top`, so the scores are kept as the ``(n, width)`` factors of one batched
backward pass (:class:`~logel.policies.gaussian_mlp.LayerScores`), and the estimator forms them
one block of columns and one time step at a time in two cache-sized buffers
(``block_bytes``): no ``(n, d)`` score matrix, no ``(N, T, d, q)`` temporary and no padding of
short episodes. The estimate equals :func:`logel.gpomdp_jacobian` on the padded, materialised
scores to rounding (tested to 1e-10). Result version ``v1`` used float32 ``vmap`` scores
(:func:`~logel.policies.gaussian_mlp.iter_scores`) and padded coordinate blocks; ``v2`` computes
the scores in float64, which moves the Jacobians by about 1e-7 relative.

**Learning-rate bound.** The official MuJoCo BCD clips :math:`\\alpha_t` at 0; :func:`logel.fit`
requires :math:`\\alpha_{min}>0`, so we use :math:`10^{-6}` (a step whose best :math:`\\alpha` is
negative gets :math:`10^{-6}` instead of 0, a negligible difference at the scale of
:math:`\\mathcal U[0,1)`). Initial draws below the bound are raised to it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from logel.estimators import TrajectoryLayout, gpomdp_jacobian, trajectory_index
from logel.irl.logel import LOGELResult, fit
from logel.policies.gaussian_mlp import (
    GaussianBCConfig,
    GaussianMLPPolicy,
    clone_gaussian_policies,
    get_theta,
    layer_scores,
    policy_from_theta,
    set_flat_parameters,
)
from logel.traces import LearnerTrace


@dataclass(frozen=True)
class NeuralLOGELConfig:
    """Options of the neural LOGEL observer (defaults: ours; see each field for the official)."""

    steps: tuple[int, ...] | None = None
    """Indices of the observed policies in the trace; None = the last ``min(10, K)`` (official:
    learner policies 10..19, i.e. 10 policies and ``m = 9`` steps)."""
    segments: Literal["episodes", "official"] = "episodes"
    """``"episodes"``: all environments, split at real episode starts; ``"official"``:
    environment 0, windows of ``segment_length``."""
    segment_length: int = 50
    """Window length of ``segments="official"`` (official 50, i.e. 40 windows of 2000 steps)."""
    jacobian_data: Literal["all", "env0"] = "all"
    """Environments used by the Jacobian estimate with ``segments="episodes"``: all (ours) or
    environment 0 only (the official data at real episode starts; ``"official"`` always uses
    environment 0)."""
    bc_data: Literal["all", "env0"] = "all"
    """Samples used for cloning: all environments (ours) or environment 0 (official)."""
    bc: GaussianBCConfig = field(default_factory=GaussianBCConfig)
    """Behavioural-cloning schedule (:meth:`GaussianBCConfig.official` for the official one)."""
    thetas: Literal["bc", "true"] = "bc"
    """``"bc"``: the realistic setting; ``"true"``: the learner's recorded parameters (the
    approximate-gradient setting; needs ``trace.thetas`` and the recorded actor heads)."""
    baseline_eps: float = 1e-4
    """:math:`\\epsilon_b` of the G(PO)MDP baseline (official MuJoCo: 1e-4)."""
    alpha_min: float = 1e-6
    """Lower bound on the learning rates (official: 0; :func:`logel.fit` needs > 0)."""
    max_iter: int = 1000
    """BCD iteration cap (the official loop runs at least 300 iterations)."""
    tol: float = 1e-8
    """Relative tolerance of BCD on :math:`\\omega`."""
    block_bytes: float = 4e6
    """Size of each of the estimator's two buffers (one time step of a block of score
    columns); any value gives the same estimate (:func:`logel.gpomdp_jacobian`)."""
    include_mean_head: bool = False
    """Include the Gaussian mean head in :math:`\\theta` (official: trunk only)."""
    include_log_std: bool = False
    """Include the log standard deviation in :math:`\\theta` (official: no; experiment E5)."""
    convergence: Literal["weights", "direction"] = "direction"
    """BCD stopping rule (:func:`logel.fit`): ``"direction"`` (scale-free, ours) or
    ``"weights"`` (relative change of :math:`\\omega`, result version v1)."""
    seed: int = 0
    """Seeds the cloning and :math:`\\alpha^{(0)}`."""


@dataclass(frozen=True)
class NeuralLOGELResult:
    """Output of :func:`neural_logel`.

    Attributes:
        weights: ``(q,)`` recovered :math:`\\hat\\omega`.
        learning_rates: ``(m,)`` recovered :math:`\\hat\\alpha_t`.
        fit: the full :class:`~logel.irl.logel.LOGELResult` (objective trace, diagnostics).
        steps: the observed policy indices.
        thetas: ``(m + 1, d)`` the parameters used (cloned or true).
        jacobians: ``(m, d, q)`` estimated Jacobians.
        alpha_init: ``(m,)`` initial learning rates.
        bc_loss: ``(m + 1,)`` final cloning loss per step (NaN for ``thetas="true"``).
        delta_cosine: ``(m,)`` cosine between :math:`\\hat\\Delta_t` and the learner's true
            :math:`\\Delta_t` when the trace records :math:`\\theta` (else None).
        seconds: wall time of each stage (``bc``, ``jacobians``, ``fit``).
        n_trajectories: trajectories per step used by the estimator.
    """

    weights: np.ndarray
    learning_rates: np.ndarray
    fit: LOGELResult
    steps: tuple[int, ...]
    thetas: np.ndarray
    jacobians: np.ndarray
    alpha_init: np.ndarray
    bc_loss: np.ndarray
    delta_cosine: np.ndarray | None
    seconds: dict[str, float]
    n_trajectories: list[int]


def official_index(n_steps: int, segment_length: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Windows of the official code: the first ``(n_steps // L) * L`` steps of one row."""
    n_seg = n_steps // segment_length
    if n_seg < 1:
        raise ValueError(f"a row of {n_steps} steps has no window of {segment_length}")
    index = np.arange(n_seg * segment_length).reshape(n_seg, segment_length)
    return index, np.ones_like(index, dtype=bool)


def step_jacobian(policy: GaussianMLPPolicy, states: np.ndarray, actions: np.ndarray,
                  features: np.ndarray, index: np.ndarray, mask: np.ndarray, gamma: float,
                  baseline_eps: float, *, include_mean_head: bool = False,
                  include_log_std: bool = False, block_bytes: float = 4e6) -> np.ndarray:
    """One observed step's Jacobian :math:`\\widehat{\\nabla\\psi}(\\hat\\theta_t)` ``(d, q)``.

    Per-sample scores of ``policy`` from one batched backward pass, kept factored by layer,
    then :func:`logel.gpomdp_jacobian` on the trajectories ``index``/``mask`` (from
    :func:`logel.estimators.trajectory_index` or ``official_index``) in the compact layout.

    Args:
        policy: the policy at :math:`\\hat\\theta_t`.
        states: ``(n, obs_dim)`` observations, actions ``(n, act_dim)`` (unclipped samples)
            and features ``(n, q)``, one row per sample.
        index: ``(n_traj, T_max)`` sample index of each trajectory step; mask its validity.
        gamma: discount (restarting at each trajectory's first step).
        baseline_eps: :math:`\\epsilon_b`.
        include_mean_head: include the mean head in :math:`\\theta`.
        include_log_std: include the log standard deviation in :math:`\\theta`.
        block_bytes: the estimator's buffer size.
    """
    scores = layer_scores(policy, states, actions, include_mean_head=include_mean_head,
                          include_log_std=include_log_std)
    return gpomdp_jacobian(scores, features, gamma, baseline_eps,
                           layout=TrajectoryLayout.from_index(index, mask),
                           block_bytes=block_bytes)


def _observed_steps(trace: LearnerTrace, steps: Sequence[int] | None) -> tuple[int, ...]:
    K = trace.n_policies
    chosen = tuple(range(max(0, K - 10), K)) if steps is None else tuple(int(s) for s in steps)
    if len(chosen) < 2 or any(not 0 <= s < K for s in chosen):
        raise ValueError(f"need at least 2 observed policies among 0..{K - 1}, got {chosen}")
    return chosen


def _true_policies(trace: LearnerTrace, steps: tuple[int, ...]) -> list[GaussianMLPPolicy]:
    meta = trace.metadata
    if trace.thetas is None or "actor_heads" not in meta:
        raise ValueError("thetas='true' needs a trace with thetas and metadata['actor_heads']")
    obs_dim, act_dim = int(meta["obs_dim"]), int(meta["act_dim"])
    hidden = tuple(meta.get("hidden", (64, 64)))
    out = []
    for k in steps:
        heads = np.asarray(meta["actor_heads"][k])
        policy = policy_from_theta(obs_dim, act_dim, trace.thetas[k][: _trunk_size(
            obs_dim, hidden)], hidden=hidden)
        set_flat_parameters(policy, heads, ["mean.weight", "mean.bias", "log_std"])
        out.append(policy)
    return out


def _trunk_size(obs_dim: int, hidden: Sequence[int]) -> int:
    size, width = 0, obs_dim
    for h in hidden:
        size += width * h + h
        width = h
    return size


def neural_logel(trace: LearnerTrace, config: NeuralLOGELConfig = NeuralLOGELConfig(), *,
                 bc_init: GaussianMLPPolicy | None = None) -> NeuralLOGELResult:
    """Recover reward weights from a neural learner's trace (realistic setting by default).

    Args:
        trace: states ``(K, N, T, obs_dim)``, unclipped actions ``(K, N, T, act_dim)``,
            features ``(K, N, T, q)`` and, for ``segments="episodes"``, ``episode_starts``.
        config: the observer's options.
        bc_init: start of the cloning (default: a fresh network seeded by ``config.seed``).
            Starting from the learner's own first observed policy is an *oracle* diagnostic:
            cloning then stays in the learner's parameterisation.

    Returns:
        A :class:`NeuralLOGELResult`.
    """
    for name, allowed in (("segments", ("episodes", "official")), ("jacobian_data", ("all", "env0")),
                          ("convergence", ("weights", "direction")),
                          ("bc_data", ("all", "env0")), ("thetas", ("bc", "true"))):
        if getattr(config, name) not in allowed:
            raise ValueError(f"NeuralLOGELConfig.{name} must be one of {allowed}, "
                             f"got {getattr(config, name)!r}")
    steps = _observed_steps(trace, config.steps)
    if trace.states.ndim != 4 or trace.actions.ndim != 4:
        raise ValueError("neural LOGEL needs continuous states and actions (K, N, T, dim)")
    T, obs_dim = trace.states.shape[2:]
    act_dim = trace.actions.shape[-1]
    hidden = tuple(trace.metadata.get("hidden", (64, 64)))
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    if config.thetas == "bc":
        rows = slice(None) if config.bc_data == "all" else slice(0, 1)
        bc = clone_gaussian_policies(
            [trace.states[k, rows].reshape(-1, obs_dim) for k in steps],
            [trace.actions[k, rows].reshape(-1, act_dim) for k in steps],
            config.bc, seed=config.seed, hidden=hidden,
            include_mean_head=config.include_mean_head,
            include_log_std=config.include_log_std, init=bc_init)
        policies = [bc.policy(i, obs_dim, act_dim, hidden) for i in range(len(steps))]
        thetas, bc_loss = bc.thetas, bc.final_loss
    else:
        policies = _true_policies(trace, steps)
        thetas = np.stack([get_theta(p, config.include_mean_head, config.include_log_std)
                           for p in policies])
        bc_loss = np.full(len(steps), np.nan)
    seconds["bc"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if config.segments == "episodes":
        if trace.episode_starts is None:
            raise ValueError("segments='episodes' needs trace.episode_starts")
        rows_used = slice(None) if config.jacobian_data == "all" else slice(0, 1)
    else:  # "official" (validated above)
        rows_used = slice(0, 1)
        index, mask = official_index(T, config.segment_length)
    jacobians, n_traj = [], []
    for i, k in enumerate(steps[:-1]):
        s = trace.states[k, rows_used].reshape(-1, obs_dim)
        a = trace.actions[k, rows_used].reshape(-1, act_dim)
        phi = trace.features[k, rows_used].reshape(len(s), -1)
        if trace.episode_starts is not None and config.segments == "episodes":
            index, mask = trajectory_index(trace.episode_starts[k, rows_used])
        jacobians.append(step_jacobian(policies[i], s, a, phi, index, mask, trace.gamma,
                                       config.baseline_eps,
                                       include_mean_head=config.include_mean_head,
                                       include_log_std=config.include_log_std,
                                       block_bytes=config.block_bytes))
        n_traj.append(int(index.shape[0]))
    J = np.stack(jacobians)
    seconds["jacobians"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    deltas = np.diff(thetas, axis=0)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0x10CE1]))
    alpha_init = np.maximum(rng.random(len(deltas)), config.alpha_min)
    result = fit(deltas, J, alpha_init=alpha_init, alpha_min=config.alpha_min, tol=config.tol,
                 max_iter=config.max_iter, convergence=config.convergence)
    seconds["fit"] = time.perf_counter() - t0

    cosine = None
    if trace.thetas is not None and trace.thetas.shape[1] == thetas.shape[1]:
        true_d = np.diff(trace.thetas[list(steps)], axis=0)
        num = np.sum(true_d * deltas, axis=1)
        den = np.linalg.norm(true_d, axis=1) * np.linalg.norm(deltas, axis=1)
        cosine = num / np.where(den > 0, den, 1.0)
    return NeuralLOGELResult(result.weights, result.learning_rates, result, steps, thetas, J,
                             alpha_init, bc_loss, cosine, seconds, n_traj)


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def summary(result: NeuralLOGELResult) -> dict[str, Any]:
    """JSON-serialisable summary (weights, learning rates, objective, diagnostics)."""
    fit_ = result.fit
    return {
        "weights": result.weights.tolist(),
        "learning_rates": result.learning_rates.tolist(),
        "alpha_init": result.alpha_init.tolist(),
        "objective": fit_.objective.tolist(),
        "n_iter": fit_.n_iter,
        "converged": fit_.converged,
        "identifiability": {"rank": fit_.identifiability.rank,
                            "condition_number": _finite(fit_.identifiability.condition_number),
                            "note": fit_.identifiability.note},
        "steps": list(result.steps),
        "bc_loss": [None if np.isnan(x) else float(x) for x in result.bc_loss],
        "delta_cosine": None if result.delta_cosine is None else result.delta_cosine.tolist(),
        "seconds": result.seconds,
        "n_trajectories": result.n_trajectories,
    }
