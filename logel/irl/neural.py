"""LOGEL for neural (Gaussian MLP) policies: the MuJoCo observer (spec Secs. 4 and 5.5).

Pipeline, for observed policies :math:`\\pi_{\\theta_1}..\\pi_{\\theta_{m+1}}` of a
:class:`~logel.traces.LearnerTrace`:

1. behavioural cloning, warm-started step to step (:func:`~logel.policies.gaussian_mlp.
   clone_gaussian_policies`), gives :math:`\\hat\\theta_t` (the actor trunk);
2. :math:`\\hat\\Delta_t=\\hat\\theta_{t+1}-\\hat\\theta_t`;
3. per-step Jacobians :math:`\\widehat{\\nabla\\psi}_t` by :func:`logel.gpomdp_jacobian` (the
   project's only estimator) on per-sample scores at :math:`\\hat\\theta_t`, kept factored by
   layer (:func:`~logel.policies.gaussian_mlp.layer_scores`) in the compact trajectory layout
   (:class:`logel.estimators.TrajectoryLayout`): :func:`logel.irl.observer.step_jacobians` with
   :class:`GaussianMLPClass`;
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
backward pass (:class:`~logel.policies.gaussian_mlp.LayerScores`), and the estimator builds the
cumulative scores :math:`G_{i,t}=G_{i,t-1}+\\delta_{i,t}x_{i,t}^\\top` one block of columns and
one time step at a time in two cache-sized buffers (``block_bytes``, a fused multiply-add); with
many features (Reacher) it folds the baseline into them and contracts all samples with the
features in one product (:mod:`logel.estimators`, "folded baseline"): no ``(n, d)`` score
matrix, no ``(N, T, d, q)`` temporary and no padding of short episodes. The estimate equals
:func:`logel.gpomdp_jacobian` on the padded, materialised scores to rounding (tested to
1e-12); the folded baseline (introduced after the ``v2`` artifacts) moves it by about 1e-15
relative. Result version ``v1`` used float32 ``vmap`` scores
(:func:`~logel.policies.gaussian_mlp.iter_scores`) and padded coordinate blocks; ``v2`` computes
the scores in float64, which moves the Jacobians by about 1e-7 relative.

**Learning-rate bound.** The official MuJoCo BCD clips :math:`\\alpha_t` at 0; :func:`logel.fit`
requires :math:`\\alpha_{min}>0`, so we use :math:`10^{-6}` (a step whose best :math:`\\alpha` is
negative gets :math:`10^{-6}` instead of 0, a negligible difference at the scale of
:math:`\\mathcal U[0,1)`). Initial draws below the bound are raised to it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from logel._validation import boolean, choice, instance, integer, items, real
from logel.irl.logel import LOGELResult
from logel.irl.observer import ObserverConfig, approximate_inputs, realistic_inputs, recover
from logel.policies.gaussian_mlp import (
    GaussianBCConfig,
    GaussianMLPPolicy,
    LayerScores,
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
    columns); any value gives the same estimate up to rounding
    (:func:`logel.gpomdp_jacobian`)."""
    include_mean_head: bool = False
    """Include the Gaussian mean head in :math:`\\theta` (official: trunk only)."""
    include_log_std: bool = False
    """Include the log standard deviation in :math:`\\theta` (official: no; experiment E5)."""
    convergence: Literal["weights", "direction"] = "direction"
    """BCD stopping rule (:func:`logel.fit`): ``"direction"`` (scale-free, ours) or
    ``"weights"`` (relative change of :math:`\\omega`, result version v1)."""
    seed: int = 0
    """Seeds the cloning and :math:`\\alpha^{(0)}`."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        if self.steps is not None:
            items(self.steps, c + "steps", integer)
        for name, allowed in (("segments", ("episodes", "official")),
                              ("jacobian_data", ("all", "env0")), ("bc_data", ("all", "env0")),
                              ("thetas", ("bc", "true")), ("convergence", ("weights", "direction"))):
            choice(getattr(self, name), c + name, allowed)
        integer(self.segment_length, c + "segment_length", low=1)
        instance(self.bc, c + "bc", GaussianBCConfig)
        real(self.baseline_eps, c + "baseline_eps", low=0, allow_inf=True)
        real(self.alpha_min, c + "alpha_min", low=0, low_open=True)
        integer(self.max_iter, c + "max_iter", low=1)
        real(self.tol, c + "tol", low=0)
        real(self.block_bytes, c + "block_bytes", low=0, low_open=True)
        boolean(self.include_mean_head, c + "include_mean_head")
        boolean(self.include_log_std, c + "include_log_std")
        integer(self.seed, c + "seed", low=0)


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


def _observed_steps(trace: LearnerTrace, steps: Sequence[int] | None) -> tuple[int, ...]:
    K = trace.n_policies
    chosen = tuple(range(max(0, K - 10), K)) if steps is None else tuple(int(s) for s in steps)
    if len(chosen) < 2 or any(not 0 <= s < K for s in chosen):
        raise ValueError(f"need at least 2 observed policies among 0..{K - 1}, got {chosen}")
    return chosen


def trunk_size(obs_dim: int, hidden: Sequence[int]) -> int:
    """Number of trunk parameters (the official :math:`\\theta`) of a Gaussian MLP."""
    size, width = 0, obs_dim
    for h in hidden:
        size += width * h + h
        width = h
    return size


@dataclass(frozen=True)
class GaussianMLPClass:
    """The Gaussian MLP policy class (:class:`~logel.policies.gaussian_mlp.GaussianMLPPolicy`) as
    the observer sees it (:class:`logel.irl.observer.PolicyClass`): per-sample scores kept
    factored by layer (:func:`~logel.policies.gaussian_mlp.layer_scores`), cloning by
    :func:`~logel.policies.gaussian_mlp.clone_gaussian_policies`. A policy is a network."""

    obs_dim: int
    """Observation size."""
    act_dim: int
    """Action size."""
    hidden: tuple[int, ...] = (64, 64)
    """Trunk widths."""
    bc: GaussianBCConfig = field(default_factory=GaussianBCConfig)
    """Behavioural-cloning schedule."""
    include_mean_head: bool = False
    """Include the mean head in :math:`\\theta` (official: trunk only)."""
    include_log_std: bool = False
    """Include the log standard deviation in :math:`\\theta` (official: no)."""
    seed: int = 0
    """Seeds the cloning."""
    init: GaussianMLPPolicy | None = None
    """Start of the cloning (default: a fresh network seeded by ``seed``)."""

    @classmethod
    def of_trace(cls, trace: LearnerTrace, **options: Any) -> GaussianMLPClass:
        """The class of a MuJoCo trace (sizes from its arrays, widths from its metadata)."""
        return cls(int(trace.states.shape[-1]), int(trace.actions.shape[-1]),
                   tuple(trace.metadata.get("hidden", (64, 64))), **options)

    def scores(self, policy: GaussianMLPPolicy, states: np.ndarray, actions: np.ndarray
               ) -> LayerScores:
        """Factored scores of the flattened ``(N, T, ...)`` samples."""
        return layer_scores(policy, np.asarray(states).reshape(-1, self.obs_dim),
                            np.asarray(actions).reshape(-1, self.act_dim),
                            include_mean_head=self.include_mean_head,
                            include_log_std=self.include_log_std)

    def clone(self, states: Sequence[np.ndarray], actions: Sequence[np.ndarray]
              ) -> tuple[list[GaussianMLPPolicy], np.ndarray, np.ndarray]:
        """Warm-started cloning of ``K`` policies from their flattened samples."""
        bc = clone_gaussian_policies(
            [np.asarray(s).reshape(-1, self.obs_dim) for s in states],
            [np.asarray(a).reshape(-1, self.act_dim) for a in actions],
            self.bc, seed=self.seed, hidden=self.hidden,
            include_mean_head=self.include_mean_head, include_log_std=self.include_log_std,
            init=self.init)
        policies = [bc.policy(i, self.obs_dim, self.act_dim, self.hidden)
                    for i in range(len(states))]
        return policies, bc.thetas, bc.final_loss

    def true_policy(self, trace: LearnerTrace, k: int) -> GaussianMLPPolicy:
        """The learner's ``k``-th network: trunk from ``trace.thetas``, mean head and log std
        from ``trace.metadata["actor_heads"]``."""
        meta = trace.metadata
        if trace.thetas is None or "actor_heads" not in meta:
            raise ValueError("the learner's own policies need a trace with thetas and "
                             "metadata['actor_heads']")
        policy = policy_from_theta(self.obs_dim, self.act_dim,
                                   trace.thetas[k][: trunk_size(self.obs_dim, self.hidden)],
                                   hidden=self.hidden)
        set_flat_parameters(policy, np.asarray(meta["actor_heads"][k]),
                            ["mean.weight", "mean.bias", "log_std"])
        return policy

    def theta(self, policy: GaussianMLPPolicy) -> np.ndarray:
        """:math:`\\theta` of ``policy`` (trunk, plus the heads asked for)."""
        return get_theta(policy, self.include_mean_head, self.include_log_std)


def observed_trace(trace: LearnerTrace, steps: Sequence[int], rows: slice = slice(None),
                   segment_length: int | None = None) -> LearnerTrace:
    """The observed policies ``steps`` of a MuJoCo trace, environment ``rows``, as a trace.

    With ``segment_length`` the data are the official windows: the first
    ``(T // L) * L`` steps of each row cut into windows of ``L`` steps regardless of episode
    ends (``episode_starts`` set every ``L`` steps, as :func:`official_index`).
    """
    meta = dict(trace.metadata)
    if "actor_heads" in meta:
        meta["actor_heads"] = [meta["actor_heads"][k] for k in steps]
    if segment_length is None:
        return trace.subset(steps, rows, metadata=meta)
    index, _ = official_index(trace.horizon, segment_length)
    sub = trace.subset(steps, rows, slice(0, index.size), metadata=meta)
    starts = np.zeros(sub.features.shape[:3], dtype=bool)
    starts[..., ::segment_length] = True
    return dataclasses.replace(sub, episode_starts=starts)


def neural_logel(trace: LearnerTrace, config: NeuralLOGELConfig = NeuralLOGELConfig(), *,
                 bc_init: GaussianMLPPolicy | None = None) -> NeuralLOGELResult:
    """Recover reward weights from a neural learner's trace (realistic setting by default).

    The observer of :mod:`logel.irl.observer` with the :class:`GaussianMLPClass`: the MuJoCo
    options choose its data (which environments clone, which estimate the Jacobians, episodes
    or the official windows) and :func:`~logel.irl.observer.realistic_inputs` (or, with
    ``thetas="true"``, :func:`~logel.irl.observer.approximate_inputs` with the learning rates
    unknown) and :func:`~logel.irl.observer.recover` do the rest.

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
    if config.segments == "episodes" and trace.episode_starts is None:
        raise ValueError("segments='episodes' needs trace.episode_starts")
    policy_class = GaussianMLPClass.of_trace(
        trace, bc=config.bc, include_mean_head=config.include_mean_head,
        include_log_std=config.include_log_std, seed=config.seed, init=bc_init)
    observer = observer_config(config)
    env0 = slice(0, 1)
    if config.segments == "official":
        jac_trace = observed_trace(trace, steps, env0, config.segment_length)
    else:
        jac_trace = observed_trace(trace, steps, env0 if config.jacobian_data == "env0"
                                   else slice(None))
    seconds: dict[str, float] = {}
    if config.thetas == "bc":
        bc_trace = observed_trace(trace, steps, slice(None) if config.bc_data == "all" else env0)
        inputs = realistic_inputs(bc_trace, policy_class, observer, jacobian_trace=jac_trace,
                                  timings=seconds)
    else:
        # the learning rates stay unknown even when the trace records them: BCD, as for "bc"
        inputs = dataclasses.replace(
            approximate_inputs(jac_trace, policy_class, observer, timings=seconds),
            learning_rates=None)
        seconds["bc"] = 0.0
    t0 = time.perf_counter()
    observation = recover(inputs, observer)
    seconds["fit"] = time.perf_counter() - t0

    thetas, deltas = inputs.thetas, inputs.deltas
    cosine = None
    if trace.thetas is not None and trace.thetas.shape[1] == thetas.shape[1]:
        true_d = np.diff(trace.thetas[list(steps)], axis=0)
        num = np.sum(true_d * deltas, axis=1)
        den = np.linalg.norm(true_d, axis=1) * np.linalg.norm(deltas, axis=1)
        cosine = num / np.where(den > 0, den, 1.0)
    bc_loss = (inputs.clone_loss if inputs.clone_loss is not None
               else np.full(len(steps), np.nan))
    assert observation.fit is not None and observation.alpha_init is not None
    return NeuralLOGELResult(observation.weights, observation.learning_rates, observation.fit,
                             steps, thetas, inputs.jacobians, observation.alpha_init, bc_loss,
                             cosine, seconds, list(inputs.n_trajectories))


def observer_config(config: NeuralLOGELConfig) -> ObserverConfig:
    """The shared observer's options of a :class:`NeuralLOGELConfig` (uniform
    :math:`\\alpha^{(0)}` seeded by ``config.seed``, no fixed direction)."""
    return ObserverConfig(baseline_eps=config.baseline_eps, alpha_init="uniform",
                          alpha_min=config.alpha_min, tol=config.tol, max_iter=config.max_iter,
                          convergence=config.convergence, block_bytes=config.block_bytes,
                          seed=config.seed)


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
