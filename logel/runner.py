"""One runner for every sweep: ``run_jobs(function, jobs, n_jobs, backend)`` on joblib.

Every experiment of the package is a pure function of its configuration and a seed
(``SeedSequence(seed)`` spawns all its random streams), so a sweep is a list of independent
jobs and its results do not depend on where, in which order or in how many processes the jobs
run. This module is the single place that decides *how* they run:

``backend="loky"`` (default)
    joblib's process pool on this machine; ``n_jobs=1`` runs serially in this process.
``backend="ray"``
    joblib's Ray backend (``ray.util.joblib``): the same jobs as Ray tasks, on a local Ray
    runtime or on a cluster. Install the optional extra (``pip install -e '.[ray]'``). To use a
    cluster, start it (``ray start --head`` on the head node, ``ray start --address=<head>:6379``
    on the workers, with the same Python environment and ``logel`` installed everywhere) and set
    ``RAY_ADDRESS=<head>:6379`` (or ``ray://<head>:10001`` for Ray Client) before running, e.g.
    ``RAY_ADDRESS=auto logel reproduce all --backend ray --n-jobs 64``. Without ``RAY_ADDRESS`` a
    local runtime with ``n_jobs`` CPUs is started. Ray's start-up costs seconds, so on one
    small machine ``loky`` is faster.

Results come back in the order of ``jobs`` whatever the backend; the tests check that loky,
serial and Ray give identical results per seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, Literal

from joblib import Parallel, delayed, parallel_backend

Backend = Literal["loky", "ray"]
BACKENDS: tuple[Backend, ...] = ("loky", "ray")


def ray_available() -> bool:
    """True if the optional ``ray`` package can be imported."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _init_ray(n_jobs: int) -> None:
    import ray
    from ray.util.joblib import register_ray

    register_ray()
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # local runtimes need no token
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=max(n_jobs, 1), include_dashboard=False, log_to_driver=False)


def run_jobs(function: Callable[..., Any], jobs: list[tuple[Any, ...]], n_jobs: int = 1,
             backend: Backend = "loky", progress: bool = False,
             description: str | None = None) -> list[Any]:
    """``[function(*args) for args in jobs]``, in parallel, in the order of ``jobs``.

    Args:
        function: a picklable module-level function.
        jobs: one tuple of positional arguments per call (a list, or any iterable).
        n_jobs: worker processes (loky) or concurrent Ray tasks; 1 runs serially in-process
            with loky.
        backend: ``"loky"`` or ``"ray"`` (see the module docstring).
        progress: show a tqdm bar (off by default; never in book cells).
        description: label of the progress bar.

    Returns:
        The results, in the order of ``jobs``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
    jobs = list(jobs)
    iterator: Iterable[Any]
    if backend == "loky" and n_jobs == 1:
        iterator = (function(*args) for args in jobs)
    elif backend == "loky":
        iterator = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
            delayed(function)(*args) for args in jobs)
    else:
        if not ray_available():
            raise ImportError("backend='ray' needs the optional extra: pip install -e '.[ray]'")
        _init_ray(n_jobs)
        with parallel_backend("ray"):
            iterator = list(Parallel(n_jobs=n_jobs)(delayed(function)(*args) for args in jobs))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, total=len(jobs), desc=description)
    return list(iterator)


def shutdown_ray() -> None:
    """Stop a Ray runtime started by :func:`run_jobs` (no-op without Ray)."""
    if ray_available():
        import ray

        if ray.is_initialized():
            ray.shutdown()
