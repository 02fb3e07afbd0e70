"""LOGEL against LfL: the comparison entry point."""

import numpy as np
import pytest

from logel.experiments.comparison import (
    ComparisonConfig,
    run_comparison,
    summarise_comparison,
    sweep_comparison,
)
from logel.learners import GPOMDPLearnerConfig


@pytest.mark.parametrize("learner", ["gpomdp", "qlearning", "svi", "spi"])
def test_both_methods_on_every_learner(learner):
    res = run_comparison(ComparisonConfig(learner=learner, observed_steps=(2, 4)), seed=0)
    assert {(o.method, o.m) for o in res.outcomes} == {("logel", 2), ("logel", 4), ("lfl", 2),
                                                      ("lfl", 4)}
    for o in res.outcomes:
        assert np.isfinite(o.value) and o.value <= res.optimal_value + 1e-9
        assert (o.weight_error is None) == (o.method == "lfl")
    assert res.environment["learner"] == learner


def test_parallel_sweep_is_identical_to_serial():
    cfg = ComparisonConfig(learner="svi", observed_steps=(2, 3))
    a = sweep_comparison(cfg, [0, 1], n_jobs=1)
    b = sweep_comparison(cfg, [0, 1], n_jobs=2)
    assert [o.value for r in a for o in r.outcomes] == [o.value for r in b for o in r.outcomes]
    rows = summarise_comparison(a)
    assert len(rows) == 4 and all(r.n_seeds == 2 for r in rows)


def test_broken_assumption_knobs_change_the_learner():
    base = GPOMDPLearnerConfig(n_updates=3)
    noisy = GPOMDPLearnerConfig(n_updates=3, update_noise=1.0, skip_probability=0.5)
    a = run_comparison(ComparisonConfig(gpomdp=base, observed_steps=(3,), methods=("logel",)), 1)
    b = run_comparison(ComparisonConfig(gpomdp=noisy, observed_steps=(3,), methods=("logel",)), 1)
    assert a.outcomes[0].weight_error != b.outcomes[0].weight_error


def test_bad_comparison_configs():
    with pytest.raises(ValueError, match="learner"):
        ComparisonConfig(learner="sarsa")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="methods"):
        ComparisonConfig(methods=("irl",))  # type: ignore[arg-type]
