"""E2's observers: does the reward LOGEL recovers under each learner teach an observer?

E2 (:mod:`logel.experiments.mujoco_learners`, ``--experiment factorial``) trains the paper's PPO
learner in four cells, mean-head gain {0.01, 1} x control cost on {the clipped, the raw} action
(:data:`~logel.experiments.mujoco_learners.FACTORIAL`), and runs LOGEL at each cell's **true**
parameters. It stores each cell's :math:`\\hat\\omega` and judges the premise (explained motion,
cosines); issue "MuJoCo verdicts" also asks what an agent does with that reward. So, for each
seed with a complete E2 folder and each cell, we train the observer of the main run -- the
paper's PPO with the *cell's* learner settings (its head gain and control cost),
:attr:`~logel.experiments.mujoco.MujocoBudget.observer_updates` updates (30 at the paper budget),
seed ``10_000 + k`` -- on :math:`\\hat\\omega^\\top\\phi`
(:func:`logel.experiments.mujoco_calibration.observe`, the calibration observers' function).

Each observer is scored by the true reward of its own cell (the raw or the clipped action's
control cost), so the comparable number across cells is the **normalised** final return
(:func:`logel.experiments.mujoco_figures.normalised_returns`): 0 at the cell's learner after its
first update, 1 after its last, paired by seed.

Because LOGEL ran at the true :math:`\\theta`, these observers isolate the learner model: no
cloning error enters. An observer that fails here fails because of the premise, not the
cloning.

**Budgets** (``--budget``): the observer's sizes are the main run's at the same budget
(:func:`logel.experiments.mujoco.experiment_config`: ``smoke`` 3 updates of 2 x 200 steps, for
tests; ``book`` 20 updates of 8 x 1000; ``paper`` 30 updates of 16 x 2000), reading E2's folders
at the same budget.

Run (paper budget; four observers per seed, each a few minutes of one core)::

    OMP_NUM_THREADS=1 logel run mujoco_factorial_observers --env Reacher-v5 --seeds 0-4

Results go to ``artifacts/mujoco_factorial_observers[_<budget>]/<env>/seed_<k>/``
(``config.json``; ``observers.json``: per cell the observed weights, true-return curve, episode
statistics and wall time) with a sealed manifest recording the observer seed and the digest of
the E2 folder's manifest; complete seeds are skipped (resumable). :func:`merge` pairs each
cell's observer with the cell's learner, :func:`summary_table` and :func:`claims` summarise and
judge them.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from logel import artifacts, cli
from logel.cli import Command
from logel.envs.mujoco_features import env_family
from logel.experiments import mujoco_figures as mjf
from logel.experiments import mujoco_learners as mjl
from logel.experiments.mujoco import MujocoCommand, experiment_config, start_logging
from logel.experiments.mujoco_calibration import observe
from logel.learners.ppo import PPOConfig
from logel.plotting import markdown_table
from logel.statistics import Claim

log = logging.getLogger(__name__)

VERSION = "v1"
"""Bump when a change alters results; stored in every manifest."""

EXPERIMENT = "mujoco_factorial_observers"

OBSERVER_SEED_OFFSET = 10_000
"""Observer of seed ``k``: seed ``10_000 + k``, as the main run's and the calibration's."""

PAPER_CELL = "gain 1, raw (the paper's)"
"""The paper's learner among :data:`~logel.experiments.mujoco_learners.FACTORIAL`'s cells."""

SB3_CELL = "gain 0.01, clipped"
"""SB3's learner (the artifacts written before the parity option) among the cells."""

MIN_SEEDS = 5
"""Seeds of paper-budget artifacts an environment needs before the book shows its verdicts."""


def output_dir(env_id: str, budget: str, seed: int, root: Path | None = None) -> Path:
    """``<root>/mujoco_factorial_observers[_<budget>]/<env>/seed_<seed>``."""
    base = artifacts.artifact_root() if root is None else Path(root)
    name = EXPERIMENT if budget == "paper" else f"{EXPERIMENT}_{budget}"
    return base / name / env_id / f"seed_{seed}"


def source_dir(env_id: str, budget: str, seed: int, root: Path | None = None) -> Path:
    """E2's folder of one seed (:func:`logel.experiments.mujoco_learners.output_dir`)."""
    return mjl.output_dir("factorial", env_id, budget, seed, root)


def cell_observer(observer: PPOConfig, cell: str, seed: int) -> PPOConfig:
    """The observer of ``cell`` on seed ``seed``: the main run's observer with the cell's
    overrides (:data:`~logel.experiments.mujoco_learners.FACTORIAL`), seed ``10_000 + seed``,
    nothing recorded."""
    if cell not in mjl.FACTORIAL:
        raise ValueError(f"cell must be one of {tuple(mjl.FACTORIAL)}, got {cell!r}")
    return mjl.variant_config(replace(observer, seed=OBSERVER_SEED_OFFSET + seed, record=False),
                              mjl.FACTORIAL[cell])


def check_sources(env_id: str, budget: str, seeds: Sequence[int],
                  root: Path | None = None) -> None:
    """Fail before any training if a seed's E2 folder is missing or incomplete.

    Raises:
        logel.artifacts.ArtifactError: one error naming every such folder and the command
            that writes them.
    """
    missing = [source_dir(env_id, budget, s, root) for s in seeds
               if not artifacts.is_complete(source_dir(env_id, budget, s, root))]
    if missing:
        raise artifacts.ArtifactError(
            "no complete E2 (mujoco_factorial) results in " + ", ".join(map(str, missing))
            + f" (write them with `logel run mujoco_learners --experiment factorial --env "
            f"{env_id} --budget {budget} --seeds <seeds>`, or check --seeds and --root)")


def run_seed(env_id: str, budget: str, seed: int, out: Path,
             source_root: Path | None = None) -> dict[str, Any]:
    """The four cells' observers of one seed, written to ``out`` with a sealed manifest."""
    t0 = time.perf_counter()
    base_root = artifacts.artifact_root() if source_root is None else Path(source_root)
    folder = source_dir(env_id, budget, seed, source_root)
    loaded = artifacts.load(folder)  # verified against its manifest
    cells = loaded["factorial"]["variants"]
    observer = experiment_config(env_id, budget).observer
    result, configs = {}, {}
    for cell in mjl.FACTORIAL:
        cfg = cell_observer(observer, cell, seed)
        obs = observe(np.asarray(cells[cell]["weights"], dtype=np.float64), cfg)
        result[cell] = obs
        configs[cell] = asdict(cfg)
        log.info("%s seed %d %s: %.0f s, curve %s", env_id, seed, cell, obs["seconds"],
                 np.round(np.asarray(obs["curve"], dtype=float), 1))
    source = folder.relative_to(base_root).as_posix()  # no machine path in artifacts
    digest = artifacts.manifest_digest(loaded["manifest"])
    config = artifacts.jsonable({"experiment": EXPERIMENT, "env_id": env_id, "budget": budget,
                                 "seed": seed, "version": VERSION, "observers": configs,
                                 "source": source})
    out.mkdir(parents=True, exist_ok=True)
    artifacts.save_json(out / "config.json", config)
    artifacts.save_json(out / "observers.json", result)
    artifacts.write_manifest(
        out, config=config, seeds=[seed], wall_time_seconds=time.perf_counter() - t0,
        extra={"experiment": EXPERIMENT, "version": VERSION,
               "observer_seed": OBSERVER_SEED_OFFSET + seed, "source": source,
               "source_manifest_sha256": digest})
    artifacts.verify(out)
    return result


def run(env_id: str, seeds: Sequence[int], budget: str = "paper", root: Path | None = None,
        force: bool = False, source_root: Path | None = None) -> dict[int, str]:
    """Every seed not already complete (unless ``force``); ``{seed: "done" | "skipped"}``.

    ``source_root``: the artifact root holding E2's folders (default ``root``).

    Raises:
        logel.artifacts.ArtifactError: before any training, if a seed lacks a complete E2
            folder (:func:`check_sources`).
    """
    source_root = root if source_root is None else source_root
    todo = [s for s in seeds if force or not artifacts.is_complete(
        output_dir(env_id, budget, s, root))]
    check_sources(env_id, budget, todo, source_root)
    status = {s: "skipped" for s in seeds if s not in todo}
    for seed in todo:
        run_seed(env_id, budget, seed, output_dir(env_id, budget, seed, root), source_root)
        status[seed] = "done"
    return dict(sorted(status.items()))


def load_results(env_id: str, budget: str = "paper", root: Path | None = None
                 ) -> dict[int, dict[str, Any]]:
    """``{seed: {cell: observer}}`` of every seed folder, each verified against its manifest.

    Raises:
        logel.artifacts.ArtifactError: naming the folder if there is none or one fails to
            verify.
    """
    base = output_dir(env_id, budget, 0, root).parent
    return {seed: artifacts.load(d)["observers"]
            for seed, d in artifacts.seed_folders(base).items()}


def check_provenance(env_id: str, budget: str = "paper", root: Path | None = None,
                     source_root: Path | None = None) -> list[int]:
    """The seeds of :func:`load_results`, after checking that each observer seed is
    ``10_000 + k`` and that each E2 folder still holds the manifest it observed.

    Raises:
        logel.artifacts.ArtifactError: naming every seed folder that fails a check.
    """
    source_root = root if source_root is None else source_root
    base = output_dir(env_id, budget, 0, root).parent
    problems, seeds = [], []
    for seed, folder in artifacts.seed_folders(base).items():
        manifest = artifacts.read_manifest(folder)
        if manifest.get("observer_seed") != OBSERVER_SEED_OFFSET + seed:
            problems.append(f"{folder}: observer seed {manifest.get('observer_seed')!r}, not "
                            f"{OBSERVER_SEED_OFFSET + seed}")
        source = source_dir(env_id, budget, seed, source_root)
        if not artifacts.is_complete(source) or manifest.get("source_manifest_sha256") != \
                artifacts.manifest_digest(artifacts.read_manifest(source)):
            problems.append(f"{folder}: its E2 folder {source} is missing or was rewritten "
                            "since")
        seeds.append(seed)
    if problems:
        raise artifacts.ArtifactError("; ".join(problems))
    return sorted(seeds)


def merge(factorial: Mapping[int, Mapping[str, Any]],
          observers: Mapping[int, Mapping[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    """Per cell, the seeds in both E2 (``factorial``:
    ``logel.experiments.mujoco_learners.load_results("factorial", env)``) and
    :func:`load_results`, in the main runs' layout: ``{cell: {seed: {"learner": ...,
    "observer_logel": ...}}}``, each agent a ``curve`` and its ``episode_<stat>`` lists, so that
    :mod:`logel.experiments.mujoco_figures`' functions apply to each cell."""
    seeds = sorted(set(factorial) & set(observers))
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for cell in mjl.FACTORIAL:
        out[cell] = {}
        for s in seeds:
            learner = factorial[s]["variants"][cell]
            obs = observers[s][cell]
            out[cell][s] = {
                "learner": {"curve": learner["learner_curve"],
                            **{f"episode_{k}": v
                               for k, v in learner["learner_episode_stats"].items()}},
                "observer_logel": {"curve": obs["curve"],
                                   **{f"episode_{k}": v for k, v in obs["episode_stats"].items()}}}
    return out


def summary_table(merged: Mapping[str, Mapping[int, Mapping[str, Any]]], env_id: str,
                  digits: int = 1) -> str:
    """Markdown table, one row per cell: the cell's learner's and observer's final true return,
    the observer's normalised final return (mean ± 95% t-interval and per seed), its final
    episode length and distance (:data:`~logel.experiments.mujoco_figures.DISTANCE`)."""
    key, label = mjf.DISTANCE[env_family(env_id)]
    rows = []
    seeds = sorted(next(iter(merged.values())))
    for cell, results in merged.items():
        norm = mjf.normalised_returns(results, "observer_logel")
        rows.append([cell, mjf.mean_text(mjf.final_values(results, "learner"), digits),
                     mjf.mean_text(mjf.final_values(results, "observer_logel"), digits),
                     mjf.mean_text(norm, 2), " ".join(f"{v:.2f}" for v in norm),
                     mjf.mean_text(mjf.episode_values(results, "observer_logel", "length"), 0),
                     mjf.mean_text(mjf.episode_values(results, "learner", key), 3),
                     mjf.mean_text(mjf.episode_values(results, "observer_logel", key), 3)])
    return markdown_table(
        ["cell", "learner's final return", "observer's final return", "observer, normalised",
         f"normalised per seed ({', '.join(map(str, seeds))})", "observer's episode length",
         f"learner's {label} (m)", f"observer's {label} (m)"], rows)


def claims(merged: Mapping[str, Mapping[int, Mapping[str, Any]]], env_id: str,
           n_resamples: int = mjf.N_RESAMPLES, seed: int = 0) -> dict[str, Claim]:
    """The claims of one environment, paired by seed:

    * ``reaches_<i>`` for the ``i``-th cell of :data:`~logel.experiments.mujoco_learners.FACTORIAL`:
      the observer on the cell's :math:`\\hat\\omega` reaches the cell's learner (mean normalised
      final return above :data:`~logel.experiments.mujoco_figures.REACH_FRACTION`, t-interval;
      :func:`logel.experiments.mujoco_figures.reaches_claim`);
    * ``paper_beats_sb3`` (+ ``_diff``): the observer of the paper's learner ends higher on its
      learner's scale than the observer of SB3's, :math:`P(X>Y)>1/2` (paired bootstrap) and
      mean :math:`X-Y>0` (paired t) on the normalised returns
      (:func:`logel.experiments.mujoco_figures.beats_claims`).

    With one seed every interval is unbounded and every verdict inconclusive.
    """
    n = len(next(iter(merged.values())))
    out: dict[str, Claim] = {}
    for i, cell in enumerate(mjl.FACTORIAL):
        out[f"reaches_{i}"] = mjf.reaches_claim(
            f"{env_id}, E2 cell {cell}: the observer of LOGEL's ω̂ at the true θ reaches the "
            f"learner (normalised final return > {mjf.REACH_FRACTION}, {n} seeds)",
            merged[cell], "observer_logel")
    out["paper_beats_sb3"], out["paper_beats_sb3_diff"] = mjf.beats_claims(
        f"{env_id}: the observer under the paper's learner (X) ends higher on its learner's "
        f"scale than under SB3's (Y), normalised final return, {n} seeds",
        mjf.normalised_returns(merged[PAPER_CELL], "observer_logel"),
        mjf.normalised_returns(merged[SB3_CELL], "observer_logel"), n_resamples, seed)
    return out


# --------------------------------------------------------------------------- command line


def _execute(options: MujocoCommand, args: Any) -> int:
    start_logging()
    log.info("finished: %s", run(options.env, args.seeds, options.budget, options.root,
                                 options.force))
    return 0


# logel run mujoco_factorial_observers: run over --seeds.
COMMAND = Command(config=MujocoCommand, execute=_execute, seeds="0-4")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco_factorial_observers ...``: the same as
    ``logel run mujoco_factorial_observers ...``."""
    return cli.run("mujoco_factorial_observers", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["EXPERIMENT", "MIN_SEEDS", "PAPER_CELL", "SB3_CELL", "cell_observer",
           "check_provenance", "check_sources", "claims", "load_results", "merge", "output_dir",
           "run", "run_seed", "source_dir", "summary_table"]
