"""Noise-aware identifiability: standard errors of G(PO)MDP Jacobians and the warning."""

import warnings

import numpy as np
import pytest

from logel import IdentifiabilityWarning, identifiability, solve_weights
from logel.envs.gridworld import Gridworld, sample_batches
from logel.estimators import (
    gpomdp_jacobian,
    gpomdp_jacobian_covariance,
    gpomdp_jacobian_stderr,
)
from logel.experiments.theory import IdentifiabilityConfig, identifiability_curve
from logel.policies import SharedLogitPolicy


def test_stderr_matches_spread_over_independent_batches():
    grid = Gridworld(variant="consistent")
    pol = SharedLogitPolicy(grid.n_states, grid.n_actions)
    theta = np.array([0.3, -0.2, 0.5])
    probs = pol.probabilities(theta)[None]
    rng = np.random.default_rng(0)
    n, reps = 200, 150
    estimates, stderrs = [], []
    for _ in range(reps):
        b = sample_batches(grid, probs, n, rng)
        args = (pol.scores(theta, b.states[0], b.actions[0]), b.features[0], grid.gamma)
        estimates.append(gpomdp_jacobian(*args))
        stderrs.append(gpomdp_jacobian_stderr(*args))
        if len(stderrs) == 1:
            cov = gpomdp_jacobian_covariance(*args)
            np.testing.assert_allclose(np.sqrt(np.einsum("kii->ki", cov)), stderrs[0],
                                       rtol=1e-10)
    spread = np.std(estimates, axis=0, ddof=1)
    ratio = np.mean(stderrs, axis=0) / spread
    # 150 replications: the empirical std is within ~12% (2 sigma) of the truth per entry
    assert np.all(np.abs(ratio - 1) < 0.25), ratio
    assert abs(np.median(ratio) - 1) < 0.1


def test_noise_warning_fires_for_barely_moving_learner_only():
    slow = identifiability_curve(IdentifiabilityConfig("shared", learning_rate=1e-3,
                                                       n_trajectories=1000), seed=0)
    fast = identifiability_curve(IdentifiabilityConfig("shared", learning_rate=0.1,
                                                       n_trajectories=1000), seed=0)
    n_free = slow.n_free
    # the rank check alone is blind: full numerical rank from m = 2 in both cases
    assert (slow.rank[1:] == n_free).all() and (fast.rank[1:] == n_free).all()
    assert (slow.rank_above_noise[1:] < n_free).all()  # noise-aware: warns at every m >= 2
    assert (fast.rank_above_noise[1:] == n_free).all()  # and never for the moving learner
    assert np.median(slow.weight_error[1:]) > 1.0 > 0.2 > np.median(fast.weight_error[1:])


def test_solve_weights_noise_warning_message_and_default_unchanged():
    rng = np.random.default_rng(1)
    J = rng.standard_normal((2, 3, 4))
    D = np.einsum("mdq,q->md", J, np.ones(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = solve_weights(D, J, np.ones(2))  # well conditioned, no stderr: no warning
    with pytest.warns(IdentifiabilityWarning, match="above the estimation noise"):
        w2 = solve_weights(D, J, np.ones(2), jacobian_stderr=np.full(J.shape, 10.0))
    np.testing.assert_array_equal(w, w2)  # the diagnosis never changes the weights
    diag = identifiability(J, jacobian_stderr=np.full(J.shape, 1e-6))
    assert diag.rank_above_noise == 4 and diag.identifiable and diag.noise.shape == (4,)


def test_bad_stderr_shapes_raise_clear_errors():
    J = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"jacobian_stderr must have shape \(m, d, q\)"):
        identifiability(J, jacobian_stderr=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"jacobian_covariance must have shape \(m, d, q, q\)"):
        solve_weights(np.zeros((2, 3)), J, np.ones(2), jacobian_covariance=np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="non-negative"):
        identifiability(J, jacobian_stderr=-np.ones(J.shape))
    with pytest.raises(ValueError, match="at most one"):
        identifiability(J, jacobian_stderr=np.zeros(J.shape),
                        jacobian_covariance=np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match="N >= 2"):
        gpomdp_jacobian_stderr(np.zeros((1, 2, 3)), np.zeros((1, 2, 4)), 0.9)
