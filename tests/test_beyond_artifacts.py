"""The beyond-gradient artifact: writer -> verified loader round trip at the smoke budget."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from logel.artifacts import ArtifactError, verify
from logel.experiments.beyond_gradient import (
    alignment_rows,
    artifact_config,
    budget_setup,
    claims,
    load_artifact,
    load_results,
    recovery_rows,
    run_beyond,
    write_artifact,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke-budget artifact of one learner."""
    return write_artifact("smoke", tmp_path_factory.mktemp("art") / "smoke", learners=("sgd",))


def test_round_trip_equals_a_direct_run(folder: Path) -> None:
    verify(folder)
    results, manifest = load_artifact(folder)
    assert manifest["config"] == artifact_config("smoke", ("sgd",))
    seeds, configs = budget_setup("smoke")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = [run_beyond(configs["sgd"], s) for s in seeds]
    loaded = results["sgd"]
    assert [r.seed for r in loaded] == seeds
    for a, b in zip(loaded, direct, strict=True):
        assert a.config == b.config and a.optimal_value == b.optimal_value
        assert a.outcomes == b.outcomes and a.nulls == b.nulls
        np.testing.assert_array_equal(a.learner_values, b.learner_values)
        for x, y in zip(a.alignment, b.alignment, strict=True):
            assert (x.jacobians, x.explained, x.mean_cosine) == \
                (y.jacobians, y.explained, y.mean_cosine)
            np.testing.assert_array_equal(x.cosines, y.cosines)
    assert alignment_rows(results) == alignment_rows({"sgd": direct})
    assert recovery_rows(results, 5) == recovery_rows({"sgd": direct}, 5)
    stored = json.loads((folder / "claims.json").read_text())
    assert [c["verdict"] for c in stored] == [c.verdict for c in claims(results, "smoke")]
    # a complete folder is returned as is; by budget under a root
    assert write_artifact("smoke", folder, learners=("sgd",)) == folder
    with pytest.raises(ArtifactError, match="no such artifact folder"):
        load_results("smoke", folder.parent / "elsewhere")


def test_resume_and_refusals(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "smoke"
    for p in folder.rglob("*"):
        if p.is_file():
            (copy / p.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            (copy / p.relative_to(folder)).write_bytes(p.read_bytes())
    (copy / "manifest.json").unlink()  # interrupted before the manifest: resumes, runs nothing
    assert write_artifact("smoke", copy, learners=("sgd",)) == copy
    assert load_artifact(copy)[0]["sgd"][0].outcomes == load_artifact(folder)[0]["sgd"][0].outcomes
    with pytest.raises(ArtifactError, match="another configuration"):
        write_artifact("smoke", copy, learners=("sgd", "adam"))
    run = copy / "runs" / "sgd" / "seed_0.json"
    record = json.loads(run.read_text())
    record["outcomes"][0]["optimal"] = not record["outcomes"][0]["optimal"]
    run.write_text(json.dumps(record))
    with pytest.raises(ArtifactError, match="hash mismatch runs/sgd/seed_0.json"):
        load_artifact(copy)
