"""The beyond-gradient experiment (logel.experiments.beyond_gradient) at a tiny size."""

from __future__ import annotations

import json
import warnings

import numpy as np

from logel.cli import RUNS
from logel.experiments.beyond_gradient import (
    BEYOND_BUDGETS,
    EXTRA_OBSERVERS,
    JACOBIANS,
    OBSERVERS,
    BeyondConfig,
    alignment_rows,
    budget_setup,
    claims,
    format_results,
    records,
    recovery_rows,
    run_beyond,
)


def _run(learner: str, seed: int):
    cfg = BeyondConfig(learner=learner, observed_steps=(2, 3), n_trajectories=10,  # type: ignore[arg-type]
                       null_directions=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_beyond(cfg, seed)


def test_run_is_deterministic_and_complete() -> None:
    a, b = _run("adam", 0), _run("adam", 0)
    assert [o.value for o in a.outcomes] == [o.value for o in b.outcomes]
    assert {o.observer for o in a.outcomes} == set(OBSERVERS)
    assert {x.jacobians for x in a.alignment} == set(JACOBIANS)
    assert len(a.nulls) == 5 and all(0 < n.p_value <= 1 for n in a.nulls)
    for o in a.outcomes:
        assert (o.explained is None) == (o.observer in ("lfl", "trex", "mce"))
    assert np.isfinite(a.learner_values).all()


def test_tables_and_claims() -> None:
    results = {ln: [_run(ln, s) for s in (0, 1)] for ln in ("sgd", "ppo")}
    assert len(alignment_rows(results)) == 2 * len(JACOBIANS)
    assert len(recovery_rows(results, 3)) == 2 * len(OBSERVERS)
    assert "recovery at m = 3" in format_results(results)
    out = claims(results, "smoke")
    assert out and all(c.verdict == "inconclusive" for c in out)  # not tested at smoke
    rows = records(results)
    assert json.loads(json.dumps(rows)) == rows


def test_budgets_and_cli() -> None:
    assert "beyond_gradient" in RUNS
    assert len(BEYOND_BUDGETS["paper"].seeds) == 20
    assert BEYOND_BUDGETS["paper"].observed_steps == tuple(range(2, 16))
    seeds, configs = budget_setup("smoke")
    assert set(configs) == {"sgd", "adam", "npg", "ppo"} and seeds


def test_natural_model_observers() -> None:
    """The natural-gradient model (an extra observer, outside the default set): at the learner's
    true theta and own trajectories it explains nearly all of the natural-gradient learner's
    motion (all of it for the true reward: tests/test_natural_model.py; the fit keeps omega
    orthogonal to the all-ones direction, whose estimated gradient is small but not zero), far
    more than plain LOGEL; adding it leaves the default observers' results unchanged."""
    observers = ("logel", "logel_natural", "theta_logel", "theta_natural")
    cfg = BeyondConfig(learner="npg", observed_steps=(2, 3), n_trajectories=10,
                       observers=observers, null_directions=4)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_beyond(cfg, 0)
        default = run_beyond(BeyondConfig(learner="npg", observed_steps=(2, 3),
                                          n_trajectories=10, null_directions=4), 0)
    assert {o.observer for o in res.outcomes} == set(observers)
    for m in (2, 3):
        assert res.outcome("theta_natural", m).explained > 0.99
        assert res.outcome("theta_logel", m).explained < 0.9
        for name in ("logel", "theta_logel"):
            assert res.outcome(name, m).value == default.outcome(name, m).value
    assert res.null("logel").p_value == default.null("logel").p_value
    assert 0 < res.null("theta_natural").p_value <= 1
    texts = [c.text for c in claims({"npg": [res]}, "smoke")]
    assert any("natural-gradient model beats plain LOGEL" in t for t in texts)
    assert not set(EXTRA_OBSERVERS) & set(OBSERVERS)
