"""The stopped-learner test (logel.irl.motion) and the observer option that uses it
(ObserverConfig.stopped_steps="drop")."""

from dataclasses import replace

import numpy as np
import pytest

import logel
from logel.envs.gridworld import Gridworld
from logel.irl.motion import (
    changepoint_statistic,
    homogeneity_statistic,
    moving_steps,
    stopped_pvalue,
    trajectory_counts,
)
from logel.irl.observer import BoltzmannClass, ObserverConfig, approximate_inputs, recover
from logel.learners import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.streams import cell_rng

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


def _drift(n_batches, step, rng):
    """Batches of a learner that moves its action probabilities by ``step`` every batch."""
    probs = [np.array([0.5 - step * j, 0.3, 0.2 + step * j]) for j in range(n_batches)]
    return trajectory_counts(*_batches(probs, rng), S, A)


def test_changepoint_statistic_pools_the_batches_on_either_side_of_the_best_split():
    c = np.array([[3.0, 1.0, 0.0, 2.0, 2.0, 0.0], [0.0, 4.0, 0.0, 2.0, 2.0, 0.0]])
    # two batches: the one split there is, the homogeneity statistic
    assert changepoint_statistic(c, 3) == pytest.approx(homogeneity_statistic(c, 3))
    three = np.stack([c[0], c[0], c[1]])
    best = max(homogeneity_statistic(np.stack([three[:j].sum(0), three[j:].sum(0)]), 3)
               for j in (1, 2))
    assert changepoint_statistic(three, 3) == pytest.approx(best)
    assert changepoint_statistic(np.stack([c, c]), 3).shape == (2,)     # batched over leading axes
    with pytest.raises(ValueError, match="K >= 2"):
        changepoint_statistic(c[:1], 3)


def test_changepoint_test_has_power_against_a_slow_drift_that_the_homogeneity_test_misses():
    # 12 batches, each moving 1 point of probability: far below what one pair of batches shows
    power = {"homogeneity": 0, "changepoint": 0}
    for r in range(20):
        c = _drift(12, 0.01, np.random.default_rng([20, r]))
        for stat in power:
            power[stat] += stopped_pvalue(c, A, np.random.default_rng([21, r]), 99, stat) <= 0.05
    assert power["changepoint"] >= 15, power
    assert power["changepoint"] >= power["homogeneity"] + 5, power


def test_changepoint_test_keeps_its_level_under_the_hypothesis():
    same = [np.array([0.6, 0.3, 0.1])] * 8
    rejected = [stopped_pvalue(trajectory_counts(*_batches(same, np.random.default_rng([30, r])),
                                                 S, A),
                               A, np.random.default_rng([31, r]), 99, "changepoint") <= 0.05
                for r in range(80)]
    assert np.mean(rejected) <= 0.12           # level 5%; binomial 95% bound for 80 draws ~ 0.10


def test_changepoint_test_is_deterministic_and_named_errors_for_bad_input():
    c = _drift(5, 0.05, np.random.default_rng(40))
    p = [stopped_pvalue(c, A, np.random.default_rng(41), 49, "changepoint") for _ in range(2)]
    assert p[0] == p[1]
    kept = [moving_steps(c, A, 4, lambda k: np.random.default_rng([42, k]), statistic="changepoint")
            for _ in range(2)]
    assert kept[0] == kept[1]
    with pytest.raises(ValueError, match="statistic"):
        stopped_pvalue(c, A, np.random.default_rng(0), 49, "trend")
    with pytest.raises(ValueError, match="at least 2 batches"):
        stopped_pvalue(c[:1], A, np.random.default_rng(0), 49, "changepoint")
    with pytest.raises(ValueError, match="stop_statistic"):
        ObserverConfig(stop_statistic="trend")


def test_homogeneity_draws_unchanged_by_the_statistic_option():
    # the default statistic gives the p-values it gave before the option existed
    c = _drift(4, 0.05, np.random.default_rng(50))
    assert (stopped_pvalue(c, A, np.random.default_rng(51), 49)
            == stopped_pvalue(c, A, np.random.default_rng(51), 49, "homogeneity"))


def test_last_step_condition_keeps_a_slow_learner_and_drops_a_stopped_one():
    # a fast learner (three large steps, then stopped): its last step is resolved, the stop holds
    rng = np.random.default_rng(60)
    moving = [np.array([1 - 0.3 * j, 0.15 * j, 0.15 * j]) for j in range(4)]
    fast = trajectory_counts(*_batches(moving + [moving[-1]] * 5, rng), S, A)
    kept = moving_steps(fast, A, 8, lambda k: np.random.default_rng([61, k]),
                        last_step_rng=lambda k: np.random.default_rng([62, k]))
    assert kept == 3
    # a slow learner, moving a little at every step: the change-point test sees that it moved,
    # then "stops" seeing it; the last step before that is too small to resolve, so with the
    # condition every step is kept
    plain, resolved = [], []
    for r in range(8):
        slow = _drift(10, 0.012, np.random.default_rng([63, r]))

        def rng_for(k, r=r):
            return np.random.default_rng([64, r, k])

        plain.append(moving_steps(slow, A, 9, rng_for, statistic="changepoint"))
        resolved.append(moving_steps(slow, A, 9, rng_for, statistic="changepoint",
                                     last_step_rng=lambda k, r=r: np.random.default_rng([65, r, k])))
    assert all(k == 9 or k == p for k, p in zip(resolved, plain, strict=True))
    assert sum(p < 9 for p in plain) >= 4, plain                       # the plain rule drops
    assert sum(k == 9 for k in resolved) >= sum(p == 9 for p in plain) + 3, (plain, resolved)
    with pytest.raises(TypeError, match="stop_last_step"):
        ObserverConfig(stop_last_step="yes")


def test_observer_option_uses_the_changepoint_test_and_the_last_step_streams():
    grid = Gridworld()
    trace = run_gpomdp_learner(grid, GPOMDPLearnerConfig(n_updates=5),
                               np.random.default_rng(1))
    pc = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions))
    cfg = ObserverConfig(fix_constant_direction=True, stopped_steps="drop", seed=7,
                         stop_statistic="changepoint", stop_last_step=True)
    obs = [logel.observe_realistic(trace, pc, cfg) for _ in range(2)]
    assert obs[0].steps_used == obs[1].steps_used
    np.testing.assert_array_equal(obs[0].weights, obs[1].weights)
    counts = trajectory_counts(trace.states, trace.actions, grid.n_states, grid.n_actions)
    expected = moving_steps(counts, grid.n_actions, 5,
                            lambda k: cell_rng(7, "stopped steps", 5, k),
                            statistic="changepoint",
                            last_step_rng=lambda k: cell_rng(7, "last step", 5, k))
    assert obs[0].steps_used == expected
