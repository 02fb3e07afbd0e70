"""Where every benchmark writes its results: ``benchmarks/results/<name>.json``.

One JSON file per benchmark, beside its printed table: the machine, the commit and one row per
case with ``case``, ``ours`` and ``baseline`` (seconds), their ``ratio`` (baseline / ours) and,
where measured, ``memory_ratio`` (baseline peak / ours peak) and any extra fields. Ratios, not
times, are what the benchmarks claim: both sides run side by side on the same machine.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from logel import artifacts

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """Processor, cores, Python, the BLAS thread settings and the load average (1, 5 and 15
    minutes, at the end of the run: how busy the shared machine was) of this run."""
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"platform": platform.platform(), "processor": platform.processor() or None,
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS",
                                                       "OPENBLAS_NUM_THREADS")},
            "load_average": load}


def commit() -> str | None:
    """The git commit of the working tree (``+dirty`` if ``logel/`` or ``benchmarks/``, results
    aside, have uncommitted changes)."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "logel", "benchmarks",
                                ":(exclude)benchmarks/results"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha + ("+dirty" if dirty.strip() else "")


def row(case: str, ours: float, baseline: float | None, **extra: Any) -> dict[str, Any]:
    """One case: times in seconds, ``ratio`` = baseline / ours (None without a baseline)."""
    ratio = None if baseline is None or ours <= 0 else baseline / ours
    return {"case": case, "ours": ours, "baseline": baseline, "ratio": ratio, **extra}


def write(name: str, rows: list[dict[str, Any]], **info: Any) -> Path:
    """Write ``benchmarks/results/<name>.json`` atomically and return its path."""
    path = RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine(), "commit": commit(), **info,
               "rows": rows}
    artifacts.atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path
