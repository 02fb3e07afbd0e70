"""Maximum-causal-entropy IRL: soft value iteration, occupancies, dual gradient, recovery."""

import numpy as np
import pytest

from logel.envs.gridworld import Gridworld
from logel.evaluation import greedy_value, optimal_value, weight_error
from logel.irl.mce_irl import (
    MCEConfig,
    empirical_start,
    expert_feature_expectations,
    fit_feature_expectations,
    mce_dual,
    mce_irl,
    occupancy_measures,
    soft_value_iteration,
)
from logel.tabular import TabularMDP, state_action_features


def _exact_expectations(mdp: TabularMDP, omega: np.ndarray, horizon: int) -> np.ndarray:
    _, _, policies = soft_value_iteration(mdp, omega, horizon)
    rho = occupancy_measures(mdp, policies, mdp.start)
    return np.einsum("tsa,saq->q", rho, state_action_features(mdp))


@pytest.mark.parametrize("timing", ["current", "next"])
def test_soft_value_iteration_is_a_soft_bellman_fixed_point(rng, timing, random_mdp):
    mdp = random_mdp(rng, timing)
    omega = rng.normal(size=mdp.n_features)
    Q, V, pi = soft_value_iteration(mdp, omega, 6)
    r = state_action_features(mdp) @ omega
    np.testing.assert_allclose(Q[-1], r)
    for t in range(5):
        np.testing.assert_allclose(Q[t], r + mdp.gamma * mdp.transitions @ V[t + 1])
    np.testing.assert_allclose(V, np.log(np.exp(Q).sum(axis=2)))
    np.testing.assert_allclose(pi.sum(axis=2), 1.0)


def test_occupancies_sum_to_discounts(rng, random_mdp):
    mdp = random_mdp(rng)
    _, _, pi = soft_value_iteration(mdp, rng.normal(size=3), 7)
    rho = occupancy_measures(mdp, pi, mdp.start)
    np.testing.assert_allclose(rho.sum(axis=(1, 2)), mdp.gamma ** np.arange(7))


def test_occupancies_match_monte_carlo(rng, random_mdp):
    """The forward pass agrees with sampling the time-dependent policy."""
    mdp = random_mdp(rng, n_states=4, n_actions=2)
    _, _, pi = soft_value_iteration(mdp, rng.normal(size=3), 3)
    rho = occupancy_measures(mdp, pi, mdp.start)
    n = 40_000
    counts = np.zeros_like(rho)
    s = rng.choice(4, size=n, p=mdp.start)
    for t in range(3):
        u = rng.random(n)
        a = (u > pi[t, s, 0]).astype(int)
        np.add.at(counts[t], (s, a), 1.0)
        cdf = np.cumsum(mdp.transitions[s, a], axis=1)
        s = np.minimum((rng.random(n)[:, None] > cdf).sum(axis=1), 3)
    counts *= (mdp.gamma ** np.arange(3))[:, None, None] / n
    np.testing.assert_allclose(counts, rho, atol=0.01)


def test_dual_gradient_matches_finite_differences(rng, random_mdp):
    mdp = random_mdp(rng, "next")
    mu_e = rng.normal(size=3)
    omega = rng.normal(size=3)
    _, grad, _, _ = mce_dual(mdp, omega, mu_e, mdp.start, 5, l2=0.3)
    eps = 1e-6
    fd = [(mce_dual(mdp, omega + eps * e, mu_e, mdp.start, 5, 0.3)[0]
           - mce_dual(mdp, omega - eps * e, mu_e, mdp.start, 5, 0.3)[0]) / (2 * eps)
          for e in np.eye(3)]
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_the_reward_of_an_exact_soft_optimal_policy(seed, random_mdp):
    """Exact feature expectations of the soft-optimal policy of omega* -> omega* (no ridge)."""
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, "next", n_states=6, n_actions=3)
    omega = rng.normal(size=3)
    mu_e = _exact_expectations(mdp, omega, 8)
    res = fit_feature_expectations(mdp, mu_e, mdp.start, 8, MCEConfig(l2=0.0, tol=1e-12))
    assert res.converged
    np.testing.assert_allclose(res.weights, omega, atol=1e-4)
    assert res.feature_gap < 1e-7


def test_gridworld_recovery_up_to_the_constant_direction():
    """Colour features partition the states, so omega is known up to an additive constant: the
    centred weights are recovered and the greedy policy is optimal."""
    grid = Gridworld(variant="consistent")
    mdp = grid.sampling_model
    mu_e = _exact_expectations(mdp, grid.true_weights, grid.horizon)
    res = fit_feature_expectations(mdp, mu_e, mdp.start, grid.horizon,
                                   MCEConfig(l2=1e-8, tol=1e-12))
    assert weight_error(res.weights, grid.true_weights) < 1e-3
    assert abs(res.weights.sum()) < 1e-3  # the ridge picks the centred representative
    assert greedy_value(grid, res.weights) == pytest.approx(optimal_value(grid))


def test_sampled_demonstrations_and_determinism(rng):
    """From sampled trajectories of a good policy the greedy policy of the fit is optimal, and
    the fit is a deterministic function of its data."""
    from logel.envs.gridworld import sample_batch
    from logel.evaluation import greedy_policy
    from logel.tabular import deterministic_policy

    grid = Gridworld(variant="consistent")
    expert = 0.9 * deterministic_policy(greedy_policy(grid, grid.true_weights), 4) + 0.025
    batch = sample_batch(grid, expert, 200, rng)
    res = mce_irl(grid.sampling_model, batch.states, batch.features)
    again = mce_irl(grid.sampling_model, batch.states, batch.features)
    np.testing.assert_array_equal(res.weights, again.weights)
    assert greedy_value(grid, res.weights) == pytest.approx(optimal_value(grid))
    np.testing.assert_allclose(res.expert_features,
                               expert_feature_expectations(batch.features, grid.gamma))
    np.testing.assert_allclose(res.start, empirical_start(batch.states, 25))


def test_bad_inputs_name_the_argument():
    grid = Gridworld()
    mdp = grid.sampling_model
    with pytest.raises(ValueError, match="features must have shape"):
        mce_irl(mdp, np.zeros((2, 3), int), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="states must have shape"):
        mce_irl(mdp, np.zeros((2, 4), int), np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="expert_features"):
        fit_feature_expectations(mdp, np.zeros(4), mdp.start, 3)
    with pytest.raises(ValueError, match="start"):
        fit_feature_expectations(mdp, np.zeros(5), np.ones(25), 3)
    with pytest.raises(ValueError, match="l2"):
        fit_feature_expectations(mdp, np.zeros(5), mdp.start, 3, MCEConfig(l2=-1.0))
    with pytest.raises(ValueError, match="horizon"):
        soft_value_iteration(mdp, np.zeros(5), 0)
