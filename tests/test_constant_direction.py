"""The all-ones direction of omega is fixed by principle (issue 14, item 5): exactly when every
feature vector has the same sum, so that grad psi 1 = 0 and the direction is unidentifiable."""

import warnings

import numpy as np
import pytest

from logel.diagnostics import constant_direction_unidentifiable
from logel.envs.gridworld import Gridworld
from logel.experiments.gridworld import RecoveryConfig, fixes_constant_direction, run
from logel.learners import GPOMDPLearnerConfig
from logel.traces import LearnerTrace


def test_colour_features_partition_the_states():
    grid = Gridworld()
    assert constant_direction_unidentifiable(grid.sampling_model.state_features)
    assert constant_direction_unidentifiable(2.0 * grid.sampling_model.state_features)
    rng = np.random.default_rng(0)
    assert not constant_direction_unidentifiable(rng.random((4, 3, 5)))
    with pytest.raises(ValueError):
        constant_direction_unidentifiable(np.empty((0, 5)))


def test_auto_resolves_from_the_trace():
    def trace(phi):
        return LearnerTrace(np.zeros((2, 1, 3), int), np.zeros((2, 1, 3), int), phi, 0.9)

    phi = np.zeros((2, 1, 3, 2))
    phi[..., 0] = 1.0
    assert fixes_constant_direction("auto", trace(phi)) is True
    phi[0, 0, 0, 1] = 0.5
    assert fixes_constant_direction("auto", trace(phi)) is False
    assert fixes_constant_direction(False, trace(phi)) is False
    with pytest.raises(ValueError, match="trace"):
        fixes_constant_direction("auto", None)
    with pytest.raises(ValueError):
        fixes_constant_direction("yes", trace(phi))  # type: ignore[arg-type]


def test_auto_is_the_fixed_choice_on_the_gridworld():
    learner = GPOMDPLearnerConfig(n_updates=4, n_trajectories=10)
    small = dict(learner=learner, observed_steps=(2, 4), observer_trajectories=10)
    assert RecoveryConfig().fix_constant_direction == "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = run(RecoveryConfig(**small), 0)
        fixed = run(RecoveryConfig(fix_constant_direction=True, **small), 0)
        free = run(RecoveryConfig(fix_constant_direction=False, **small), 0)
    for m in (2, 4):
        np.testing.assert_array_equal(auto.outcome(m).weights, fixed.outcome(m).weights)
    assert not np.array_equal(auto.outcome(4).weights, free.outcome(4).weights)
