"""E2 and E3: learner variants and the premise measured at their true parameters."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

from logel import artifacts  # noqa: E402
from logel.experiments import mujoco_learners as ml  # noqa: E402
from logel.experiments.mujoco import ppo_config  # noqa: E402
from logel.learners.ppo import SB3_HEAD_GAIN, build_model, make_vec_env  # noqa: E402

pytestmark = pytest.mark.mujoco


def test_rungs_and_cells_change_only_what_they_name():
    base = ppo_config("paper", env_id="Hopper-v5", parity="official")
    sgd = ml.variant_config(base, ml.RUNGS["sgd, full batch, 1 epoch"])
    assert sgd.optimizer == "sgd" and sgd.batch_size == 32000 and sgd.n_epochs == 1
    assert ml.variant_config(base, ml.RUNGS["+ decay (the paper's PPO)"]) == base
    cell = ml.variant_config(base, ml.FACTORIAL["gain 0.01, raw"])
    assert cell.head_gain_used() == SB3_HEAD_GAIN and cell.raw_control_used()
    assert ml.variant_config(base, ml.FACTORIAL["gain 1, raw (the paper's)"]).head_gain_used() \
        == base.head_gain_used()


def test_head_gain_and_optimizer_reach_the_model():
    base = ppo_config("smoke", env_id="Hopper-v5", parity="official")
    venv = make_vec_env(base)
    small = build_model(ml.variant_config(base, ml.FACTORIAL["gain 0.01, clipped"]), venv)
    large = build_model(base, venv)
    w_small = small.policy.action_net.weight.detach().numpy()
    w_large = large.policy.action_net.weight.detach().numpy()
    np.testing.assert_allclose(w_large, w_small * 100, rtol=1e-5)  # same draw, other gain
    sgd = build_model(ml.variant_config(base, ml.RUNGS["sgd, full batch, 1 epoch"]), venv)
    assert type(sgd.policy.optimizer).__name__ == "SGD"


def test_ladder_smoke_run_writes_verified_artifacts(tmp_path):
    assert ml.run("ladder", "Reacher-v5", [0], "smoke", tmp_path) == {0: "done"}
    res = ml.load_results("ladder", "Reacher-v5", "smoke", tmp_path)[0]
    assert set(res["variants"]) == set(ml.RUNGS)  # JSON keys come back sorted
    for v in res["variants"].values():
        assert len(v["step_cosine_ref"]) == len(v["steps"]) - 1
        assert v["explained_motion_ref"] <= 1.0
        assert "length" in v["learner_episode_stats"]
    assert artifacts.is_complete(ml.output_dir("ladder", "Reacher-v5", "smoke", 0, tmp_path))
    assert ml.run("ladder", "Reacher-v5", [0], "smoke", tmp_path) == {0: "skipped"}


def test_calibration_rewards_and_smoke_run(tmp_path):
    from logel.experiments import mujoco_calibration as cal

    hopper = cal.calibration_rewards("Hopper-v5", 0)
    assert set(hopper) == {"zero", "random", "control only", "alive only"}
    np.testing.assert_array_equal(hopper["alive only"], [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(hopper["control only"], [0.0, 0.0, -1.0])
    assert np.linalg.norm(hopper["random"]) == pytest.approx(1.0)
    assert not np.array_equal(hopper["random"], cal.calibration_rewards("Hopper-v5", 1)["random"])
    assert set(cal.calibration_rewards("Reacher-v5", 0)) == {"zero", "random", "control only"}
    assert cal.run("Reacher-v5", [0], "smoke", tmp_path) == {0: "done"}
    res = cal.load_results("Reacher-v5", "smoke", tmp_path)[0]
    for obs in res.values():
        assert len(obs["curve"]) == 3
        assert {"length", "final_distance", "reward_ctrl", "reward_dist"} <= set(
            obs["episode_stats"])
