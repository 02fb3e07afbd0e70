"""``logel verify``: check every committed artifact, and rerun a cheap subset of key numbers.

Two kinds of check, one line each:

* **artifact**: every committed artifact folder (a ``manifest.json`` tracked by git under the
  artifact root, :func:`logel.artifacts.artifact_root`) is checked with
  :func:`logel.artifacts.verify`: the manifest against its digest and every listed file against
  its SHA-256;
* **rerun**: a few cheap experiments (the gridworld's exact and approximate settings at the
  ``smoke`` budget, seconds each) are rerun, and their key numbers -- optimal-seed counts per
  observed step and rounded weight errors -- must hash to the SHA-256 recorded in
  :data:`KEY_HASHES`. Numbers are rounded before hashing: bitwise reproducibility across
  platforms and library versions is not promised, agreement to the printed digits is.

A mismatch makes the command exit with status 1. When a deliberate change of the code changes
a key number, the mismatch line prints the new numbers and their hash: update
:data:`KEY_HASHES` in the same commit.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logel import artifacts

__all__ = ["CHAPTERS", "KEY_CHECKS", "KEY_HASHES", "Check", "artifact_folders", "chapter_table",
           "command", "key_hash", "rerun_key_numbers", "verify_all", "verify_artifacts"]


@dataclass(frozen=True)
class Check:
    """One line of ``logel verify``.

    Attributes:
        kind: ``"artifact"`` or ``"rerun"``.
        name: the artifact folder (relative to the artifact root) or the rerun's name.
        ok: whether it passed.
        message: what was checked, or what did not match.
        chapter: the book chapter that uses it (``""`` if none).
    """

    kind: str
    name: str
    ok: bool
    message: str
    chapter: str = ""

    def line(self) -> str:
        """The printed line."""
        where = f" [{self.chapter}]" if self.chapter else ""
        return f"{'ok  ' if self.ok else 'FAIL'} {self.kind:<8s} {self.name}{where}: {self.message}"


CHAPTERS: dict[str, str] = {
    "mujoco": "08_mujoco",
    "comparison_runs": "07_gridworld_learners",
    "beyond_gradient": "10_when_logel_works",
    "exact": "04_exact_gradient",
    "approximate": "05_approximate_gradient",
}
"""Book chapter of each artifact family (first path component, prefix ``mujoco``) and rerun."""


def _chapter(name: str) -> str:
    head = name.split("/", 1)[0]
    return next((ch for key, ch in CHAPTERS.items() if head == key or
                 head.startswith(f"{key}_")), "")


def artifact_folders(root: Path | None = None) -> list[Path]:
    """The committed artifact folders under ``root`` (default: the artifact root): folders
    whose ``manifest.json`` git tracks, or every folder with one if ``root`` is not in a git
    checkout."""
    root = Path(root) if root is not None else artifacts.artifact_root()
    if not root.is_dir():
        return []
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--", f"*{artifacts.MANIFEST}"],
                             cwd=root, check=True, capture_output=True).stdout.decode()
        folders = {(root / p).parent for p in out.split("\0") if p}
    except (OSError, subprocess.CalledProcessError):
        folders = {p.parent for p in root.rglob(artifacts.MANIFEST)}
    return sorted(folders)


def verify_artifacts(folders: list[Path], root: Path | None = None) -> list[Check]:
    """One :class:`Check` per folder (:func:`logel.artifacts.verify`); never raises."""
    root = Path(root) if root is not None else artifacts.artifact_root()
    checks = []
    for folder in folders:
        try:
            name = folder.relative_to(root).as_posix()
        except ValueError:
            name = folder.as_posix()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", artifacts.MissingDigestWarning)
                manifest = artifacts.verify(folder)
            note = "; no manifest digest (logel artifacts seal)" if caught else ""
            checks.append(Check("artifact", name, True,
                                f"{len(manifest['files'])} files match the manifest{note}",
                                _chapter(name)))
        except artifacts.ArtifactError as err:
            checks.append(Check("artifact", name, False, str(err), _chapter(name)))
    return checks


def key_hash(numbers: Any) -> str:
    """SHA-256 of the canonical JSON of ``numbers`` (sorted keys, no whitespace)."""
    text = json.dumps(numbers, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _gridworld_numbers(setting: str) -> dict[str, Any]:
    from logel.experiments import gridworld

    seeds, cfg = gridworld.budget_setup(setting, "smoke")  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = [gridworld.run(cfg, s) for s in seeds]
    ms = list(cfg.observed_steps)
    return {
        "seeds": seeds,
        "optimal": {str(m): int(sum(r.outcome(m).optimal for r in results)) for m in ms},
        "weight_error": {str(m): [round(float(r.outcome(m).weight_error), 4) + 0.0
                                  for r in results] for m in ms},
    }


KEY_CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "exact": lambda: _gridworld_numbers("exact"),
    "approximate": lambda: _gridworld_numbers("approximate"),
}
"""The reruns: name -> function returning the key numbers (seconds each, ``smoke`` budget)."""

KEY_HASHES: dict[str, str] = {
    "exact": "93c4bc51a32fed2c0a2febbfe83912be0d31fb5b9e9678496a0a4eea3bf8960b",
    "approximate": "5480c3f5e7c2f2547b55dfb5fb9bd6f9e9e3d4f251c6ace6cc66726fdd05efe5",
}
"""Expected :func:`key_hash` of each rerun's key numbers."""


def rerun_key_numbers(names: list[str] | None = None) -> list[Check]:
    """Rerun the named key-number checks (default: all); one :class:`Check` each."""
    checks = []
    for name in names or list(KEY_CHECKS):
        numbers = KEY_CHECKS[name]()
        got, want = key_hash(numbers), KEY_HASHES.get(name, "")
        summary = json.dumps(numbers, sort_keys=True)
        if got == want:
            checks.append(Check("rerun", name, True, f"key numbers reproduced (sha256 "
                                f"{got[:12]}): {summary}", _chapter(name)))
        else:
            checks.append(Check("rerun", name, False, f"key numbers {summary} hash to {got}, "
                                f"expected {want or '(none recorded)'}", _chapter(name)))
    return checks


def verify_all(root: Path | None = None, rerun: bool = True) -> list[Check]:
    """Every committed artifact, then (with ``rerun``) every key-number rerun."""
    checks = verify_artifacts(artifact_folders(root), root)
    if not checks:
        checks.append(Check("artifact", str(root or artifacts.artifact_root()), False,
                            "no committed artifact folder found"))
    return checks + (rerun_key_numbers() if rerun else [])


def chapter_table(checks: list[Check]) -> str:
    """Markdown table of ``checks`` per book chapter (for the status appendix): artifact folders
    and reruns that pass, of those checked."""
    from logel.plotting import markdown_table

    chapters = sorted({c.chapter or "(no chapter)" for c in checks})
    rows = []
    for chapter in chapters:
        mine = [c for c in checks if (c.chapter or "(no chapter)") == chapter]
        counts = []
        for kind in ("artifact", "rerun"):
            of_kind = [c for c in mine if c.kind == kind]
            counts.append(f"{sum(c.ok for c in of_kind)} / {len(of_kind)}" if of_kind else "-")
        verdict = "ok" if all(c.ok for c in mine) else "FAIL"
        rows.append([chapter, *counts, verdict])
    return markdown_table(["chapter", "artifact folders verified", "key-number reruns",
                           "result"], rows)


def command(root: Path | None = None, rerun: bool = True,
            log: Callable[[str], None] = print) -> int:
    """``logel verify``: print one line per check and a total; 1 if any check fails, else 0."""
    checks = verify_all(root, rerun)
    for check in checks:
        log(check.line())
    failed = sum(not c.ok for c in checks)
    log(f"{len(checks) - failed} of {len(checks)} checks passed")
    return 1 if failed else 0
