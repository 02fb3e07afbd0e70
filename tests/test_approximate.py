"""The approximate-gradient setting (paper Sec. 3): known thetas and learning rates, estimated
Jacobians."""

from __future__ import annotations

import numpy as np
import pytest

from logel import LearnerTrace, gpomdp_jacobian, solve_weights
from logel.envs.gridworld import Gridworld, sample_batch
from logel.evaluation import cosine_similarity, greedy_value, optimal_value, weight_error
from logel.learners import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy

M = 15
SEEDS = range(10)
GRID = Gridworld("paper")
POLICY = BoltzmannPolicy(GRID.n_states, GRID.n_actions)


def centred(w: np.ndarray) -> np.ndarray:
    return w - w.mean()


@pytest.fixture(scope="module")
def traces() -> dict[int, LearnerTrace]:
    """The official default learner (paper variant, n = 50, alpha = 0.1), m = 15 steps."""
    return {seed: run_gpomdp_learner(GRID, GPOMDPLearnerConfig(n_updates=M),
                                     np.random.default_rng(seed)) for seed in SEEDS}


def jacobian_on(theta, states, actions, features):
    scores = POLICY.scores(theta, states, actions)
    return gpomdp_jacobian(scores, features, GRID.gamma)  # baseline_eps: official 1e-3


@pytest.mark.parametrize("seed", [0, 3])
def test_reusing_the_learners_own_samples_recovers_its_weights_exactly(traces, seed):
    """Official default observer: true thetas, the learner's OWN 50 trajectories, alpha = 0.1.

    The estimator is linear in the features, so J_hat_t @ omega is *exactly* the scalar-reward
    G(PO)MDP gradient the learner computed from the same samples; the deltas are therefore
    exactly 0.1 * J_hat_t @ omega^L and least squares returns omega^L up to rounding (spec
    Sec. 5.4 fact 1). Only the all-ones direction is weakly determined (the baseline's eps makes
    J_hat 1 tiny but non-zero), so compare centred weights."""
    trace = traces[seed]
    thetas = trace.thetas
    jacobians = np.stack([jacobian_on(thetas[t], trace.states[t], trace.actions[t],
                                      trace.features[t]) for t in range(M)])
    deltas = np.diff(thetas, axis=0)
    np.testing.assert_allclose(deltas, 0.1 * jacobians @ GRID.true_weights, atol=1e-12)
    omega = solve_weights(deltas, jacobians, 0.1 * np.ones(M))
    np.testing.assert_allclose(centred(omega), centred(GRID.true_weights), atol=1e-8, rtol=0)
    assert greedy_value(GRID, omega) == pytest.approx(optimal_value(GRID), abs=1e-9)
    # a wrong learning rate only rescales: still exact in direction
    scaled = solve_weights(deltas, jacobians, 0.3 * np.ones(M))
    np.testing.assert_allclose(centred(scaled) * 3, centred(GRID.true_weights), atol=1e-8)


@pytest.fixture(scope="module")
def independent_recovery(traces):
    """Observer with true thetas but INDEPENDENT trajectories: a fresh batch of n = 50 from every
    true theta, drawn with another generator."""
    out = {}
    for seed, trace in traces.items():
        rng = np.random.default_rng(1000 + seed)
        jacobians = []
        for t in range(M):
            batch = sample_batch(GRID, POLICY.probabilities(trace.thetas[t]), 50, rng)
            jacobians.append(jacobian_on(trace.thetas[t], batch.states, batch.actions,
                                         batch.features))
        out[seed] = solve_weights(np.diff(trace.thetas, axis=0), np.stack(jacobians),
                                  0.1 * np.ones(M))
    return out


def test_independent_samples_recover_good_but_inexact_weights(independent_recovery):
    """Measured over these 10 seeds (m = 15, n = 50, paper variant):

    * centred weight error 0.163 .. 0.462 (0 = exact, 2 = opposite); cosine >= 0.893;
    * the greedy policy of the recovered weights is NOT optimal for any seed (0/10): every seed
      gives -2.8816, the sub-optimal route the spec reports for small n (Sec. 5.4 fact 2),
      against V* = 2.0618 and -28.58 for the uniform policy. The cause is the noise in
      J_hat (errors in variables): least squares attenuates omega, the G weight most, so the
      R detour along the top row stops paying. With n = 200 it was 1-2/10 optimal, with
      n = 1000 7/10 (too slow for the unit tests).

    Thresholds: all errors strictly positive (> 0.05, not exact), below 0.6; cosine > 0.85;
    every greedy value >= -2.9 (one of the two good routes, far above uniform), and the order
    of the four costly colours V < P < N < G right for every seed (measured 10/10)."""
    errors = np.array([weight_error(w, GRID.true_weights) for w in independent_recovery.values()])
    cosines = np.array([cosine_similarity(w, GRID.true_weights)
                        for w in independent_recovery.values()])
    values = np.array([greedy_value(GRID, w) for w in independent_recovery.values()])
    assert np.all(errors > 0.05), errors
    assert np.all(errors < 0.6), errors
    assert np.all(cosines > 0.85), cosines
    assert np.all(values >= -2.9), values
    for w in independent_recovery.values():
        assert w[1] < w[3] < w[2] < w[4], w


def test_more_independent_data_helps(traces, independent_recovery):
    """Quadrupling n (50 -> 200) must shrink the mean weight error. Measured over 10 seeds: mean
    0.31 -> 0.13; on the 3 seeds used here (for speed) 0.29 -> 0.12. Require a 20% reduction."""
    seeds = [0, 1, 2]
    errors_200 = []
    for seed in seeds:
        trace = traces[seed]
        rng = np.random.default_rng(2000 + seed)
        jacobians = []
        for t in range(M):
            batch = sample_batch(GRID, POLICY.probabilities(trace.thetas[t]), 200, rng)
            jacobians.append(jacobian_on(trace.thetas[t], batch.states, batch.actions,
                                         batch.features))
        omega = solve_weights(np.diff(trace.thetas, axis=0), np.stack(jacobians),
                              0.1 * np.ones(M))
        errors_200.append(weight_error(omega, GRID.true_weights))
    errors_50 = [weight_error(independent_recovery[s], GRID.true_weights) for s in seeds]
    assert np.mean(errors_200) < 0.8 * np.mean(errors_50), (errors_50, errors_200)
