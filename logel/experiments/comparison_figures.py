"""Tables, figures and diagnostics for the four-learner comparison (book chapter "Gridworld:
learning from four learners").

* :func:`value_matrix`, :func:`optimal_counts`, :func:`learning_curves` and
  :func:`plot_values` turn a sweep of :func:`logel.experiments.comparison.sweep_comparison`
  into arrays, counts and mean ± 95% CI curves; :func:`sweep_configs` runs many
  configurations as one pool of jobs.
* :func:`sweep_variants` runs *one* learner per seed and lets several observer configurations
  watch the same trajectories (ablations cost one learner run, not one per variant); it can also
  record :func:`step_alignment`, how well each observed parameter change lines up with the
  learner's true-reward gradient.

Tables of these sweeps use :func:`logel.plotting.count_cell` and
:func:`logel.plotting.value_cell`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from logel.envs.gridworld import Gridworld
from logel.evaluation import attains_optimum, greedy_value, mean_ci, optimal_value
from logel.experiments.budgets import Budget
from logel.experiments.claims import Claim, paired, paired_equivalent
from logel.experiments.comparison import (
    NAMES,
    ComparisonConfig,
    ComparisonResult,
    Method,
    learner_parameters,
    observe_trace,
    optimal_seeds,
    run_comparison,
)
from logel.experiments.gridworld import observer_config
from logel.irl.observer import (
    BoltzmannClass,
    ObserverInputs,
    approximate_inputs,
    realistic_inputs,
    recover,
    step_jacobians,
)
from logel.plotting import ci_band
from logel.policies.boltzmann import BoltzmannPolicy
from logel.runner import run_jobs
from logel.statistics import weakest
from logel.tabular import feature_expectations_jacobian
from logel.traces import LearnerTrace

# --------------------------------------------------------------------------- sweeps -> arrays


def value_matrix(results: Sequence[ComparisonResult], method: Method,
                 steps: Sequence[int] | None = None) -> np.ndarray:
    """``(n_seeds, n_m)`` values :math:`V^{\\pi}(s_0)` of ``method`` (default: every observed m)."""
    steps = results[0].config.observed_steps if steps is None else steps
    return np.array([[r.outcome(method, m).value for m in steps] for r in results])


def optimal_matrix(results: Sequence[ComparisonResult], method: Method,
                   steps: Sequence[int] | None = None) -> np.ndarray:
    """``(n_seeds, n_m)`` booleans: is the greedy policy of the recovered reward optimal?"""
    steps = results[0].config.observed_steps if steps is None else steps
    return np.array([[r.outcome(method, m).optimal for m in steps] for r in results])


def optimal_counts(results: Sequence[ComparisonResult], method: Method,
                   steps: Sequence[int] | None = None) -> dict[int, int]:
    """Number of seeds whose recovered reward yields an optimal greedy policy, per ``m``."""
    steps = results[0].config.observed_steps if steps is None else steps
    counts = optimal_matrix(results, method, steps).sum(axis=0)
    return {int(m): int(c) for m, c in zip(steps, counts, strict=True)}


def value_stats(results: Sequence[ComparisonResult], method: Method,
                m: int) -> tuple[float, float]:
    """Mean and 95% CI half-width (t-based) of the value at ``m`` over seeds."""
    return mean_ci([r.outcome(method, m).value for r in results])


def learning_curves(results: Sequence[ComparisonResult]) -> np.ndarray:
    """``(n_seeds, K)`` mean sampled discounted return of each of the learner's policies."""
    return np.stack([r.learner_returns for r in results])


def plot_values(ax: Any, results: Sequence[ComparisonResult], method: Method,
                label: str | None = None, **kwargs: Any) -> Any:
    """Mean ± 95% CI of :math:`V^{\\pi}(s_0)` against ``m`` (one line, via ``ci_band``)."""
    steps = list(results[0].config.observed_steps)
    return ci_band(ax, steps, value_matrix(results, method, steps), label=label, **kwargs)


def sweep_configs(configs: Mapping[Any, ComparisonConfig], seeds: Any, n_jobs: int = 1
                  ) -> dict[Any, list[ComparisonResult]]:
    """:func:`~logel.experiments.comparison.run_comparison` for every configuration and seed,
    as *one* pool of jobs (no idle worker between configurations); per configuration the
    result equals ``sweep_comparison(config, seeds)``, for any ``n_jobs``."""
    seeds = list(seeds)
    jobs = [(key, seed) for key in configs for seed in seeds]
    flat = run_jobs(run_comparison, [(configs[key], seed) for key, seed in jobs], n_jobs=n_jobs)
    out: dict[Any, list[ComparisonResult]] = {key: [] for key in configs}
    for (key, _), result in zip(jobs, flat, strict=True):
        out[key].append(result)
    return out


# ------------------------------------------------------------------ how gradient-like a step is


@dataclass(frozen=True)
class StepAlignment:
    """How gradient-like each observed learning step is, and what LOGEL recovers from the
    learner's *true* parameters (an oracle the realistic observer never has).

    For step ``t`` the alignment is the cosine between the parameter change and the true-reward
    gradient estimate :math:`\\widehat{\\nabla\\psi}_t\\,\\omega^L` (G(PO)MDP on the step's own
    trajectories, at the step's parameters): exactly 1 for the G(PO)MDP learner with its true
    parameters, near 0 when a change carries no information about the reward's gradient.
    """

    cloned: np.ndarray
    """``(m,)`` cosines with the behaviour-cloned changes :math:`\\hat\\Delta_t`."""
    true: np.ndarray
    """``(m,)`` cosines with the learner's true changes :math:`\\Delta_t`."""
    cloned_norm: np.ndarray
    """``(m,)`` :math:`\\|\\hat\\Delta_t\\|_2`."""
    true_norm: np.ndarray
    """``(m,)`` :math:`\\|\\Delta_t\\|_2`."""
    oracle_values: dict[int, float]
    """Per observed ``m``: :math:`V^{\\pi}(s_0)` of LOGEL's block-coordinate descent run on the
    learner's true parameters (Jacobians at the true parameters, no behavioural cloning)."""
    optimal_value: float
    """:math:`V^*(s_0)`."""

    def oracle_optimal(self, m: int) -> bool:
        """Whether the oracle's greedy policy at ``m`` is optimal."""
        return attains_optimum(self.oracle_values[m], self.optimal_value)


def _cosines(deltas: np.ndarray, jacobians: np.ndarray, omega: np.ndarray) -> np.ndarray:
    g = jacobians @ omega
    num = np.einsum("td,td->t", deltas, g)
    denom = np.linalg.norm(deltas, axis=1) * np.linalg.norm(g, axis=1)
    return np.divide(num, denom, out=np.zeros_like(num), where=denom > 0)


def step_alignment(config: ComparisonConfig, grid: Gridworld, trace: LearnerTrace,
                   true_thetas: np.ndarray, *, cloned: ObserverInputs[np.ndarray] | None = None,
                   true: ObserverInputs[np.ndarray] | None = None,
                   oracle_values: dict[int, float] | None = None) -> StepAlignment:
    """:class:`StepAlignment` of one learner run over ``max(observed_steps)`` steps.

    The cloned changes and their Jacobians are LOGEL's (the realistic observer's inputs,
    :func:`logel.irl.observer.realistic_inputs`, with ``config.logel``); the true ones are those
    of the approximate observer given the learner's true parameters ``true_thetas`` but not its
    learning rates (:func:`logel.irl.observer.approximate_inputs`), from which the oracle
    recovers :math:`\\omega` by block-coordinate descent with ``config.logel``'s options.
    ``cloned``, ``true`` and the oracle's values may be given (exactly those, e.g. from
    :func:`baseline_bias`) to save the cloning and the fits."""
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    m_max = max(config.observed_steps)
    n = min(config.logel.observer_trajectories, config.n_trajectories)
    observer = observer_config(config.logel, trace)
    if cloned is None:
        cloned = realistic_inputs(trace, BoltzmannClass(policy, config.logel.bc), observer,
                                  m_max, n_trajectories=n)
    if true is None:
        true = approximate_inputs(replace(trace, thetas=true_thetas, learning_rates=None),
                                  BoltzmannClass(policy), observer, m_max, n_trajectories=n)
    oracle = oracle_values if oracle_values is not None else {
        int(m): greedy_value(grid, recover(true, observer, m).weights)
        for m in config.observed_steps}
    return StepAlignment(_cosines(cloned.deltas, cloned.jacobians, grid.true_weights),
                         _cosines(true.deltas, true.jacobians, grid.true_weights),
                         np.linalg.norm(cloned.deltas, axis=1),
                         np.linalg.norm(true.deltas, axis=1), oracle, optimal_value(grid))


# ------------------------------------------------------------------ the baseline's bias


@dataclass(frozen=True)
class BaselineBias:
    """LOGEL on one learner run with several baselines :math:`\\epsilon_b` of the observer's
    G(PO)MDP estimator, from cloned and from true parameters, and with exact Jacobians.

    The estimator's baseline is fitted in-sample per feature, which biases the Jacobian
    estimate; :math:`\\epsilon_b` regularises it (official: :math:`10^{-3}`, the package default).
    If the bias did not affect correctness, the optimal seeds would not depend on
    :math:`\\epsilon_b`.
    """

    baseline_eps: tuple[float, ...]
    """The :math:`\\epsilon_b` compared."""
    steps: tuple[int, ...]
    """The observed ``m``."""
    realistic: np.ndarray
    """``(len(baseline_eps), len(steps))`` optimal flags of LOGEL (cloned parameters,
    Jacobians estimated at them with that :math:`\\epsilon_b`, block-coordinate descent)."""
    oracle: np.ndarray
    """Same shape: LOGEL's fit on the learner's *true* parameters (no cloning), Jacobians
    estimated at them with that :math:`\\epsilon_b` on the same trajectories."""
    exact: np.ndarray
    """``(len(steps),)`` the fit on the true parameters with the *exact* Jacobians
    :math:`\\nabla\\psi(\\theta_t)` (sampling model, no estimator at all)."""
    alignment: StepAlignment
    """:func:`step_alignment` of the run (first :math:`\\epsilon_b`), from the same inputs."""


def baseline_bias(config: ComparisonConfig, seed: int,
                  baseline_eps: Sequence[float] = (1e-3, 1e-6)) -> BaselineBias:
    """:class:`BaselineBias` of the learner run of ``run_comparison(config, seed)``.

    One behavioural cloning serves every :math:`\\epsilon_b` (the cloned parameters do not depend
    on it); everything else is ``config.logel``'s (LOGEL's options, including the all-ones
    direction). The oracle and exact rows need the learner's true parameters in the observer's
    class (:func:`~logel.experiments.comparison.learner_parameters`), which LOGEL never has.
    """
    grid, trace, thetas = learner_parameters(config, seed)
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    steps = tuple(config.observed_steps)
    m_max = max(steps)
    n = min(config.logel.observer_trajectories, config.n_trajectories)
    v_star = optimal_value(grid)
    truth = replace(trace, thetas=thetas, learning_rates=None)

    def values(inputs: Any, observer: Any) -> dict[int, float]:
        return {int(m): greedy_value(grid, recover(inputs, observer, m).weights) for m in steps}

    def optimal(inputs: Any, observer: Any, vals: dict[int, float] | None = None) -> np.ndarray:
        vals = values(inputs, observer) if vals is None else vals
        return np.array([attains_optimum(vals[int(m)], v_star) for m in steps])

    realistic: list[np.ndarray] = []
    oracle: list[np.ndarray] = []
    first: tuple[ObserverInputs[np.ndarray], ObserverInputs[np.ndarray], float,
                 dict[int, float]] | None = None
    cloned = None
    for eps in baseline_eps:
        observer = observer_config(replace(config.logel, baseline_eps=float(eps)), trace)
        if cloned is None:
            cloned = realistic_inputs(trace, BoltzmannClass(policy, config.logel.bc), observer,
                                      m_max, n_trajectories=n)
        jac = step_jacobians(BoltzmannClass(policy), cloned.thetas[:m_max],
                             trace.states[:m_max, :n], trace.actions[:m_max, :n],
                             trace.features[:m_max, :n], trace.gamma, float(eps))
        realistic.append(optimal(replace(cloned, jacobians=jac), observer))
        true_inputs = approximate_inputs(truth, BoltzmannClass(policy), observer, m_max,
                                         n_trajectories=n)
        oracle_values = values(true_inputs, observer)
        oracle.append(optimal(true_inputs, observer, oracle_values))
        if first is None:
            first = (replace(cloned, jacobians=jac), true_inputs, float(eps), oracle_values)
    exact_jac = np.stack([feature_expectations_jacobian(
        grid.sampling_model, policy.probabilities(th), policy.probability_jacobian(th),
        grid.horizon) for th in thetas[:m_max]])
    exact = ObserverInputs("exact", thetas[: m_max + 1], exact_jac, None, list(thetas))
    observer = observer_config(config.logel, trace)
    assert first is not None
    aligned_cfg = replace(config, logel=replace(config.logel, baseline_eps=first[2]))
    alignment = step_alignment(aligned_cfg, grid, trace, thetas, cloned=first[0], true=first[1],
                               oracle_values=first[3])
    return BaselineBias(tuple(float(e) for e in baseline_eps), steps, np.array(realistic),
                        np.array(oracle), optimal(exact, observer), alignment)


def sweep_baseline_bias(config: ComparisonConfig, seeds: Any,
                        baseline_eps: Sequence[float] = (1e-3, 1e-6), n_jobs: int = 1
                        ) -> list[BaselineBias]:
    """:func:`baseline_bias` over ``seeds`` (:func:`logel.runner.run_jobs`; identical for any
    ``n_jobs``)."""
    return run_jobs(baseline_bias, [(config, s, tuple(baseline_eps)) for s in seeds],
                    n_jobs=n_jobs)


BIAS_MARGIN = 0.1
"""Equivalence margin of "the baseline's bias does not affect correctness": under no effect
the seeds where only one :math:`\\epsilon_b` is optimal split evenly; we accept a split within
1/2 ± 0.1 (:func:`logel.statistics.paired_equivalence_claim`)."""


def bias_claims(studies: Mapping[str, Sequence[BaselineBias]], budget: Budget) -> list[Claim]:
    """"The baseline's bias does not affect correctness", per learner and for all learners.

    Per learner: LOGEL's optimal seeds at the largest ``m`` with the first and the last
    :math:`\\epsilon_b` of the study are the same, within :data:`BIAS_MARGIN`. The statement
    for all learners holds only if it holds for each (:func:`logel.statistics.weakest`).
    """
    parts = []
    for learner, study in studies.items():
        eps = study[0].baseline_eps
        a = np.array([s.realistic[0, -1] for s in study])
        b = np.array([s.realistic[-1, -1] for s in study])
        parts.append(paired_equivalent(
            "comparison", f"{NAMES[learner]}: the same seeds are optimal with "
            f"eps_b = {eps[0]:g} and {eps[-1]:g} (m = {study[0].steps[-1]})", a, b, budget,
            BIAS_MARGIN, detail=f"optimal {int(a.sum())} and {int(b.sum())} of {len(a)}"))
    return [*parts, weakest("the baseline's bias does not affect correctness (every learner)",
                            parts)]


def oracle_claim(learner: str, study: Sequence[BaselineBias],
                 results: Sequence[ComparisonResult], budget: Budget) -> Claim:
    """"Cloning is what costs LOGEL on this learner": at the study's largest ``m``, the fit on
    the learner's true parameters (first :math:`\\epsilon_b`) beats LOGEL on the same seeds
    (``results``: the comparison's runs, at least as many seeds as the study, same order)."""
    m = study[0].steps[-1]
    oracle = np.array([s.oracle[0, -1] for s in study])
    logel = optimal_seeds(list(results)[: len(study)], "logel", m)
    return paired("comparison", f"{NAMES[learner]}: the true parameters beat the cloned ones "
                  f"(LOGEL) at m = {m}", oracle, logel, budget,
                  detail=f"optimal {int(oracle.sum())} and {int(logel.sum())} of {len(oracle)}")


# ------------------------------------------------------------------ several observers, one run


def observe_variant(config: ComparisonConfig, seed: int, grid: Gridworld,
                    trace: LearnerTrace) -> ComparisonResult:
    """The observers of ``config`` on a given learner run, so
    ``observe_variant(config, seed, *learner_parameters(config, seed)[:2])`` equals
    ``run_comparison(config, seed)`` (see :func:`~logel.experiments.comparison.observe_trace`)."""
    return observe_trace(config, seed, grid, trace)


def _one_seed(base: ComparisonConfig, variants: Mapping[str, ComparisonConfig], seed: int,
              alignment: bool) -> tuple[dict[str, ComparisonResult], StepAlignment | None]:
    grid, trace, thetas = learner_parameters(base, seed)
    out = {name: observe_variant(cfg, seed, grid, trace) for name, cfg in variants.items()}
    return out, (step_alignment(base, grid, trace, thetas) if alignment else None)


@dataclass(frozen=True)
class VariantSweep:
    """Output of :func:`sweep_variants`."""

    results: dict[str, list[ComparisonResult]]
    """Per variant name, one :class:`ComparisonResult` per seed."""
    alignment: list[StepAlignment] | None
    """Per seed, the :class:`StepAlignment` of the learner run (if requested)."""


def sweep_variants(variants: Mapping[str, ComparisonConfig], seeds: Any, n_jobs: int = 1,
                   alignment: bool = False, base: ComparisonConfig | None = None
                   ) -> VariantSweep:
    """Several observer configurations on the same learner runs, one run per seed.

    Every variant must describe the same learner as ``base`` (learner, dynamics, batch size,
    the learner's own options and ``max(observed_steps)``); they may differ in their observers
    (``logel``, ``lfl``, ``methods``, which ``m``). ``base`` (default: the first variant) also
    sets the LOGEL options of the :func:`step_alignment` diagnostic, recorded when
    ``alignment`` is true; ``variants`` may then be empty. Results equal
    :func:`~logel.experiments.comparison.run_comparison` per variant and seed, and are
    identical for any ``n_jobs``.
    """
    if base is None:
        if not variants:
            raise ValueError("give at least one variant or a base configuration")
        base = next(iter(variants.values()))
    if any(cfg.learner_key() != base.learner_key() for cfg in variants.values()):
        raise ValueError("all variants must share the base learner configuration (learner, "
                         "variant, slip, n_trajectories, learner options, "
                         "max(observed_steps))")
    per_seed = run_jobs(_one_seed, [(base, variants, s, alignment) for s in seeds],
                        n_jobs=n_jobs)
    results = {name: [p[0][name] for p in per_seed] for name in variants}
    aligned = [p[1] for p in per_seed if p[1] is not None] if alignment else None
    return VariantSweep(results, aligned)


__all__ = ["BIAS_MARGIN", "BaselineBias", "StepAlignment", "baseline_bias", "bias_claims",
           "oracle_claim", "sweep_baseline_bias", "VariantSweep", "learning_curves", "observe_variant",
           "optimal_counts", "optimal_matrix", "plot_values", "step_alignment", "sweep_configs",
           "sweep_variants", "value_matrix", "value_stats"]
