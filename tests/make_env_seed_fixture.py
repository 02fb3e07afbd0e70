"""Write ``tests/data/env_seed_fixture.json``: the pinned outputs of tiny MuJoCo env-seeds.

Run once against the commit whose numbers are pinned (issue 13 item 2 pinned ce0535c)::

    git worktree add --detach <base> ce0535c
    cd <base> && OMP_NUM_THREADS=1 PYTHONPATH=<base> \\
        <repo>/.venv/bin/python <repo>/tests/make_env_seed_fixture.py

(``<repo>``: this checkout; ``<base>``: a scratch directory for the worktree.)

:func:`env_seed_digest` is what ``tests/test_env_seed_identity.py`` recomputes with the current
code and compares with the fixture: every array of the learner trace, the learner and observer
curves and episode statistics, LOGEL's recovered weights, learning rates and objective, and
LfL's reward network and losses, each as a SHA-256 of its float64 bytes (bit for bit), plus a
few readable values.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

CASES: dict[str, dict[str, Any]] = {
    "Reacher-v5 official": {"env_id": "Reacher-v5", "parity": "official", "seed": 3},
    "Hopper-v5 official": {"env_id": "Hopper-v5", "parity": "official", "seed": 4},
    "Hopper-v5 sb3": {"env_id": "Hopper-v5", "parity": "sb3", "seed": 5},
    "Reacher-v5 sb3 4 envs": {"env_id": "Reacher-v5", "parity": "sb3", "seed": 6, "n_envs": 4},
}
"""Smoke-budget env-seeds, one process (``parallel=False``); ``n_envs`` overrides the learner's
and observers' environment count."""


def _hash(x: Any) -> str:
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    return hashlib.sha256(a.tobytes() + str(a.shape).encode()).hexdigest()[:32]


def env_seed_digest(env_id: str, parity: str, seed: int, n_envs: int | None = None,
                    parallel: bool = False) -> dict[str, Any]:
    """Run one smoke-budget env-seed (in one process unless ``parallel``) and digest everything
    it produced."""
    from logel.experiments import mujoco as mj
    from logel.traces import LearnerTrace

    torch.set_num_threads(1)
    config = mj.experiment_config(env_id, "smoke", parity=parity, parallel=parallel)
    if n_envs is not None:
        config = replace(config, learner=replace(config.learner, n_envs=n_envs),
                         observer=replace(config.observer, n_envs=n_envs))
    with tempfile.TemporaryDirectory() as tmp:
        out, trace_path = Path(tmp) / "seed", Path(tmp) / "trace.npz"
        mj.run_seed(config, seed, out, trace_path)
        trace = LearnerTrace.load(trace_path)
        digest: dict[str, Any] = {}
        for name in ("states", "actions", "features", "rewards", "episode_starts", "thetas"):
            digest[f"trace.{name}"] = _hash(getattr(trace, name))
        for name in ("actor_heads", "obs_rms_mean", "obs_rms_var", "ret_rms_var"):
            digest[f"trace.{name}"] = _hash(trace.metadata[name])
        for stem in ("learner", "observer_logel", "observer_lfl", "lfl"):
            with np.load(out / f"{stem}.npz") as data:
                for key in sorted(data.files):
                    if key != "update_seconds":
                        digest[f"{stem}.{key}"] = _hash(data[key])
        logel = json.loads((out / "logel.json").read_text())
        for key in ("weights", "learning_rates", "objective"):
            if key in logel:
                digest[f"logel.{key}"] = _hash(logel[key])
        digest["readable"] = {
            "logel.weights": [float(v) for v in logel["weights"]],
            "observer_logel.curve": np.load(out / "observer_logel.npz")["curve"].tolist(),
            "observer_lfl.curve": np.load(out / "observer_lfl.npz")["curve"].tolist(),
            "learner.curve": np.load(out / "learner.npz")["curve"].tolist(),
        }
    return digest


def main() -> int:
    import subprocess

    import logel

    root = Path(logel.__file__).resolve().parent.parent
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                         text=True, check=True).stdout.strip()
    payload = {
        "_comment": ("Pinned outputs of smoke-budget MuJoCo env-seeds (one process), computed "
                     f"by tests/make_env_seed_fixture.py with the code at {sha[:7]} (a git "
                     "worktree, PYTHONPATH pointing at it); SHA-256 prefixes of float64 bytes. "
                     "Checked by tests/test_env_seed_identity.py."),
        "commit": sha,
        "cases": {name: {**case, "digest": env_seed_digest(**{k: v for k, v in case.items()})}
                  for name, case in CASES.items()},
    }
    path = Path(__file__).resolve().parent / "data" / "env_seed_fixture.json"
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, allow_nan=True) + "\n")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
