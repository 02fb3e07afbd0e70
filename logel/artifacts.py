"""Result artifacts: small files plus a ``manifest.json`` with a SHA-256 per file.

Conventions (``book-and-package-conventions.md`` Sec. 6): an artifact directory holds small
``.npz`` / ``.json`` files (curves, recovered weights; never trajectories) and a manifest with
the config, seeds, package and library versions, git SHA, wall time, hardware and the hash of
every file. Every write is atomic (temporary file in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written file under its final name; the manifest and then
its digest are written last, so a directory whose manifest verifies is complete. Loading
verifies every hash first and reads with ``np.load(allow_pickle=False)`` and ``json`` only:
nothing loaded executes code.

**What the hashes guarantee.** ``manifest.json`` lists a SHA-256 per file, and
``manifest.sha256`` holds the SHA-256 of the canonical manifest (its JSON with sorted keys and
no whitespace), so an edited configuration, seed list or file hash is detected as well as an
edited file. Every listed path must be a relative path that resolves inside the artifact
folder. This is *integrity* (accidental corruption, truncation, a stray edit, a half-copied
folder), **not authenticity**: anyone who can write the folder can rewrite a file, its hash,
the manifest and the digest together, and nothing here is signed. Trust an artifact as far as
you trust where it came from (e.g. the git history that committed it).

A folder written before digests existed has no ``manifest.sha256``: it still verifies, with a
:class:`MissingDigestWarning`; ``logel artifacts seal <folder>`` (:func:`seal`) verifies it and
writes the digest.

The default root is ``<repository>/artifacts`` (independent of the working directory), or
``$LOGEL_ARTIFACTS`` if set.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from logel.traces import atomic_savez

MANIFEST = "manifest.json"
DIGEST = "manifest.sha256"
"""File beside the manifest holding ``sha256:<hex>`` of :func:`manifest_digest`."""
SEED_FOLDER = re.compile(r"seed_(\d+)")
LIBRARIES = ("numpy", "scipy", "torch", "gymnasium", "mujoco", "stable-baselines3")


class ArtifactError(RuntimeError):
    """An artifact directory is missing, incomplete or does not match its manifest."""


class MissingDigestWarning(UserWarning):
    """An artifact folder has no ``manifest.sha256``: its files are checked against the
    manifest, but the manifest itself is not (seal it with :func:`seal`)."""


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
                   if p.is_file() and p.name not in (MANIFEST, DIGEST)
                   and not p.name.startswith("."))
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
    path = save_json(directory / MANIFEST, manifest)
    _write_digest(directory, read_manifest(directory))
    return path


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical manifest: strict JSON with sorted keys, no whitespace,
    ASCII only (so re-indenting the file does not change it; editing any value does)."""
    text = json.dumps(jsonable(manifest), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _write_digest(directory: Path, manifest: Mapping[str, Any]) -> Path:
    return atomic_write_text(directory / DIGEST, f"sha256:{manifest_digest(manifest)}\n")


def _read_digest(directory: Path) -> str | None:
    path = directory / DIGEST
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path}: unreadable digest ({err})") from None
    match = re.fullmatch(r"sha256:([0-9a-f]{64})", text)
    if match is None:
        raise ArtifactError(f"{path}: expected one line 'sha256:<64 hex digits>', got "
                            f"{text[:80]!r}")
    return match[1]


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _check_schema(manifest: Any, path: Path) -> dict[str, Any]:
    """The manifest if its schema is valid, else an :class:`ArtifactError` naming the field."""
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path}: the manifest must be a JSON object, got "
                            f"{type(manifest).__name__}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"{path}: field 'files' must be an object mapping file names to "
                            f"{{'sha256': ..., 'bytes': ...}}, got "
                            f"{'nothing' if files is None else type(files).__name__}")
    for name, entry in files.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) \
                or _HEX64.fullmatch(entry["sha256"]) is None:
            raise ArtifactError(f"{path}: files[{name!r}] must be an object with a 'sha256' of "
                                f"64 lowercase hex digits, got {str(entry)[:80]}")
        size = entry.get("bytes")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                 or size < 0):
            raise ArtifactError(f"{path}: files[{name!r}]['bytes'] must be a non-negative "
                                f"integer, got {size!r}")
    seeds = manifest.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in seeds)):
        raise ArtifactError(f"{path}: field 'seeds' must be a list of integers, got {seeds!r}")
    wall = manifest.get("wall_time_seconds")
    if wall is not None and (isinstance(wall, bool) or not isinstance(wall, int | float)):
        raise ArtifactError(f"{path}: field 'wall_time_seconds' must be a number, got {wall!r}")
    return manifest


def _inside(directory: Path, name: Any) -> Path:
    """``directory / name`` if ``name`` is a relative path that stays inside ``directory``
    (after resolving ``..`` and symbolic links), else an :class:`ArtifactError`."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise ArtifactError(f"{directory}: listed file {name!r} is not a relative POSIX path")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in name.split("/"):
        raise ArtifactError(f"{directory}: listed file {name!r} points outside the artifact "
                            "folder (absolute or '..' paths are refused)")
    root = directory.resolve()
    path = (directory / name).resolve()
    if not path.is_relative_to(root):
        raise ArtifactError(f"{directory}: listed file {name!r} resolves outside the artifact "
                            f"folder (to {path})")
    return directory / name


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of ``directory`` (JSON, schema checked), without checking the files or the
    digest.

    Raises:
        ArtifactError: naming the folder or file if it is missing, not JSON, or lacks or has
            malformed fields (``files`` with a ``sha256`` per file, ``seeds``, ...).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ArtifactError(f"{directory}: no such artifact folder"
                            + (" (it is a file)" if directory.exists() else ""))
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{directory}: no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path}: invalid JSON ({err})") from None
    except OSError as err:
        raise ArtifactError(f"{path}: unreadable ({err})") from None
    return _check_schema(manifest, path)


def verify(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Check the manifest against its digest and every listed file against its SHA-256;
    return the manifest.

    Raises:
        ArtifactError: if the manifest does not match ``manifest.sha256`` (an edited
            configuration, seed list or hash), its schema is invalid, a listed path leaves the
            folder, or naming each missing or modified file (files not in the manifest are
            ignored).

    Warns:
        MissingDigestWarning: if the folder has no ``manifest.sha256`` (written before digests
            existed): the files are checked, the manifest is not; :func:`seal` adds it.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    digest = _read_digest(directory)
    if digest is None:
        warnings.warn(f"{directory}: no {DIGEST}, so the manifest itself is not checked; seal "
                      f"the folder with `logel artifacts seal {directory}`",
                      MissingDigestWarning, stacklevel=2)
    elif digest != manifest_digest(manifest):
        raise ArtifactError(f"{directory}: {MANIFEST} does not match its digest in {DIGEST} "
                            "(the manifest was edited after it was written)")
    problems = []
    for name, entry in manifest["files"].items():
        path = _inside(directory, name)
        if not path.is_file():
            problems.append(f"missing {name}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"hash mismatch {name}")
    if problems:
        raise ArtifactError(f"{directory}: " + "; ".join(problems))
    return manifest


def seal(directory: str | os.PathLike[str]) -> Path:
    """Write ``manifest.sha256`` for a folder whose files verify against its manifest.

    For folders written before digests existed (:func:`write_manifest` now writes it). Sealing
    an already sealed folder whose digest matches changes nothing.

    Returns:
        The digest file.

    Raises:
        ArtifactError: if a file does not verify, or a digest exists and does not match (the
            manifest was edited: remove the digest deliberately to reseal).
    """
    directory = Path(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDigestWarning)
        manifest = verify(directory)
    if _read_digest(directory) is not None:
        return directory / DIGEST
    return _write_digest(directory, manifest)


def seed_folders(base: str | os.PathLike[str]) -> dict[int, Path]:
    """The ``seed_<n>`` folders under ``base``, by seed.

    Raises:
        ArtifactError: if ``base`` is not a folder, holds no ``seed_<n>`` folder, or holds a
            ``seed_*`` entry that is not ``seed_<non-negative integer>`` or not a folder.
    """
    base = Path(base)
    if not base.is_dir():
        raise ArtifactError(f"{base}: no such results folder (run the experiment, or check the "
                            "artifact root)")
    out: dict[int, Path] = {}
    for path in sorted(base.glob("seed_*")):
        match = SEED_FOLDER.fullmatch(path.name)
        if match is None or not path.is_dir():
            raise ArtifactError(f"{path}: expected a folder named seed_<n> with n a "
                                "non-negative integer")
        out[int(match[1])] = path
    if not out:
        raise ArtifactError(f"{base}: no seed_<n> result folders")
    return dict(sorted(out.items()))


def is_complete(directory: str | os.PathLike[str]) -> bool:
    """True if ``directory`` has a manifest and every listed file matches its hash."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingDigestWarning)
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
        path = _inside(directory, name)
        key = Path(name).with_suffix("").as_posix()
        try:
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as data:
                    out[key] = {k: data[k] for k in data.files}
            elif path.suffix == ".json":
                out[key] = json.loads(path.read_text(encoding="utf-8"))
        except Exception as err:  # noqa: BLE001 - any reader failure names the file
            detail = ("holds object (pickled) arrays; refused without unpickling"
                      if "pickle" in str(err) else f"{type(err).__name__}: {err}")
            raise ArtifactError(f"{path}: unreadable ({detail})") from None
    return out
