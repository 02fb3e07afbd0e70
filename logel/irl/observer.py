"""The paper's three observers as three functions (paper Secs. 2-4).

An observer watches ``m`` learning steps :math:`\\theta_t\\to\\theta_{t+1}` of a learner assumed to
follow :math:`\\theta_{t+1}=\\theta_t+\\alpha_t\\nabla\\psi(\\theta_t)\\,\\omega` and recovers
:math:`\\omega`. The settings differ only in what the observer may see:

==================================  ===================  ================  ================================
setting                             :math:`\\theta_t`     :math:`\\alpha_t`  :math:`\\nabla\\psi(\\theta_t)`
==================================  ===================  ================  ================================
:func:`~logel.observe_exact`        known                known             exact (tabular model)
:func:`~logel.observe_approximate`  known                known             G(PO)MDP on trajectories
:func:`~logel.observe_realistic`    behavioural cloning  recovered (BCD)   G(PO)MDP at :math:`\\hat\\theta_t`
==================================  ===================  ================  ================================

Each observer is two steps with one home each: *estimate* what the setting allows
(:func:`exact_inputs`, :func:`approximate_inputs`, :func:`realistic_inputs`, all returning
:class:`ObserverInputs`), then *recover* :math:`\\omega` (:func:`recover`: the closed form
:func:`logel.solve_weights` when the learning rates are known, block-coordinate descent
:func:`logel.fit` otherwise). Splitting them lets a study estimate once and recover from the
first ``m`` steps for several ``m``.

The realistic observer needs two things of the learner's policy class, the small
:class:`PolicyClass` protocol: per-sample scores :math:`\\nabla_\\theta\\log\\pi(a|s)` in batch, and
behavioural cloning. :class:`~logel.BoltzmannClass` (the tabular gridworld) and
:class:`~logel.irl.neural.GaussianMLPClass`
(MuJoCo) implement it, so the gridworld and MuJoCo share one observer. The Jacobians along a trace
are computed in one place, :func:`step_jacobians`, by the project's only estimator
:func:`logel.gpomdp_jacobian`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, Protocol, TypeVar

import numpy as np

from logel._validation import boolean, choice, integer, items, real
from logel.estimators import (
    ScoreSource,
    TrajectoryLayout,
    empirical_fisher,
    gpomdp_jacobian,
    gpomdp_jacobian_covariance,
    trajectory_index,
)
from logel.irl.bc import BCConfig, clone_policies, delta_covariances, visit_counts
from logel.irl.logel import (
    Identifiability,
    LOGELResult,
    fit,
    fit_gls,
    identifiability,
    solve_weights,
)
from logel.irl.motion import STATISTICS, Statistic, moving_steps, trajectory_counts
from logel.irl.preconditioned import (
    NATURAL_DAMPING,
    PRECONDITIONERS,
    PreconditionerKind,
    fit_preconditioned,
)
from logel.irl.step_selection import CORRECTIONS, Correction, moving_steps_mask, step_pvalues
from logel.policies.boltzmann import BoltzmannPolicy
from logel.streams import cell_rng
from logel.tabular import TabularMDP, feature_expectations_jacobian
from logel.traces import LearnerTrace

P = TypeVar("P")
"""A policy of a policy class: a parameter vector (tabular) or a network (Gaussian MLP)."""


class PolicyClass(Protocol[P]):
    """What an observer needs of the learner's policy class."""

    def scores(self, policy: P, states: np.ndarray, actions: np.ndarray
               ) -> np.ndarray | ScoreSource:
        """Per-sample scores at ``policy`` of ``(N, T, ...)`` samples: an ``(N, T, d)`` array, or
        a :class:`~logel.estimators.ScoreSource` over the ``N * T`` flattened samples."""
        ...

    def clone(self, states: Sequence[np.ndarray], actions: Sequence[np.ndarray]
              ) -> tuple[list[P], np.ndarray, np.ndarray | None]:
        """Behavioural cloning of ``K`` consecutive policies from ``K`` arrays ``(N, T, ...)``.

        Returns the cloned policies, their parameters :math:`\\hat\\theta` ``(K, d)`` and the
        final cloning loss per policy ``(K,)`` (or None)."""
        ...

    def true_policy(self, trace: LearnerTrace, k: int) -> P:
        """The learner's own ``k``-th policy, from the trace's recorded parameters."""
        ...

    def theta(self, policy: P) -> np.ndarray:
        """The parameters :math:`\\theta` ``(d,)`` of ``policy``."""
        ...


@dataclass(frozen=True)
class BoltzmannClass:
    """The tabular Boltzmann policy class :math:`\\pi_\\theta(a|s)\\propto e^{\\theta_{sa}}` (last
    action's logit fixed to 0), cloned by :func:`logel.irl.bc.clone_policies`. A policy is its
    parameter vector."""

    policy: BoltzmannPolicy
    """The parameterisation (number of states and actions)."""
    bc: BCConfig = BCConfig()
    """Behavioural-cloning options (realistic setting)."""

    def scores(self, policy: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """``(N, T, d)`` scores of integer ``(N, T)`` states and actions."""
        return self.policy.scores(policy, states, actions)

    def clone(self, states: Sequence[np.ndarray], actions: Sequence[np.ndarray]
              ) -> tuple[list[np.ndarray], np.ndarray, None]:
        """Cloned parameters of ``K`` policies (warm-started, :class:`~logel.irl.bc.BCConfig`)."""
        thetas = clone_policies(self.policy, np.asarray(states), np.asarray(actions), self.bc)
        return list(thetas), thetas, None

    def true_policy(self, trace: LearnerTrace, k: int) -> np.ndarray:
        """``trace.thetas[k]``."""
        if trace.thetas is None:
            raise ValueError("this setting needs the learner's thetas; the trace has none")
        return trace.thetas[k]

    def theta(self, policy: np.ndarray) -> np.ndarray:
        """The parameter vector itself."""
        return np.asarray(policy)

    def delta_covariances(self, thetas: np.ndarray, states: Sequence[np.ndarray],
                          actions: Sequence[np.ndarray]) -> np.ndarray:
        """``(K - 1, d, d)`` Laplace covariances of the cloned steps of :meth:`clone`'s ``K``
        policies ``thetas`` on the same data (:func:`logel.irl.bc.delta_covariances`)."""
        counts = np.stack([visit_counts(s, a, self.policy.n_states, self.policy.n_actions)
                           for s, a in zip(states, actions, strict=True)])
        return delta_covariances(self.policy, np.asarray(thetas), counts, self.bc)


@dataclass(frozen=True)
class ObserverConfig:
    """Options shared by the three observers (defaults: the official gridworld observer)."""

    baseline_eps: float = 1e-3
    """:math:`\\epsilon_b` of the G(PO)MDP baseline (official: 1e-3 gridworld, 1e-4 MuJoCo)."""
    alpha_init: float | Literal["uniform"] = 0.1
    """Initial learning rates of block-coordinate descent: a constant (official gridworld 0.1)
    or ``"uniform"``, :math:`\\alpha^{(0)}_t\\sim\\mathcal U[0,1)` drawn from ``seed`` (official
    MuJoCo, unseeded there)."""
    alpha_min: float = 0.01
    """Lower bound on the learning rates (official gridworld 0.01)."""
    tol: float = 1e-6
    """Tolerance of block-coordinate descent (:func:`logel.fit`)."""
    max_iter: int = 1000
    """Iteration cap of block-coordinate descent."""
    convergence: Literal["weights", "direction"] = "weights"
    """Stopping rule of block-coordinate descent (:func:`logel.fit`)."""
    step_sizes: Literal["per_step", "shared"] = "per_step"
    """Learning rates of block-coordinate descent: one per step (the paper) or one shared by
    all observed steps, which weighs each step by the size of its gradient
    (:func:`logel.fit`; book chapter 6)."""
    fix_constant_direction: bool = False
    """Fix the all-ones direction of :math:`\\omega` to zero: right when the features partition
    the states (one-hot colours), since then :math:`\\nabla\\psi\\,\\mathbf 1=0`."""
    block_bytes: float = 4e6
    """Buffer size of the estimator on factored scores (the estimate depends on it only
    through rounding)."""
    seed: int = 0
    """Seeds :math:`\\alpha^{(0)}` when ``alpha_init="uniform"``."""
    preconditioner: PreconditionerKind = "identity"
    """The learner model: ``"identity"`` (the paper's plain gradient step), ``"diagonal"`` (a free
    positive diagonal shared by all steps), ``"adam"`` (Adam's preconditioner from the
    observer's own gradient estimates) or ``"natural"`` (the natural gradient's
    :math:`(\\hat F_t+\\lambda I)^{-1}`, from the empirical Fisher of each observed policy on
    its observed trajectories: :func:`with_fishers`),
    :func:`logel.irl.preconditioned.fit_preconditioned`. A preconditioned observer always
    recovers the learning rates (block-coordinate descent)."""
    adam_betas: tuple[float, float] = (0.9, 0.999)
    """:math:`(\\beta_1,\\beta_2)` the ``"adam"`` learner model assumes."""
    natural_damping: float = NATURAL_DAMPING
    """The damping :math:`\\lambda` the ``"natural"`` learner model assumes."""
    stopped_steps: Literal["keep", "drop"] = "keep"
    """``"keep"`` every observed step (the paper) or ``"drop"`` the steps after the learner is
    found to have stopped: the first ``k`` such that the batches ``k..m`` are not distinguishable
    from one policy by an exact permutation test at level ``stop_level``
    (:func:`logel.irl.motion.moving_steps`, book chapter 6). Needs the realistic setting's
    trajectory counts (a tabular policy class, one trajectory per row)."""
    stop_level: float = 0.05
    """Level of each test of ``stopped_steps="drop"`` (and of the family: fixed sequence)."""
    stop_permutations: int = 199
    """Permutations per test of ``stopped_steps="drop"``; the tests of ``(seed, m, k)`` draw
    from the stream ``cell_rng(seed, "stopped steps", m, k)`` (:mod:`logel.streams`)."""
    stop_statistic: Statistic = "homogeneity"
    """Statistic of the tests of ``stopped_steps="drop"``: ``"homogeneity"`` (every batch its
    own policy) or ``"changepoint"`` (one change point, with power against a slow drift;
    :func:`logel.irl.motion.changepoint_statistic`, book chapter 6)."""
    weighting: Literal["none", "gls"] = "none"
    """``"none"``: plain LOGEL (the paper); ``"gls"``: noise-aware LOGEL, each step whitened by
    the covariance of its residual (cloning noise plus Jacobian-estimate noise,
    :func:`logel.irl.logel.fit_gls`, book chapter 6). Needs the inputs' noise covariances
    (:func:`logel.irl.observer.noise_covariances`; :func:`logel.irl.observer.realistic_inputs`
    adds them when this is ``"gls"``)."""
    gls_iterations: int = 3
    """Maximum number of weighted fits of ``weighting="gls"`` (re-weightings plus one;
    :func:`logel.irl.logel.fit_gls`)."""
    step_selection: Literal["all", "held_out"] = "all"
    """``"all"``: fit every observed step (the paper); ``"held_out"``: fit only the steps whose
    held-out likelihood test shows that the learner's policy changed (the cloned policy of the
    step's end explains held-out trajectories better than that of its start;
    :func:`logel.irl.step_selection.step_pvalues`, book chapter 6), or every step if no test
    rejects. The test of step ``t`` draws from ``cell_rng(seed, "held-out step", t)``, so the
    steps kept do not depend on ``m``. Needs the realistic setting's trajectory counts."""
    selection_level: float = 0.05
    """Level of each step's test of ``step_selection="held_out"``."""
    selection_permutations: int = 999
    """Permutations per test of ``step_selection="held_out"`` (Holm's correction at ``m``
    steps can reject only if ``1 / (selection_permutations + 1) <= selection_level / m``)."""
    selection_correction: Correction = "none"
    """How ``step_selection="held_out"`` reads its ``m`` tests: ``"none"``, each at
    ``selection_level``; ``"holm"``, as a family at ``selection_level`` (Holm), so that a learner
    whose steps the test cannot resolve keeps every step with probability at least
    ``1 - selection_level`` (:func:`logel.irl.step_selection.moving_steps_mask`)."""
    stop_last_step: bool = False
    """With ``stopped_steps="drop"``: accept a stop at ``k`` only if the two-batch test resolves
    the learner's last step before it (batches ``k - 1``, ``k``; stream
    ``cell_rng(seed, "last step", m, k)``), else keep every step
    (``last_step_rng`` of :func:`logel.irl.motion.moving_steps`, book chapter 6)."""

    def __post_init__(self) -> None:
        name = "ObserverConfig."
        real(self.baseline_eps, name + "baseline_eps", low=0.0, allow_inf=True)
        real(self.alpha_min, name + "alpha_min", low=0.0, low_open=True)
        if not (isinstance(self.alpha_init, str) and self.alpha_init == "uniform"):
            if isinstance(self.alpha_init, str):
                raise ValueError(f"{name}alpha_init must be a number or 'uniform', "
                                 f"got {self.alpha_init!r}")
            real(self.alpha_init, name + "alpha_init", low=self.alpha_min)
        real(self.tol, name + "tol", low=0.0)
        integer(self.max_iter, name + "max_iter", low=0)
        choice(self.convergence, name + "convergence", ("weights", "direction"))
        choice(self.step_sizes, name + "step_sizes", ("per_step", "shared"))
        boolean(self.fix_constant_direction, name + "fix_constant_direction")
        real(self.block_bytes, name + "block_bytes", low=0.0, low_open=True)
        integer(self.seed, name + "seed", low=0)
        choice(self.preconditioner, name + "preconditioner", PRECONDITIONERS)
        real(self.natural_damping, name + "natural_damping", low=0.0, low_open=True)
        betas = items(self.adam_betas, name + "adam_betas",
                      lambda v, n: real(v, n, low=0.0, high=1.0, high_open=True))
        if len(betas) != 2:
            raise ValueError(f"{name}adam_betas must be a pair (beta1, beta2), got {betas}")
        choice(self.stopped_steps, name + "stopped_steps", ("keep", "drop"))
        real(self.stop_level, name + "stop_level", low=0.0, high=1.0, low_open=True,
             high_open=True)
        integer(self.stop_permutations, name + "stop_permutations", low=1)
        choice(self.stop_statistic, name + "stop_statistic", STATISTICS)
        boolean(self.stop_last_step, name + "stop_last_step")
        choice(self.weighting, name + "weighting", ("none", "gls"))
        integer(self.gls_iterations, name + "gls_iterations", low=1)
        choice(self.step_selection, name + "step_selection", ("all", "held_out"))
        real(self.selection_level, name + "selection_level", low=0.0, high=1.0, low_open=True,
             high_open=True)
        integer(self.selection_permutations, name + "selection_permutations", low=1)
        choice(self.selection_correction, name + "selection_correction", CORRECTIONS)
        if self.step_selection == "held_out" and self.stopped_steps == "drop":
            raise ValueError(f"{name}step_selection='held_out' and stopped_steps='drop' are two "
                             f"rules for the same choice; use one")
        if self.weighting == "gls" and self.preconditioner != "identity":
            raise ValueError(f"{name}weighting='gls' supports only preconditioner='identity', "
                             f"got {self.preconditioner!r}")


@dataclass(frozen=True)
class ObserverInputs(Generic[P]):
    """What an observer estimated from what it may see, before recovering :math:`\\omega`."""

    setting: Literal["exact", "approximate", "realistic"]
    """Which observer produced them."""
    thetas: np.ndarray
    """``(m + 1, d)`` parameters of the observed policies (true or cloned)."""
    jacobians: np.ndarray
    """``(m, d, q)`` Jacobians :math:`\\nabla\\psi(\\theta_t)` (exact or estimated)."""
    learning_rates: np.ndarray | None
    """``(m,)`` the learner's learning rates when the observer knows them, else None."""
    policies: list[P]
    """The ``m + 1`` observed policies (true or cloned)."""
    clone_loss: np.ndarray | None = None
    """``(m + 1,)`` final cloning loss per policy, when the policy class reports it."""
    n_trajectories: tuple[int, ...] = ()
    """Trajectories used by each step's Jacobian estimate (empty for exact Jacobians)."""
    counts: np.ndarray | None = None
    """``(m + 1, N, S, A)`` state-action counts of each observed trajectory (realistic
    setting, tabular policy class, one trajectory per row), for
    ``ObserverConfig.stopped_steps="drop"``; else None."""
    delta_covariance: np.ndarray | None = None
    """``(m, d, d)`` covariances of the observed steps (cloning noise), for
    ``ObserverConfig.weighting="gls"`` (:func:`noise_covariances`); else None."""
    jacobian_covariance: np.ndarray | None = None
    """``(m, d, q, q)`` row covariances of the estimated Jacobians, for
    ``ObserverConfig.weighting="gls"`` (:func:`noise_covariances`); else None."""
    step_pvalues: np.ndarray | None = None
    """``(m,)`` p-values of the held-out likelihood tests of the steps, for
    ``ObserverConfig.step_selection="held_out"`` (:func:`with_step_pvalues`: computed once,
    since the test of a step does not depend on ``m``); else None (computed when needed)."""
    fishers: np.ndarray | None = None
    """``(m, d, d)`` empirical Fisher matrices of the observed policies on their observed
    trajectories, for ``ObserverConfig.preconditioner="natural"`` (:func:`with_fishers`); else
    None."""
    step_pvalues_key: tuple[int, int] | None = None
    """``(seed, permutations)`` the ``step_pvalues`` were computed with; :func:`recover` uses
    them only for an ``ObserverConfig`` with the same ``seed`` and ``selection_permutations``."""

    @property
    def deltas(self) -> np.ndarray:
        """``(m, d)`` parameter changes :math:`\\theta_{t+1}-\\theta_t`."""
        return np.diff(self.thetas, axis=0)

    @property
    def m(self) -> int:
        """Number of observed learning steps."""
        return int(self.jacobians.shape[0])


@dataclass(frozen=True)
class Observation:
    """One observer's answer: :math:`\\hat\\omega` and everything it was computed from."""

    setting: Literal["exact", "approximate", "realistic"]
    """Which observer produced it."""
    weights: np.ndarray
    """``(q,)`` recovered reward weights :math:`\\hat\\omega`."""
    learning_rates: np.ndarray
    """``(m,)`` learning rates used: the learner's (exact, approximate) or recovered."""
    thetas: np.ndarray
    """``(m + 1, d)`` parameters of the observed policies (true or cloned)."""
    jacobians: np.ndarray
    """``(m, d, q)`` Jacobians used."""
    identifiability: Identifiability
    """Rank and conditioning of the stacked Jacobians (over the free directions)."""
    fit: LOGELResult | None
    """Block-coordinate descent's full result (realistic setting), else None."""
    alpha_init: np.ndarray | None
    """``(m,)`` initial learning rates of block-coordinate descent, else None."""
    preconditioners: np.ndarray | None = None
    """``(m, d)`` diagonals :math:`P_t` of a preconditioned observer
    (``ObserverConfig.preconditioner``), else None."""
    steps_used: int | None = None
    """Observed steps the recovery used (``ObserverConfig.stopped_steps="drop"`` keeps the first
    ``steps_used`` of the ``m``); None when it used all."""
    kept: np.ndarray | None = None
    """``(m,)`` booleans: the steps the fit used (``ObserverConfig.step_selection="held_out"``);
    None when it used all. ``learning_rates`` and ``jacobians`` are those of the kept steps."""

    @property
    def n_iter(self) -> int:
        """Block-coordinate-descent iterations (0 for the closed form)."""
        return 0 if self.fit is None else self.fit.n_iter

    @property
    def converged(self) -> bool:
        """Block-coordinate descent's convergence flag (True for the closed form)."""
        return True if self.fit is None else self.fit.converged


# ------------------------------------------------------------------------------- Jacobians


def step_jacobians(policy_class: PolicyClass[Any], policies: Sequence[Any], states: np.ndarray,
                   actions: np.ndarray, features: np.ndarray, gamma: float, baseline_eps: float,
                   *, episode_starts: np.ndarray | None = None, block_bytes: float = 4e6
                   ) -> np.ndarray:
    """G(PO)MDP Jacobians :math:`\\widehat{\\nabla\\psi}(\\theta_t)` along a trace (paper Eq. 6).

    Step ``t``'s estimate uses ``policies[t]``'s scores on that step's samples ``states[t]``,
    ``actions[t]`` ``(N, T, ...)`` and features ``features[t]`` ``(N, T, q)``. Without
    ``episode_starts`` every row is one trajectory from its first step; with ``(m, N, T)``
    episode starts each row is a stream of episodes
    (:func:`logel.estimators.trajectory_index`), and the discount restarts at each one.

    Returns:
        ``(m, d, q)`` with ``m = len(policies)``.
    """
    out = []
    for t, policy in enumerate(policies):
        scores = policy_class.scores(policy, states[t], actions[t])
        if episode_starts is None and isinstance(scores, np.ndarray):
            out.append(gpomdp_jacobian(scores, features[t], gamma, baseline_eps))
            continue
        starts = (np.zeros(features[t].shape[:2], dtype=bool) if episode_starts is None
                  else np.asarray(episode_starts[t], dtype=bool))
        if episode_starts is None:
            starts[:, 0] = True
        layout = TrajectoryLayout.from_index(*trajectory_index(starts))
        phi = np.asarray(features[t]).reshape(-1, features[t].shape[-1])
        out.append(gpomdp_jacobian(scores, phi, gamma, baseline_eps, layout=layout,
                                   block_bytes=block_bytes))
    return np.stack(out)


def step_jacobian_covariances(policy_class: PolicyClass[Any], policies: Sequence[Any],
                              states: np.ndarray, actions: np.ndarray, features: np.ndarray,
                              gamma: float, baseline_eps: float) -> np.ndarray:
    """Row covariances of :func:`step_jacobians`' estimates,
    :func:`logel.gpomdp_jacobian_covariance` per step (every row one trajectory from its first
    step; the policy class must give dense ``(N, T, d)`` scores, as a tabular one does).

    Returns:
        ``(m, d, q, q)`` with ``m = len(policies)``.
    """
    out = []
    for t, policy in enumerate(policies):
        scores = policy_class.scores(policy, states[t], actions[t])
        if not isinstance(scores, np.ndarray):
            raise ValueError("step_jacobian_covariances needs dense (N, T, d) scores (a tabular "
                             "policy class such as BoltzmannClass)")
        out.append(gpomdp_jacobian_covariance(scores, features[t], gamma, baseline_eps))
    return np.stack(out)


def _count_trajectories(features: np.ndarray, episode_starts: np.ndarray | None, m: int
                        ) -> tuple[int, ...]:
    if episode_starts is None:
        return (int(features.shape[1]),) * m
    return tuple(int(trajectory_index(episode_starts[t])[0].shape[0]) for t in range(m))


def _last_step(trace: LearnerTrace, m: int | None) -> int:
    available = trace.n_policies - 1
    m = available if m is None else int(m)
    if not 1 <= m <= available:
        raise ValueError(f"m must lie in 1..{available} (the trace's learning steps), got {m}")
    return m


def _rows(x: np.ndarray | None, stop: int, n: int | None) -> np.ndarray | None:
    return None if x is None else x[:stop, :n]


# ------------------------------------------------------------------------------- the settings


def exact_inputs(trace: LearnerTrace, policy: BoltzmannPolicy, model: TabularMDP, horizon: int,
                 m: int | None = None) -> ObserverInputs[np.ndarray]:
    """Exact setting: the learner's :math:`\\theta_t` and :math:`\\alpha_t` and the exact
    Jacobians :math:`\\nabla\\psi(\\theta_t)` of the tabular ``model`` over ``horizon`` steps
    (:func:`logel.tabular.feature_expectations_jacobian`), for the first ``m`` steps."""
    m = _last_step(trace, m)
    if trace.thetas is None or trace.learning_rates is None:
        raise ValueError("the exact setting needs the trace's thetas and learning_rates; "
                         "use observe_realistic for a trace without them")
    thetas = trace.thetas[: m + 1]
    jacobians = np.stack([
        feature_expectations_jacobian(model, policy.probabilities(th),
                                      policy.probability_jacobian(th), horizon)
        for th in thetas[:m]])
    return ObserverInputs("exact", thetas, jacobians, trace.learning_rates[:m], list(thetas))


def approximate_inputs(trace: LearnerTrace, policy_class: PolicyClass[P],
                       config: ObserverConfig = ObserverConfig(), m: int | None = None, *,
                       n_trajectories: int | None = None,
                       samples: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                       timings: dict[str, float] | None = None) -> ObserverInputs[P]:
    """Approximate setting: the learner's :math:`\\theta_t` and :math:`\\alpha_t`, Jacobians
    estimated by G(PO)MDP (:func:`step_jacobians`).

    A trace without learning rates (a learner whose step is not a plain gradient step, such as
    PPO) gives inputs with ``learning_rates=None``: :func:`recover` then estimates them by
    block-coordinate descent from the learner's true parameters.

    Args:
        trace: the learner's trace (with ``thetas``).
        policy_class: the learner's policy class.
        config: the observer's options (``baseline_eps``, ``block_bytes``).
        m: observed steps (default: all of the trace's).
        n_trajectories: use the first ``n`` rows of each step (default: all).
        samples: ``(states, actions, features)`` ``(m, N, T, ...)`` the observer drew itself
            from each :math:`\\pi_{\\theta_t}`, instead of the learner's own trajectories.
        timings: if given, receives the wall seconds of the stage ``"jacobians"``.
    """
    m = _last_step(trace, m)
    if trace.thetas is None:
        raise ValueError("the approximate setting needs the trace's thetas; use "
                         "observe_realistic for a trace without them")
    policies = [policy_class.true_policy(trace, k) for k in range(m + 1)]
    thetas = np.stack([policy_class.theta(p) for p in policies])
    if samples is None:
        s, a, f = (_rows(x, m, n_trajectories) for x in (trace.states, trace.actions,
                                                         trace.features))
        starts = _rows(trace.episode_starts, m, n_trajectories)
    else:
        s, a, f = samples
        starts = None
    t0 = time.perf_counter()
    jacobians = step_jacobians(policy_class, policies[:m], s, a, f, trace.gamma,
                               config.baseline_eps, episode_starts=starts,
                               block_bytes=config.block_bytes)
    if timings is not None:
        timings["jacobians"] = time.perf_counter() - t0
    rates = None if trace.learning_rates is None else trace.learning_rates[:m]
    inputs = ObserverInputs("approximate", thetas, jacobians, rates, policies,
                            n_trajectories=_count_trajectories(f, starts, m))
    if config.preconditioner == "natural":
        inputs = with_fishers(inputs, trace, policy_class, n_trajectories=n_trajectories,
                              samples=None if samples is None else (s, a))
    return inputs


def realistic_inputs(trace: LearnerTrace, policy_class: PolicyClass[P],
                     config: ObserverConfig = ObserverConfig(), m: int | None = None, *,
                     n_trajectories: int | None = None,
                     jacobian_trace: LearnerTrace | None = None,
                     timings: dict[str, float] | None = None) -> ObserverInputs[P]:
    """Realistic setting (LOGEL): :math:`\\hat\\theta_1..\\hat\\theta_{m+1}` by behavioural
    cloning of the trace's trajectories, Jacobians by G(PO)MDP at :math:`\\hat\\theta_t` on the
    same trajectories (:func:`step_jacobians`); the learning rates stay unknown. Uses only the
    trace's states, actions, features (and episode starts), so it serves any learner.

    Args:
        trace: the learner's trace.
        policy_class: the observer's policy class (it clones).
        config: the observer's options (``baseline_eps``, ``block_bytes``).
        m: observed steps (default: all of the trace's).
        n_trajectories: use the first ``n`` rows of each step (default: all).
        jacobian_trace: other samples of the same policies for the Jacobian estimate (e.g. a
            subset of the environments); default ``trace``.
        timings: if given, receives the wall seconds of the stages ``"bc"`` and
            ``"jacobians"``.
    """
    m = _last_step(trace, m)
    s, a = (_rows(x, m + 1, n_trajectories) for x in (trace.states, trace.actions))
    t0 = time.perf_counter()
    policies, thetas, loss = policy_class.clone(list(s), list(a))
    t1 = time.perf_counter()
    data = trace if jacobian_trace is None else jacobian_trace
    if data.n_policies < m + 1:
        raise ValueError(f"jacobian_trace has {data.n_policies} policies, need {m + 1}")
    s, a, f = (_rows(x, m, n_trajectories) for x in (data.states, data.actions, data.features))
    starts = _rows(data.episode_starts, m, n_trajectories)
    jacobians = step_jacobians(policy_class, policies[:m], s, a, f, data.gamma,
                               config.baseline_eps, episode_starts=starts,
                               block_bytes=config.block_bytes)
    if timings is not None:
        timings["bc"], timings["jacobians"] = t1 - t0, time.perf_counter() - t1
    counts = None
    if isinstance(policy_class, BoltzmannClass) and trace.episode_starts is None:
        s, a = (_rows(x, m + 1, n_trajectories) for x in (trace.states, trace.actions))
        n_s, n_a = policy_class.policy.n_states, policy_class.policy.n_actions
        counts = trajectory_counts(np.asarray(s), np.asarray(a), n_s, n_a)
        counts = counts.reshape(*counts.shape[:2], n_s, n_a)
    inputs = ObserverInputs("realistic", np.asarray(thetas), jacobians, None, list(policies),
                            clone_loss=loss, n_trajectories=_count_trajectories(f, starts, m),
                            counts=counts)
    if config.preconditioner == "natural":
        inputs = with_fishers(inputs, data, policy_class, n_trajectories=n_trajectories)
    if config.weighting == "gls":
        if jacobian_trace is not None:
            raise ValueError("ObserverConfig.weighting='gls' needs the Jacobians on the cloned "
                             "trajectories (no jacobian_trace)")
        inputs = noise_covariances(inputs, trace, policy_class, config,
                                   n_trajectories=n_trajectories)
    return inputs


def noise_covariances(inputs: ObserverInputs[Any], trace: LearnerTrace,
                      policy_class: PolicyClass[Any], config: ObserverConfig = ObserverConfig(),
                      *, n_trajectories: int | None = None) -> ObserverInputs[Any]:
    """``inputs`` with the noise covariances noise-aware LOGEL needs (``weighting="gls"``).

    * ``delta_covariance``: Laplace covariances of the cloned steps
      (:meth:`logel.BoltzmannClass.delta_covariances`, :func:`logel.irl.bc.delta_covariances`)
      on the trajectories the cloning used;
    * ``jacobian_covariance``: the G(PO)MDP estimates' row covariances
      (:func:`step_jacobian_covariances`) on the trajectories the Jacobians used.

    Args:
        inputs: :func:`realistic_inputs` of ``trace`` (same ``n_trajectories``).
        trace: the learner's trace (one trajectory per row, no episode starts).
        policy_class: the :class:`~logel.BoltzmannClass` that cloned ``inputs``.
        config: the observer's options (``baseline_eps``).
        n_trajectories: the rows per step ``inputs`` used (default: all).

    Raises:
        ValueError: for inputs not of the realistic setting, a policy class other than
            :class:`~logel.BoltzmannClass`, or a trace with episode starts.
    """
    if inputs.setting != "realistic":
        raise ValueError(f"noise_covariances needs the realistic setting's inputs, got "
                         f"{inputs.setting!r}")
    if not isinstance(policy_class, BoltzmannClass):
        raise ValueError("noise_covariances needs the tabular BoltzmannClass (its cloning "
                         "likelihood gives the Laplace covariance)")
    if trace.episode_starts is not None:
        raise ValueError("noise_covariances needs one trajectory per row (no episode_starts)")
    m = inputs.m
    s, a = (_rows(x, m + 1, n_trajectories) for x in (trace.states, trace.actions))
    assert s is not None and a is not None
    cov = policy_class.delta_covariances(inputs.thetas, list(s), list(a))
    s, a, f = (_rows(x, m, n_trajectories) for x in (trace.states, trace.actions,
                                                     trace.features))
    jac = step_jacobian_covariances(policy_class, inputs.policies[:m], np.asarray(s),
                                    np.asarray(a), np.asarray(f), trace.gamma,
                                    config.baseline_eps)
    return replace(inputs, delta_covariance=cov, jacobian_covariance=jac)


def with_fishers(inputs: ObserverInputs[Any], trace: LearnerTrace,
                 policy_class: PolicyClass[Any], *, n_trajectories: int | None = None,
                 samples: tuple[np.ndarray, np.ndarray] | None = None) -> ObserverInputs[Any]:
    """``inputs`` with the empirical Fisher matrix of each observed policy
    :math:`\\hat F_t` (:func:`logel.estimators.empirical_fisher` of its scores on the trajectories
    of step ``t``: the trace's first ``n_trajectories`` rows, or ``samples`` ``(states,
    actions)`` ``(m, N, T, ...)``), for ``ObserverConfig.preconditioner="natural"``.

    Needs a policy class whose scores are an array (``(d, d)`` per step: the tabular class, not
    a network's factored scores)."""
    m = inputs.m
    if samples is None:
        s, a = (_rows(x, m, n_trajectories) for x in (trace.states, trace.actions))
    else:
        s, a = samples
    fishers = []
    for t in range(m):
        scores = policy_class.scores(inputs.policies[t], np.asarray(s[t]), np.asarray(a[t]))
        if not isinstance(scores, np.ndarray):
            raise ValueError("with_fishers needs per-sample scores as an array ((N, T, d)); this "
                             f"policy class returns {type(scores).__name__}")
        fishers.append(empirical_fisher(scores))
    return replace(inputs, fishers=np.stack(fishers))


def kept_steps(inputs: ObserverInputs[Any], config: ObserverConfig, m: int) -> int:
    """How many of the first ``m`` observed steps the recovery uses: all of them, or with
    ``config.stopped_steps="drop"`` those before the learner is found to have stopped
    (:func:`logel.irl.motion.moving_steps` on ``inputs.counts`` with
    ``config.stop_statistic``, test ``k`` drawing from
    ``cell_rng(config.seed, "stopped steps", m, k)``; with ``config.stop_last_step`` a stop at
    ``k`` also needs the two-batch test of ``k - 1``, ``k``, drawing from
    ``cell_rng(config.seed, "last step", m, k)``, to reject)."""
    if config.stopped_steps == "keep":
        return m
    if inputs.counts is None:
        raise ValueError("ObserverConfig.stopped_steps='drop' needs the trajectories' counts: "
                         "the realistic setting (realistic_inputs) with a tabular policy class "
                         "(BoltzmannClass) and one trajectory per row")
    k, n, n_states, n_actions = inputs.counts.shape
    return moving_steps(inputs.counts.reshape(k, n, n_states * n_actions), n_actions, m,
                        lambda k: cell_rng(config.seed, "stopped steps", m, k),
                        config.stop_level, config.stop_permutations, config.stop_statistic,
                        (lambda k: cell_rng(config.seed, "last step", m, k))
                        if config.stop_last_step else None)


def selected_steps(inputs: ObserverInputs[Any], config: ObserverConfig, m: int) -> np.ndarray:
    """``(m,)`` booleans: the first ``m`` observed steps the recovery uses. All of them, or with
    ``config.step_selection="held_out"`` those whose held-out likelihood test rejects at
    ``config.selection_level`` (with ``config.selection_correction``; every step if none does;
    :func:`logel.irl.step_selection.moving_steps_mask`), step ``t``'s test drawing from
    ``cell_rng(config.seed, "held-out step", t)``."""
    if config.step_selection == "all":
        return np.ones(m, dtype=bool)
    if inputs.counts is None:
        raise ValueError("ObserverConfig.step_selection='held_out' needs the trajectories' "
                         "counts: the realistic setting (realistic_inputs) with a tabular policy "
                         "class (BoltzmannClass) and one trajectory per row")
    key = (config.seed, config.selection_permutations)
    if (inputs.step_pvalues is not None and inputs.step_pvalues.size >= m
            and inputs.step_pvalues_key == key):
        p = inputs.step_pvalues[:m]
    else:
        p = step_pvalues(inputs.counts, m, lambda t: cell_rng(config.seed, "held-out step", t),
                         config.selection_permutations)
    return moving_steps_mask(p, config.selection_level, config.selection_correction)


def with_step_pvalues(inputs: ObserverInputs[Any], config: ObserverConfig) -> ObserverInputs[Any]:
    """``inputs`` with the p-values of the held-out tests of all their steps
    (:func:`logel.irl.step_selection.step_pvalues`, streams
    ``cell_rng(config.seed, "held-out step", t)``, ``config.selection_permutations``), so that
    :func:`recover` at several ``m`` tests each step once (only for the same ``config.seed`` and
    ``config.selection_permutations``; otherwise it tests again)."""
    if inputs.counts is None:
        raise ValueError("with_step_pvalues needs the trajectories' counts (realistic setting, "
                         "BoltzmannClass, one trajectory per row)")
    p = step_pvalues(inputs.counts, inputs.m,
                     lambda t: cell_rng(config.seed, "held-out step", t),
                     config.selection_permutations)
    return replace(inputs, step_pvalues=p,
                   step_pvalues_key=(config.seed, config.selection_permutations))


def subset_steps(inputs: ObserverInputs[Any], keep: np.ndarray) -> ObserverInputs[Any]:
    """``inputs`` reduced to the steps ``keep`` ``(m,)`` (booleans over its first ``m``
    steps): their parameter changes (as a path from :math:`\\hat\\theta_1` whose steps are the
    kept :math:`\\hat\\Delta_t`), Jacobians and noise covariances; the fit sees nothing else of
    the dropped steps."""
    keep = np.asarray(keep, dtype=bool)
    m = keep.size
    deltas = inputs.deltas[:m][keep]
    thetas = inputs.thetas[0] + np.concatenate([np.zeros((1, deltas.shape[1])),
                                                np.cumsum(deltas, axis=0)])
    idx = np.flatnonzero(keep)

    def pick(x: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else x[idx]

    return replace(inputs, thetas=thetas, jacobians=inputs.jacobians[idx],
                   learning_rates=pick(inputs.learning_rates),
                   policies=[inputs.policies[t] for t in idx] + [inputs.policies[idx[-1] + 1]],
                   counts=None, delta_covariance=pick(inputs.delta_covariance),
                   jacobian_covariance=pick(inputs.jacobian_covariance),
                   fishers=pick(inputs.fishers), n_trajectories=(),
                   step_pvalues=None)


def initial_learning_rates(config: ObserverConfig, m: int) -> np.ndarray:
    """:math:`\\alpha^{(0)}` of block-coordinate descent: ``config.alpha_init`` for every step, or
    :math:`\\mathcal U[0,1)` draws from ``config.seed``, raised to ``alpha_min``."""
    if config.alpha_init == "uniform":
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0x10CE1]))
        return np.maximum(rng.random(m), config.alpha_min)
    return np.full(m, float(config.alpha_init))


def recover(inputs: ObserverInputs[Any], config: ObserverConfig = ObserverConfig(),
            m: int | None = None) -> Observation:
    """:math:`\\hat\\omega` from the first ``m`` observed steps of ``inputs`` (default: all).

    Known learning rates give the closed form (:func:`logel.solve_weights`, paper Eq. 4);
    unknown ones block-coordinate descent (:func:`logel.fit`, paper Alg. 1) from
    :func:`initial_learning_rates`. With ``config.stopped_steps="drop"`` only the steps before
    the learner is found to have stopped enter the fit (:func:`kept_steps`); the result's
    ``steps_used`` says how many. With ``config.step_selection="held_out"`` only the steps
    whose held-out likelihood test shows motion (``selected_steps``); the result's
    ``kept`` says which.
    """
    m = inputs.m if m is None else int(m)
    if not 1 <= m <= inputs.m:
        raise ValueError(f"m must lie in 1..{inputs.m} (the observed steps), got {m}")
    if config.step_selection == "held_out":
        keep = selected_steps(inputs, config, m)
        plain = replace(config, step_selection="all")
        if keep.all():
            return recover(inputs, plain, m)
        obs = recover(subset_steps(inputs, keep), plain, int(keep.sum()))
        return replace(obs, thetas=inputs.thetas[: m + 1], steps_used=int(keep.sum()),
                       kept=keep)
    if config.stopped_steps == "drop":
        used = kept_steps(inputs, config, m)
        return replace(recover(inputs, replace(config, stopped_steps="keep"), used),
                       steps_used=used)
    null = np.ones(inputs.jacobians.shape[-1]) if config.fix_constant_direction else None
    deltas, jacobians = inputs.deltas[:m], inputs.jacobians[:m]
    thetas = inputs.thetas[: m + 1]
    if config.preconditioner != "identity":
        if config.preconditioner == "natural" and inputs.fishers is None:
            raise ValueError("ObserverConfig.preconditioner='natural' needs the observed "
                             "policies' Fisher matrices (with_fishers, or realistic_inputs / "
                             "approximate_inputs with preconditioner='natural')")
        alpha_init = initial_learning_rates(config, m)
        pre = fit_preconditioned(deltas, jacobians, config.preconditioner,
                                 adam_betas=config.adam_betas,
                                 fishers=None if inputs.fishers is None else inputs.fishers[:m],
                                 natural_damping=config.natural_damping, alpha_init=alpha_init,
                                 alpha_min=config.alpha_min, tol=config.tol,
                                 max_iter=config.max_iter, null_directions=null,
                                 convergence=config.convergence, step_sizes=config.step_sizes)
        return Observation(inputs.setting, pre.weights, pre.learning_rates, thetas, jacobians,
                           pre.fit.identifiability, pre.fit, alpha_init, pre.preconditioners)
    if inputs.learning_rates is not None:
        if config.weighting == "gls":
            raise ValueError("ObserverConfig.weighting='gls' is for unknown learning rates (the "
                             "realistic setting); the learner's are known here")
        alpha = inputs.learning_rates[:m]
        omega = solve_weights(deltas, jacobians, alpha, null_directions=null)
        return Observation(inputs.setting, omega, np.asarray(alpha), thetas, jacobians,
                           identifiability(jacobians, null_directions=null), None, None)
    if config.weighting == "gls":
        if inputs.delta_covariance is None:
            raise ValueError("ObserverConfig.weighting='gls' needs the inputs' noise covariances "
                             "(noise_covariances, or realistic_inputs with weighting='gls')")
        alpha_init = initial_learning_rates(config, m)
        gls = fit_gls(deltas, jacobians, inputs.delta_covariance[:m],
                      jacobian_covariance=None if inputs.jacobian_covariance is None
                      else inputs.jacobian_covariance[:m], iterations=config.gls_iterations,
                      alpha_init=alpha_init, alpha_min=config.alpha_min, tol=config.tol,
                      max_iter=config.max_iter, null_directions=null,
                      convergence=config.convergence, step_sizes=config.step_sizes)
        return Observation(inputs.setting, gls.weights, gls.learning_rates, thetas, jacobians,
                           gls.fit.identifiability, gls.fit, alpha_init)
    alpha_init = initial_learning_rates(config, m)
    result = fit(deltas, jacobians, alpha_init=alpha_init, alpha_min=config.alpha_min, tol=config.tol,
                 max_iter=config.max_iter, null_directions=null, convergence=config.convergence,
                 step_sizes=config.step_sizes)
    return Observation(inputs.setting, result.weights, result.learning_rates, thetas, jacobians,
                       result.identifiability, result, alpha_init)


def observe_exact(trace: LearnerTrace, policy: BoltzmannPolicy, model: TabularMDP, horizon: int,
                  config: ObserverConfig = ObserverConfig(), m: int | None = None
                  ) -> Observation:
    """The exact-gradient observer (paper Sec. 2): closed form on the exact Jacobians."""
    return recover(exact_inputs(trace, policy, model, horizon, m), config)


def observe_approximate(trace: LearnerTrace, policy_class: PolicyClass[Any],
                        config: ObserverConfig = ObserverConfig(), m: int | None = None, *,
                        n_trajectories: int | None = None) -> Observation:
    """The approximate-gradient observer (paper Sec. 3): closed form on G(PO)MDP Jacobians at the
    learner's true parameters, from the learner's own trajectories."""
    return recover(approximate_inputs(trace, policy_class, config, m,
                                      n_trajectories=n_trajectories), config)


def observe_realistic(trace: LearnerTrace, policy_class: PolicyClass[Any],
                      config: ObserverConfig = ObserverConfig(), m: int | None = None, *,
                      n_trajectories: int | None = None) -> Observation:
    """LOGEL (paper Sec. 4, Alg. 1): behavioural cloning, G(PO)MDP Jacobians at the cloned
    parameters, block-coordinate descent for :math:`\\omega` and the unknown learning rates."""
    return recover(realistic_inputs(trace, policy_class, config, m,
                                    n_trajectories=n_trajectories), config)
