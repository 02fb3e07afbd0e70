"""Observers on the preconditioned LOGEL rewards (logel.experiments.mujoco_preconditioned_observers),
end to end at the smoke budget: the main run (with kept traces) and mujoco_preconditioned are
run into a temporary artifact root, then the observers."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from logel import artifacts
from logel.experiments import mujoco as mj
from logel.experiments import mujoco_preconditioned as mp
from logel.experiments import mujoco_preconditioned_observers as po
from logel.experiments.mujoco_calibration import observe

ENV = "Hopper-v5"
SEEDS = [0, 1]

pytestmark = pytest.mark.filterwarnings("ignore::logel.IdentifiabilityWarning")


@pytest.fixture(scope="module")
def smoke_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary artifact root with the smoke-budget main runs (paper's learner, no LfL),
    their kept traces, both observers' mujoco_preconditioned folders, and this experiment's
    folders (rewards from both thetas) for seeds 0 and 1."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("artifacts")
    main = mj.experiment_config(ENV, "smoke", parity="official", run_lfl=False)
    assert mj.run(main, SEEDS, root=root, trace_dir=root / "traces") == {0: "done", 1: "done"}
    for theta in mp.OBSERVERS:
        cfg = mp.experiment_settings(ENV, "smoke", observer=theta, n_directions=5, outer_iter=3)
        assert mp.run(cfg, SEEDS, root / "traces", root) == {0: "done", 1: "done"}
    cfg = po.experiment_settings(ENV, "smoke", thetas=("bc", "true"))
    assert po.run(cfg, SEEDS, root) == {0: "done", 1: "done"}
    return root


def _without_timings(result: dict) -> dict:
    return {name: {k: v for k, v in obs.items() if k != "seconds"}
            for name, obs in result.items()}


def test_smoke_run_writes_sealed_artifacts(smoke_tree: Path) -> None:
    cfg = po.experiment_settings(ENV, "smoke", thetas=("bc", "true"))
    results = po.load_results(ENV, "smoke", smoke_tree)
    assert sorted(results) == SEEDS == po.complete_seeds(ENV, "smoke", smoke_tree)
    assert po.complete_seeds(ENV, "paper", smoke_tree) == []
    assert po.check_provenance(ENV, "smoke", smoke_tree) == SEEDS
    assert po.check_provenance(ENV, "paper", smoke_tree) == []
    for seed in SEEDS:
        folder = po.output_dir(ENV, "smoke", seed, smoke_tree)
        assert folder == smoke_tree / "mujoco_preconditioned_observers_smoke" / ENV / f"seed_{seed}"
        assert (folder / "manifest.sha256").is_file()
        manifest = artifacts.verify(folder)
        assert manifest["observer_seed"] == 10_000 + seed
        assert manifest["config"] == po.config_dict(cfg, seed)
        assert set(results[seed]) == {"bc/diagonal", "bc/adam", "true/diagonal", "true/adam"}
        for theta in mp.OBSERVERS:
            src = po.source_dir(cfg, theta, seed, smoke_tree)
            # the source is named relative to the artifact root: no machine's path in artifacts
            assert results[seed][f"{theta}/adam"]["source"] == src.relative_to(smoke_tree).as_posix()
            assert manifest["sources"][f"{theta}/adam"] == artifacts.manifest_digest(
                artifacts.read_manifest(src))
            models = artifacts.load(src)["preconditioned"]["observers"][theta]["models"]
            for model in po.MODELS:  # each observer trained on its model's recovered reward
                obs = results[seed][po.agent_name(theta, model)]
                assert obs["weights"] == models[model]["weights"]
                assert (obs["thetas"], obs["model"]) == (theta, model)
                assert len(obs["curve"]) == mj.MUJOCO_BUDGETS["smoke"].observer_updates


def test_observer_is_the_main_runs(smoke_tree: Path) -> None:
    """The observer (configuration and seed 10_000 + k) is the main run's: on the main run's
    LOGEL weights it repeats the main run's LOGEL observer exactly, so the pairing by seed
    compares rewards only."""
    main = mj.load_results(ENV, "smoke", smoke_tree, parity="official")
    cfg = po.experiment_settings(ENV, "smoke")
    stored = dict(main[0]["config"]["observer"])
    ours = po.config_dict(cfg, 0)["observer"]
    assert ours.pop("seed") == 10_000 and stored.pop("seed") == 0
    assert ours == stored
    again = observe(np.asarray(main[0]["logel"]["weights"]), po.observer_config(cfg, 0))
    np.testing.assert_array_equal(np.asarray(again["curve"], dtype=float),
                                  main[0]["observer_logel"]["curve"])


def test_same_seed_same_result_and_resumable(smoke_tree: Path, tmp_path: Path) -> None:
    cfg = po.experiment_settings(ENV, "smoke", thetas=("bc", "true"))
    first = po.load_results(ENV, "smoke", smoke_tree)[0]
    # complete seeds are skipped, unless forced
    assert po.run(cfg, SEEDS, smoke_tree) == {0: "skipped", 1: "skipped"}
    with pytest.raises(RuntimeError, match="different configuration"):
        po.run(replace(cfg, models=("adam",)), [0], smoke_tree)
    # the same seed into another root (sources read from the first): identical numbers
    assert po.run(cfg, [0], tmp_path, source_root=smoke_tree) == {0: "done"}
    again = po.load_results(ENV, "smoke", tmp_path)[0]
    assert _without_timings(again) == _without_timings(first)
    # an interrupted seed (no manifest) is not complete and is redone
    folder = po.output_dir(ENV, "smoke", 0, tmp_path)
    (folder / "manifest.json").unlink()
    assert po.complete_seeds(ENV, "smoke", tmp_path) == []
    assert po.run(cfg, [0], tmp_path, source_root=smoke_tree) == {0: "done"}
    assert _without_timings(po.load_results(ENV, "smoke", tmp_path)[0]) == _without_timings(first)


def test_summary_and_claims_beside_the_main_runs(smoke_tree: Path) -> None:
    main = mj.load_results(ENV, "smoke", smoke_tree, parity="official")
    merged = po.merge(main, po.load_results(ENV, "smoke", smoke_tree))
    assert sorted(merged) == SEEDS
    assert po.agents(merged) == tuple(po.PREFIX + a for a in
                                      ("bc/diagonal", "bc/adam", "true/diagonal", "true/adam"))
    for seed in SEEDS:  # the main run's agents are kept beside the new ones
        assert {"learner", "observer_logel"} <= set(merged[seed])
        np.testing.assert_array_equal(merged[seed][po.PREFIX + "bc/adam"]["episode_length"],
                                      po.load_results(ENV, "smoke", smoke_tree)[seed]
                                      ["bc/adam"]["episode_stats"]["length"])
    table = po.summary_table(merged, ENV)
    assert "plain LOGEL observer" in table and "Adam model (cloned θ̂) observer" in table
    assert table.count("\n") == 2 + 4 + 1  # header, rule; learner, plain and four observers
    claims = po.claims(merged, ENV, n_resamples=200)
    assert len(claims) == 4 * 3
    reach = claims["reaches_bc_adam"]
    assert reach.threshold == 0.9 and "reaches the learner" in reach.text
    assert "beats the plain LOGEL observer" in claims["beats_plain_true_diagonal"].text
    assert all(c.verdict in ("holds", "fails", "inconclusive") for c in claims.values())
    one = po.claims({0: merged[0]}, ENV, n_resamples=200)  # one seed: nothing decided
    assert {c.verdict for c in one.values()} == {"inconclusive"}


def test_missing_sources_are_named(smoke_tree: Path, tmp_path: Path) -> None:
    cfg = po.experiment_settings(ENV, "smoke")
    folder = po.source_dir(cfg, "bc", 5, smoke_tree)
    with pytest.raises(artifacts.ArtifactError, match=str(folder)) as err:
        po.run(cfg, [0, 5], tmp_path, source_root=smoke_tree)
    assert "seed_0" not in str(err.value)
    assert not (tmp_path / "mujoco_preconditioned_observers_smoke").exists()  # nothing trained
    # a source folder that does not verify is named too
    copy = tmp_path / "src"
    src = po.source_dir(cfg, "bc", 0, smoke_tree)
    dst = po.source_dir(cfg, "bc", 0, copy)
    dst.parent.mkdir(parents=True)
    (dst).mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    data = json.loads((dst / "preconditioned.json").read_text())
    data["seed"] = 99
    (dst / "preconditioned.json").write_text(json.dumps(data))
    with pytest.raises(artifacts.ArtifactError, match=str(dst)):
        po.run(cfg, [0], tmp_path, source_root=copy)
    with pytest.raises(artifacts.ArtifactError, match="no such results folder"):
        po.load_results(ENV, "paper", tmp_path)


def test_bad_configuration_is_named() -> None:
    with pytest.raises(ValueError, match="PreconditionedObserversConfig.thetas"):
        po.experiment_settings(ENV, "smoke", thetas=("cloned",))
    with pytest.raises(ValueError, match="PreconditionedObserversConfig.models"):
        po.experiment_settings(ENV, "smoke", models=("plain",))
    with pytest.raises(ValueError, match="twice"):
        po.experiment_settings(ENV, "smoke", models=("adam", "adam"))
    with pytest.raises(ValueError, match="PreconditionedObserversConfig.source_budget"):
        po.experiment_settings(ENV, "smoke", source_budget="huge")
    with pytest.raises(ValueError, match="observer.env_id"):
        po.experiment_settings(ENV, "smoke", observer=mj.experiment_config(
            "Reacher-v5", "smoke").observer)
    cfg = po.experiment_settings(ENV, "smoke")
    assert asdict(cfg.observer) == asdict(mj.experiment_config(ENV, "smoke").observer)
    assert cfg.thetas == ("bc",) and cfg.models == ("diagonal", "adam")
    assert set(po.THETAS) == set(mp.OBSERVERS) and set(po.MODELS) == set(mp.MODELS) - {"plain"}


def test_command_line(smoke_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--env", ENV, "--budget", "smoke", "--root", str(smoke_tree),
            "--thetas", "bc,true", "--seeds", "0-1"]
    assert po.main(argv) == 0  # complete: skipped
    with pytest.raises(SystemExit) as exc:
        po.main(["--env", ENV, "--budget", "smoke", "--root", str(smoke_tree), "--seeds", "7"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "bc_theta/seed_7" in err
    with pytest.raises(SystemExit) as exc:
        po.main(["--models", "plain"])
    assert exc.value.code == 2 and "--models" in capsys.readouterr().err
    assert po.paper_command("Reacher-v5", range(8)).endswith(
        "logel run mujoco_preconditioned_observers --env Reacher-v5 --seeds 0-7")


def test_provenance_names_rewritten_sources(smoke_tree: Path, tmp_path: Path) -> None:
    """Observers whose source folder was rewritten since (another digest) are refused."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(smoke_tree, copy)
    cfg = mp.experiment_settings(ENV, "smoke", observer="bc", n_directions=5, outer_iter=3)
    assert mp.run(cfg, [1], copy / "traces", copy, force=True) == {1: "done"}
    with pytest.raises(artifacts.ArtifactError, match="seed_1: bc/diagonal's source") as err:
        po.check_provenance(ENV, "smoke", copy)
    assert "seed_0" not in str(err.value)
