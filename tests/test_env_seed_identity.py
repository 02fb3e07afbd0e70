"""The faster env-seed gives the same numbers as before, bit for bit (issue 13, item 2).

``tests/data/env_seed_fixture.json`` pins every output of four smoke-budget env-seeds (learner
trace, learner and observer curves and episode statistics, LOGEL's weights, LfL's reward
network and losses) as computed by the code at ce0535c, before the speed-ups of item 2; it was
produced by ``tests/make_env_seed_fixture.py`` run against a git worktree of that commit (see
the script). Each case here recomputes the same digest with the current code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

from make_env_seed_fixture import CASES, env_seed_digest  # noqa: E402

pytestmark = pytest.mark.mujoco

FIXTURE = Path(__file__).resolve().parent / "data" / "env_seed_fixture.json"


@pytest.mark.parametrize("name", sorted(CASES))
def test_env_seed_bit_identical_to_pinned(name: str) -> None:
    pinned = json.loads(FIXTURE.read_text())["cases"][name]
    case = {k: v for k, v in pinned.items() if k != "digest"}
    assert case == CASES[name]
    digest = env_seed_digest(**case)
    expected = pinned["digest"]
    assert sorted(digest) == sorted(expected)
    differ = [k for k in expected if k != "readable" and digest[k] != expected[k]]
    assert not differ, f"{name}: outputs differ from the pinned ones: {differ}"
    assert digest["readable"] == expected["readable"]


def test_pipelined_layout_bit_identical_to_pinned() -> None:
    """The parallel layout (LfL cloning while the learner trains, in its own process; LOGEL in
    a worker) gives the pinned one-process numbers."""
    name = "Hopper-v5 official"
    pinned = json.loads(FIXTURE.read_text())["cases"][name]
    case = {k: v for k, v in pinned.items() if k != "digest"}
    digest = env_seed_digest(**case, parallel=True)
    differ = [k for k in pinned["digest"] if digest[k] != pinned["digest"][k]]
    assert not differ, f"{name}, parallel layout: outputs differ from the pinned ones: {differ}"
