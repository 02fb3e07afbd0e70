"""E4, metric calibration: what do observers reach on rewards that carry no task?

Chapter 8's metric is the observer's *true* return. On Hopper an observer that merely stays
upright collects the healthy reward for 1000 steps, so a high return need not mean hopping; on
Reacher an observer that keeps its arm still pays no control cost. To calibrate the metric we
train the same observer (the paper's PPO, 30 updates, seed ``10_000 + k``) on rewards in the
feature span that carry no (or only part of the) task:

* ``zero``: :math:`r=0` (the observer's policy changes only through its own noise);
* ``random``: a random unit :math:`\\omega` (one per seed, its own stream);
* ``control only``: the control cost alone (:math:`\\omega=-e_{\\|a\\|^2}`);
* ``alive only`` (Hopper): the healthy reward alone (:math:`\\omega=e_{alive}`).

Every observer logs, per update, the last 10 episodes' true return, length, the true reward's
terms and the forward distance (Hopper) or final fingertip distance (Reacher)
(:class:`~logel.envs.mujoco_features.EpisodeStats`), which is what separates "hops forward"
from "stands still".

Run::

    python -m logel.experiments.mujoco_calibration --env Hopper-v5 --seeds 0-4

Results go to ``artifacts/mujoco_calibration[_<budget>]/<env>/seed_<k>/`` with a manifest.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from logel import artifacts, cli
from logel.cli import Command
from logel.envs.mujoco_features import VecLinearFeatureReward, env_family, feature_names
from logel.experiments.mujoco import MujocoCommand, experiment_config, start_logging
from logel.learners.ppo import PPOConfig, train_ppo

VERSION = "v1"
"""Bump when a change alters results; stored in every manifest."""


def calibration_rewards(env_id: str, seed: int) -> dict[str, np.ndarray]:
    """The rewards of the module docstring for ``env_id``; ``random`` from the seed's stream."""
    names = feature_names(env_id)
    q = len(names)
    control = np.zeros(q)
    control[names.index("|a|^2")] = -1.0
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xE4]))
    random = rng.normal(size=q)
    rewards = {"zero": np.zeros(q), "random": random / np.linalg.norm(random),
               "control only": control}
    if env_family(env_id) == "Hopper":
        alive = np.zeros(q)
        alive[names.index("alive")] = 1.0
        rewards["alive only"] = alive
    return rewards


def observe(weights: np.ndarray, observer: PPOConfig) -> dict[str, Any]:
    """One observer on :math:`\\omega^\\top\\phi`: its curve and episode statistics."""
    t0 = time.perf_counter()
    run = train_ppo(observer, vec_reward=lambda venv: VecLinearFeatureReward(venv, weights))
    return {"weights": weights.tolist(),
            "curve": [None if np.isnan(v) else float(v) for v in run.curve],
            "episode_stats": {k: [None if np.isnan(x) else float(x) for x in v]
                              for k, v in run.episode_stats.items()},
            "seconds": time.perf_counter() - t0}


def output_dir(env_id: str, budget: str, seed: int, root: Path | None = None) -> Path:
    """``<root>/mujoco_calibration[_<budget>]/<env>/seed_<seed>``."""
    root = artifacts.artifact_root() if root is None else Path(root)
    name = "mujoco_calibration" + ("" if budget == "paper" else f"_{budget}")
    return root / name / env_id / f"seed_{seed}"


def run(env_id: str, seeds: Sequence[int], budget: str = "paper", root: Path | None = None,
        force: bool = False) -> dict[int, str]:
    """Every calibration observer of every seed not already complete; resumable."""
    base = experiment_config(env_id, budget)
    status = {}
    for seed in seeds:
        out = output_dir(env_id, budget, seed, root)
        if not force and artifacts.is_complete(out):
            status[seed] = "skipped"
            continue
        t0 = time.perf_counter()
        observer = replace(base.observer, seed=10_000 + seed, record=False)
        result = {name: observe(w, observer)
                  for name, w in calibration_rewards(env_id, seed).items()}
        cfg = {"experiment": "mujoco_calibration", "env_id": env_id, "budget": budget,
               "seed": seed, "version": VERSION, "observer": asdict(observer)}
        out.mkdir(parents=True, exist_ok=True)
        artifacts.save_json(out / "config.json", cfg)
        artifacts.save_json(out / "calibration.json", result)
        artifacts.write_manifest(out, config=cfg, seeds=[seed],
                                 wall_time_seconds=time.perf_counter() - t0,
                                 extra={"experiment": "mujoco_calibration", "version": VERSION,
                                        "observer_seed": observer.seed})
        status[seed] = "done"
    return status


def load_results(env_id: str, budget: str = "paper", root: Path | None = None
                 ) -> dict[int, dict[str, Any]]:
    """Every complete seed, verified against its manifest."""
    base = output_dir(env_id, budget, 0, root).parent
    return {seed: artifacts.load(d)["calibration"]
            for seed, d in artifacts.seed_folders(base).items()}


def _execute(options: MujocoCommand, args: Any) -> int:
    start_logging()
    status = run(options.env, args.seeds, options.budget, options.root, options.force)
    print(f"finished: {status}")
    return 0


# logel run mujoco_calibration: run over --seeds.
COMMAND = Command(config=MujocoCommand, execute=_execute, seeds="0-4")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco_calibration ...``: the same as
    ``logel run mujoco_calibration ...``."""
    return cli.run("mujoco_calibration", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
