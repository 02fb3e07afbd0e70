"""``logel reproduce mujoco_official``: chapter 8's verdicts from the committed paper-budget runs."""

from __future__ import annotations

import pytest

pytest.importorskip("mujoco")

from logel import artifacts  # noqa: E402
from logel.experiments import mujoco  # noqa: E402
from logel.experiments import mujoco_figures as mjf  # noqa: E402
from logel.reproduce import reproduce_mujoco_official  # noqa: E402


def test_claims_are_chapter_8s_on_the_committed_runs(tmp_path):
    report = reproduce_mujoco_official("book", 1, "loky", tmp_path)
    assert report.budget == "paper"  # the artifacts' budget, whatever --budget says
    expected = []
    for env in ("Reacher-v5", "Hopper-v5"):
        results = mujoco.load_results(env, "paper", parity="official")
        assert len(results) >= 2
        expected += [(c, f"{env} ({len(results)} seeds):")
                     for c in mjf.observer_claims(results, env).values()]
    assert [c.text for c in report.claims] == [
        e.text.replace(e.text.split(":")[0] + ":", prefix, 1) for e, prefix in expected]
    expected = [e for e, _ in expected]
    assert [c.verdict for c in report.claims] == [c.verdict for c in expected]
    assert {c.experiment for c in report.claims} == {"mujoco_official"}
    assert artifacts.is_complete(tmp_path)


def test_rows_off_the_proportion_scale_are_drawn_relative_to_their_threshold():
    from logel.reproduce import on_proportion_scale, relative_to_threshold
    prop = {"estimate": 0.9, "low": 0.7, "high": 0.97, "threshold": 0.5, "claim": ">"}
    ret = {"estimate": 700.0, "low": 380.0, "high": 1064.0, "threshold": 0.0, "claim": ">"}
    below = {"estimate": -10.0, "low": -19.0, "high": -2.0, "threshold": 0.0, "claim": "<"}
    assert on_proportion_scale(prop) and not on_proportion_scale(ret)
    est, low, high = relative_to_threshold(ret)
    assert (low, high) == (380 / 1064, 1.0) and 0 < low < est < high  # holds: all right of 0
    est, low, high = relative_to_threshold(below)  # '<' claims: the claimed side is positive
    assert (low, high) == (2 / 19, 1.0) and est == 10 / 19
    inf = {"estimate": 1.0, "low": -float("inf"), "high": 3.0, "threshold": 2.0, "claim": ">"}
    assert relative_to_threshold(inf) == (-1.0, -1.1, 1.0)


def test_beyond_gradient_claims_are_chapter_10s_on_the_committed_artifact(tmp_path):
    from logel.experiments import beyond_gradient as bg
    from logel.reproduce import reproduce_beyond_gradient
    report = reproduce_beyond_gradient("book", 1, "loky", tmp_path)
    results, _ = bg.load_results("paper")
    expected = bg.claims(results, "paper")
    assert report.budget == "paper" and len(report.claims) == len(expected) > 0
    assert [(c.text, c.verdict) for c in report.claims] == [(c.text, c.verdict) for c in expected]
    assert artifacts.is_complete(tmp_path)
