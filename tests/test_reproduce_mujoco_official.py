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
        expected += list(mjf.observer_claims(results, env).values())
    assert [c.text for c in report.claims] == [c.text for c in expected]
    assert [c.verdict for c in report.claims] == [c.verdict for c in expected]
    assert {c.experiment for c in report.claims} == {"mujoco_official"}
    assert artifacts.is_complete(tmp_path)
