"""Sweeps of the approximate-gradient setting over ``n`` and ``m``, and where their error comes from.

One G(PO)MDP learner run per seed is observed by several observers that all know the true
:math:`\\theta_t` and :math:`\\alpha_t` and solve the closed form
(:func:`logel.irl.logel.solve_weights`); they differ only in the Jacobians they plug in:

``independent``
    G(PO)MDP estimates from ``n`` fresh trajectories per step, for every ``n`` of
    :attr:`SampleSizeConfig.trajectories`. The designs are *nested*: one batch of
    ``max(trajectories)`` trajectories is drawn per step and the observer with ``n`` uses its
    first ``n`` (common random numbers across ``n``).
``expected``
    the exact expectation of the baseline-free G(PO)MDP estimate on a batch of the learner's
    size (:func:`expected_jacobian`): the ``n -> infinity`` reference, free of observer noise.
``learner``
    G(PO)MDP estimates on the learner's *own* trajectories (the official default).

The random streams are those of :func:`logel.experiments.gridworld.run`, so the learner and the
``learner`` observer reproduce ``run(RecoveryConfig(setting="approximate",
observer_samples="learner"), seed)`` exactly. The fresh trajectories are drawn by
:func:`sample_batches`, a version of :func:`logel.envs.gridworld.sample_batch` vectorised over
several policies (one batch per learning step at once), which makes the ``"paper"`` variant's
continuous runs affordable; with one policy it consumes the generator exactly like
``sample_batch`` and returns the same trajectories.

Command line: ``python -m logel.experiments.sweeps --variant paper --seeds 0-19``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from joblib import Parallel, delayed

from logel.envs.gridworld import Gridworld, TrajectoryBatch, Variant
from logel.estimators import gpomdp_jacobian
from logel.evaluation import greedy_value, optimal_value, weight_error
from logel.irl.logel import solve_weights
from logel.learners.gpomdp import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.tabular import TabularMDP, feature_expectations_jacobian, state_distributions

Metric = Literal["weight_error", "value", "optimal"]


def sample_batches(grid: Gridworld, policies: np.ndarray, n_trajectories: int,
                   rng: np.random.Generator) -> TrajectoryBatch:
    """One batch of ``n_trajectories`` trajectories from each of ``L`` policy tables.

    The batches are independent and follow the variant's rules exactly as
    :func:`logel.envs.gridworld.sample_batch` (continuous runs cut into segments for
    ``"paper"``, every trajectory from s0 for ``"consistent"``); the loop over time is shared by
    all policies.

    Args:
        grid: the gridworld.
        policies: ``(L, S, A)`` action probabilities.
        n_trajectories: ``N`` trajectories per policy.
        rng: the only source of randomness.

    Returns:
        A :class:`~logel.envs.gridworld.TrajectoryBatch` whose arrays have a leading axis ``L``:
        states and actions ``(L, N, T)``, features ``(L, N, T, q)``, final states ``(L, N)``.
    """
    policies = np.asarray(policies, dtype=float)
    if policies.ndim != 3 or policies.shape[1:] != (grid.n_states, grid.n_actions):
        raise ValueError(f"policies must have shape (L, {grid.n_states}, {grid.n_actions}), "
                         f"got {policies.shape}")
    if n_trajectories < 1:
        raise ValueError(f"n_trajectories must be >= 1, got {n_trajectories}")
    L, T, N = policies.shape[0], grid.horizon, n_trajectories
    per_policy, steps = (1, N * T) if grid.chain_segments else (N, T)
    lane_policy = np.repeat(np.arange(L), per_policy)
    cdf_action = np.cumsum(policies, axis=2)
    cdf_next = np.cumsum(grid.sampling_model.transitions, axis=2)
    states = np.empty((lane_policy.size, steps), dtype=np.int64)
    actions = np.empty_like(states)
    s = np.zeros(lane_policy.size, dtype=np.int64)  # every run starts at s0 (state 0)
    for t in range(steps):
        u = rng.random(s.size)[:, None]
        a = np.minimum((u > cdf_action[lane_policy, s]).sum(axis=1), grid.n_actions - 1)
        states[:, t], actions[:, t] = s, a
        u = rng.random(s.size)[:, None]
        s = np.minimum((u > cdf_next[s, a]).sum(axis=1), grid.n_states - 1)
    next_states = np.concatenate([states[:, 1:], s[:, None]], axis=1).reshape(L, N, T)
    return TrajectoryBatch(states.reshape(L, N, T), actions.reshape(L, N, T),
                           grid.sampling_model.state_features[next_states],
                           next_states[..., -1].copy())


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
    fix_constant_direction: bool = True
    """Fix the unidentifiable all-ones direction of omega to zero (as ``RecoveryConfig``)."""

    def __post_init__(self) -> None:
        if not self.trajectories or min(self.trajectories) < 1:
            raise ValueError(f"trajectories must be positive, got {self.trajectories}")
        if not self.observed_steps or min(self.observed_steps) < 1 \
                or max(self.observed_steps) > self.learner.n_updates:
            raise ValueError(f"observed_steps must lie in 1..{self.learner.n_updates}, "
                             f"got {self.observed_steps}")


@dataclass(frozen=True)
class ObserverRecord:
    """One observer's results, one entry per ``m`` of ``config.observed_steps``."""

    weights: np.ndarray
    """``(len(m), q)`` recovered weights."""
    weight_error: np.ndarray
    """``(len(m),)`` centred, normalised weight error (:func:`logel.evaluation.weight_error`)."""
    value: np.ndarray
    """``(len(m),)`` :math:`V^{\\pi_{\\hat\\omega}}(s_0)` under the true weights."""
    optimal: np.ndarray
    """``(len(m),)`` whether that value is the optimum."""


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


def _record(grid: Gridworld, v_star: float, deltas: np.ndarray, jacobians: np.ndarray,
            alphas: np.ndarray, steps: tuple[int, ...], null: np.ndarray | None) -> ObserverRecord:
    weights, errors, values = [], [], []
    for m in steps:
        with warnings.catch_warnings():  # noisy estimates are sometimes ill-conditioned
            warnings.simplefilter("ignore")
            omega = solve_weights(deltas[:m], jacobians[:m], alphas[:m], null_directions=null)
        weights.append(omega)
        errors.append(weight_error(omega, grid.true_weights, centre=True))
        values.append(greedy_value(grid, omega))
    values_arr = np.asarray(values)
    return ObserverRecord(np.asarray(weights), np.asarray(errors), values_arr,
                          values_arr >= v_star - 1e-6)


def run_sample_sizes(config: SampleSizeConfig, seed: int) -> SampleSizeResult:
    """One learner run and all its observers; everything random flows from ``seed``."""
    learner_rng, observer_rng = (np.random.default_rng(s)
                                 for s in np.random.SeedSequence(seed).spawn(2))
    grid = Gridworld(variant=config.variant, gamma=0.96, horizon=20)
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    trace = run_gpomdp_learner(grid, config.learner, learner_rng)
    m_max = max(config.observed_steps)
    thetas = trace.thetas[:m_max]
    deltas = np.diff(trace.thetas[: m_max + 1], axis=0)
    alphas = np.asarray(trace.learning_rates[:m_max])
    null = np.ones(grid.n_features) if config.fix_constant_direction else None
    v_star = optimal_value(grid)
    steps = config.observed_steps

    def estimate(states: np.ndarray, actions: np.ndarray, features: np.ndarray) -> np.ndarray:
        return np.stack([gpomdp_jacobian(policy.scores(th, s, a), f, grid.gamma,
                                         config.baseline_eps)
                         for th, s, a, f in zip(thetas, states, actions, features, strict=True)])

    n_learner = trace.states.shape[1]
    own = estimate(trace.states[:m_max], trace.actions[:m_max], trace.features[:m_max])
    expected = np.stack([expected_jacobian(grid, policy, th, n_learner) for th in thetas])
    fresh = sample_batches(grid, np.stack([policy.probabilities(th) for th in thetas]),
                           max(config.trajectories), observer_rng)
    independent = tuple(
        _record(grid, v_star, deltas,
                estimate(fresh.states[:, :n], fresh.actions[:, :n], fresh.features[:, :n]),
                alphas, steps, null)
        for n in config.trajectories)
    target = np.einsum("mdq,q->md", expected, grid.true_weights)
    gradient_error = (np.linalg.norm(deltas / alphas[:, None] - target, axis=1)
                      / np.linalg.norm(target, axis=1))
    return SampleSizeResult(config, seed, v_star, independent,
                            _record(grid, v_star, deltas, expected, alphas, steps, null),
                            _record(grid, v_star, deltas, own, alphas, steps, null),
                            gradient_error)


def sweep_sample_sizes(config: SampleSizeConfig, seeds: Any,
                       n_jobs: int = 1) -> list[SampleSizeResult]:
    """:func:`run_sample_sizes` over ``seeds`` (joblib; identical results for any ``n_jobs``)."""
    seeds = list(seeds)
    if n_jobs == 1:
        return [run_sample_sizes(config, s) for s in seeds]
    return list(Parallel(n_jobs=n_jobs)(delayed(run_sample_sizes)(config, s) for s in seeds))


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


def estimator_mean(grid: Gridworld, theta: np.ndarray, n_trajectories: int, replications: int,
                   baseline_eps: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo mean and standard error of the G(PO)MDP Jacobian on batches of ``n``.

    Draws ``replications`` independent batches of ``n_trajectories`` from
    :math:`\\pi_\\theta` and applies :func:`logel.estimators.gpomdp_jacobian` to each.

    Returns:
        ``(mean, standard_error)``, both ``(d, q)``.
    """
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    probs = policy.probabilities(theta)
    batch = sample_batches(grid, np.broadcast_to(probs, (replications, *probs.shape)),
                           n_trajectories, rng)
    estimates = np.stack([gpomdp_jacobian(policy.scores(theta, s, a), f, grid.gamma, baseline_eps)
                          for s, a, f in zip(batch.states, batch.actions, batch.features,
                                             strict=True)])
    return estimates.mean(axis=0), estimates.std(axis=0, ddof=1) / np.sqrt(replications)


def main(argv: list[str] | None = None) -> None:
    """Command line: mean weight error and optimal seeds at the largest ``m``, per observer."""
    import argparse

    from logel.evaluation import mean_ci
    from logel.experiments.gridworld import parse_seeds

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=["paper", "consistent"], default="paper")
    parser.add_argument("--seeds", type=parse_seeds, default=list(range(20)))
    parser.add_argument("--n", type=lambda s: tuple(int(x) for x in s.split(",")),
                        default=(5, 10, 20, 50, 100, 200), help="observer sizes, e.g. 5,50,200")
    parser.add_argument("--learner-baseline-eps", type=float, default=1e-3,
                        help="1e9 switches the learner's baseline off")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    cfg = SampleSizeConfig(variant=args.variant, trajectories=args.n,
                           learner=GPOMDPLearnerConfig(n_updates=15,
                                                       baseline_eps=args.learner_baseline_eps))
    results = sweep_sample_sizes(cfg, args.seeds, n_jobs=args.n_jobs)
    m = max(cfg.observed_steps)
    print(f"variant={cfg.variant} m={m} seeds={len(results)} "
          f"learner baseline_eps={cfg.learner.baseline_eps:g}")
    rows = [(f"n={n}", by_steps(results, "weight_error", n)[:, -1],
             by_steps(results, "optimal", n)[:, -1]) for n in cfg.trajectories]
    rows += [(name, by_steps(results, "weight_error", name)[:, -1],
              by_steps(results, "optimal", name)[:, -1]) for name in ("expected", "learner")]
    for name, err, opt in rows:
        mean, half = mean_ci(err)
        print(f"{name:>10s}  weight error {mean:.3f} ± {half:.3f}   optimal "
              f"{int(opt.sum())}/{opt.size}")


if __name__ == "__main__":
    main()
