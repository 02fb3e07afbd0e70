"""LOGEL against LfL on the gridworld, for four learners (paper Sec. 5.4b).

Each learner -- G(PO)MDP, Q-learning, soft value iteration (SVI), soft policy iteration (SPI) --
runs once per seed; both observers then watch the *same* trajectories for every number of
observed learning steps ``m``: LOGEL in the realistic setting (behavioural cloning + block-
coordinate descent, :func:`logel.experiments.gridworld.observe`) and LfL
(:func:`logel.irl.lfl.lfl_reward`). Both are scored by the paper's metric, the value
:math:`V^{\\pi}(s_0)` under the true reward of the greedy policy for the recovered reward.

Two LOGEL columns come from the same cloned inputs: ``"logel"`` with the configured choice of
the all-ones direction of :math:`\\omega` (``config.logel.fix_constant_direction``, by default
``"auto"``: fixed, since the colour features partition the states and the direction is
unidentifiable) and ``"logel_free"`` with that direction left free (the official code's choice).
A third, ``"logel_shared"``, is the first with one step size shared by all observed steps
(``ObserverConfig.step_sizes="shared"``, chapter 6), our answer to LOGEL getting worse with ``m``
once a learner converges; a fourth, ``"logel_stop"``, also drops the steps after the learner is
found to have stopped (``ObserverConfig.stopped_steps="drop"``, chapter 6); a fifth,
``"logel_resolved"``, drops them with a test built for slow learners: the change-point statistic
and the stop accepted only when the test resolves the learner's last step before it
(``stop_statistic="changepoint"``, ``stop_last_step=True``, chapter 6); a sixth,
``"logel_gls"``, is noise-aware LOGEL: each step whitened by the covariance of its residual,
cloning noise (Laplace) plus Jacobian-estimate noise (``ObserverConfig.weighting="gls"``,
:func:`logel.irl.logel.fit_gls`, chapter 6), and a seventh, ``"logel_gls_shared"``, the same with
one shared step size. Four more (:data:`EXTRA_METHODS`) fit only the steps whose held-out
likelihood test shows that the learner moved (``ObserverConfig.step_selection="held_out"``,
:mod:`logel.irl.step_selection`, chapter 6): ``"logel_moving"`` (each step's test at 5%) and
``"logel_moving_holm"`` (the family of tests at 5%, Holm), each with one learning rate per step
and with one shared step size (``"logel_moving_shared"``, ``"logel_moving_holm_shared"``).

Random streams (:mod:`logel.streams`): the learner draws from ``SeedSequence(seed).spawn(3)[0]``
(unchanged, so learner runs are identical to earlier versions); LfL after ``m`` steps draws
its random cloning initialisation from the cell ``(seed, "lfl", m)``; LOGEL in the realistic
setting draws nothing except the permutations of ``"logel_stop"``'s and ``"logel_resolved"``'s
tests, from the cells ``(seed, "stopped steps", m, k)`` and ``(seed, "last step", m, k)``, and
the splits and permutations of the held-out test of step ``t`` of ``"logel_moving"`` and
``"logel_moving_shared"`` (and their Holm variants), from ``(seed, "held-out step", t)``
(noise-aware LOGEL draws nothing: its covariances are computed, not sampled). So a
cell's result depends only on ``(seed, method, m)`` and the options, never on which other
methods ran, and LfL's never on which other ``m`` ran. One deterministic
dependence remains for LOGEL: its smoothed behavioural cloning
(:data:`logel.experiments.gridworld.DEFAULT_BC`) clones the observed policies *jointly*, up to
the largest ``m`` of the sweep, so LOGEL's result at ``m`` depends on ``max(observed_steps)``
(not on the ``m`` in between); every table of the book that compares ``m`` uses one largest
``m``. Sweeps run over seeds with :func:`logel.runner.run_jobs`, and results are identical for
any ``n_jobs``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np

from logel import cli
from logel._validation import choice, instance, integer, items, real
from logel.cli import Command
from logel.envs.gridworld import Gridworld, Variant
from logel.evaluation import attains_optimum, greedy_value, mean_ci, optimal_value
from logel.experiments.budgets import Budget, check_budget
from logel.experiments.claims import Claim, count_claim, paired
from logel.experiments.gridworld import (
    GRIDWORLD_BUDGETS,
    RecoveryConfig,
    estimate_inputs,
    observer_config,
    outcomes,
)
from logel.irl.lfl import LfLConfig, lfl_reward
from logel.irl.observer import BoltzmannClass, noise_covariances, with_step_pvalues
from logel.learners.gpomdp import GPOMDPLearnerConfig
from logel.learners.gridworld_runs import LEARNERS, LearnerKind, run_gridworld_learner
from logel.learners.tabular_learners import TabularLearnerConfig
from logel.policies.boltzmann import BoltzmannPolicy
from logel.runner import run_jobs
from logel.statistics import weakest
from logel.streams import cell_rng
from logel.traces import LearnerTrace

Method = Literal["logel", "logel_free", "logel_shared", "logel_stop", "logel_resolved",
                 "logel_gls", "logel_gls_shared", "lfl", "logel_moving",
                 "logel_moving_shared", "logel_moving_holm", "logel_moving_holm_shared"]
NAMES: dict[str, str] = {"gpomdp": "G(PO)MDP", "qlearning": "Q-learning", "svi": "SVI",
                         "spi": "SPI"}
"""Display names of the learners."""
METHODS: tuple[Method, ...] = ("logel", "logel_free", "logel_shared", "logel_stop",
                               "logel_resolved", "logel_gls", "logel_gls_shared", "lfl")
"""The observers: LOGEL (configured all-ones direction), LOGEL with that direction free, LOGEL
with one step size shared by the observed steps, the latter without the steps after the learner
is found to have stopped (:func:`logel.irl.motion.moving_steps`), the same with the change-point
test and the last-step condition, noise-aware LOGEL (generalised least squares, one step size
per step), the same with one shared step size, LfL."""
EXTRA_METHODS: tuple[Method, ...] = ("logel_moving", "logel_moving_shared", "logel_moving_holm",
                                     "logel_moving_holm_shared")
"""Observers outside :data:`METHODS`: LOGEL on the steps whose held-out likelihood test shows
motion (``ObserverConfig.step_selection="held_out"``), each test at 5% (``"logel_moving"``) or
the family at 5% by Holm's correction (``"logel_moving_holm"``), with one learning rate per step
and with one shared step size (``"..._shared"``)."""
HELD_OUT_METHODS: tuple[Method, ...] = ("logel_moving_shared", "logel_moving_holm_shared")
"""The held-out step selections of chapter 7 (one shared step size, each test at 5% and Holm):
the ones :func:`claims` judges (:data:`HELD_OUT_PAIRS`)."""
LOGEL_METHODS: dict[str, dict[str, Any]] = {
    "logel": {}, "logel_free": {"fix_constant_direction": False},
    "logel_shared": {"step_sizes": "shared"},
    "logel_stop": {"step_sizes": "shared", "stopped_steps": "drop"},
    "logel_resolved": {"step_sizes": "shared", "stopped_steps": "drop",
                       "stop_statistic": "changepoint", "stop_last_step": True},
    "logel_gls": {"weighting": "gls"},
    "logel_gls_shared": {"weighting": "gls", "step_sizes": "shared"},
    "logel_moving": {"step_selection": "held_out"},
    "logel_moving_shared": {"step_selection": "held_out", "step_sizes": "shared"},
    "logel_moving_holm": {"step_selection": "held_out", "selection_correction": "holm"},
    "logel_moving_holm_shared": {"step_selection": "held_out", "selection_correction": "holm",
                                 "step_sizes": "shared"}}
"""The LOGEL columns as changes to the configured observer (:class:`logel.ObserverConfig`); they
share one behavioural cloning."""


@dataclass(frozen=True)
class ComparisonConfig:
    """One learner watched by LOGEL and LfL."""

    learner: LearnerKind = "gpomdp"
    """The learner: ``"gpomdp"``, ``"qlearning"``, ``"svi"`` or ``"spi"``."""
    variant: Variant = "paper"
    """Gridworld dynamics variant."""
    slip: float = 0.0
    """Probability of a random move (paper's stochastic option: 0.3)."""
    observed_steps: tuple[int, ...] = tuple(range(2, 16))
    """Numbers ``m`` of observed learning steps (``m + 1`` policies)."""
    n_trajectories: int = 50
    """Trajectories per learning step (learner and observers)."""
    gpomdp: GPOMDPLearnerConfig = field(default_factory=GPOMDPLearnerConfig)
    """G(PO)MDP learner options (learning-rate schedule, broken-assumption knobs); its
    ``n_updates`` and ``n_trajectories`` are overridden."""
    tabular: TabularLearnerConfig = field(default_factory=TabularLearnerConfig)
    """Q-learning / SVI / SPI options; ``learner``, ``n_updates`` and ``n_trajectories`` are
    overridden."""
    logel: RecoveryConfig = field(default_factory=lambda: RecoveryConfig(setting="realistic"))
    """LOGEL observer options (realistic setting); ``observed_steps`` is overridden."""
    lfl: LfLConfig = field(default_factory=LfLConfig)
    """LfL observer options."""
    methods: tuple[Method, ...] = ("logel", "lfl")
    """Which observers to run (any of :data:`METHODS` and :data:`EXTRA_METHODS`; the LOGEL columns share the cloned inputs
    of ``"logel"``, so adding them costs only the fits and, for ``"logel_stop"`` and
    ``"logel_resolved"``, their permutation tests)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.learner, c + "learner", LEARNERS)
        choice(self.variant, c + "variant", get_args(Variant))
        real(self.slip, c + "slip", low=0, high=1)
        items(self.observed_steps, c + "observed_steps", lambda v, n: integer(v, n, low=1))
        integer(self.n_trajectories, c + "n_trajectories", low=1)
        instance(self.gpomdp, c + "gpomdp", GPOMDPLearnerConfig)
        instance(self.tabular, c + "tabular", TabularLearnerConfig)
        instance(self.logel, c + "logel", RecoveryConfig)
        instance(self.lfl, c + "lfl", LfLConfig)
        items(self.methods, c + "methods",
              lambda v, n: choice(v, n, METHODS + EXTRA_METHODS))


    def learner_key(self) -> tuple[Any, ...]:
        """What the learner run depends on (learner, dynamics, batch size, number of updates and
        the learner's own options): configurations with equal keys share one learner run."""
        learner_cfg = self.gpomdp if self.learner == "gpomdp" else self.tabular
        return (self.learner, self.variant, self.slip, self.n_trajectories,
                max(self.observed_steps), learner_cfg)


@dataclass(frozen=True)
class MethodOutcome:
    """One observer's result after ``m`` observed learning steps."""

    method: Method
    m: int
    value: float
    """:math:`V^{\\pi}(s_0)` under the true reward of the greedy policy for the recovered reward."""
    optimal: bool
    weight_error: float | None
    """Centred normalised weight error (LOGEL only: LfL recovers a table, not weights)."""
    fixed_constant_direction: bool | None = None
    """LOGEL: whether the all-ones direction of omega was fixed (None for LfL)."""


@dataclass(frozen=True)
class ComparisonResult:
    """Both observers on one learner run."""

    config: ComparisonConfig
    seed: int
    environment: dict[str, Any]
    optimal_value: float
    outcomes: tuple[MethodOutcome, ...]
    learner_returns: np.ndarray
    """``(K,)`` mean discounted return of each of the learner's policies."""

    def outcome(self, method: Method, m: int) -> MethodOutcome:
        for o in self.outcomes:
            if o.method == method and o.m == m:
                return o
        raise KeyError((method, m))


def learner_parameters(config: ComparisonConfig, seed: int
                       ) -> tuple[Gridworld, LearnerTrace, np.ndarray]:
    """The learner run of ``run_comparison(config, seed)`` and its true policy parameters.

    The configured learner runs for ``max(observed_steps)`` updates
    (:func:`logel.learners.gridworld_runs.run_gridworld_learner`) on the first of the seed's
    three streams.

    Returns:
        ``(grid, trace, thetas)``: the trace ``run_comparison`` observes and the learner's
        ``(K, d)`` policies in the observer's Boltzmann class (the oracle the realistic observer
        never sees).
    """
    learner_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[0])
    grid = Gridworld(variant=config.variant, slip=config.slip)
    trace, thetas = run_gridworld_learner(config.learner, grid, max(config.observed_steps),
                                          config.n_trajectories, learner_rng,
                                          gpomdp=config.gpomdp, tabular=config.tabular)
    return grid, trace, thetas


def run_comparison(config: ComparisonConfig, seed: int) -> ComparisonResult:
    """One learner run, observed by LOGEL and LfL at every ``m``."""
    grid, trace, _ = learner_parameters(config, seed)
    return observe_trace(config, seed, grid, trace)


def observe_trace(config: ComparisonConfig, seed: int, grid: Gridworld,
                  trace: LearnerTrace) -> ComparisonResult:
    """The observers of ``config`` on a learner's trace (the observer half of
    :func:`run_comparison`, with the same seed streams)."""
    if trace.returns is None:
        raise ValueError("the learner's trace has no returns")
    v_star = optimal_value(grid)
    results: list[MethodOutcome] = []
    logel_methods = [m for m in LOGEL_METHODS if m in config.methods]
    if logel_methods:
        logel_cfg = replace(config.logel, setting="realistic",
                            observed_steps=tuple(config.observed_steps),
                            learner=replace(config.logel.learner,
                                            n_updates=max(config.observed_steps)),
                            observer_trajectories=min(config.logel.observer_trajectories,
                                                      config.n_trajectories))
        inputs, _ = estimate_inputs(grid, trace, logel_cfg, seed)
        observer = observer_config(logel_cfg, trace)
        noisy = inputs
        if any(LOGEL_METHODS[m].get("weighting") == "gls" for m in logel_methods):
            policy_class = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions),
                                          logel_cfg.bc)
            noisy = noise_covariances(inputs, trace, policy_class, observer,
                                      n_trajectories=logel_cfg.observer_trajectories)
        if any(LOGEL_METHODS[m].get("step_selection") == "held_out" for m in logel_methods):
            # each step's held-out test does not depend on m: test once, for every m
            tested = with_step_pvalues(inputs, replace(observer, seed=seed))
            inputs, noisy = (replace(x, step_pvalues=tested.step_pvalues,
                                     step_pvalues_key=tested.step_pvalues_key)
                             for x in (inputs, noisy))
        for method in logel_methods:
            obs_cfg = replace(observer, seed=seed, **LOGEL_METHODS[method])
            method_inputs = noisy if obs_cfg.weighting == "gls" else inputs
            for o in outcomes(grid, method_inputs, obs_cfg, logel_cfg.observed_steps):
                results.append(MethodOutcome(method, o.m, o.value, o.optimal,  # type: ignore[arg-type]
                                             o.weight_error, obs_cfg.fix_constant_direction))
    if "lfl" in config.methods:
        for m in config.observed_steps:
            res = lfl_reward(trace.steps(m), grid.n_states, grid.n_actions, config.lfl,
                             cell_rng(seed, "lfl", m))
            value = greedy_value(grid, reward=res.reward)
            results.append(MethodOutcome("lfl", m, value, attains_optimum(value, v_star), None))
    return ComparisonResult(config, seed, {**grid.describe(), "learner": config.learner},
                            v_star, tuple(results), trace.returns.mean(axis=1))


def sweep_comparison(config: ComparisonConfig, seeds: Any, n_jobs: int = 1,
                     progress: bool = False) -> list[ComparisonResult]:
    """:func:`run_comparison` over seeds (:func:`logel.runner.run_jobs`); ``progress`` shows an
    opt-in tqdm bar."""
    return run_jobs(run_comparison, [(config, s) for s in seeds], n_jobs=n_jobs,
                    progress=progress, description=f"{config.learner}")


@dataclass(frozen=True)
class ComparisonSummary:
    """Statistics over seeds for one method and ``m``."""

    learner: LearnerKind
    method: Method
    m: int
    n_seeds: int
    optimal_fraction: float
    value_mean: float
    value_ci: float
    """Half-width of the t-based 95% CI of the mean value."""
    weight_error_mean: float | None
    weight_error_ci: float | None


def summarise_comparison(results: list[ComparisonResult]) -> list[ComparisonSummary]:
    """Per (method, m) statistics of a sweep."""
    cfg = results[0].config
    rows = []
    for method in cfg.methods:
        for m in cfg.observed_steps:
            outs = [r.outcome(method, m) for r in results]
            v_mean, v_ci = mean_ci([o.value for o in outs])
            errors = [o.weight_error for o in outs if o.weight_error is not None]
            e_mean, e_ci = mean_ci(errors) if errors else (None, None)
            rows.append(ComparisonSummary(cfg.learner, method, m, len(outs),
                                          float(np.mean([o.optimal for o in outs])),
                                          v_mean, v_ci, e_mean, e_ci))
    return rows


__all__ = ["EXTRA_METHODS", "HELD_OUT_METHODS", "HELD_OUT_PAIRS", "LEARNERS", "LOGEL_METHODS",
           "METHODS", "NOISE_AWARE_PAIRS", "ComparisonConfig", "ComparisonResult", "ComparisonSummary",
           "MethodOutcome", "StepGoals", "claims", "held_out_claims", "learner_parameters",
           "noise_aware_claims", "observe_trace", "optimal_seeds", "pair_claims",
           "run_comparison", "step_goals", "summarise_comparison", "sweep_comparison"]


def format_comparison(results: list[ComparisonResult]) -> str:
    """A plain-text table of :func:`summarise_comparison`."""
    r0 = results[0]
    lines = [f"learner={r0.config.learner} variant={r0.config.variant} slip={r0.config.slip} "
             f"seeds={len(results)} V*(s0)={r0.optimal_value:.4f}",
             f"{'method':>6s} {'m':>3s} {'optimal':>9s} {'V(s0) mean ± 95% CI':>22s}"]
    for s in summarise_comparison(results):
        lines.append(f"{s.method:>6s} {s.m:3d} {round(s.optimal_fraction * s.n_seeds):4d}/"
                     f"{s.n_seeds:<4d} {s.value_mean:12.3f} ± {s.value_ci:6.3f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------ budgets and claims


@dataclass(frozen=True)
class ComparisonBudget:
    """Sizes of the four-learner comparison at one budget (seeds: the gridworld's)."""

    seeds: tuple[int, ...]
    """Learner runs per learner (:data:`~logel.experiments.gridworld.GRIDWORLD_BUDGETS`)."""
    observed_steps: tuple[int, ...]
    """Every ``m`` of the main figure (chapter 7)."""
    few_steps: tuple[int, ...]
    """A few ``m``: the ablations of chapter 7 and ``logel reproduce comparison``."""
    extra_seeds: tuple[int, ...]
    """Seeds of chapter 7's "what the paper did not show" section."""
    extra_steps: tuple[int, ...]
    """``m`` of that section."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        for name in ("seeds", "extra_seeds"):
            items(getattr(self, name), c + name, lambda v, n: integer(v, n, low=0))
        for name in ("observed_steps", "few_steps", "extra_steps"):
            items(getattr(self, name), c + name, lambda v, n: integer(v, n, low=1))


def _comparison_budget(budget: Budget) -> ComparisonBudget:
    seeds = GRIDWORLD_BUDGETS[budget].seeds
    if budget == "smoke":
        return ComparisonBudget(seeds, (2, 5), (2, 5), seeds[:1], (2, 5))
    return ComparisonBudget(seeds, tuple(range(2, 16)), (2, 5, 10, 15),
                            seeds[:10] if budget == "book" else seeds, (5, 10, 15))


COMPARISON_BUDGETS: dict[Budget, ComparisonBudget] = {
    b: _comparison_budget(b) for b in ("smoke", "book", "paper")}
"""The comparison's sizes per budget (chapter 7 and ``logel reproduce comparison``)."""


def budget_setup(budget: Budget) -> tuple[list[int], dict[LearnerKind, ComparisonConfig]]:
    """Seeds and one configuration per learner of ``logel reproduce comparison`` at
    ``budget`` (the budget's :attr:`~ComparisonBudget.few_steps`; the observers of
    :data:`METHODS` and :data:`HELD_OUT_METHODS`, so that :func:`claims` includes the paired
    claims of noise-aware LOGEL and of held-out step selection)."""
    b = COMPARISON_BUDGETS[check_budget(budget)]
    return list(b.seeds), {ln: ComparisonConfig(learner=ln, observed_steps=b.few_steps,
                                                methods=METHODS + HELD_OUT_METHODS)
                           for ln in LEARNERS}


MOST_SEEDS = 0.5
"""Threshold of "recovers an optimal reward" (and of "fails"): the proportion of seeds whose
greedy policy is optimal is above (below) one half, judged on its 95% Wilson interval."""


def optimal_seeds(results: Sequence[ComparisonResult], method: Method, m: int) -> np.ndarray:
    """``(n_seeds,)`` booleans: is ``method``'s greedy policy optimal at ``m``, per seed."""
    return np.array([r.outcome(method, m).optimal for r in results], dtype=bool)


Pair = tuple[Method, Method, str]
"""``(a, b, text)``: the claim "``text`` on <learner> at m = <m>", that ``a`` beats ``b``."""
NOISE_AWARE_PAIRS: tuple[Pair, ...] = (
    ("logel_gls", "logel", "noise-aware LOGEL beats LOGEL"),
    ("logel_gls_shared", "logel", "noise-aware LOGEL with one step size beats LOGEL"),
    ("logel_gls_shared", "logel_shared", "with one step size, the noise weighting beats none"))
"""The paired claims of noise-aware LOGEL (chapter 7, ``sec:gl-noise-aware``)."""
HELD_OUT_PAIRS: tuple[Pair, ...] = (
    ("logel_moving_shared", "logel", "held-out steps beat LOGEL"),
    ("logel_moving_holm_shared", "logel", "held-out steps (Holm) beat LOGEL"),
    ("logel_moving_shared", "logel_shared",
     "with one step size, the held-out steps beat every step"),
    ("logel_moving_holm_shared", "logel_shared",
     "with one step size, the held-out steps (Holm) beat every step"))
"""The paired claims of held-out step selection (chapter 7, ``sec:gl-heldout-steps``)."""
PAIR_STEPS: tuple[int, ...] = (5, 10, 15)
"""The ``m`` at which the paired claims of :data:`NOISE_AWARE_PAIRS` and
:data:`HELD_OUT_PAIRS` are judged (those in the results' grid)."""


def pair_claims(results: Mapping[str, Sequence[ComparisonResult]], pairs: Sequence[Pair],
                budget: Budget, learners: Sequence[str] | None = None,
                steps: Sequence[int] = PAIR_STEPS) -> list[Claim]:
    """"``a`` beats ``b``" on the same seeds (exact McNemar, :func:`~logel.experiments.claims.paired`)
    for every pair, learner and ``m``, in that order.

    A pair is left out when a learner's results lack one of its methods, an ``m`` when it is
    not in the results' grid.

    Args:
        results: ``results[learner]``, one :class:`ComparisonResult` per seed.
        pairs: ``(a, b, text)`` triples (e.g. :data:`HELD_OUT_PAIRS`); the claim reads
            "``text`` on <learner> at m = <m>".
        budget: statistical claims are not tested at ``smoke``.
        learners: which learners (default: those of :data:`LEARNERS` in ``results``).
        steps: the ``m`` to judge (default :data:`PAIR_STEPS`).
    """
    learners = [ln for ln in LEARNERS if ln in results] if learners is None else list(learners)
    out = []
    for a, b, text in pairs:
        for ln in learners:
            res = results[ln]
            cfg = res[0].config
            if a not in cfg.methods or b not in cfg.methods:
                continue
            for m in steps:
                if m in cfg.observed_steps:
                    out.append(paired("comparison", f"{text} on {NAMES[ln]} at m = {m}",
                                      optimal_seeds(res, a, m), optimal_seeds(res, b, m),
                                      budget))
    return out


def noise_aware_claims(results: Mapping[str, Sequence[ComparisonResult]], budget: Budget,
                       learners: Sequence[str] | None = None,
                       steps: Sequence[int] = PAIR_STEPS) -> list[Claim]:
    """The paired claims of noise-aware LOGEL, :data:`NOISE_AWARE_PAIRS`
    (:func:`pair_claims`)."""
    return pair_claims(results, NOISE_AWARE_PAIRS, budget, learners, steps)


def held_out_claims(results: Mapping[str, Sequence[ComparisonResult]], budget: Budget,
                    learners: Sequence[str] | None = None,
                    steps: Sequence[int] = PAIR_STEPS) -> list[Claim]:
    """The paired claims of held-out step selection, :data:`HELD_OUT_PAIRS`
    (:func:`pair_claims`)."""
    return pair_claims(results, HELD_OUT_PAIRS, budget, learners, steps)


LATE_STEP = 10
"""Goal (i) of :func:`step_goals` is judged at every ``m >= LATE_STEP``."""
LATE_SHARE = (19, 20)
"""Goal (i): optimal on at least 19 of 20 seeds (integer share of the seeds)."""
EARLY_STEP = 5
"""Goal (ii) is judged on G(PO)MDP at ``m = EARLY_STEP``."""
EARLY_SHARE = (17, 20)
"""Goal (ii): optimal on at least 17 of 20 seeds."""


@dataclass(frozen=True)
class StepGoals:
    """The three goals of chapter 7 (``sec:gl-goals``) for one observer on one learner: an
    observer that does not get worse when it sees more steps.

    **(i)** at every ``m >= 10``, optimal on at least 19 of 20 seeds; **(ii)** on G(PO)MDP, at
    least 17 of 20 at ``m = 5``; **(iii)** the count never falls by more than its interval as
    ``m`` grows: at every ``m`` it is at least the lower end of the 95% Wilson interval of the
    count (in seeds, rounded down) at every smaller ``m``. Thresholds on counts, stated before
    the results; ``None`` where a goal does not apply (no ``m >= 10`` in the grid; (ii) on
    another learner or without ``m = 5``).
    """

    learner: str
    method: str
    n_seeds: int
    counts: dict[int, int]
    """Optimal seeds per ``m``."""
    least_late: int | None
    """The least count at ``m >= 10``."""
    late: bool | None
    """Goal (i)."""
    early: bool | None
    """Goal (ii)."""
    never_falls: bool
    """Goal (iii)."""

    @property
    def met(self) -> bool:
        """Every goal that applies is met."""
        return all(g is not False for g in (self.late, self.early, self.never_falls))


def step_goals(results: Sequence[ComparisonResult], method: Method) -> StepGoals:
    """The goals of :class:`StepGoals` for ``method`` on one learner's results (all ``m`` of
    their grid)."""
    from logel.statistics import wilson_interval

    cfg = results[0].config
    n = len(results)
    c = {int(m): int(optimal_seeds(results, method, m).sum()) for m in cfg.observed_steps}
    ms = sorted(c)
    late_ms = [m for m in ms if m >= LATE_STEP]
    least = min(c[m] for m in late_ms) if late_ms else None
    late = None if least is None else least >= LATE_SHARE[0] * n // LATE_SHARE[1]
    early = (c[EARLY_STEP] >= EARLY_SHARE[0] * n // EARLY_SHARE[1]
             if cfg.learner == "gpomdp" and EARLY_STEP in c else None)
    falls = any(c[later] < np.floor(wilson_interval(c[m], n)[0] * n)
                for i, m in enumerate(ms) for later in ms[i + 1:])
    return StepGoals(cfg.learner, method, n, c, least, late, early, not falls)


def _count(results: Sequence[ComparisonResult], method: Method, ms: Sequence[int]) -> str:
    return ", ".join(f"m={m}: {int(optimal_seeds(results, method, m).sum())}" for m in ms)


def claims(results: Mapping[str, Sequence[ComparisonResult]], budget: Budget) -> list[Claim]:
    """The paper's claims about LOGEL and LfL, and the paired comparisons of chapter 7 (also
    ``logel reproduce comparison``), each with its verdict.

    Counts are judged on their Wilson interval against :data:`MOST_SEEDS`, "A beats B" by the
    exact McNemar test on the same seeds (:mod:`logel.experiments.claims`). A claim over several
    ``m`` ("at every m >= 5") is judged at its least favourable ``m``: it holds only if it holds
    at every ``m``, and fails if it fails at one. The comparisons of the two choices of the
    all-ones direction are included when the results have ``"logel_free"``, those of one
    shared step size against one per step when they have ``"logel_shared"``, and those of
    dropping the stopped steps when they have ``"logel_stop"`` (against plain LOGEL on every
    learner, and against ``"logel_shared"``: for it on SVI and SPI, against it on G(PO)MDP and
    Q-learning). Last come the paired claims of noise-aware LOGEL (:func:`noise_aware_claims`)
    and of held-out step selection (:func:`held_out_claims`) at ``m`` = 5, 10 and 15, for the
    pairs whose methods the results have.

    Args:
        results: ``results[learner]``, one :class:`ComparisonResult` per seed (the same seeds
            for every learner), with at least the methods ``"logel"`` and ``"lfl"``.
        budget: statistical claims are not tested at ``smoke``.
    """
    e = "comparison"
    ms = list(results["gpomdp"][0].config.observed_steps)
    lo, hi = min(ms), max(ms)
    n = len(results["gpomdp"])

    def ok(learner: str, method: Method, m: int) -> np.ndarray:
        return optimal_seeds(results[learner], method, m)

    def k(learner: str, method: Method, m: int) -> int:
        return int(ok(learner, method, m).sum())

    out = [count_claim(e, f"LOGEL recovers an optimal reward on {NAMES[ln]} at m = {hi} "
                          f"(optimal in more than half the seeds)",
                       k(ln, "logel", hi), n, MOST_SEEDS, budget) for ln in LEARNERS]
    from_5 = [m for m in ms if m >= 5] or [hi]
    worst = min(from_5, key=lambda m: k("spi", "lfl", m))
    out.append(count_claim(e, f"LfL recovers an optimal reward on SPI at every m >= 5 "
                              f"(more than half the seeds; least: m = {worst})",
                           k("spi", "lfl", worst), n, MOST_SEEDS, budget,
                           detail=_count(results["spi"], "lfl", from_5)))
    for ln in ("gpomdp", "qlearning"):
        worst = max(ms, key=lambda m: k(ln, "lfl", m))
        out.append(count_claim(e, f"LfL fails on {NAMES[ln]} at every m (optimal in fewer "
                                  f"than half the seeds; most: m = {worst})",
                               k(ln, "lfl", worst), n, MOST_SEEDS, budget, claim="<",
                               detail=_count(results[ln], "lfl", ms)))
    out += [
        paired(e, f"LOGEL beats LfL on G(PO)MDP at m = {hi}",
               ok("gpomdp", "logel", hi), ok("gpomdp", "lfl", hi), budget),
        paired(e, f"LfL beats LOGEL on SPI at m = {hi}",
               ok("spi", "lfl", hi), ok("spi", "logel", hi), budget),
        paired(e, f"more observed steps help LOGEL on G(PO)MDP (m = {hi} beats m = {lo})",
               ok("gpomdp", "logel", hi), ok("gpomdp", "logel", lo), budget),
        paired(e, f"more observed steps help LOGEL on Q-learning (m = {hi} beats m = {lo})",
               ok("qlearning", "logel", hi), ok("qlearning", "logel", lo), budget),
        paired(e, f"LOGEL gets worse with m on SPI (m = {lo} beats m = {hi})",
               ok("spi", "logel", lo), ok("spi", "logel", hi), budget),
    ]
    m5 = 5 if 5 in ms else lo
    out.append(paired(e, f"LOGEL gets worse with m on SVI (m = {m5} beats m = {hi})",
                      ok("svi", "logel", m5), ok("svi", "logel", hi), budget))
    late = [m for m in ms if m >= 11]
    if late:
        parts = [paired(e, f"m = {m}", ok("svi", "lfl", m), ok("svi", "logel", m), budget)
                 for m in late]
        out.append(weakest(f"LfL beats LOGEL on SVI at every m >= 11 "
                           f"(m = {', '.join(map(str, late))})", parts))
    if "logel_free" in results["spi"][0].config.methods:
        out += [
            paired(e, f"leaving omega's all-ones direction free beats fixing it on SPI at "
                      f"m = {hi}", ok("spi", "logel_free", hi), ok("spi", "logel", hi), budget),
            paired(e, f"fixing omega's all-ones direction beats leaving it free on G(PO)MDP at "
                      f"m = {hi}", ok("gpomdp", "logel", hi), ok("gpomdp", "logel_free", hi),
                   budget),
        ]
    if "logel_shared" in results["spi"][0].config.methods:
        sh = "LOGEL with one shared step size"
        out += [paired(e, f"one shared step size beats one per step on {NAMES[ln]} at m = {hi}",
                       ok(ln, "logel_shared", hi), ok(ln, "logel", hi), budget)
                for ln in ("svi", "spi")]
        out += [
            paired(e, f"one step size per step beats one shared on G(PO)MDP at m = {hi}",
                   ok("gpomdp", "logel", hi), ok("gpomdp", "logel_shared", hi), budget),
            paired(e, f"{sh} gets worse with m on SVI (m = {m5} beats m = {hi})",
                   ok("svi", "logel_shared", m5), ok("svi", "logel_shared", hi), budget),
            paired(e, f"{sh} gets worse with m on SPI (m = {lo} beats m = {hi})",
                   ok("spi", "logel_shared", lo), ok("spi", "logel_shared", hi), budget),
        ]
    if "logel_stop" in results["spi"][0].config.methods:
        st = "LOGEL with one step size and the stopped steps dropped"
        out += [paired(e, f"{st} beats LOGEL on {NAMES[ln]} at m = {hi}",
                       ok(ln, "logel_stop", hi), ok(ln, "logel", hi), budget)
                for ln in LEARNERS]
        out += [paired(e, f"with one step size, dropping the stopped steps beats keeping them on "
                          f"{NAMES[ln]} at m = {hi}",
                       ok(ln, "logel_stop", hi), ok(ln, "logel_shared", hi), budget)
                for ln in ("svi", "spi")]
        out += [paired(e, f"with one step size, keeping the stopped steps beats dropping them on "
                          f"{NAMES[ln]} at m = {hi}",
                       ok(ln, "logel_shared", hi), ok(ln, "logel_stop", hi), budget)
                for ln in ("gpomdp", "qlearning")]
        out += [paired(e, f"{st} gets worse with m on {NAMES[ln]} (m = {m0} beats m = {hi})",
                       ok(ln, "logel_stop", m0), ok(ln, "logel_stop", hi), budget)
                for ln, m0 in (("svi", m5), ("spi", lo))]
    out += noise_aware_claims(results, budget)
    out += held_out_claims(results, budget)
    return out


# ------------------------------------------------------------------------------ command line


def _execute(config: ComparisonConfig, args: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = sweep_comparison(config, args.seeds, n_jobs=args.n_jobs,
                                   progress=args.progress)
    print(format_comparison(results))


# logel run comparison: sweep_comparison over --seeds.
COMMAND = Command(config=ComparisonConfig, execute=_execute, seeds="0-19",
                  options=("n_jobs", "progress"))


def main(argv: list[str] | None = None) -> int:
    """``python -m logel.experiments.comparison --learner spi --seeds 0-19 --n-jobs 2``: the same
    as ``logel run comparison ...``."""
    return cli.run("comparison", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
