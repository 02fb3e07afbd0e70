"""E7: the published LfL (its snapshot-aliasing bug kept) run end to end beside the fixed one.

The paper compared LOGEL with the LfL code as published, whose per-step "policies" all alias the
last cloned network (``LfLContinuousConfig.aliasing_bug``; chapter 8 explains the bug). The main
MuJoCo runs (:mod:`logel.experiments.mujoco`) train an observer on the *fixed* LfL's reward; this
experiment takes the same kept learner traces and runs the published LfL and its observer with
everything else equal (same learner, same cloning schedule, same observer seed ``10_000 + k``),
so the two LfL observers can be compared seed by seed.

Run after the main runs have kept their traces (``--trace-dir``)::

    python -m logel.experiments.mujoco_published_lfl --env Hopper-v5 --seeds 0-4 --trace-dir DIR

Results go to ``artifacts/mujoco_published_lfl[_<parity>][_<budget>]/<env>/seed_<k>/`` with a
manifest (the observer's true-return curve and episode statistics, LfL's losses).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from logel import artifacts, cli
from logel._validation import choice
from logel.cli import Command
from logel.experiments.mujoco import (
    MujocoCommand,
    MujocoConfig,
    config_dict,
    experiment_config,
    lfl_chain,
    output_dir,
    require_directory,
    start_logging,
    trace_name,
)
from logel.traces import LearnerTrace

log = logging.getLogger(__name__)

VERSION = "v1"
"""Bump when a change alters results; stored in every manifest."""


def published_config(config: MujocoConfig) -> MujocoConfig:
    """``config`` with the published LfL (aliasing bug kept)."""
    return replace(config, lfl=replace(config.lfl, aliasing_bug=True))


def published_dir(config: MujocoConfig, seed: int, root: Path | None = None) -> Path:
    """``<root>/mujoco_published_lfl...`` beside the main run's ``<root>/mujoco...`` folder."""
    main = output_dir(config, seed, root)
    variant = main.parent.parent.name.replace("mujoco", "mujoco_published_lfl", 1)
    return main.parent.parent.parent / variant / config.env_id / f"seed_{seed}"


def run_seed(trace: LearnerTrace, config: MujocoConfig, seed: int, out: Path | None = None
             ) -> dict[str, Any]:
    """The published LfL and its observer on one kept trace; writes the artifacts to ``out``."""
    t0 = time.perf_counter()
    chain = lfl_chain(trace, published_config(config), seed)
    observer, lfl = chain["observer"], chain["lfl"]["result"]
    result = {"curve": observer["curve"], "episode_stats": observer["episode_stats"],
              "kl_targets_mean": lfl.kl_targets_mean}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        cfg = {**config_dict(published_config(config), seed), "experiment": "mujoco_published_lfl",
               "e7_version": VERSION}
        artifacts.save_json(out / "config.json", cfg)
        artifacts.save_arrays(out / "observer_lfl.npz", curve=observer["curve"],
                              update_seconds=observer["update_seconds"],
                              **{f"episode_{k}": v for k, v in observer["episode_stats"].items()})
        artifacts.save_arrays(out / "lfl.npz", reward_parameters=lfl.reward_parameters,
                              kl_loss=lfl.kl_loss, fit_loss=lfl.fit_loss,
                              kl_targets_mean=lfl.kl_targets_mean, steps=np.asarray(lfl.steps))
        artifacts.write_manifest(out, config=cfg, seeds=[seed],
                                 wall_time_seconds=time.perf_counter() - t0,
                                 extra={"experiment": "mujoco_published_lfl", "version": VERSION,
                                        "observer_seed": 10_000 + seed})
    return result


def run(config: MujocoConfig, seeds: Sequence[int], trace_dir: Path, root: Path | None = None,
        force: bool = False) -> dict[int, str]:
    """E7 on every seed with a kept trace of ``config``'s learner; resumable."""
    status = {}
    for seed in seeds:
        out = published_dir(config, seed, root)
        path = Path(trace_dir) / trace_name(config, seed)
        if not force and artifacts.is_complete(out):
            status[seed] = "skipped"
            continue
        if not path.is_file():
            log.warning("seed %d: no kept trace at %s", seed, path)
            status[seed] = "missing trace"
            continue
        run_seed(LearnerTrace.load(path), config, seed, out)
        status[seed] = "done"
    return status


def load_results(config: MujocoConfig, root: Path | None = None) -> dict[int, dict[str, Any]]:
    """Every complete seed of E7 for ``config``, verified against its manifest."""
    base = published_dir(config, 0, root).parent
    return {seed: artifacts.load(d) for seed, d in artifacts.seed_folders(base).items()}


@dataclass(frozen=True, kw_only=True)
class PublishedLfLCommand(MujocoCommand):
    """``logel run mujoco_published_lfl``: E7 on kept learner traces."""

    parity: str = "official"
    """The learner whose kept traces are used."""
    trace_dir: Path
    """Directory of kept learner traces of logel run mujoco."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_directory(self.trace_dir, type(self).__name__ + ".trace_dir")
        choice(self.parity, type(self).__name__ + ".parity", ("official", "sb3"))


def _execute(options: PublishedLfLCommand, args: Any) -> int:
    start_logging()
    config = experiment_config(options.env, options.budget, parity=options.parity)
    status = run(config, args.seeds, options.trace_dir, options.root, options.force)
    log.info("finished: %s", status)
    return 0


# logel run mujoco_published_lfl: run over --seeds.
COMMAND = Command(config=PublishedLfLCommand, execute=_execute, seeds="0-4",
                  choices={"parity": ("official", "sb3")})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco_published_lfl ...``: the same as
    ``logel run mujoco_published_lfl ...``."""
    return cli.run("mujoco_published_lfl", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
