"""The learner zoo (logel.learners.zoo): deterministic, improving, the plain one = the paper's."""

from __future__ import annotations

import numpy as np
import pytest

from logel.envs.gridworld import Gridworld
from logel.learners.gpomdp import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.learners.zoo import (
    ZOO_LEARNERS,
    AdamState,
    ZooConfig,
    adam_update,
    natural_direction,
    reward_to_go_advantages,
    run_zoo_learner,
)
from logel.streams import cell_rng


def test_plain_learner_is_the_papers_learner() -> None:
    grid = Gridworld()
    a = run_gpomdp_learner(grid, GPOMDPLearnerConfig(n_updates=6), np.random.default_rng(3))
    b = run_zoo_learner(grid, ZooConfig("sgd", n_updates=6), np.random.default_rng(3))
    np.testing.assert_array_equal(a.thetas, b.thetas)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.learning_rates, b.learning_rates)


@pytest.mark.parametrize("learner", ZOO_LEARNERS)
def test_deterministic_and_improves(learner: str) -> None:
    grid = Gridworld()
    cfg = ZooConfig(learner, n_updates=10, n_trajectories=30)  # type: ignore[arg-type]
    a = run_zoo_learner(grid, cfg, cell_rng(0, "zoo learner"))
    b = run_zoo_learner(grid, cfg, cell_rng(0, "zoo learner"))
    np.testing.assert_array_equal(a.thetas, b.thetas)
    assert a.thetas is not None and a.thetas.shape == (11, 75)
    assert (a.learning_rates is not None) == (learner == "sgd")
    returns = a.returns.mean(axis=1)
    assert returns[-3:].mean() > returns[:3].mean() + 2.0


def test_adam_first_step_is_a_sign_step() -> None:
    state = AdamState(np.zeros(3), np.zeros(3))
    step = adam_update(state, np.array([2.0, -0.5, 0.0]), 0.1, 0.9, 0.999, 1e-12)
    np.testing.assert_allclose(step, [0.1, -0.1, 0.0], atol=1e-9)


def test_natural_step_has_the_trust_region_length() -> None:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    F = A @ A.T + np.eye(5)
    g = rng.standard_normal(5)
    x = natural_direction(g, F, kl=0.02, damping=0.0)
    assert x @ F @ x == pytest.approx(2 * 0.02)
    assert np.allclose(np.linalg.solve(F, g) / np.linalg.norm(np.linalg.solve(F, g)),
                       x / np.linalg.norm(x))


def test_advantages_are_normalised_reward_to_go() -> None:
    r = np.array([[1.0, 0.0], [0.0, 0.0]])
    adv = reward_to_go_advantages(r, 0.5)
    # reward-to-go [[1, 0], [0, 0]] minus the per-time mean [0.5, 0] -> [[.5, 0], [-.5, 0]]
    assert adv[0, 0] > 0 > adv[1, 0] and adv[0, 1] == 0
    assert adv.std() == pytest.approx(1.0)
