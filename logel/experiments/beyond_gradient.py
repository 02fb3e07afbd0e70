"""When does LOGEL work? Learners beyond plain gradient ascent, on the gridworld (issue 16).

Each learner of the zoo (:mod:`logel.learners.zoo`: G(PO)MDP SGD, Adam, natural PG, PPO-like)
runs once per seed; then, on the *same* trajectories, for every number of observed steps ``m``:

``"logel"``
    LOGEL in the realistic setting (behavioural cloning, G(PO)MDP Jacobians at the cloned
    parameters, block-coordinate descent; the package defaults of
    :func:`logel.experiments.gridworld.estimate_inputs`);
``"logel_diagonal"``, ``"logel_adam"``
    the preconditioned LOGEL on the same cloned inputs (``ObserverConfig.preconditioner``,
    :mod:`logel.irl.preconditioned`): a free shared diagonal, or Adam's preconditioner from the
    observer's own gradient estimates;
``"lfl"``
    LfL (:func:`logel.irl.lfl.lfl_reward`), as in chapter 7;
``"trex"``
    the T-REX-style time-ranking baseline (:func:`logel.irl.trex.trex_reward`);
``"mce"``
    MCE-IRL on the trajectories of the last observed policy only
    (:func:`logel.irl.mce_irl.mce_irl`), as in chapter 9;
``"theta_logel"``, ``"theta_adam"``
    oracles (:data:`TRUE_THETA`): plain LOGEL and the Adam model given the learner's true
    :math:`\\theta_t` (no cloning), Jacobians on its own trajectories, learning rates recovered.

Every reward is scored by the paper's metric, :math:`V^{\\pi}(s_0)` under the true reward of its
greedy policy (:func:`logel.evaluation.greedy_value`). Per seed the result also holds the
**alignment** of the learner's own motion with the true reward's gradient
(:func:`logel.diagnostics.alignment`, at the learner's true :math:`\\theta_t`, with exact and
with estimated Jacobians) and, at the largest ``m``, the **motion null** of each LOGEL variant's
recovered reward against random reward directions (:func:`logel.diagnostics.motion_null`).

Random streams (:mod:`logel.streams`): the learner draws from the cell ``(seed, "zoo learner")``
-- the same stream for every learner, so their first batches coincide (common random numbers);
LfL after ``m`` steps from ``(seed, "lfl", m)``, T-REX from ``(seed, "trex", m)``, the random
directions of the motion null of LOGEL variant ``i`` from ``(seed, "motion null", i)``.
LOGEL's smoothed cloning clones the observed policies jointly up to the largest ``m`` (as in
chapter 7), so every ``m`` of one table shares one largest ``m``.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from logel import artifacts, cli
from logel._validation import choice, instance, integer, items
from logel.budget import BUDGETS, Budget, check_budget
from logel.cli import Command
from logel.diagnostics import alignment, motion_null
from logel.envs.gridworld import Gridworld, Variant
from logel.evaluation import attains_optimum, greedy_value, optimal_value, weight_error
from logel.experiments.claims import Claim, count_claim, paired
from logel.experiments.gridworld import RecoveryConfig, estimate_inputs, observer_config
from logel.irl.lfl import LfLConfig, lfl_reward
from logel.irl.mce_irl import MCEConfig, mce_irl
from logel.irl.observer import (
    BoltzmannClass,
    ObserverConfig,
    ObserverInputs,
    approximate_inputs,
    recover,
    with_fishers,
)
from logel.irl.preconditioned import PreconditionerKind
from logel.irl.trex import TREXConfig, trex_reward
from logel.learners.zoo import ZOO_LEARNERS, ZOO_NAMES, ZooConfig, ZooLearner, run_zoo_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.runner import Backend, run_jobs
from logel.statistics import mean_ci, weakest
from logel.streams import cell_rng
from logel.tabular import feature_expectations_jacobian, policy_evaluation
from logel.traces import LearnerTrace

Observer = Literal["logel", "logel_diagonal", "logel_adam", "lfl", "trex", "mce",
                   "theta_logel", "theta_adam", "logel_natural", "theta_natural"]
OBSERVERS: tuple[Observer, ...] = ("logel", "logel_diagonal", "logel_adam", "lfl", "trex",
                                   "mce", "theta_logel", "theta_adam")
EXTRA_OBSERVERS: tuple[Observer, ...] = ("logel_natural", "theta_natural")
"""Observers outside the default set (so the committed artifacts' configuration is unchanged):
the natural-gradient learner model (``ObserverConfig.preconditioner="natural"``) through
cloning and given the true :math:`\\theta_t`."""
TRUE_THETA: tuple[Observer, ...] = ("theta_logel", "theta_adam", "theta_natural")
"""Oracle observers: LOGEL (plain, or with the Adam model) given the learner's true
:math:`\\theta_t` and G(PO)MDP Jacobians on its own trajectories, learning rates recovered --
what the preconditioned model can do without behavioural cloning."""
OBSERVER_NAMES: dict[str, str] = {"logel": "LOGEL", "logel_diagonal": "LOGEL, free diagonal",
                                  "logel_adam": "LOGEL, Adam model", "lfl": "LfL",
                                  "trex": "T-REX (time ranking)",
                                  "mce": "MCE-IRL (final policy)",
                                  "theta_logel": "oracle θ: LOGEL",
                                  "theta_adam": "oracle θ: LOGEL, Adam model",
                                  "logel_natural": "LOGEL, natural-gradient model",
                                  "theta_natural": "oracle θ: LOGEL, natural-gradient model"}
"""Display names of the observers."""
PRECONDITIONER_OF: dict[str, PreconditionerKind] = {
    "logel": "identity", "logel_diagonal": "diagonal", "logel_adam": "adam",
    "theta_logel": "identity", "theta_adam": "adam", "logel_natural": "natural",
    "theta_natural": "natural"}
"""The learner model (``ObserverConfig.preconditioner``) of each LOGEL variant."""
JACOBIANS: tuple[str, ...] = ("exact", "estimated", "cloned")
"""The alignment's Jacobians: exact at the true :math:`\\theta_t` (the true gradient), estimated
at the true :math:`\\theta_t` on the learner's own trajectories (the gradient the learner
computed), and the realistic observer's (cloned :math:`\\hat\\theta_t` and Jacobians there)."""


@dataclass(frozen=True)
class BeyondConfig:
    """One learner of the zoo watched by every observer."""

    learner: ZooLearner = "sgd"
    """``"sgd"``, ``"adam"``, ``"npg"`` or ``"ppo"`` (:mod:`logel.learners.zoo`)."""
    variant: Variant = "paper"
    """Gridworld dynamics variant."""
    observed_steps: tuple[int, ...] = tuple(range(2, 16))
    """Numbers ``m`` of observed learning steps; the learner runs ``max(observed_steps)``."""
    n_trajectories: int = 50
    """Trajectories per learning step (learner and observers; paper: 50)."""
    observers: tuple[Observer, ...] = OBSERVERS
    """Which observers to run."""
    null_directions: int = 100
    """Random reward directions of the motion null (0: no null)."""
    zoo: ZooConfig = field(default_factory=ZooConfig)
    """The learner's options; ``learner``, ``n_updates`` and ``n_trajectories`` are overridden."""
    logel: RecoveryConfig = field(default_factory=lambda: RecoveryConfig(setting="realistic"))
    """LOGEL's options (realistic setting); ``observed_steps`` is overridden."""
    lfl: LfLConfig = field(default_factory=LfLConfig)
    """LfL's options."""
    trex: TREXConfig = field(default_factory=TREXConfig)
    """T-REX's options."""
    mce: MCEConfig = field(default_factory=MCEConfig)
    """MCE-IRL's options."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.learner, c + "learner", ZOO_LEARNERS)
        choice(self.variant, c + "variant", get_args(Variant))
        items(self.observed_steps, c + "observed_steps", lambda v, n: integer(v, n, low=1))
        integer(self.n_trajectories, c + "n_trajectories", low=1)
        items(self.observers, c + "observers", lambda v, n: choice(v, n, OBSERVERS + EXTRA_OBSERVERS))
        integer(self.null_directions, c + "null_directions", low=0)
        instance(self.zoo, c + "zoo", ZooConfig)
        instance(self.logel, c + "logel", RecoveryConfig)
        instance(self.lfl, c + "lfl", LfLConfig)
        instance(self.trex, c + "trex", TREXConfig)
        instance(self.mce, c + "mce", MCEConfig)


    @property
    def m_max(self) -> int:
        """Learning steps the learner runs."""
        return max(self.observed_steps)

    def zoo_config(self) -> ZooConfig:
        """The learner's configuration."""
        return replace(self.zoo, learner=self.learner, n_updates=self.m_max,
                       n_trajectories=self.n_trajectories)


@dataclass(frozen=True)
class ObserverOutcome:
    """One observer's reward after ``m`` observed steps."""

    observer: Observer
    m: int
    value: float
    """:math:`V^{\\pi}(s_0)` under the true reward of the greedy policy for the reward."""
    optimal: bool
    weight_error: float | None
    """Centred, normalised weight error (LfL recovers a table: None)."""
    explained: float | None
    """LOGEL variants: the motion their fitted model explains, :math:`1-L/\\sum\\|\\Delta_t\\|^2`."""


@dataclass(frozen=True)
class AlignmentOutcome:
    """:func:`logel.diagnostics.alignment` of the learner's motion with the true reward."""

    jacobians: str
    """Which Jacobians (:data:`JACOBIANS`)."""
    explained: float
    mean_cosine: float
    cosines: np.ndarray


@dataclass(frozen=True)
class NullOutcome:
    """:func:`logel.diagnostics.motion_null` of a LOGEL variant's reward at the largest ``m``."""

    observer: Observer
    explained: float
    null_median: float
    p_value: float


@dataclass(frozen=True)
class BeyondResult:
    """Every observer on one learner run."""

    config: BeyondConfig
    seed: int
    optimal_value: float
    outcomes: tuple[ObserverOutcome, ...]
    alignment: tuple[AlignmentOutcome, ...]
    nulls: tuple[NullOutcome, ...]
    learner_values: np.ndarray
    """``(m_max + 1,)`` :math:`V^{\\pi_k}(s_0)` of the learner's policies (planning model)."""

    def outcome(self, observer: Observer, m: int) -> ObserverOutcome:
        """The outcome of ``observer`` at ``m``."""
        for o in self.outcomes:
            if o.observer == observer and o.m == m:
                return o
        raise KeyError((observer, m))

    def aligned(self, jacobians: str) -> AlignmentOutcome:
        """The alignment with ``jacobians`` (:data:`JACOBIANS`)."""
        return next(a for a in self.alignment if a.jacobians == jacobians)

    def null(self, observer: Observer) -> NullOutcome:
        """The motion null of a LOGEL variant."""
        return next(n for n in self.nulls if n.observer == observer)


def learner_trace(config: BeyondConfig, seed: int) -> tuple[Gridworld, LearnerTrace]:
    """The learner run of ``run_beyond(config, seed)`` (stream ``(seed, "zoo learner")``)."""
    grid = Gridworld(variant=config.variant)
    return grid, run_zoo_learner(grid, config.zoo_config(), cell_rng(seed, "zoo learner"))


def learner_alignment(grid: Gridworld, trace: LearnerTrace, cloned: tuple[np.ndarray, np.ndarray]
                      | None = None) -> list[AlignmentOutcome]:
    """Alignment of a trace's motion with the true reward's gradient (:data:`JACOBIANS`):
    exact Jacobians of the sampling model (:func:`logel.tabular.feature_expectations_jacobian`)
    and G(PO)MDP estimates on the learner's own trajectories, both at the true
    :math:`\\theta_t`; and, if ``cloned = (deltas, jacobians)`` is given, the observer's."""
    assert trace.thetas is not None
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    deltas = np.diff(trace.thetas, axis=0)
    exact = np.stack([feature_expectations_jacobian(
        grid.sampling_model, policy.probabilities(th), policy.probability_jacobian(th),
        grid.horizon) for th in trace.thetas[:-1]])
    estimated = approximate_inputs(trace, BoltzmannClass(policy), ObserverConfig()).jacobians
    pairs = [("exact", deltas, exact), ("estimated", deltas, estimated)]
    if cloned is not None:
        pairs.append(("cloned", *cloned))
    out = []
    for name, D, J in pairs:
        a = alignment(D, J, grid.true_weights)
        out.append(AlignmentOutcome(name, a.explained, a.mean_cosine, a.cosines))
    return out


def run_beyond(config: BeyondConfig, seed: int) -> BeyondResult:
    """One learner run and every observer at every ``m`` (module docstring)."""
    grid, trace = learner_trace(config, seed)
    v_star = optimal_value(grid)
    steps = tuple(sorted(config.observed_steps))
    m_max = config.m_max
    results: list[ObserverOutcome] = []
    nulls: list[NullOutcome] = []
    cloned = None
    variants = [o for o in config.observers if o in PRECONDITIONER_OF]
    if variants:
        logel_cfg = replace(config.logel, setting="realistic", observed_steps=steps,
                            learner=replace(config.logel.learner, n_updates=m_max),
                            observer_trajectories=min(config.logel.observer_trajectories,
                                                      config.n_trajectories))
        base = observer_config(logel_cfg, trace)
        ones = np.ones(grid.n_features) if base.fix_constant_direction else None
        sources: dict[str, ObserverInputs[np.ndarray]] = {}
        if any(o not in TRUE_THETA for o in variants):
            sources["cloned"], _ = estimate_inputs(grid, trace, logel_cfg, seed)
            cloned = (sources["cloned"].deltas, sources["cloned"].jacobians)
        if any(o in TRUE_THETA for o in variants):
            own = approximate_inputs(trace, BoltzmannClass(BoltzmannPolicy(grid.n_states,
                                                                           grid.n_actions)),
                                     base, m_max,
                                     n_trajectories=logel_cfg.observer_trajectories)
            sources["true"] = replace(own, learning_rates=None)  # recovered, as for LOGEL
        if any(PRECONDITIONER_OF[o] == "natural" for o in variants):
            pclass = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions))
            sources = {k: with_fishers(v, trace, pclass,
                                       n_trajectories=logel_cfg.observer_trajectories)
                       for k, v in sources.items()}
        for i, name in enumerate(OBSERVERS + EXTRA_OBSERVERS):
            if name not in variants:
                continue
            inputs = sources["true" if name in TRUE_THETA else "cloned"]
            obs_cfg = replace(base, preconditioner=PRECONDITIONER_OF[name])
            for m in steps:
                obs = recover(inputs, obs_cfg, m)
                assert obs.fit is not None
                total = float(np.sum(inputs.deltas[:m] ** 2))
                value = greedy_value(grid, obs.weights)
                results.append(ObserverOutcome(
                    name, m, value, attains_optimum(value, v_star),
                    weight_error(obs.weights, grid.true_weights),
                    1.0 - float(obs.fit.objective[-1]) / total))
                if m == m_max and config.null_directions:
                    null = motion_null(inputs.deltas, inputs.jacobians, obs.weights,
                                       cell_rng(seed, "motion null", i),
                                       n_directions=config.null_directions,
                                       preconditioner=PRECONDITIONER_OF[name],
                                       null_directions=ones,
                                       **({"fishers": inputs.fishers[:m],
                                           "natural_damping": obs_cfg.natural_damping}
                                          if PRECONDITIONER_OF[name] == "natural" else {}))
                    nulls.append(NullOutcome(name, null.explained, float(np.median(null.null)),
                                             null.p_value))
    for m in steps:
        part = trace.steps(m)
        if "lfl" in config.observers:
            res = lfl_reward(part, grid.n_states, grid.n_actions, config.lfl,
                             cell_rng(seed, "lfl", m))
            value = greedy_value(grid, reward=res.reward)
            results.append(ObserverOutcome("lfl", m, value, attains_optimum(value, v_star),
                                           None, None))
        for name in ("trex", "mce"):
            if name not in config.observers:
                continue
            if name == "trex":
                w = trex_reward(part, config.trex, cell_rng(seed, "trex", m)).weights
            else:
                w = mce_irl(grid.sampling_model, trace.states[m], trace.features[m],
                            config.mce).weights
            value = greedy_value(grid, w)
            results.append(ObserverOutcome(name, m, value, attains_optimum(value, v_star),  # type: ignore[arg-type]
                                           weight_error(w, grid.true_weights), None))
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    assert trace.thetas is not None
    values = np.array([policy_evaluation(grid.planning_model, policy.probabilities(th),
                                         grid.true_weights)[0] for th in trace.thetas])
    return BeyondResult(config, seed, v_star, tuple(results),
                        tuple(learner_alignment(grid, trace, cloned)), tuple(nulls), values)


def sweep_beyond(configs: Mapping[str, BeyondConfig], seeds: Sequence[int], n_jobs: int = 1,
                 progress: bool = False) -> dict[str, list[BeyondResult]]:
    """:func:`run_beyond` for every configuration and seed, as one pool of jobs
    (:func:`logel.runner.run_jobs`); identical results for any ``n_jobs``."""
    keys = [k for k in configs for _ in seeds]
    jobs = [(configs[k], s) for k in configs for s in seeds]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = run_jobs(_quiet_run, jobs, n_jobs=n_jobs, progress=progress,
                        description="beyond gradient")
    out: dict[str, list[BeyondResult]] = {k: [] for k in configs}
    for k, r in zip(keys, flat, strict=True):
        out[k].append(r)
    return out


def _quiet_run(config: BeyondConfig, seed: int) -> BeyondResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_beyond(config, seed)


# ------------------------------------------------------------------------------ tables


def optimal_seeds(results: Sequence[BeyondResult], observer: Observer, m: int) -> np.ndarray:
    """``(n_seeds,)`` booleans: is ``observer``'s greedy policy optimal at ``m``, per seed."""
    return np.array([r.outcome(observer, m).optimal for r in results], dtype=bool)


def alignment_rows(results: Mapping[str, Sequence[BeyondResult]]
                   ) -> list[tuple[str, str, tuple[float, float], tuple[float, float]]]:
    """Per learner and Jacobians: mean ± 95% t half-width of the explained motion and of the
    mean per-step cosine over seeds, ``(learner, jacobians, explained, cosine)``."""
    rows = []
    for learner, res in results.items():
        for jac in JACOBIANS:
            al = [r.aligned(jac) for r in res if any(a.jacobians == jac for a in r.alignment)]
            if al:
                rows.append((learner, jac, mean_ci([a.explained for a in al]),
                             mean_ci([a.mean_cosine for a in al])))
    return rows


def recovery_rows(results: Mapping[str, Sequence[BeyondResult]], m: int
                  ) -> list[tuple[str, str, int, int, tuple[float, float] | None]]:
    """Per learner and observer at ``m``: ``(learner, observer, optimal seeds, seeds, weight
    error mean ± 95% t half-width or None)``."""
    rows = []
    for learner, res in results.items():
        for obs in res[0].config.observers:
            outs = [r.outcome(obs, m) for r in res]
            errors = [o.weight_error for o in outs if o.weight_error is not None]
            rows.append((learner, obs, int(sum(o.optimal for o in outs)), len(outs),
                         mean_ci(errors) if len(errors) > 1 else None))
    return rows


# ------------------------------------------------------------------------ budgets and claims


@dataclass(frozen=True)
class BeyondBudget:
    """Sizes of the experiment at one budget."""

    seeds: tuple[int, ...]
    """Learner runs per learner."""
    observed_steps: tuple[int, ...]
    """Every ``m`` observed."""
    null_directions: int
    """Random directions of the motion null."""
    observers: tuple[Observer, ...] = OBSERVERS
    """Observers run."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        items(self.seeds, c + "seeds", lambda v, n: integer(v, n, low=0))
        items(self.observed_steps, c + "observed_steps", lambda v, n: integer(v, n, low=1))
        integer(self.null_directions, c + "null_directions", low=0)
        items(self.observers, c + "observers", lambda v, n: choice(v, n, OBSERVERS + EXTRA_OBSERVERS))


BEYOND_BUDGETS: dict[Budget, BeyondBudget] = {
    "smoke": BeyondBudget(seeds=(0,), observed_steps=(2, 5), null_directions=10),
    "book": BeyondBudget(seeds=(0, 1, 2), observed_steps=(10,), null_directions=20),
    "paper": BeyondBudget(seeds=tuple(range(20)), observed_steps=tuple(range(2, 16)),
                          null_directions=100),
}
"""Seeds, ``m`` and observers per budget. The book budget fits one core in under a minute, so
it runs three seeds at one ``m``; the paper budget (20 seeds, ``m = 2..15``) runs from the
command line (``logel run beyond_gradient``)."""


def budget_setup(budget: Budget) -> tuple[list[int], dict[str, BeyondConfig]]:
    """Seeds and one configuration per learner at ``budget``."""
    b = BEYOND_BUDGETS[check_budget(budget)]
    return list(b.seeds), {ln: BeyondConfig(learner=ln, observed_steps=b.observed_steps,
                                            observers=b.observers,
                                            null_directions=b.null_directions)
                           for ln in ZOO_LEARNERS}


MOST_SEEDS = 0.5
"""Threshold of "recovers an optimal reward": optimal in more than half the seeds (Wilson)."""
GOAL = 18 / 20
"""The issue's goal: the preconditioned observer optimal in at least 18 of 20 seeds at m >= 10
(reported as a count; with 20 seeds no Wilson interval can lie above 0.9)."""
NULL_LEVEL = 0.05
"""A recovered reward *beats the null* when its motion-null p-value is at most this."""


def claims(results: Mapping[str, Sequence[BeyondResult]], budget: Budget) -> list[Claim]:
    """The chapter's claims, each with its computed verdict.

    * per learner and LOGEL variant: optimal in more than half the seeds at every observed
      ``m >= 10`` (judged at the least favourable such ``m``; Wilson);
    * the Adam model beats plain LOGEL on the Adam and the PPO-like learners at the largest
      ``m``, through cloning and given the true :math:`\\theta_t` (exact McNemar on the same
      seeds); likewise the natural-gradient model (:data:`EXTRA_OBSERVERS`, when run) on the
      natural-gradient learner;
    * per LOGEL variant, over all learners: the recovered reward beats random directions
      (motion-null p-value <= :data:`NULL_LEVEL`) in more than half the seeds.
    """
    e = "beyond_gradient"
    first = next(iter(results.values()))
    ms = list(first[0].config.observed_steps)
    late = [m for m in ms if m >= 10] or [max(ms)]
    hi = max(ms)
    variants = [o for o in first[0].config.observers if o in PRECONDITIONER_OF]
    out = []
    for learner, res in results.items():
        n = len(res)
        for obs in variants:
            worst = min(late, key=lambda m: int(optimal_seeds(res, obs, m).sum()))
            k = int(optimal_seeds(res, obs, worst).sum())
            out.append(count_claim(
                e, f"{OBSERVER_NAMES[obs]} recovers an optimal reward on {ZOO_NAMES[learner]} "
                   f"at every m >= {late[0]} (least: m = {worst})", k, n, MOST_SEEDS, budget,
                detail=f"goal {GOAL * n:.0f}/{n} {'met' if k >= GOAL * n else 'not met'}"))
    for adam, plain, given in (("logel_adam", "logel", ""),
                               ("theta_adam", "theta_logel", " given the true theta")):
        if adam in variants and plain in variants:
            for learner in ("adam", "ppo"):
                if learner in results:
                    out.append(paired(e, f"the Adam model beats plain LOGEL on "
                                         f"{ZOO_NAMES[learner]}{given} at m = {hi}",
                                      optimal_seeds(results[learner], adam, hi),
                                      optimal_seeds(results[learner], plain, hi), budget))
    for nat, plain, given in (("logel_natural", "logel", ""),
                              ("theta_natural", "theta_logel", " given the true theta")):
        if nat in variants and plain in variants and "npg" in results:
            out.append(paired(e, f"the natural-gradient model beats plain LOGEL on "
                                 f"{ZOO_NAMES['npg']}{given} at m = {hi}",
                              optimal_seeds(results["npg"], nat, hi),
                              optimal_seeds(results["npg"], plain, hi), budget))
    for obs in variants:
        parts = []
        for learner, res in results.items():
            if not res[0].nulls:
                continue
            k = sum(r.null(obs).p_value <= NULL_LEVEL for r in res)
            parts.append(count_claim(e, f"{ZOO_NAMES[learner]}", int(k), len(res), MOST_SEEDS,
                                     budget))
        if parts:
            out.append(weakest(f"{OBSERVER_NAMES[obs]}: the recovered reward explains more "
                               f"motion than random directions (p <= {NULL_LEVEL}) in more "
                               f"than half the seeds, for every learner", parts))
    return out


def records(results: Mapping[str, Sequence[BeyondResult]]) -> list[dict[str, Any]]:
    """Every per-seed number as flat JSON-able records (``kind``: ``"outcome"``,
    ``"alignment"`` or ``"null"``)."""
    rows: list[dict[str, Any]] = []
    for learner, res in results.items():
        for r in res:
            key = {"learner": learner, "seed": r.seed}
            rows += [{"kind": "outcome", **key, "observer": o.observer, "m": o.m,
                      "value": o.value, "optimal": o.optimal, "weight_error": o.weight_error,
                      "explained": o.explained} for o in r.outcomes]
            rows += [{"kind": "alignment", **key, "jacobians": a.jacobians,
                      "explained": a.explained, "mean_cosine": a.mean_cosine}
                     for a in r.alignment]
            rows += [{"kind": "null", **key, "observer": n.observer, "explained": n.explained,
                      "null_median": n.null_median, "p_value": n.p_value} for n in r.nulls]
    return rows


def format_results(results: Mapping[str, Sequence[BeyondResult]]) -> str:
    """Plain-text alignment and recovery tables (every observed ``m``)."""
    lines = ["alignment with the true reward (mean ± 95% CI over seeds)",
             f"{'learner':>14s} {'jacobians':>10s} {'explained':>16s} {'mean cos':>16s}"]
    for learner, jac, (ex, exh), (co, coh) in alignment_rows(results):
        lines.append(f"{ZOO_NAMES[learner]:>14s} {jac:>10s} {ex:9.3f} ± {exh:5.3f} "
                     f"{co:9.3f} ± {coh:5.3f}")
    first = next(iter(results.values()))
    for m in first[0].config.observed_steps:
        lines.append(f"recovery at m = {m}: optimal seeds / seeds, weight error")
        for learner, obs, k, n, err in recovery_rows(results, m):
            e = "" if err is None else f"{err[0]:.3f} ± {err[1]:.3f}"
            lines.append(f"{ZOO_NAMES[learner]:>14s} {OBSERVER_NAMES[obs]:>24s} {k:3d}/{n:<3d} "
                         f"{e}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- artifacts


ARTIFACT_NAME = "beyond_gradient"
"""Artifacts go to ``<artifact root>/beyond_gradient/<budget>/`` (:func:`artifact_folder`)."""


def artifact_folder(budget: Budget, root: str | Path | None = None) -> Path:
    """``<root>/beyond_gradient/<budget>``; ``root`` defaults to
    :func:`logel.artifacts.artifact_root` (``$LOGEL_ARTIFACTS`` or ``<repository>/artifacts``)."""
    base = Path(root) if root is not None else artifacts.artifact_root()
    return base / ARTIFACT_NAME / check_budget(budget)


def artifact_config(budget: Budget, learners: Sequence[ZooLearner] = ZOO_LEARNERS,
                    observers: Sequence[Observer] | None = None) -> dict[str, Any]:
    """The JSON configuration of the artifact of ``budget`` (``config.json`` and the
    manifest's ``config``): everything :func:`load_results` needs to rebuild the
    :class:`BeyondConfig` of each learner (the nested options are the package defaults);
    ``observers`` replaces the budget's (e.g. to add :data:`EXTRA_OBSERVERS`)."""
    seeds, configs = budget_setup(budget)
    first = configs[ZOO_LEARNERS[0]]
    if observers is not None:
        first = replace(first, observers=tuple(observers))
    return artifacts.jsonable({
        "experiment": ARTIFACT_NAME, "budget": check_budget(budget),
        "learners": [choice(ln, "learner", ZOO_LEARNERS) for ln in learners],
        "seeds": seeds, "observed_steps": first.observed_steps,
        "n_trajectories": first.n_trajectories, "observers": first.observers,
        "null_directions": first.null_directions})


def _configs_of(config: Mapping[str, Any]) -> dict[str, BeyondConfig]:
    return {ln: BeyondConfig(learner=ln, observed_steps=tuple(config["observed_steps"]),
                             n_trajectories=int(config["n_trajectories"]),
                             observers=tuple(config["observers"]),
                             null_directions=int(config["null_directions"]))
            for ln in config["learners"]}


def result_record(result: BeyondResult) -> dict[str, Any]:
    """One :class:`BeyondResult` as a JSON object (every number; :func:`result_from_record`
    inverts it)."""
    return artifacts.jsonable({
        "learner": result.config.learner, "seed": result.seed,
        "optimal_value": result.optimal_value, "learner_values": result.learner_values,
        "outcomes": [o.__dict__ for o in result.outcomes],
        "alignment": [a.__dict__ for a in result.alignment],
        "nulls": [n.__dict__ for n in result.nulls]})


def _number(x: Any) -> float:
    return float("nan") if x is None else float(x)


def result_from_record(record: Mapping[str, Any], config: BeyondConfig) -> BeyondResult:
    """The :class:`BeyondResult` of a :func:`result_record` (``null`` numbers become NaN, except
    the optional ``weight_error`` and ``explained`` of an outcome, which stay None)."""
    if record["learner"] != config.learner:
        raise artifacts.ArtifactError(f"record of learner {record['learner']!r} under "
                                      f"{config.learner!r}")
    outcomes = tuple(ObserverOutcome(
        o["observer"], int(o["m"]), _number(o["value"]), bool(o["optimal"]),
        None if o["weight_error"] is None else float(o["weight_error"]),
        None if o["explained"] is None else float(o["explained"])) for o in record["outcomes"])
    align = tuple(AlignmentOutcome(a["jacobians"], _number(a["explained"]),
                                   _number(a["mean_cosine"]),
                                   np.array([_number(c) for c in a["cosines"]]))
                  for a in record["alignment"])
    nulls = tuple(NullOutcome(n["observer"], _number(n["explained"]),
                              _number(n["null_median"]), _number(n["p_value"]))
                  for n in record["nulls"])
    return BeyondResult(config, int(record["seed"]), _number(record["optimal_value"]),
                        outcomes, align, nulls,
                        np.array([_number(v) for v in record["learner_values"]]))


def _run_file(folder: Path, learner: str, seed: int) -> Path:
    return folder / "runs" / learner / f"seed_{seed}.json"


def _timed_run(config: BeyondConfig, seed: int) -> tuple[BeyondResult, float]:
    t0 = time.perf_counter()
    result = _quiet_run(config, seed)
    return result, time.perf_counter() - t0


def write_artifact(budget: Budget, folder: str | Path | None = None, *,
                   learners: Sequence[ZooLearner] = ZOO_LEARNERS,
                   observers: Sequence[Observer] | None = None, n_jobs: int = 1,
                   backend: Backend = "loky", progress: bool = False,
                   log: bool = False) -> Path:
    """Run the experiment at ``budget`` and write it as an artifact folder (default
    :func:`artifact_folder`), resumably.

    The folder holds ``config.json`` (:func:`artifact_config`), one
    ``runs/<learner>/seed_<s>.json`` per learner run (:func:`result_record`, written atomically
    as soon as it finishes, with its compute time), ``claims.json`` (:func:`claims` at
    ``budget``), then the manifest and its digest (:func:`logel.artifacts.write_manifest`).
    Rerunning skips every run whose file is already there, so an interrupted run resumes; the
    random streams are per ``(seed, method, m)`` cell, so the results do not depend on the
    order, the chunking or ``n_jobs``. A folder whose manifest verifies is returned as is.

    Raises:
        logel.artifacts.ArtifactError: if the folder holds another configuration.
    """
    config = artifact_config(budget, learners, observers)
    out = artifact_folder(budget) if folder is None else Path(folder)
    stored = out / "config.json"
    if stored.exists():
        previous = json.loads(stored.read_text(encoding="utf-8"))
        if previous != config:
            raise artifacts.ArtifactError(f"{out}: holds another configuration ({previous}); "
                                          "remove it or write elsewhere")
        if artifacts.is_complete(out):
            return out
    else:
        artifacts.save_json(stored, config)
    configs = _configs_of(config)
    seeds = list(config["seeds"])
    todo = [(configs[ln], s) for ln in configs for s in seeds
            if not _run_file(out, ln, s).is_file()]
    if log:
        print(f"beyond_gradient --budget {budget}: {len(todo)} of {len(configs) * len(seeds)} "
              f"learner runs to do -> {out}", flush=True)
    chunk = max(1, n_jobs)
    for i in range(0, len(todo), chunk):
        jobs = todo[i:i + chunk]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            done = run_jobs(_timed_run, jobs, n_jobs=min(n_jobs, len(jobs)), backend=backend,
                            progress=progress, description="beyond gradient")
        for (cfg, seed), (result, seconds) in zip(jobs, done, strict=True):
            artifacts.save_json(_run_file(out, cfg.learner, seed),
                                {**result_record(result), "seconds": seconds})
            if log:
                print(f"  {cfg.learner} seed {seed}: {seconds:.0f} s", flush=True)
    results = _read_runs(out, config)
    seconds = sum(float(json.loads(_run_file(out, ln, s).read_text(encoding="utf-8"))
                        .get("seconds", 0.0)) for ln in configs for s in seeds)
    artifacts.save_json(out / "claims.json",
                        [artifacts.jsonable(c.__dict__) for c in claims(results, budget)])
    artifacts.write_manifest(out, config=config, seeds=seeds, wall_time_seconds=seconds,
                             extra={"experiment": ARTIFACT_NAME, "budget": budget})
    artifacts.seal(out)
    return out


def _read_runs(folder: Path, config: Mapping[str, Any]) -> dict[str, list[BeyondResult]]:
    configs = _configs_of(config)
    return {ln: [result_from_record(json.loads(_run_file(folder, ln, s).read_text(
        encoding="utf-8")), cfg) for s in config["seeds"]] for ln, cfg in configs.items()}


def load_artifact(folder: str | Path) -> tuple[dict[str, list[BeyondResult]], dict[str, Any]]:
    """Verify an artifact folder of :func:`write_artifact` (every file against the manifest,
    the manifest against its digest: :func:`logel.artifacts.load`), then rebuild its results.

    Returns:
        ``(results, manifest)``: the :class:`BeyondResult` of every learner run, by learner in
        seed order (what :func:`alignment_rows`, :func:`recovery_rows` and :func:`claims`
        take), and the verified manifest.

    Raises:
        logel.artifacts.ArtifactError: if the folder is missing, incomplete or edited, or a run
            listed by its configuration is missing.
    """
    data = artifacts.load(folder)
    config = data["config"]
    if data["manifest"].get("config") != config:
        raise artifacts.ArtifactError(f"{folder}: config.json differs from the manifest")
    results: dict[str, list[BeyondResult]] = {}
    for ln, cfg in _configs_of(config).items():
        results[ln] = []
        for s in config["seeds"]:
            key = f"runs/{ln}/seed_{s}"
            if key not in data:
                raise artifacts.ArtifactError(f"{folder}: no {key}.json in the manifest")
            results[ln].append(result_from_record(data[key], cfg))
    return results, data["manifest"]


def load_results(budget: Budget, root: str | Path | None = None
                 ) -> tuple[dict[str, list[BeyondResult]], dict[str, Any]]:
    """:func:`load_artifact` of :func:`artifact_folder` ``(budget, root)`` -- e.g. the committed
    paper-budget run, ``load_results("paper")``."""
    return load_artifact(artifact_folder(budget, root))


# ------------------------------------------------------------------------------ command line


@dataclass(frozen=True)
class BeyondCommand:
    """``logel run beyond_gradient``: the experiment for several learners."""

    learners: tuple[ZooLearner, ...] = ZOO_LEARNERS
    """The learners of the zoo to run."""
    observed_steps: tuple[int, ...] = tuple(range(2, 16))
    """Numbers ``m`` of observed learning steps."""
    n_trajectories: int = 50
    """Trajectories per learning step."""
    observers: tuple[Observer, ...] = OBSERVERS
    """Which observers to run."""
    null_directions: int = 100
    """Random reward directions of the motion null."""
    out: Path | None = None
    """If given, write every per-seed number there as JSON (:func:`records`)."""
    budget: Budget | None = None
    """If given, run this budget's sizes (:data:`BEYOND_BUDGETS`: seeds, ``m`` and null
    directions; ``--seeds``, ``--observed-steps`` and ``--null-directions`` are then ignored;
    ``--observers``, if not the default, replaces the budget's) for ``--learners`` and write the
    artifact folder (resumable; :func:`write_artifact`)."""
    artifact_dir: Path | None = None
    """With ``--budget``: the artifact folder (default:
    ``<artifact root>/beyond_gradient/<budget>``, the root being ``$LOGEL_ARTIFACTS`` or the
    repository's ``artifacts``)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        items(self.learners, c + "learners", lambda v, n: choice(v, n, ZOO_LEARNERS))
        items(self.observed_steps, c + "observed_steps", lambda v, n: integer(v, n, low=1))
        integer(self.n_trajectories, c + "n_trajectories", low=1)
        items(self.observers, c + "observers", lambda v, n: choice(v, n, OBSERVERS + EXTRA_OBSERVERS))
        integer(self.null_directions, c + "null_directions", low=0)
        if self.budget is not None:
            choice(self.budget, c + "budget", BUDGETS)

    def configs(self) -> dict[str, BeyondConfig]:
        """One :class:`BeyondConfig` per learner."""
        return {ln: BeyondConfig(learner=ln, observed_steps=self.observed_steps,
                                 n_trajectories=self.n_trajectories, observers=self.observers,
                                 null_directions=self.null_directions) for ln in self.learners}


def _execute(command: BeyondCommand, args: Any) -> None:
    budget: Budget = "paper"
    if command.budget is not None:
        budget = command.budget
        observers = None if command.observers == OBSERVERS else command.observers
        folder = write_artifact(budget, command.artifact_dir, learners=command.learners,
                                observers=observers, n_jobs=args.n_jobs,
                                progress=args.progress, log=True)
        results, _ = load_artifact(folder)
        print(f"artifact: {folder} (verified)")
    else:
        results = sweep_beyond(command.configs(), args.seeds, n_jobs=args.n_jobs,
                               progress=args.progress)
    print(format_results(results))
    if command.out is not None:
        command.out.parent.mkdir(parents=True, exist_ok=True)
        command.out.write_text(json.dumps(records(results)))
    for c in claims(results, budget):
        print(f"{c.verdict:>12s}  {c.text}  [{c.detail}]")


# logel run beyond_gradient: sweep_beyond over --seeds for --learners.
COMMAND = Command(config=BeyondCommand, execute=_execute, seeds="0-19",
                  options=("n_jobs", "progress"))


def main(argv: list[str] | None = None) -> int:
    """``python -m logel.experiments.beyond_gradient --seeds 0-19 --n-jobs 2``: the same as
    ``logel run beyond_gradient ...``."""
    return cli.run("beyond_gradient", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
