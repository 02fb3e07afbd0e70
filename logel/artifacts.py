"""Result artifacts: small files plus a ``manifest.json`` with a SHA-256 per file.

Conventions (``book-and-package-conventions.md`` Sec. 6): an artifact directory holds small
``.npz`` / ``.json`` files (curves, recovered weights; never trajectories) and a manifest with
the config, seeds, package and library versions, git SHA, wall time, hardware and the hash of
every file. Every write is atomic (temporary file in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written file under its final name; the manifest is written
last, so a directory whose manifest verifies is complete. Loading verifies every hash first and
reads with ``np.load(allow_pickle=False)`` and ``json`` only: nothing loaded executes code.

The default root is ``<repository>/artifacts`` (independent of the working directory), or
``$LOGEL_ARTIFACTS`` if set.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from logel.traces import atomic_savez

MANIFEST = "manifest.json"
LIBRARIES = ("numpy", "scipy", "torch", "gymnasium", "mujoco", "stable-baselines3")


class ArtifactError(RuntimeError):
    """An artifact directory is missing, incomplete or does not match its manifest."""


def repository_root() -> Path:
    """The folder holding the ``logel`` package (the repository in a development install)."""
    return Path(__file__).resolve().parents[1]


def artifact_root() -> Path:
    """``$LOGEL_ARTIFACTS`` or ``<repository>/artifacts``."""
    env = os.environ.get("LOGEL_ARTIFACTS")
    return Path(env) if env else repository_root() / "artifacts"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        _readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _readable(path: str | os.PathLike[str]) -> None:
    """``mkstemp`` creates 0600 files; give artifacts the usual 0644 (minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o644 & ~umask)


def jsonable(obj: Any) -> Any:
    """``obj`` as strict-JSON values: mappings with string keys, lists for tuples and arrays,
    Python scalars for numpy ones, None for NaN and infinities (what :func:`save_json` writes,
    so compare stored configurations with this)."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None  # strict JSON has no NaN / inf
    return obj


def save_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Atomic, strict JSON (numpy values converted; NaN and inf become ``null``)."""
    return atomic_write_text(path, json.dumps(jsonable(obj), indent=2, sort_keys=True,
                                              allow_nan=False) + "\n")


def save_arrays(path: str | os.PathLike[str], **arrays: Any) -> Path:
    """Atomic compressed ``.npz`` of plain numeric arrays (object arrays are refused)."""
    clean = {}
    for name, value in arrays.items():
        arr = np.asarray(value)
        if arr.dtype == object:
            raise ValueError(f"array {name!r} has dtype object; artifacts hold numbers only")
        clean[name] = arr
    out = atomic_savez(path, **clean)
    _readable(out)
    return out


def git_info(root: Path | None = None) -> dict[str, Any]:
    """``{"sha": ..., "dirty": ...}`` of the repository (None values outside a git checkout)."""
    root = root or repository_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, capture_output=True, text=True, check=True,
                                timeout=10).stdout
        return {"sha": sha, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


def environment_info() -> dict[str, Any]:
    """Package, library and Python versions, git state and hardware."""
    from logel import __version__

    libs: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = None
    return {
        "logel": __version__,
        "python": sys.version.split()[0],
        "libraries": libs,
        "git": git_info(),
        "hardware": {"machine": platform.machine(), "processor": platform.processor(),
                     "system": platform.system(), "release": platform.release(),
                     "cpu_count": os.cpu_count()},
    }


def _file_entries(directory: Path) -> dict[str, dict[str, Any]]:
    files = sorted(p for p in directory.rglob("*")
                   if p.is_file() and p.name != MANIFEST and not p.name.startswith("."))
    return {p.relative_to(directory).as_posix(): {"sha256": sha256_file(p),
                                                  "bytes": p.stat().st_size} for p in files}


def write_manifest(directory: str | os.PathLike[str], *, config: Any, seeds: list[int],
                   wall_time_seconds: float, extra: Mapping[str, Any] | None = None) -> Path:
    """Hash every file of ``directory`` and write ``manifest.json`` atomically (last)."""
    directory = Path(directory)
    manifest = {
        "config": config,
        "seeds": list(seeds),
        "wall_time_seconds": float(wall_time_seconds),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "environment": environment_info(),
        "files": _file_entries(directory),
        **(dict(extra) if extra else {}),
    }
    return save_json(directory / MANIFEST, manifest)


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of ``directory`` (JSON), without checking the files."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{directory}: no {MANIFEST}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{path}: invalid JSON ({err})") from None


def verify(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Check every file listed in the manifest against its SHA-256; return the manifest.

    Raises:
        ArtifactError: naming each missing or modified file (files not in the manifest are
            ignored).
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    problems = []
    for name, entry in manifest.get("files", {}).items():
        path = directory / name
        if not path.is_file():
            problems.append(f"missing {name}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"hash mismatch {name}")
    if problems:
        raise ArtifactError(f"{directory}: " + "; ".join(problems))
    return manifest


def is_complete(directory: str | os.PathLike[str]) -> bool:
    """True if ``directory`` has a manifest and every listed file matches its hash."""
    try:
        verify(directory)
    except ArtifactError:
        return False
    return True


def load(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Verify ``directory``, then load every listed file: ``.npz`` -> dict of arrays (no
    pickle), ``.json`` -> parsed JSON. Keys are file names without their suffix; the manifest
    is under ``"manifest"``."""
    directory = Path(directory)
    manifest = verify(directory)
    out: dict[str, Any] = {"manifest": manifest}
    for name in manifest["files"]:
        path = directory / name
        key = Path(name).with_suffix("").as_posix()
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                out[key] = {k: data[k] for k in data.files}
        elif path.suffix == ".json":
            out[key] = json.loads(path.read_text(encoding="utf-8"))
    return out
