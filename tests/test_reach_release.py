"""Citable and released (issue 18, item 5): CITATION.cff names this work and the paper it
reproduces, .zenodo.json agrees with it, and the release workflow attaches the built HTML, the
artifacts and a SHA-256 list."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]


def test_citation_names_this_work_and_the_reproduced_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["title"] and cff["authors"] and cff["message"]
    paper = cff["references"][0]
    assert paper["title"] == "Inverse Reinforcement Learning from a Gradient-based Learner"
    assert [a["family-names"] for a in paper["authors"]] == ["Ramponi", "Drappo", "Restelli"]
    assert paper["year"] == 2020 and "2007.07812" in paper["url"]


def test_versions_agree_and_zenodo_points_at_the_paper():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["version"]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    zenodo = json.loads((ROOT / ".zenodo.json").read_text(encoding="utf-8"))
    assert str(cff["version"]) == zenodo["version"] == version
    assert zenodo["upload_type"] == "software" and zenodo["license"] == cff["license"]
    assert any(r["identifier"] == "arXiv:2007.07812" for r in zenodo["related_identifiers"])


def test_the_release_workflow_attaches_html_artifacts_and_checksums():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text(
        encoding="utf-8"))
    assert wf[True]["push"]["tags"] == ["v*"]  # YAML reads the `on` key as True
    script = "\n".join(step.get("run", "") for step in wf["jobs"]["release"]["steps"])
    for needle in ("make book", "-html.tar.gz", "HEAD artifacts", "sha256sum",
                   "SHA256SUMS", "gh release create"):
        assert needle in script, needle
