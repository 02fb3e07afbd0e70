"""E2 and E3: learner variants and the premise measured at their true parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

from logel import artifacts  # noqa: E402
from logel.experiments import mujoco_learners as ml  # noqa: E402
from logel.experiments.mujoco import ppo_config, same_learner  # noqa: E402
from logel.learners.ppo import SB3_HEAD_GAIN, build_model, make_vec_env  # noqa: E402
from logel.traces import LearnerTrace  # noqa: E402

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


def _without_seconds(result: dict) -> dict:
    """A ladder result without its timings (the only part a rerun may change)."""
    return {name: {k: v for k, v in variant.items() if k != "seconds"}
            for name, variant in result["variants"].items()}


def test_variant_selection_and_trace_names():
    assert ml.variant_slug("+ Adam") == "adam"
    assert ml.variant_slug("sgd, full batch, 1 epoch") == "sgd-full-batch-1-epoch"
    assert list(ml.variant_slugs("ladder").values()) == list(ml.RUNGS)
    assert ml.select_variants("ladder") == tuple(ml.RUNGS)
    # the experiment's order, whatever the order asked
    assert ml.select_variants("ladder", ("adam", "sgd-full-batch-1-epoch")) == (
        "sgd, full batch, 1 epoch", "+ Adam")
    assert ml.trace_name("ladder", "Reacher-v5", "paper", "+ Adam", 3) == \
        "Reacher-v5_paper_ladder-adam_seed3.npz"
    full = ml.output_dir("ladder", "Reacher-v5", "paper", 0, Path("r"))
    assert full == ml.output_dir("ladder", "Reacher-v5", "paper", 0, Path("r"), ml.RUNGS)
    subset = ml.output_dir("ladder", "Reacher-v5", "paper", 0, Path("r"), ["+ Adam"])
    assert subset == Path("r/mujoco_ladder_subset/Reacher-v5/adam/seed_0")


def test_bad_variants_and_trace_dir_are_named(tmp_path):
    with pytest.raises(ValueError, match="variants: unknown ladder variant 'sgd'"):
        ml.select_variants("ladder", ("sgd",))
    with pytest.raises(ValueError, match="variants names a variant twice"):
        ml.select_variants("ladder", ("adam", "adam"))
    with pytest.raises(ValueError, match="LearnersCommand.variants"):
        ml.LearnersCommand(experiment="ladder", variants=("gain-1-clipped",))
    with pytest.raises(ValueError, match="LearnersCommand.trace_dir"):
        ml.LearnersCommand(experiment="ladder", trace_dir=tmp_path / "absent")
    with pytest.raises(SystemExit) as err:
        ml.main(["--experiment", "ladder", "--rungs", "adam,foo", "--budget", "smoke"])
    assert err.value.code == 2


def test_kept_traces_leave_the_ladder_unchanged(tmp_path):
    """Keeping (and then reusing) the rungs' traces gives the same results as not keeping
    them; a subset of rungs is written to its own, verifiable folder."""
    rungs = ("sgd, full batch, 1 epoch", "+ Adam")
    plain = ml.run_seed("ladder", "Reacher-v5", "smoke", 0, variants=rungs)
    traces = tmp_path / "traces"
    kept = ml.run_seed("ladder", "Reacher-v5", "smoke", 0, trace_dir=traces, variants=rungs)
    assert _without_seconds(kept) == _without_seconds(plain)
    for name in rungs:
        trace = LearnerTrace.load(traces / ml.trace_name("ladder", "Reacher-v5", "smoke", name,
                                                         0))
        learner = ml.variant_config(ml.seed_learner("Reacher-v5", "smoke", 0), ml.RUNGS[name])
        assert same_learner(trace.metadata["config"], learner)
    stamps = {p.name: p.stat().st_mtime_ns for p in traces.iterdir()}
    reused = ml.run_seed("ladder", "Reacher-v5", "smoke", 0, trace_dir=traces, variants=rungs)
    assert _without_seconds(reused) == _without_seconds(plain)
    assert {p.name: p.stat().st_mtime_ns for p in traces.iterdir()} == stamps  # not retrained

    root = tmp_path / "artifacts"
    assert ml.run("ladder", "Reacher-v5", [0], "smoke", root, trace_dir=traces,
                  variants=rungs) == {0: "done"}
    out = ml.output_dir("ladder", "Reacher-v5", "smoke", 0, root, rungs)
    assert out.parent.name == "sgd-full-batch-1-epoch_adam"
    assert not ml.output_dir("ladder", "Reacher-v5", "smoke", 0, root).exists()
    manifest = artifacts.verify(out)
    assert manifest["config"] == ml.config_dict("ladder", "Reacher-v5", "smoke", 0, rungs)
    assert set(manifest["config"]["learners"]) == set(rungs)
    assert manifest["trace_sha256"] == {
        n: artifacts.sha256_file(traces / n) for n in
        (ml.trace_name("ladder", "Reacher-v5", "smoke", r, 0) for r in rungs)}
    assert not any(str(tmp_path) in v for v in manifest["trace_sha256"])  # names, no paths
    stored = ml.load_results("ladder", "Reacher-v5", "smoke", root, rungs)[0]
    assert _without_seconds(stored) == _without_seconds(
        {"variants": artifacts.jsonable(plain["variants"])})
    assert ml.run("ladder", "Reacher-v5", [0], "smoke", root, variants=rungs) == {0: "skipped"}


def test_a_complete_folder_of_another_configuration_is_refused(tmp_path, monkeypatch):
    assert ml.run("ladder", "Reacher-v5", [0], "smoke", tmp_path,
                  variants=["+ Adam"]) == {0: "done"}
    monkeypatch.setattr(ml, "VERSION", "v-other")
    with pytest.raises(RuntimeError, match="different configuration"):
        ml.run("ladder", "Reacher-v5", [0], "smoke", tmp_path, variants=["+ Adam"])


def test_committed_ladder_and_factorial_match_the_current_configuration():
    """Every committed E2/E3 folder verifies and was written with today's configuration, so
    that ``run`` skips it (the trace option changed no result)."""
    checked = 0
    for experiment in ml.EXPERIMENTS:
        for env in ("Reacher-v5", "Hopper-v5"):
            base = ml.output_dir(experiment, env, "paper", 0).parent
            if not base.is_dir():
                continue
            for seed, folder in artifacts.seed_folders(base).items():
                manifest = artifacts.verify(folder)
                assert manifest["config"] == ml.config_dict(experiment, env, "paper", seed), \
                    folder
                checked += 1
    if not checked:
        pytest.skip("no committed mujoco_ladder / mujoco_factorial artifacts")


def test_preconditioned_models_on_a_kept_rung_trace(tmp_path):
    """End to end at the smoke budget: the ladder keeps the '+ Adam' rung's trace, the
    preconditioned observer reads it (one Adam step per update) into its own folder."""
    from logel.experiments import mujoco_preconditioned as mp

    traces = tmp_path / "traces"
    traces.mkdir()
    ml.run_seed("ladder", "Reacher-v5", "smoke", 0, trace_dir=traces, variants=["+ Adam"])
    cfg = mp.experiment_settings("Reacher-v5", "smoke", rung="adam", n_directions=5,
                                 outer_iter=3)
    root = tmp_path / "artifacts"
    assert mp.run(cfg, [0, 1], traces, root) == {0: "done", 1: "missing trace"}
    out = mp.output_dir(cfg, 0, root)
    assert out.parts[-4:] == ("Reacher-v5", "ladder_adam", "true_theta", "seed_0")
    manifest = artifacts.verify(out)
    assert manifest["rung"] == "+ Adam" and manifest["adam_steps_per_update"] == 1
    res = mp.load_results("Reacher-v5", "smoke", root, observers=("true",), rung="adam")[0]
    assert res["adam_steps_per_update"] == 1 and res["update_betas"] == [0.9, 0.999]
    assert res["learner_optimizer"] == "adam"
