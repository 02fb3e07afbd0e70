"""Q-learning, SVI and SPI learners, and the tabular LfL baseline."""

import numpy as np
import pytest

from logel.envs.gridworld import Gridworld
from logel.evaluation import attains_optimum, greedy_value, optimal_value
from logel.irl.lfl import (
    LfLConfig,
    estimate_transitions,
    fit_shaped_reward,
    inversion_targets,
    lfl_reward,
)
from logel.learners.tabular_learners import TabularLearnerConfig, run_tabular_learner
from logel.tabular import soft_policy_evaluation, soft_policy_iteration
from logel.traces import LearnerTrace

GRID = Gridworld("paper")


@pytest.mark.parametrize("learner", ["qlearning", "svi", "spi"])
def test_learners_emit_honest_traces_and_improve(learner):
    trace, policies = run_tabular_learner(GRID, TabularLearnerConfig(learner=learner,
                                                                     n_updates=10),
                                          np.random.default_rng(0))
    assert trace.thetas is None and trace.learning_rates is None  # no pretend parameters
    assert trace.states.shape == (11, 50, 20) and policies.shape == (11, 25, 4)
    np.testing.assert_allclose(policies.sum(axis=2), 1.0)
    assert trace.metadata["learner"] == learner and trace.metadata["variant"] == "paper"
    returns = trace.returns.mean(axis=1)
    assert returns[-1] > returns[0] + 5  # every learner improves a lot from uniform (~-17)


def test_learners_are_deterministic_per_seed():
    cfg = TabularLearnerConfig(learner="qlearning", n_updates=4)
    a, _ = run_tabular_learner(GRID, cfg, np.random.default_rng(3))
    b, _ = run_tabular_learner(GRID, cfg, np.random.default_rng(3))
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.actions, b.actions)


def test_spi_learner_matches_exact_soft_policy_iteration():
    """100 evaluation sweeps from a random q leave an error of order 0.96**100, so the learner's
    second policy is close to the exact soft-policy-iteration step."""
    _, policies = run_tabular_learner(GRID, TabularLearnerConfig(learner="spi", n_updates=1),
                                      np.random.default_rng(0))
    exact = soft_policy_iteration(GRID.planning_model, GRID.true_weights, 0.3, 1)[1]
    np.testing.assert_allclose(policies[1], exact, atol=0.05)


def test_inversion_identity_with_exact_policies():
    """LfL's target equals the true reward up to potential shaping (reference notes Sec. 1.2):
    with exact consecutive SPI policies and the true model, the shaping fit has zero residual
    and the recovered reward has the true reward's optimal policy."""
    model = GRID.planning_model
    tau = 0.3
    pis = np.stack(soft_policy_iteration(model, GRID.true_weights, tau, 3))
    targets = inversion_targets(pis, model.transitions, model.gamma, tau)
    reward, _, residual = fit_shaped_reward(targets, model.transitions, model.gamma)
    assert residual < 1e-8
    assert greedy_value(GRID, reward=reward) == pytest.approx(optimal_value(GRID))
    q, v = soft_policy_evaluation(model, pis[0], GRID.true_weights, tau)
    np.testing.assert_allclose(np.exp(q / tau) / np.exp(q / tau).sum(1, keepdims=True), pis[1])


def test_adam_reward_solver_reduces_the_residual():
    model = GRID.planning_model
    pis = np.stack(soft_policy_iteration(model, GRID.true_weights, 0.3, 2))
    targets = inversion_targets(pis, model.transitions, model.gamma, 0.7)
    zero_residual = np.sqrt(np.mean(targets**2))
    _, _, residual = fit_shaped_reward(targets, model.transitions, model.gamma, solver="adam")
    assert residual < 0.5 * zero_residual


def test_transition_counts():
    trace, _ = run_tabular_learner(GRID, TabularLearnerConfig(learner="spi", n_updates=1),
                                   np.random.default_rng(0))
    P = estimate_transitions(trace, 25, 4, slice(0, 2), continuous_batches=True)
    np.testing.assert_allclose(P.sum(axis=2), 1.0)
    visited = np.zeros((25, 4), bool)
    visited[trace.states[:, :, :-1].ravel(), trace.actions[:, :, :-1].ravel()] = True
    # deterministic dynamics: every visited pair's estimate is the sampler's successor
    np.testing.assert_allclose(P[visited], GRID.sampling_model.transitions[visited], atol=1e-9)
    np.testing.assert_allclose(P[~visited], 1 / 25)  # unseen pairs stay uniform


def test_lfl_recovers_spi_reward_and_fails_on_gpomdp():
    """With 6 policies (paper variant, official LfL options) we measured 10/10 optimal SPI runs and
    0/10 optimal G(PO)MDP runs on seeds 0-9 (the official code: 20/20 and 0/10); here 5 seeds,
    allowing one miss each way."""
    from logel.learners import GPOMDPLearnerConfig, run_gpomdp_learner

    opt = optimal_value(GRID)
    spi, gpomdp = 0, 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        tr, _ = run_tabular_learner(GRID, TabularLearnerConfig(learner="spi", n_updates=5), rng)
        spi += attains_optimum(
            greedy_value(GRID, reward=lfl_reward(tr, 25, 4, LfLConfig(), rng).reward), opt)
        tr = run_gpomdp_learner(GRID, GPOMDPLearnerConfig(n_updates=5), rng)
        gpomdp += attains_optimum(
            greedy_value(GRID, reward=lfl_reward(tr, 25, 4, LfLConfig(), rng).reward), opt)
    assert spi >= 4 and gpomdp <= 1


def test_lfl_needs_two_policies():
    trace, _ = run_tabular_learner(GRID, TabularLearnerConfig(learner="spi", n_updates=1),
                                   np.random.default_rng(0))
    with pytest.raises(ValueError, match="two consecutive policies"):
        lfl_reward(LearnerTrace(trace.states[:1], trace.actions[:1], trace.features[:1],
                                trace.gamma), 25, 4, LfLConfig(), np.random.default_rng(0))
