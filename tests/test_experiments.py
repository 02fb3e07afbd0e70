"""Gridworld experiment entry points: the three settings, determinism, budgets, bad configs."""

import warnings

import numpy as np
import pytest

from logel.experiments import notebook_budget
from logel.experiments.gridworld import RecoveryConfig, mean_ci, run, summarise, sweep
from logel.learners import GPOMDPLearnerConfig

SMALL = dict(learner=GPOMDPLearnerConfig(n_updates=5), observed_steps=(3, 5))


@pytest.mark.parametrize("setting", ["exact", "approximate", "realistic"])
def test_every_setting_runs_and_reports_its_variant(setting):
    res = run(RecoveryConfig(setting=setting, variant="consistent", **SMALL), seed=0)
    assert [o.m for o in res.outcomes] == [3, 5]
    assert res.environment["variant"] == "consistent"
    for o in res.outcomes:
        assert o.weights.shape == (5,) and np.all(np.isfinite(o.weights))
        assert o.learning_rates.shape == (o.m,)
        assert 0.0 <= o.weight_error <= 2.0
    assert (res.bc_parameter_error is not None) == (setting == "realistic")


def test_exact_setting_recovers_the_true_weights():
    res = run(RecoveryConfig(setting="exact", variant="paper", **SMALL), seed=3)
    for o in res.outcomes:
        assert o.weight_error < 1e-8 and o.optimal


def test_reusing_the_learners_samples_is_an_oracle():
    """The official default: the observer's Jacobian estimate times omega *is* the learner's
    gradient estimate (linearity), so recovery is exact up to the in-sample baseline."""
    res = run(RecoveryConfig(setting="approximate", observer_samples="learner", **SMALL), seed=1)
    assert all(o.optimal for o in res.outcomes)


def test_same_seed_same_result_whatever_the_parallelism():
    cfg = RecoveryConfig(setting="realistic", **SMALL)
    serial = sweep(cfg, [0, 1, 2], n_jobs=1)
    parallel = sweep(cfg, [0, 1, 2], n_jobs=2)
    for a, b in zip(serial, parallel, strict=True):
        for oa, ob in zip(a.outcomes, b.outcomes, strict=True):
            np.testing.assert_array_equal(oa.weights, ob.weights)
            np.testing.assert_array_equal(oa.learning_rates, ob.learning_rates)
    assert not np.array_equal(serial[0].outcomes[0].weights, serial[1].outcomes[0].weights)


def test_summary_statistics():
    results = sweep(RecoveryConfig(setting="exact", **SMALL), [0, 1])
    summary = summarise(results)
    assert [s.m for s in summary] == [3, 5]
    assert all(s.optimal_fraction == 1.0 and s.n_seeds == 2 for s in summary)
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(2.4841, abs=1e-3)  # t(0.975, 2) * 1 / sqrt(3)


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="observed_steps"):
        RecoveryConfig(observed_steps=(20,))
    with pytest.raises(ValueError, match="setting"):
        RecoveryConfig(setting="oracle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="observer_trajectories"):
        RecoveryConfig(observer_trajectories=80)


def test_notebook_budget(monkeypatch):
    monkeypatch.setenv("LOGEL_BUDGET", "smoke")
    assert notebook_budget() == "smoke"
    monkeypatch.setenv("LOGEL_BUDGET", "huge")
    with pytest.raises(ValueError, match="LOGEL_BUDGET"):
        notebook_budget()
    monkeypatch.setenv("LOGEL_BUDGET", "paper")  # the paper budget is command-line only
    with pytest.raises(ValueError, match="command line only"):
        notebook_budget()
    monkeypatch.delenv("LOGEL_BUDGET")
    assert notebook_budget() == "book"


def test_learning_rate_schedules_are_recorded():
    for schedule, first in (("lin", 1.0), ("square", 1.0), (0.05, 0.05)):
        cfg = RecoveryConfig(setting="exact",
                             learner=GPOMDPLearnerConfig(n_updates=3, learning_rate=schedule),
                             observed_steps=(3,))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = run(cfg, seed=0)
        assert res.outcomes[0].learning_rates[0] == pytest.approx(first)
        assert res.outcomes[0].weight_error < 1e-6
