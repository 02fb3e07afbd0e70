"""The T-REX-style baseline (logel.irl.trex)."""

from __future__ import annotations

import numpy as np
import pytest

from logel.envs.gridworld import Gridworld
from logel.evaluation import cosine_similarity
from logel.irl.trex import (
    TREXConfig,
    bradley_terry_loss,
    ranking_pairs,
    trajectory_features,
    trex_reward,
)
from logel.learners.zoo import ZooConfig, run_zoo_learner
from logel.streams import cell_rng
from logel.traces import LearnerTrace


def test_loss_gradient_matches_finite_differences(rng: np.random.Generator) -> None:
    diffs, w = rng.standard_normal((40, 3)), rng.standard_normal(3)
    _, grad = bradley_terry_loss(w, diffs, 0.1)
    eps = 1e-6
    fd = [(bradley_terry_loss(w + eps * e, diffs, 0.1)[0]
           - bradley_terry_loss(w - eps * e, diffs, 0.1)[0]) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


def test_pairs_rank_later_policies_higher(rng: np.random.Generator) -> None:
    pairs = ranking_pairs(5, 7, 300, rng)
    assert np.all(pairs[:, 0] < pairs[:, 2]) and pairs[:, [1, 3]].max() < 7
    with pytest.raises(ValueError):
        ranking_pairs(1, 7, 3, rng)


def test_recovers_a_bradley_terry_ranking(rng: np.random.Generator) -> None:
    # K policies whose trajectories' returns under w increase with k: time order = return order
    w = np.array([1.0, -1.0, 0.0])
    K, N, T = 6, 30, 4
    feats = rng.standard_normal((K, N, T, 3)) + np.arange(K)[:, None, None, None] * w / 2
    trace = LearnerTrace(np.zeros((K, N, T), int), np.zeros((K, N, T), int), feats, 1.0)
    res = trex_reward(trace, TREXConfig(n_pairs=3000), rng)
    assert cosine_similarity(res.weights, w, centre=False) > 0.95
    assert res.accuracy > 0.6
    np.testing.assert_allclose(trajectory_features(feats, 1.0, True), feats.sum(axis=2))


def test_learner_ranking_points_towards_the_true_reward() -> None:
    grid = Gridworld()
    trace = run_zoo_learner(grid, ZooConfig("adam", n_updates=8, n_trajectories=20),
                            cell_rng(0, "zoo learner"))
    a = trex_reward(trace, TREXConfig(), cell_rng(0, "trex", 8))
    b = trex_reward(trace, TREXConfig(), cell_rng(0, "trex", 8))
    np.testing.assert_array_equal(a.weights, b.weights)
    assert cosine_similarity(a.weights, grid.true_weights) > 0.0
