"""The ``logel`` console script: ``logel reproduce`` writes artifacts and reports claims."""

import json

import pytest

import logel.reproduce as rep
from logel import artifacts
from logel.cli import main


def test_reproduce_smoke_writes_verified_artifacts(tmp_path, capsys):
    assert main(["reproduce", "exact", "theory", "--budget", "smoke", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "passed" in out and "IdentifiabilityWarning fires exactly" in out
    for name in ("exact", "theory"):
        d = tmp_path / "reproduce_smoke" / name
        manifest = artifacts.verify(d)
        assert "figure.png" in manifest["files"] and "claims.json" in manifest["files"]
        claims = json.loads((d / "claims.json").read_text())
        assert all(c["passed"] in (True, None) for c in claims)


def test_a_failing_claim_gives_a_non_zero_exit(tmp_path, monkeypatch, capsys):
    def failing(budget, n_jobs, backend, out, progress=False):
        return rep._finish(out, "exact", budget, 0.0,
                           [rep.Claim("exact", "always fails", False, "by construction")],
                           {}, [])

    monkeypatch.setitem(rep.EXPERIMENTS, "exact", failing)
    assert main(["reproduce", "exact", "--out", str(tmp_path), "--no-progress"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_bad_arguments():
    with pytest.raises(SystemExit):
        main(["reproduce", "nonsense"])
    with pytest.raises(SystemExit):
        main(["reproduce", "exact", "--budget", "huge"])
    assert main(["reproduce", "exact", "--n-jobs", "0"]) == 2
    with pytest.raises(ValueError, match="unknown experiment"):
        rep.reproduce(["nope"], "smoke")
