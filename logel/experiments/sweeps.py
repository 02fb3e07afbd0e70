"""Sweeps of the approximate-gradient setting over ``n`` and ``m``, and where their error comes from.

One G(PO)MDP learner run per seed is observed by several approximate-setting observers
(:func:`logel.irl.observer.approximate_inputs`) that all know the true :math:`\\theta_t` and
:math:`\\alpha_t` and solve the closed form (:func:`logel.irl.observer.recover`); they differ
only in the Jacobians they plug in:

``independent``
    G(PO)MDP estimates from ``n`` fresh trajectories per step, for every ``n`` of
    :attr:`SampleSizeConfig.trajectories`. The designs are *nested*: one batch of
    ``max(trajectories)`` trajectories is drawn per step and the observer with ``n`` uses its
    first ``n`` (common random numbers across ``n``). Step ``t``'s batch comes from its own
    stream, the cell ``(seed, "observer trajectories", t)`` of :mod:`logel.streams`, drawn
    trajectory by trajectory, so the observer with ``n`` at ``m`` sees the same trajectories
    whatever the other ``n`` and ``m`` of the sweep: exactly those of
    ``run(RecoveryConfig(setting="approximate", observer_trajectories=n), seed)``.
``expected``
    the exact expectation of the baseline-free G(PO)MDP estimate on a batch of the learner's
    size (:func:`expected_jacobian`): the ``n -> infinity`` reference, free of observer noise.
    For ``"consistent"`` it is the exact Jacobian from s0, the large-``n`` limit of every
    observer. For ``"paper"`` the segments of a batch start where the continuous run happens to
    be, so the target depends weakly on the batch size; we use the learner's.
``learner``
    G(PO)MDP estimates on the learner's *own* trajectories (the official default).

The random streams are those of :func:`logel.experiments.gridworld.run`, so the learner and the
``learner`` observer reproduce ``run(RecoveryConfig(setting="approximate",
observer_samples="learner"), seed)`` exactly. The fresh trajectories are drawn by
:func:`logel.envs.gridworld.sample_batches`, one batch per learning step, each on its own
stream.

:func:`monte_carlo_jacobians` measures the bias of the estimator at one :math:`\\theta` against
:func:`expected_jacobian`; :func:`sweep_many` runs several configurations as one pool of jobs
(:func:`logel.runner.run_jobs`).

Command line: ``python -m logel.experiments.sweeps --variant paper --learner gpomdp --seeds 0-19``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np

from logel import cli
from logel._validation import choice, instance, integer, items, real
from logel.cli import Command
from logel.envs.gridworld import Gridworld, Variant, sample_batches
from logel.estimators import gpomdp_jacobian
from logel.evaluation import attains_optimum, greedy_value, optimal_value, weight_error
from logel.experiments.gridworld import (
    CONSTANT_DIRECTION_PRESETS,
    CONSTANT_DIRECTIONS,
    OBSERVER_TRAJECTORIES,
    ConstantDirection,
    fixes_constant_direction,
)
from logel.irl.observer import (
    BoltzmannClass,
    ObserverConfig,
    ObserverInputs,
    approximate_inputs,
    recover,
)
from logel.learners.gpomdp import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.runner import run_jobs
from logel.streams import cell_rngs
from logel.tabular import TabularMDP, feature_expectations_jacobian, state_distributions

Metric = Literal["weight_error", "value", "optimal"]

LEARNERS: dict[str, GPOMDPLearnerConfig] = {
    "gpomdp": GPOMDPLearnerConfig(n_updates=15),
    "no-baseline": GPOMDPLearnerConfig(n_updates=15, baseline_eps=1e9),
    "exact": GPOMDPLearnerConfig(n_updates=15, gradient="exact"),
}
"""The three learners the book compares: the paper's G(PO)MDP learner (with its in-sample
baseline), the same without baseline (:math:`\\epsilon_b=10^9`), and the exact-gradient learner."""


def segment_start_distribution(grid: Gridworld, policy: np.ndarray,
                               n_trajectories: int) -> np.ndarray:
    """Average distribution of the start states of the ``n`` trajectories of one batch, ``(S,)``.

    ``"consistent"``: s0. ``"paper"``: segment ``i`` of the continuous run starts where the run
    is after ``i T`` steps, so the average is :math:`\\frac1n\\sum_{i<n}\\mu_0P_\\pi^{iT}`.
    """
    model = grid.sampling_model
    if not grid.chain_segments:
        return model.start.copy()
    d = state_distributions(model, np.asarray(policy, dtype=float), grid.horizon * n_trajectories)
    return d[:: grid.horizon].mean(axis=0)


def expected_jacobian(grid: Gridworld, policy: BoltzmannPolicy, theta: np.ndarray,
                      n_trajectories: int) -> np.ndarray:
    """Exact expectation of the baseline-free G(PO)MDP Jacobian on a batch of ``n``, ``(d, q)``.

    G(PO)MDP without baseline is unbiased for the gradient of the discounted ``T``-step feature
    expectations *from the start states its trajectories actually have*; the expectation is
    linear in that start distribution, so it is the exact Jacobian
    (:func:`logel.tabular.feature_expectations_jacobian`) from
    :func:`segment_start_distribution`. For ``"consistent"`` this is :math:`\\nabla\\psi(\\theta)`
    from s0; for ``"paper"`` it depends (weakly) on ``n``.
    """
    probs = policy.probabilities(theta)
    m = grid.sampling_model
    mdp = TabularMDP(m.transitions, m.state_features,
                     segment_start_distribution(grid, probs, n_trajectories), m.gamma,
                     m.feature_timing)
    return feature_expectations_jacobian(mdp, probs, policy.probability_jacobian(theta),
                                         grid.horizon)


@dataclass(frozen=True)
class SampleSizeConfig:
    """One learner observed by independent observers of several sizes ``n`` (and two references)."""

    variant: Variant = "paper"
    """Gridworld dynamics variant."""
    learner: GPOMDPLearnerConfig = field(default_factory=lambda: GPOMDPLearnerConfig(n_updates=15))
    """The G(PO)MDP learner (set ``baseline_eps=1e9`` for a learner without baseline)."""
    trajectories: tuple[int, ...] = (5, 10, 20, 50, 100, 200)
    """Sizes ``n`` of the independent observers (nested: the first ``n`` of one batch)."""
    observed_steps: tuple[int, ...] = (2, 5, 10, 15)
    """Numbers ``m`` of observed learning steps (from the first)."""
    baseline_eps: float = 1e-3
    """:math:`\\epsilon_b` of the observers' G(PO)MDP estimator."""
    fix_constant_direction: ConstantDirection = "auto"
    """Fix the all-ones direction of omega to zero: True, False or ``"auto"`` (fixed when the
    features make it unidentifiable, as ``RecoveryConfig``; fixed on the colour gridworld)."""
    values_at_every_m: tuple[int, ...] = (50,)
    """Independent observers whose greedy-policy values are computed at every ``m``; the
    others, and the learner-samples observer, are evaluated at the largest ``m`` only (value
    iteration dominates the cost). The expected-Jacobian observer is evaluated at every ``m``.
    Weights and weight errors are always computed at every ``m``."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.variant, c + "variant", get_args(Variant))
        instance(self.learner, c + "learner", GPOMDPLearnerConfig)
        items(self.trajectories, c + "trajectories", lambda v, n: integer(v, n, low=1))
        items(self.observed_steps, c + "observed_steps",
              lambda v, n: integer(v, n, low=1, high=self.learner.n_updates))
        real(self.baseline_eps, c + "baseline_eps", low=0, allow_inf=True)
        choice(self.fix_constant_direction, c + "fix_constant_direction", CONSTANT_DIRECTIONS)
        items(self.values_at_every_m, c + "values_at_every_m", lambda v, n: integer(v, n, low=1),
              nonempty=False)


@dataclass(frozen=True)
class ObserverRecord:
    """One observer's results, one entry per ``m`` of ``config.observed_steps``."""

    weights: np.ndarray
    """``(len(m), q)`` recovered weights."""
    weight_error: np.ndarray
    """``(len(m),)`` centred, normalised weight error (:func:`logel.evaluation.weight_error`)."""
    value: np.ndarray
    """``(len(m),)`` :math:`V^{\\pi_{\\hat\\omega}}(s_0)` under the true weights (NaN where not
    evaluated, see :attr:`SampleSizeConfig.values_at_every_m`)."""
    optimal: np.ndarray
    """``(len(m),)`` 1.0 if that value is the optimum, else 0.0 (NaN where not evaluated)."""


@dataclass(frozen=True)
class SampleSizeResult:
    """Everything :func:`run_sample_sizes` measured on one seed."""

    config: SampleSizeConfig
    seed: int
    optimal_value: float
    """:math:`V^*(s_0)` of the planning model."""
    independent: tuple[ObserverRecord, ...]
    """One record per ``n`` of ``config.trajectories``."""
    expected: ObserverRecord
    """Observer with the exact expected Jacobians (``n`` = infinity)."""
    learner_samples: ObserverRecord
    """Observer reusing the learner's own trajectories."""
    gradient_error: np.ndarray
    """``(max m,)`` relative error of the learner's steps,
    :math:`\\|\\Delta_t/\\alpha_t-\\bar J_t\\omega^L\\|/\\|\\bar J_t\\omega^L\\|` with
    :math:`\\bar J_t` the expected Jacobian."""


def _record(grid: Gridworld, v_star: float, inputs: ObserverInputs[np.ndarray],
            observer: ObserverConfig, steps: tuple[int, ...], every_m: bool) -> ObserverRecord:
    weights, errors, values, optimal = [], [], [], []
    for m in steps:
        with warnings.catch_warnings():  # noisy estimates are sometimes ill-conditioned
            warnings.simplefilter("ignore")
            omega = recover(inputs, observer, m).weights
        weights.append(omega)
        errors.append(weight_error(omega, grid.true_weights, centre=True))
        value = greedy_value(grid, omega) if every_m or m == max(steps) else np.nan
        values.append(value)
        optimal.append(np.nan if np.isnan(value) else float(attains_optimum(value, v_star)))
    return ObserverRecord(np.asarray(weights), np.asarray(errors), np.asarray(values),
                          np.asarray(optimal))


def run_sample_sizes(config: SampleSizeConfig, seed: int) -> SampleSizeResult:
    """One learner run and all its observers; everything random flows from ``seed``."""
    learner_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
    grid = Gridworld(variant=config.variant, gamma=0.96, horizon=20)
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    trace = run_gpomdp_learner(grid, config.learner, learner_rng)
    assert trace.thetas is not None and trace.learning_rates is not None  # a G(PO)MDP trace
    m_max = max(config.observed_steps)
    thetas = trace.thetas[:m_max]
    observer = ObserverConfig(baseline_eps=config.baseline_eps,
                              fix_constant_direction=fixes_constant_direction(
                                  config.fix_constant_direction, trace))
    policy_class = BoltzmannClass(policy)
    v_star = optimal_value(grid)
    steps = config.observed_steps

    own = approximate_inputs(trace, policy_class, observer, m_max)
    n_learner = trace.states.shape[1]
    expected = np.stack([expected_jacobian(grid, policy, th, n_learner) for th in thetas])
    fresh = sample_batches(grid, np.stack([policy.probabilities(th) for th in thetas]),
                           max(config.trajectories),
                           cell_rngs(seed, OBSERVER_TRAJECTORIES, m_max))
    independent = tuple(  # nested: the first n of each batch
        _record(grid, v_star,
                approximate_inputs(trace, policy_class, observer, m_max,
                                   samples=(fresh.states[:, :n], fresh.actions[:, :n],
                                            fresh.features[:, :n])),
                observer, steps, every_m=n in config.values_at_every_m)
        for n in config.trajectories)
    assert own.learning_rates is not None
    target = np.einsum("mdq,q->md", expected, grid.true_weights)
    gradient_error = (np.linalg.norm(own.deltas / own.learning_rates[:, None] - target, axis=1)
                      / np.linalg.norm(target, axis=1))
    return SampleSizeResult(
        config, seed, v_star, independent,
        _record(grid, v_star, replace(own, jacobians=expected), observer, steps, every_m=True),
        _record(grid, v_star, own, observer, steps, every_m=False),
        gradient_error)


def sweep_sample_sizes(config: SampleSizeConfig, seeds: Any,
                       n_jobs: int = 1) -> list[SampleSizeResult]:
    """:func:`run_sample_sizes` over ``seeds`` (:func:`sweep_many`; identical results for any
    ``n_jobs``)."""
    return sweep_many({"_": config}, seeds, n_jobs)["_"]


def sweep_many(configs: Mapping[str, SampleSizeConfig], seeds: Any,
               n_jobs: int = 1) -> dict[str, list[SampleSizeResult]]:
    """Several configurations over the same ``seeds``, as one pool of jobs
    (:func:`logel.runner.run_jobs`; better load balance).

    Returns:
        ``{name: [result per seed]}`` in the order of ``seeds``.
    """
    seeds = list(seeds)
    flat = run_jobs(run_sample_sizes, [(configs[name], s) for name in configs for s in seeds],
                    n_jobs=n_jobs)
    return {name: flat[i * len(seeds):(i + 1) * len(seeds)] for i, name in enumerate(configs)}


def by_sample_size(results: list[SampleSizeResult], metric: Metric, m: int) -> np.ndarray:
    """``(n_seeds, len(trajectories))`` values of ``metric`` at ``m`` steps (for ``ci_band``)."""
    j = results[0].config.observed_steps.index(m)
    return np.array([[getattr(rec, metric)[j] for rec in r.independent] for r in results],
                     dtype=float)


def by_steps(results: list[SampleSizeResult], metric: Metric, n: int | str) -> np.ndarray:
    """``(n_seeds, len(observed_steps))`` values of ``metric`` for one observer.

    ``n`` is a size in ``config.trajectories``, ``"expected"`` or ``"learner"``.
    """
    def record(r: SampleSizeResult) -> ObserverRecord:
        if n == "expected":
            return r.expected
        if n == "learner":
            return r.learner_samples
        return r.independent[r.config.trajectories.index(int(n))]
    return np.array([getattr(record(r), metric) for r in results], dtype=float)


@dataclass(frozen=True)
class MonteCarloJacobians:
    """Many independent G(PO)MDP estimates at one :math:`\\theta`, against their exact target."""

    expected: np.ndarray
    """``(d, q)`` :func:`expected_jacobian`: the exact mean of the baseline-free estimate."""
    baseline_eps: tuple[float, ...]
    """The :math:`\\epsilon_b` values compared (``1e9`` switches the baseline off)."""
    means: np.ndarray
    """``(len(baseline_eps), d, q)`` mean of the batch estimates."""
    standard_errors: np.ndarray
    """``(len(baseline_eps), d, q)`` standard errors of those means."""
    feature_visit_rate: np.ndarray
    """``(q,)`` fraction of trajectories in which feature ``j`` is non-zero at least once."""

    def attenuation(self) -> np.ndarray:
        """``(len(baseline_eps), q)`` :math:`\\langle\\bar{\\hat J}_{:j},\\bar J_{:j}\\rangle/
        \\|\\bar J_{:j}\\|^2`, the factor by which the mean estimate scales feature ``j``'s
        column (1: unbiased along the true column)."""
        J = self.expected
        return np.einsum("edq,dq->eq", self.means, J) / np.einsum("dq,dq->q", J, J)

    def mean_z2(self) -> np.ndarray:
        """``(len(baseline_eps),)`` mean squared z-score of the entries (about 1 if unbiased)."""
        ok = self.standard_errors > 0
        z = (self.means - self.expected) / np.where(ok, self.standard_errors, 1.0)
        return np.array([np.mean(z[e][ok[e]] ** 2) for e in range(z.shape[0])])


def monte_carlo_jacobians(grid: Gridworld, theta: np.ndarray, n_trajectories: int,
                          replications: int, baseline_eps: tuple[float, ...],
                          rng: np.random.Generator) -> MonteCarloJacobians:
    """Mean of ``replications`` independent G(PO)MDP estimates on batches of ``n_trajectories``.

    Every :math:`\\epsilon_b` in ``baseline_eps`` sees the same batches. The target is
    :func:`expected_jacobian` for the same batch size.
    """
    if replications < 2:
        raise ValueError(f"replications must be >= 2, got {replications}")
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    probs = policy.probabilities(theta)
    batch = sample_batches(grid, np.broadcast_to(probs, (replications, *probs.shape)),
                           n_trajectories, rng)
    scores = [policy.scores(theta, s, a) for s, a in zip(batch.states, batch.actions,
                                                         strict=True)]
    means, errors = [], []
    for eps in baseline_eps:
        est = np.stack([gpomdp_jacobian(g, f, grid.gamma, eps)
                        for g, f in zip(scores, batch.features, strict=True)])
        means.append(est.mean(axis=0))
        errors.append(est.std(axis=0, ddof=1) / np.sqrt(replications))
    visits = (batch.features != 0).any(axis=2).mean(axis=(0, 1))
    return MonteCarloJacobians(expected_jacobian(grid, policy, theta, n_trajectories),
                               tuple(baseline_eps), np.stack(means), np.stack(errors), visits)


def _execute(config: SampleSizeConfig, args: Any) -> None:
    """Mean weight error and optimal seeds at the largest ``m``, per observer."""
    from logel.evaluation import mean_ci

    results = sweep_sample_sizes(config, args.seeds, n_jobs=args.n_jobs)
    m = max(config.observed_steps)
    print(f"variant={config.variant} learner={args.learner} m={m} seeds={len(results)}")
    rows = [(f"n={n}", by_steps(results, "weight_error", n)[:, -1],
             by_steps(results, "optimal", n)[:, -1]) for n in config.trajectories]
    rows += [(name, by_steps(results, "weight_error", name)[:, -1],
              by_steps(results, "optimal", name)[:, -1]) for name in ("expected", "learner")]
    for name, err, opt in rows:
        mean, half = mean_ci(err)
        print(f"{name:>10s}  weight error {mean:.3f} ± {half:.3f}   optimal "
              f"{int(opt.sum())}/{opt.size}")


# logel run sweeps: sweep_sample_sizes over --seeds (--learner: one of LEARNERS).
COMMAND = Command(config=SampleSizeConfig, execute=_execute, seeds="0-19", options=("n_jobs",),
                  presets={"learner": LEARNERS,
                           "fix_constant_direction": CONSTANT_DIRECTION_PRESETS}, aliases={"trajectories": ("--n",)})


def main(argv: list[str] | None = None) -> int:
    """``python -m logel.experiments.sweeps --variant paper --seeds 0-19``: the same as
    ``logel run sweeps ...``."""
    return cli.run("sweeps", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
