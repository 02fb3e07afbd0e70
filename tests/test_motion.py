"""The stopped-learner test (logel.irl.motion) and the observer option that uses it
(ObserverConfig.stopped_steps="drop")."""

from dataclasses import replace

import numpy as np
import pytest

import logel
from logel.envs.gridworld import Gridworld
from logel.irl.motion import (
    homogeneity_statistic,
    moving_steps,
    stopped_pvalue,
    trajectory_counts,
)
from logel.irl.observer import BoltzmannClass, ObserverConfig, approximate_inputs, recover
from logel.learners import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy

S, A, T, N = 4, 3, 5, 40


def _batches(probs, rng):
    """``(K, N, T)`` states (uniform) and actions drawn from ``probs[k]`` ``(A,)`` per batch."""
    k = len(probs)
    states = rng.integers(0, S, size=(k, N, T))
    actions = np.stack([rng.choice(A, size=(N, T), p=p) for p in probs])
    return states, actions


def test_trajectory_counts_count_every_sample():
    rng = np.random.default_rng(0)
    s, a = _batches([np.full(A, 1 / A)] * 2, rng)
    c = trajectory_counts(s, a, S, A)
    assert c.shape == (2, N, S * A)
    np.testing.assert_array_equal(c.sum(axis=2), T)
    assert c[1, 3, s[1, 3, 0] * A + a[1, 3, 0]] >= 1
    with pytest.raises(ValueError, match="states and actions"):
        trajectory_counts(s[0], a[0], S, A)


def test_homogeneity_statistic_is_zero_for_equal_batches_only():
    c = np.array([[3.0, 1.0, 0.0, 2.0, 2.0, 0.0]])
    assert homogeneity_statistic(np.concatenate([c, c]), 3) == pytest.approx(0.0, abs=1e-12)
    other = np.array([[0.0, 4.0, 0.0, 2.0, 2.0, 0.0]])
    assert homogeneity_statistic(np.concatenate([c, other]), 3) > 1.0


def test_stopped_pvalue_is_uniform_under_the_hypothesis_and_small_under_a_change():
    rng = np.random.default_rng(1)
    same = [np.array([0.6, 0.3, 0.1])] * 3
    ps = [stopped_pvalue(trajectory_counts(*_batches(same, rng), S, A), A, rng, 99)
          for _ in range(60)]
    assert 0.3 < np.mean(ps) < 0.7 and np.mean(np.array(ps) <= 0.05) <= 0.15
    changed = [np.array([0.6, 0.3, 0.1]), np.array([0.1, 0.3, 0.6])]
    c = trajectory_counts(*_batches(changed, rng), S, A)
    assert stopped_pvalue(c, A, rng, 99) == pytest.approx(0.01)


def test_moving_steps_finds_where_the_learner_stops():
    rng = np.random.default_rng(2)
    moving = [np.array([1 - 0.3 * j, 0.15 * j, 0.15 * j]) for j in range(4)]  # three steps
    probs = moving + [moving[-1]] * 5                                              # then stops
    c = trajectory_counts(*_batches(probs, rng), S, A)
    kept = moving_steps(c, A, 8, lambda k: np.random.default_rng([3, k]))
    assert kept == 3
    # a learner whose motion the test cannot see keeps every step
    flat = trajectory_counts(*_batches([moving[0]] * 4, rng), S, A)
    assert moving_steps(flat, A, 3, lambda k: np.random.default_rng([4, k])) == 3
    with pytest.raises(ValueError, match="m \\+ 1"):
        moving_steps(flat, A, 4, lambda k: np.random.default_rng(k))


def test_observer_drops_the_steps_of_a_stopped_learner():
    grid = Gridworld()
    trace = run_gpomdp_learner(grid, GPOMDPLearnerConfig(n_updates=4),
                               np.random.default_rng(0))
    pc = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions))
    cfg = ObserverConfig(fix_constant_direction=True, stopped_steps="drop", seed=5)
    obs = logel.observe_realistic(trace, pc, cfg)
    assert obs.steps_used is not None and 1 <= obs.steps_used <= 4
    assert obs.learning_rates.shape == (obs.steps_used,)
    plain = logel.observe_realistic(trace, pc, replace(cfg, stopped_steps="keep"), m=obs.steps_used)
    np.testing.assert_array_equal(obs.weights, plain.weights)
    assert plain.steps_used is None
    with pytest.raises(ValueError, match="counts"):
        recover(approximate_inputs(trace, pc, cfg), cfg)
    with pytest.raises(ValueError, match="stopped_steps"):
        ObserverConfig(stopped_steps="never")
    with pytest.raises(ValueError, match="stop_level"):
        ObserverConfig(stop_level=1.0)
