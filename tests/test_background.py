"""Tests of logel.experiments.background (the background chapters' studies)."""

import numpy as np
import pytest

from logel.envs.gridworld import GOAL_STATE, START_STATE, Gridworld
from logel.evaluation import optimal_value
from logel.experiments.background import (
    BASELINE_OFF,
    EstimatorStudyConfig,
    estimator_study,
    finite_horizon_optimum,
    learning_curves,
    optimal_route,
)
from logel.learners import GPOMDPLearnerConfig


def test_estimator_study_is_deterministic_and_consistent():
    cfg = EstimatorStudyConfig(batch_sizes=(10, 50), total_trajectories=400, chunk=200)
    a, b = estimator_study(cfg), estimator_study(cfg)
    assert a.exact_jacobian.shape == (75, 5)
    assert len(a.stats) == 2 * 2 * 2
    for x, y in zip(a.stats, b.stats, strict=True):
        assert x == y
    st = a.get("gpomdp", 1e-3, 10)
    assert st.n_batches == 40 and st.error_of_mean >= 0 and st.rmse > 0
    # without a baseline the pooled mean does not depend on the batch size
    np.testing.assert_allclose(a.series("gpomdp", BASELINE_OFF, "error_of_mean"),
                               a.get("gpomdp", BASELINE_OFF, 10).error_of_mean, rtol=1e-10)
    with pytest.raises(KeyError):
        a.get("gpomdp", 1e-3, 20)


def test_estimator_study_config_validation():
    with pytest.raises(ValueError, match="chunk"):
        EstimatorStudyConfig(batch_sizes=(30,), chunk=2000)
    with pytest.raises(ValueError, match="multiple of chunk"):
        EstimatorStudyConfig(total_trajectories=3000, chunk=2000)


@pytest.mark.parametrize("variant", ["paper", "consistent"])
def test_optimal_route_and_values(variant):
    grid = Gridworld(variant=variant)
    route = optimal_route(grid)
    assert route[0] == START_STATE and route[-1] == GOAL_STATE
    assert route == [0, 1, 2, 3, 4, 9, 14, 19, 24]
    # the finite-horizon optimum lies below the infinite-horizon one of the consistent model
    assert finite_horizon_optimum(grid) < optimal_value(Gridworld(variant="consistent"))


def test_optimal_route_raises_when_goal_is_unreachable():
    grid = Gridworld(variant="consistent")
    with pytest.raises(RuntimeError):
        optimal_route(grid, omega=np.array([0.0, 0.0, 0.0, 0.0, -10.0]), max_steps=30)


def test_learning_curves_shapes_and_exact_start():
    cfg = GPOMDPLearnerConfig(n_updates=3, n_trajectories=5)
    curves = learning_curves("consistent", [0, 1], cfg)
    assert curves.sampled.shape == curves.exact.shape == (2, 4)
    # step 0 is the uniform policy for every seed
    np.testing.assert_allclose(curves.exact[:, 0], curves.exact[0, 0])
    assert np.all(curves.exact <= finite_horizon_optimum(Gridworld(variant="consistent")))
