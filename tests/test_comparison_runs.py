"""``logel run comparison_runs``: sealed per-learner folders of the gridworld comparison."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from logel import cli
from logel.artifacts import ArtifactError, verify
from logel.cli import main
from logel.experiments.comparison import ComparisonConfig, run_comparison
from logel.experiments.comparison_runs import (
    COMMAND,
    FRESH_METHODS,
    folder_config,
    load_folder,
    load_runs,
    regenerating_command,
    run_folder,
    setting_name,
    write_folder,
)

TINY = ["--learners", "svi", "--observed-steps", "2,3", "--n-trajectories", "10",
        "--seeds", "0-1"]
"""A tiny budget: one learner, two seeds, m = 2 and 3, 10 trajectories per step."""
CONFIG = ComparisonConfig(learner="svi", observed_steps=(2, 3), n_trajectories=10,
                          methods=FRESH_METHODS)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An artifact root holding the tiny run, written by the command."""
    out = tmp_path_factory.mktemp("runs")
    assert main(["run", "comparison_runs", *TINY, "--root", str(out)]) == 0
    return out


def _records(folder: Path) -> list[dict]:
    out = []
    for p in sorted((folder / "seeds").glob("seed_*.json")):
        record = json.loads(p.read_text())
        record.pop("seconds")
        out.append(record)
    return out


def test_command_writes_a_verifiable_folder_equal_to_a_direct_run(root: Path) -> None:
    folder = run_folder(CONFIG, [0, 1], root)
    assert folder == root / "comparison_runs" / "paper_seeds0-1" / "svi"
    manifest = verify(folder)
    assert manifest["config"] == folder_config(CONFIG, [0, 1]) and manifest["seeds"] == [0, 1]
    assert set(manifest["files"]) == {"README.md", "config.json", "counts.json",
                                      "seeds/seed_0.json", "seeds/seed_1.json"}
    assert regenerating_command(CONFIG, [0, 1]) in (folder / "README.md").read_text()
    for p in folder.rglob("*"):  # no machine path is stored
        if p.is_file():
            assert str(root) not in p.read_text()
    results, _ = load_folder(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = [run_comparison(CONFIG, s) for s in (0, 1)]
    for a, b in zip(results, direct, strict=True):
        assert a.config == b.config and a.seed == b.seed and a.outcomes == b.outcomes
        assert a.optimal_value == b.optimal_value and a.environment == b.environment
        np.testing.assert_array_equal(a.learner_returns, b.learner_returns)
    counts = json.loads((folder / "counts.json").read_text())
    assert counts["logel"] == {str(m): sum(r.outcome("logel", m).optimal for r in direct)
                               for m in (2, 3)}
    by_learner, manifests = load_runs("paper_seeds0-1", ("svi",), root)
    assert by_learner["svi"][1].outcomes == direct[1].outcomes and manifests["svi"] == manifest


def test_resumes_after_an_interruption(root: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(root, tmp_path / "copy")
    folder = run_folder(CONFIG, [0, 1], tmp_path / "copy")
    (folder / "manifest.json").unlink()  # interrupted after seed 0, before seed 1's file
    (folder / "manifest.sha256").unlink()
    (folder / "seeds" / "seed_1.json").unlink()
    capsys.readouterr()
    assert main(["run", "comparison_runs", *TINY, "--root", str(tmp_path / "copy")]) == 0
    assert "svi: 1 of 2 seeds to run" in capsys.readouterr().out
    verify(folder)
    assert _records(folder) == _records(run_folder(CONFIG, [0, 1], root))
    # a complete folder is left as it is
    before = (folder / "manifest.json").read_bytes()
    assert write_folder(CONFIG, [0, 1], folder) == folder
    assert (folder / "manifest.json").read_bytes() == before


def test_refuses_a_different_configuration(root: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(root, tmp_path / "copy")
    folder = run_folder(CONFIG, [0, 1], tmp_path / "copy")
    with pytest.raises(ArtifactError, match=r"another configuration \(n_trajectories: stored "
                                            r"10, asked 11\)"):
        write_folder(ComparisonConfig(learner="svi", observed_steps=(2, 3), n_trajectories=11,
                                      methods=FRESH_METHODS), [0, 1], folder)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "comparison_runs", *TINY[:-2], "--seeds", "0-1", "--methods", "logel",
              "--root", str(tmp_path / "copy")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("logel: error:") and "methods: stored" in err
    # an edited seed file is caught on load
    seed = folder / "seeds" / "seed_0.json"
    record = json.loads(seed.read_text())
    record["outcomes"][0]["optimal"] = not record["outcomes"][0]["optimal"]
    seed.write_text(json.dumps(record))
    with pytest.raises(ArtifactError, match="hash mismatch seeds/seed_0.json"):
        load_folder(folder)


@pytest.mark.parametrize(("argv", "option"), [
    (["--slip", "2"], "--slip"),
    (["--methods", "logel,irl"], "--methods"),
    (["--learners", "svi,svi"], "--learners"),
    (["--learners", "sarsa"], "--learners"),
    (["--observed-steps", "0,2"], "--observed-steps"),
    (["--n-trajectories", "0"], "--n-trajectories"),
    (["--seeds", "3-1"], "--seeds"),
])
def test_errors_name_the_argument(argv: list[str], option: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "comparison_runs", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("logel: error:") and option in err and "Traceback" not in err


def test_same_seed_twice_gives_identical_folders(root: Path, tmp_path: Path) -> None:
    again = write_folder(CONFIG, [0, 1], tmp_path / "again")
    first = run_folder(CONFIG, [0, 1], root)
    assert _records(again) == _records(first)
    for name in ("config.json", "counts.json"):
        assert (again / name).read_bytes() == (first / name).read_bytes()


def test_the_recorded_command_rebuilds_the_configuration() -> None:
    for config, seeds in ((CONFIG, [0, 1]), (ComparisonConfig(learner="spi", slip=0.3,
                                                               methods=("logel", "lfl")), [4, 7])):
        argv = regenerating_command(config, seeds).split()
        assert argv[:3] == ["logel", "run", "comparison_runs"]
        args = cli.build_parser("comparison_runs", COMMAND).parse_args(argv[3:])
        assert cli.build_config(COMMAND, args).configs() == {config.learner: config}
        assert args.seeds == seeds


def test_setting_names() -> None:
    assert setting_name("paper", 0.0, range(100, 120)) == "paper_seeds100-119"
    assert setting_name("consistent", 0.0, [0]) == "consistent_seeds0"
    assert setting_name("paper", 0.3, [0, 2, 5]) == "paper_slip0.3_seeds0_2_5"
    with pytest.raises(ValueError, match="seeds"):
        setting_name("paper", 0.0, [])
