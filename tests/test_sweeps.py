"""Sweeps of the approximate-gradient setting (logel.experiments.sweeps)."""

import numpy as np
import pytest

from logel.envs.gridworld import Gridworld, sample_batch, sample_batches
from logel.experiments.gridworld import RecoveryConfig, run
from logel.experiments.sweeps import (
    LEARNERS,
    SampleSizeConfig,
    by_sample_size,
    by_steps,
    expected_jacobian,
    monte_carlo_jacobians,
    run_sample_sizes,
    sweep_many,
)
from logel.learners import GPOMDPLearnerConfig
from logel.policies.boltzmann import BoltzmannPolicy
from logel.tabular import feature_expectations_jacobian

POLICY = BoltzmannPolicy(25, 4)
SMALL = dict(learner=GPOMDPLearnerConfig(n_updates=5), trajectories=(5, 20),
             observed_steps=(3, 5))


@pytest.mark.parametrize("variant", ["paper", "consistent"])
def test_one_policy_reproduces_sample_batch_draw_for_draw(variant):
    grid = Gridworld(variant)
    probs = POLICY.probabilities(np.random.default_rng(1).normal(size=POLICY.n_params))
    ref = sample_batch(grid, probs, 7, np.random.default_rng(5))
    ours = sample_batches(grid, probs[None], 7, np.random.default_rng(5))
    for name in ("states", "actions", "features", "final_states"):
        np.testing.assert_array_equal(getattr(ours, name)[0], getattr(ref, name))


def test_several_policies_give_independent_batches_of_the_right_shape():
    grid = Gridworld("paper")
    probs = np.stack([POLICY.probabilities(np.zeros(POLICY.n_params))] * 3)
    batch = sample_batches(grid, probs, 4, np.random.default_rng(0))
    assert batch.states.shape == (3, 4, 20) and batch.features.shape == (3, 4, 20, 5)
    assert not np.array_equal(batch.states[0], batch.states[1])
    assert np.all(batch.states[:, 0, 0] == 0)  # every run starts at s0
    with pytest.raises(ValueError, match="policies must have shape"):
        sample_batches(grid, probs[0], 4, np.random.default_rng(0))


def test_expected_jacobian_is_the_exact_jacobian_from_s0_when_trajectories_start_there():
    grid = Gridworld("consistent")
    theta = np.random.default_rng(2).normal(scale=0.5, size=POLICY.n_params)
    probs = POLICY.probabilities(theta)
    exact = feature_expectations_jacobian(grid.sampling_model, probs,
                                          POLICY.probability_jacobian(theta), grid.horizon)
    np.testing.assert_allclose(expected_jacobian(grid, POLICY, theta, 50), exact, atol=1e-14)


def test_expected_jacobian_is_the_mean_of_the_baseline_free_estimate_on_chained_windows():
    """Paper variant: the windows' start states differ from s0; the target accounts for it."""
    grid = Gridworld("paper")
    theta = np.random.default_rng(3).normal(scale=0.5, size=POLICY.n_params)
    mc = monte_carlo_jacobians(grid, theta, 20, 300, (1e-3, 1e9), np.random.default_rng(0))
    z2 = mc.mean_z2()
    assert z2[1] < 1.6  # unbiased without baseline
    assert z2[0] > 3.0  # the in-sample baseline is biased
    assert np.all(np.abs(mc.attenuation()[1] - 1) < 0.15)
    assert mc.feature_visit_rate.shape == (5,) and mc.feature_visit_rate[2] > 0.9  # N: common


def test_learner_observer_matches_the_gridworld_entry_point():
    cfg = SampleSizeConfig("consistent", **SMALL)
    res = run_sample_sizes(cfg, 4)
    ref = run(RecoveryConfig(setting="approximate", variant="consistent",
                             observer_samples="learner", learner=SMALL["learner"],
                             observed_steps=(3, 5)), 4)
    np.testing.assert_array_equal(res.learner_samples.weights,
                                  np.array([o.weights for o in ref.outcomes]))
    assert res.learner_samples.optimal[-1] == 1.0
    assert np.isnan(res.learner_samples.value[0])  # only the largest m is evaluated


def test_exact_learner_is_recovered_exactly_with_expected_jacobians():
    cfg = SampleSizeConfig("consistent", learner=GPOMDPLearnerConfig(n_updates=5,
                                                                     gradient="exact"),
                           trajectories=(5,), observed_steps=(3, 5))
    res = run_sample_sizes(cfg, 0)
    assert np.all(res.expected.weight_error < 1e-9) and np.all(res.expected.optimal == 1.0)
    assert np.all(res.gradient_error < 1e-12)


def test_sweep_many_is_deterministic_and_shapes_are_right():
    exact = GPOMDPLearnerConfig(n_updates=5, gradient="exact")
    configs = {"a": SampleSizeConfig("consistent", **SMALL),
               "b": SampleSizeConfig("consistent", **{**SMALL, "learner": exact})}
    serial = sweep_many(configs, [0, 1], n_jobs=1)
    parallel = sweep_many(configs, [0, 1], n_jobs=2)
    for name in configs:
        for a, b in zip(serial[name], parallel[name], strict=True):
            np.testing.assert_array_equal(a.independent[1].weights, b.independent[1].weights)
    assert by_sample_size(serial["a"], "weight_error", 5).shape == (2, 2)
    assert by_steps(serial["a"], "weight_error", "expected").shape == (2, 2)
    assert by_steps(serial["a"], "value", 20).shape == (2, 2)


def test_the_three_learners():
    assert LEARNERS["gpomdp"].baseline_eps == 1e-3 and LEARNERS["no-baseline"].baseline_eps > 1e8
    assert LEARNERS["exact"].gradient == "exact"
    assert all(c.n_updates == 15 for c in LEARNERS.values())


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="observed_steps"):
        SampleSizeConfig(learner=GPOMDPLearnerConfig(n_updates=5), observed_steps=(6,))
    with pytest.raises(ValueError, match="trajectories"):
        SampleSizeConfig(trajectories=(0, 5))
