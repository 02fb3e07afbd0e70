"""``logel verify`` (issue 18, item 4): one line per committed artifact and per key-number
rerun, status 1 on any mismatch."""

from __future__ import annotations

from logel import artifacts, cli
from logel import verify as vf


def _folder(root, name):
    folder = root / name
    folder.mkdir(parents=True)
    artifacts.save_json(folder / "numbers.json", {"x": 1})
    artifacts.write_manifest(folder, config={"a": 1}, seeds=[0], wall_time_seconds=0.0)
    return folder


def test_each_artifact_gets_one_line_and_a_modified_file_fails(tmp_path, capsys):
    good = _folder(tmp_path, "mujoco/Hopper-v5/seed_0")
    bad = _folder(tmp_path, "other/seed_1")
    assert vf.artifact_folders(tmp_path) == [good, bad]
    assert vf.command(tmp_path, rerun=False) == 0
    (bad / "numbers.json").write_text('{"x": 2}', encoding="utf-8")
    assert vf.command(tmp_path, rerun=False) == 1
    lines = capsys.readouterr().out.splitlines()[-3:]
    assert lines[0].startswith("ok   artifact mujoco/Hopper-v5/seed_0 [08_mujoco]")
    assert lines[1].startswith("FAIL artifact other/seed_1:") and "hash mismatch" in lines[1]
    assert lines[2] == "1 of 2 checks passed"


def test_no_artifacts_is_a_failure(tmp_path):
    checks = vf.verify_all(tmp_path, rerun=False)
    assert len(checks) == 1 and not checks[0].ok


def test_reruns_compare_hashed_key_numbers(monkeypatch):
    numbers = {"optimal": {"5": 3}, "weight_error": {"5": [0.0]}}
    assert vf.key_hash(numbers) == vf.key_hash(dict(reversed(numbers.items())))
    monkeypatch.setattr(vf, "KEY_CHECKS", {"exact": lambda: numbers, "toy": lambda: numbers})
    monkeypatch.setattr(vf, "KEY_HASHES", {"exact": vf.key_hash(numbers), "toy": "0" * 64})
    ok, bad = vf.rerun_key_numbers()
    assert ok.ok and ok.chapter == "04_exact_gradient"
    assert not bad.ok and vf.key_hash(numbers) in bad.message


def test_every_rerun_has_a_recorded_hash():
    assert set(vf.KEY_HASHES) == set(vf.KEY_CHECKS)
    assert all(len(h) == 64 for h in vf.KEY_HASHES.values())


def test_the_command_line_runs_it(tmp_path, monkeypatch, capsys):
    _folder(tmp_path, "a/seed_0")
    monkeypatch.setenv("LOGEL_ARTIFACTS", str(tmp_path))
    assert cli.main(["verify", "--no-rerun"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 of 1 checks passed"
    try:
        status = cli.main(["verify", "--bogus"])
    except SystemExit as stop:  # argparse's usage error
        status = stop.code
    assert status == 2


def test_chapter_table_counts_checks_per_chapter():
    checks = [vf.Check("artifact", "mujoco/a", True, "", "08_mujoco"),
              vf.Check("artifact", "mujoco/b", False, "", "08_mujoco"),
              vf.Check("rerun", "exact", True, "", "04_exact_gradient")]
    table = vf.chapter_table(checks)
    assert "| 04_exact_gradient | - | 1 / 1 | ok |" in table
    assert "| 08_mujoco | 1 / 2 | - | FAIL |" in table
