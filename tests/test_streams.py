"""Independent random streams per (seed, method, m): a cell's result never depends on which other
m, n or methods a sweep ran (issue 14, item 4)."""

import warnings

import numpy as np
import pytest

from logel.envs.gridworld import Gridworld, sample_batches
from logel.experiments.comparison import ComparisonConfig, run_comparison
from logel.experiments.gridworld import RecoveryConfig, run
from logel.experiments.sweeps import SampleSizeConfig, by_steps, run_sample_sizes
from logel.learners import GPOMDPLearnerConfig
from logel.streams import cell_rng, cell_rngs, cell_seed_sequence


def test_cells_are_named_and_distinct():
    a = cell_rng(3, "lfl", 5).random(4)
    np.testing.assert_array_equal(a, cell_rng(3, "lfl", 5).random(4))
    for other in (cell_rng(3, "lfl", 6), cell_rng(4, "lfl", 5), cell_rng(3, "lfm", 5),
                  np.random.default_rng(np.random.SeedSequence(3).spawn(3)[0])):
        assert not np.array_equal(a, other.random(4))
    assert cell_seed_sequence(3, "lfl", 5).spawn_key[1:] == (5,)
    with pytest.raises(ValueError):
        cell_seed_sequence(0, "")
    with pytest.raises(ValueError):
        cell_seed_sequence(0, "lfl", -1)


@pytest.mark.parametrize("variant", ["paper", "consistent"])
def test_per_policy_streams_are_nested_in_n_and_independent_of_the_others(variant):
    grid = Gridworld(variant=variant)
    probs = np.full((3, grid.n_states, grid.n_actions), 1 / grid.n_actions)
    big = sample_batches(grid, probs, 6, cell_rngs(0, "x", 3))
    small = sample_batches(grid, probs[:2], 4, cell_rngs(0, "x", 2))
    np.testing.assert_array_equal(small.states, big.states[:2, :4])
    np.testing.assert_array_equal(small.actions, big.actions[:2, :4])
    np.testing.assert_array_equal(small.features, big.features[:2, :4])
    with pytest.raises(ValueError, match="one per policy"):
        sample_batches(grid, probs, 4, cell_rngs(0, "x", 2))


def _cells(config, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_comparison(config, seed)
    return {(o.method, o.m): (o.value, o.optimal, o.weight_error) for o in res.outcomes}


@pytest.mark.parametrize("learner", ["svi", "gpomdp"])
@pytest.mark.parametrize("seed", [0, 1])
def test_comparison_cell_does_not_depend_on_the_m_grid_or_the_methods(learner, seed):
    """LfL and LOGEL at m = 5 give the same value from the grids {2, 5, 7} and {5, 7}, with or
    without the other methods; LfL also from {5, 6} (a learner run of 6 updates, not 7).

    LOGEL's smoothed behavioural cloning clones the observed policies *jointly* up to the
    largest m, so LOGEL's cells share the grid's largest m here (see the comparison module)."""
    a = _cells(ComparisonConfig(learner=learner, observed_steps=(2, 5, 7),
                                methods=("logel", "logel_free", "lfl")), seed)
    b = _cells(ComparisonConfig(learner=learner, observed_steps=(5, 7),
                                methods=("logel_free", "logel")), seed)
    c = _cells(ComparisonConfig(learner=learner, observed_steps=(5, 6), methods=("lfl",)), seed)
    for method in ("logel", "logel_free"):
        assert a[method, 5] == b[method, 5]
    assert a["lfl", 5] == c["lfl", 5]


@pytest.mark.parametrize("seed", [0, 2])
def test_approximate_cell_does_not_depend_on_the_grid_and_matches_the_sweep(seed):
    """The approximate setting with fresh trajectories at (m = 5, n = 8) is the same from two
    m-grids, and the sample-size sweep's nested n = 8 observer (n up to 12) reproduces it."""
    learner = GPOMDPLearnerConfig(n_updates=7, n_trajectories=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = run(RecoveryConfig(setting="approximate", learner=learner, observed_steps=(2, 5),
                               observer_trajectories=8), seed).outcome(5)
        b = run(RecoveryConfig(setting="approximate", learner=learner, observed_steps=(5, 7),
                               observer_trajectories=8), seed).outcome(5)
        sweep = run_sample_sizes(SampleSizeConfig(learner=learner, trajectories=(4, 8, 12),
                                                  observed_steps=(3, 5, 7),
                                                  values_at_every_m=(8,)), seed)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.value == b.value
    (err,) = by_steps([sweep], "weight_error", 8)[:, [1]][0]
    assert err == a.weight_error
    assert by_steps([sweep], "value", 8)[0, 1] == a.value
