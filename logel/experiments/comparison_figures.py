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
* :func:`learner_parameters` reproduces the learner run of
  :func:`logel.experiments.comparison.run_comparison` and also returns the learner's policies as
  parameters of the observer's Boltzmann class (the "oracle" the realistic observer never sees).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from logel.envs.gridworld import Gridworld
from logel.estimators import gpomdp_jacobian
from logel.evaluation import greedy_value, mean_ci, optimal_value
from logel.experiments.comparison import (
    ComparisonConfig,
    ComparisonResult,
    Method,
    observe_trace,
    run_comparison,
)
from logel.irl.bc import clone_policies
from logel.irl.logel import fit
from logel.learners.gpomdp import run_gpomdp_learner
from logel.learners.tabular_learners import run_tabular_learner
from logel.plotting import ci_band
from logel.policies.boltzmann import BoltzmannPolicy
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


def count_cell(results: Sequence[ComparisonResult], method: Method, m: int) -> str:
    """``"k/n"``, the optimal-seed count at ``m``, for tables."""
    return f"{optimal_counts(results, method, [m])[m]}/{len(results)}"


def value_cell(results: Sequence[ComparisonResult], method: Method, m: int,
               digits: int = 2) -> str:
    """``"mean ± ci"`` of the value at ``m``, for tables."""
    mean, ci = value_stats(results, method, m)
    return f"{mean:.{digits}f} ± {ci:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub/MyST markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def sweep_configs(configs: Mapping[Any, ComparisonConfig], seeds: Any, n_jobs: int = 1
                  ) -> dict[Any, list[ComparisonResult]]:
    """:func:`~logel.experiments.comparison.run_comparison` for every configuration and seed,
    as *one* pool of jobs (no idle worker between configurations); per configuration the
    result equals ``sweep_comparison(config, seeds)``, for any ``n_jobs``."""
    seeds = list(seeds)
    jobs = [(key, seed) for key in configs for seed in seeds]
    if n_jobs == 1:
        flat = [run_comparison(configs[key], seed) for key, seed in jobs]
    else:
        flat = list(Parallel(n_jobs=n_jobs)(delayed(run_comparison)(configs[key], seed)
                                            for key, seed in jobs))
    out: dict[Any, list[ComparisonResult]] = {key: [] for key in configs}
    for (key, _), result in zip(jobs, flat, strict=True):
        out[key].append(result)
    return out


# ------------------------------------------------------------------ learner run and its oracle


def learner_parameters(config: ComparisonConfig, seed: int
                       ) -> tuple[Gridworld, LearnerTrace, np.ndarray]:
    """The learner run of ``run_comparison(config, seed)`` and its true policy parameters.

    Returns:
        ``(grid, trace, thetas)``: the trace is identical to the one ``run_comparison`` observes
        (same seed stream); ``thetas`` ``(K, d)`` are the learner's policies in the observer's
        Boltzmann class: G(PO)MDP's own parameters, or, for Q-learning, SVI and SPI, the logits
        :math:`\\log\\pi(a|s)-\\log\\pi(A-1|s)` of each data policy (every full-support tabular
        policy is a Boltzmann policy).
    """
    learner_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[0])
    grid = Gridworld(variant=config.variant, slip=config.slip)
    n_updates = max(config.observed_steps)
    if config.learner == "gpomdp":
        trace = run_gpomdp_learner(grid, replace(config.gpomdp, n_updates=n_updates,
                                                 n_trajectories=config.n_trajectories),
                                   learner_rng)
        assert trace.thetas is not None
        return grid, trace, trace.thetas
    trace, policies = run_tabular_learner(
        grid, replace(config.tabular, learner=config.learner, n_updates=n_updates,
                      n_trajectories=config.n_trajectories), learner_rng)
    log_p = np.log(np.clip(policies, 1e-300, None))
    thetas = (log_p[:, :, :-1] - log_p[:, :, -1:]).reshape(policies.shape[0], -1)
    return grid, trace, thetas


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
        return bool(self.oracle_values[m] >= self.optimal_value - 1e-6)


def _deltas_and_jacobians(grid: Gridworld, policy: BoltzmannPolicy, thetas: np.ndarray,
                          trace: LearnerTrace, n: int, baseline_eps: float
                          ) -> tuple[np.ndarray, np.ndarray]:
    m = thetas.shape[0] - 1
    jacobians = np.stack([
        gpomdp_jacobian(policy.scores(thetas[t], trace.states[t, :n], trace.actions[t, :n]),
                        trace.features[t, :n], grid.gamma, baseline_eps) for t in range(m)])
    return np.diff(thetas, axis=0), jacobians


def _cosines(deltas: np.ndarray, jacobians: np.ndarray, omega: np.ndarray) -> np.ndarray:
    g = jacobians @ omega
    num = np.einsum("td,td->t", deltas, g)
    denom = np.linalg.norm(deltas, axis=1) * np.linalg.norm(g, axis=1)
    return np.divide(num, denom, out=np.zeros_like(num), where=denom > 0)


def step_alignment(config: ComparisonConfig, grid: Gridworld, trace: LearnerTrace,
                   true_thetas: np.ndarray) -> StepAlignment:
    """:class:`StepAlignment` of one learner run, for LOGEL's behavioural cloning
    (``config.logel.bc``) and for the learner's true parameters, over ``max(observed_steps)``
    steps; the oracle fit uses ``config.logel``'s block-coordinate-descent options."""
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    m_max = max(config.observed_steps)
    n = min(config.logel.observer_trajectories, config.n_trajectories)
    rc = config.logel
    cloned = clone_policies(policy, trace.states[: m_max + 1, :n],
                            trace.actions[: m_max + 1, :n], rc.bc)
    d_c, j_c = _deltas_and_jacobians(grid, policy, cloned, trace, n, rc.baseline_eps)
    d_t, j_t = _deltas_and_jacobians(grid, policy, true_thetas[: m_max + 1], trace, n,
                                     rc.baseline_eps)
    null = np.ones(grid.n_features) if rc.fix_constant_direction else None
    oracle = {}
    for m in config.observed_steps:
        res = fit(d_t[:m], j_t[:m], alpha_init=rc.alpha_init, alpha_min=rc.alpha_min,
                  tol=rc.tol, max_iter=rc.max_iter, null_directions=null)
        oracle[int(m)] = greedy_value(grid, res.weights)
    return StepAlignment(_cosines(d_c, j_c, grid.true_weights),
                         _cosines(d_t, j_t, grid.true_weights),
                         np.linalg.norm(d_c, axis=1), np.linalg.norm(d_t, axis=1), oracle,
                         optimal_value(grid))


# ------------------------------------------------------------------ several observers, one run


def _learner_key(config: ComparisonConfig) -> tuple[Any, ...]:
    learner_cfg = config.gpomdp if config.learner == "gpomdp" else config.tabular
    return (config.learner, config.variant, config.slip, config.n_trajectories,
            max(config.observed_steps), learner_cfg)


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
    if any(_learner_key(cfg) != _learner_key(base) for cfg in variants.values()):
        raise ValueError("all variants must share the base learner configuration (learner, "
                         "variant, slip, n_trajectories, learner options, "
                         "max(observed_steps))")
    seeds = list(seeds)
    if n_jobs == 1:
        per_seed = [_one_seed(base, variants, s, alignment) for s in seeds]
    else:
        per_seed = list(Parallel(n_jobs=n_jobs)(
            delayed(_one_seed)(base, variants, s, alignment) for s in seeds))
    results = {name: [p[0][name] for p in per_seed] for name in variants}
    aligned = [p[1] for p in per_seed if p[1] is not None] if alignment else None
    return VariantSweep(results, aligned)


__all__ = ["StepAlignment", "VariantSweep", "count_cell", "learner_parameters",
           "learning_curves", "markdown_table", "observe_variant", "optimal_counts",
           "optimal_matrix", "plot_values", "step_alignment", "sweep_configs", "sweep_variants",
           "value_cell", "value_matrix", "value_stats"]
