"""The gridworld comparison written as sealed artifact folders, one per learner.

:mod:`logel.experiments.comparison` runs the four-learner comparison and returns its results
in memory; the book reruns it at every build. Some of its runs are kept instead, because the
book should show them without paying for them at every build, or because they must be run
once, on purpose, and then stay fixed -- chiefly the **out-of-sample check** of chapter 7: the
held-out step selection (``sec:gl-heldout-steps``) was chosen while looking at seeds 0-19, so
its counts there are in-sample, and the same columns are run here on seeds no rule was chosen
on (100-119 by default, :data:`FRESH_SEEDS`).

``logel run comparison_runs --seeds 100-119`` runs :func:`logel.experiments.comparison.run_comparison`
for every learner and seed and writes, per learner,
``<artifact root>/comparison_runs/<setting>/<learner>/`` (:func:`run_folder`; ``<setting>`` names
the dynamics and the seeds, e.g. ``paper_seeds100-119``) holding

* ``config.json``: the run's configuration (:func:`folder_config`): learner, dynamics, seeds,
  observed steps, trajectories per step, observers, and every nested option of
  :class:`~logel.experiments.comparison.ComparisonConfig` for the record;
* ``seeds/seed_<s>.json``: one learner run (:func:`result_record`): for every observer and ``m``
  the value of the greedy policy for the recovered reward, whether it is optimal and the weight
  error; the optimum and the learner's returns; its compute time;
* ``counts.json``: optimal seeds per observer and ``m``; ``README.md``: what the folder holds and
  the command that regenerates it (:func:`regenerating_command`);
* ``manifest.json`` and ``manifest.sha256`` (:func:`logel.artifacts.write_manifest`).

Every file is written atomically and each seed as soon as it finishes, so an interrupted run
resumes where it stopped; a folder holding another configuration is refused; a folder whose
manifest verifies is left as it is. The random streams are per ``(seed, method, m)`` cell
(:mod:`logel.experiments.comparison`), so the numbers do not depend on the order, the chunking
or ``--n-jobs``. :func:`load_runs` verifies every file against the manifest before it rebuilds
the :class:`~logel.experiments.comparison.ComparisonResult` objects the chapter's tables and
claims take.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np

from logel import artifacts, cli
from logel._validation import choice, integer, items, real
from logel.cli import Command
from logel.envs.gridworld import Variant
from logel.experiments.comparison import (
    EXTRA_METHODS,
    LEARNERS,
    METHODS,
    ComparisonConfig,
    ComparisonResult,
    Method,
    MethodOutcome,
    optimal_seeds,
    run_comparison,
)
from logel.experiments.comparison_figures import optimal_counts
from logel.learners.gridworld_runs import LearnerKind
from logel.runner import run_jobs

__all__ = ["ARTIFACT_NAME", "FRESH_METHODS", "FRESH_SEEDS", "VERSION", "RunsCommand",
           "folder_config", "format_runs", "load_folder", "load_runs", "regenerating_command",
           "result_from_record", "result_record", "run_folder", "setting_name", "write_folder",
           "write_runs"]

ARTIFACT_NAME = "comparison_runs"
"""Folders go to ``<artifact root>/comparison_runs/<setting>/<learner>/`` (:func:`run_folder`)."""
VERSION = "v1"
"""Bump when a change alters results; stored in every configuration and manifest."""
FRESH_SEEDS: tuple[int, ...] = tuple(range(100, 120))
"""Seeds of the out-of-sample check: none of chapter 7's rules was chosen on them (the
held-out step selection was designed on seeds 0-19)."""
FRESH_METHODS: tuple[Method, ...] = ("logel", "logel_shared", "logel_gls", "logel_gls_shared",
                                     "logel_moving_shared", "logel_moving_holm_shared")
"""Observers of the out-of-sample check: plain LOGEL, one step size, noise-aware LOGEL (both
step-size choices) and held-out step selection (both readings, one step size), on the same
cloned inputs."""


def setting_name(variant: str, slip: float, seeds: Sequence[int]) -> str:
    """``paper_seeds100-119``, ``consistent_seeds0-9``, ``paper_slip0.3_seeds0-9``: the folder of
    one dynamics setting and seed list (a list that is not a range is written ``a_b_c``)."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    contiguous = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
    span = (f"{seeds[0]}-{seeds[-1]}" if contiguous and len(seeds) > 1
            else "_".join(map(str, seeds)))
    slip_part = f"_slip{float(slip):g}" if slip else ""
    return f"{variant}{slip_part}_seeds{span}"


def run_folder(config: ComparisonConfig, seeds: Sequence[int],
               root: str | Path | None = None) -> Path:
    """``<root>/comparison_runs/<setting>/<learner>``; ``root`` defaults to
    :func:`logel.artifacts.artifact_root` (``$LOGEL_ARTIFACTS`` or ``<repository>/artifacts``)."""
    base = Path(root) if root is not None else artifacts.artifact_root()
    return (base / ARTIFACT_NAME / setting_name(config.variant, config.slip, seeds)
            / config.learner)


def folder_config(config: ComparisonConfig, seeds: Sequence[int]) -> dict[str, Any]:
    """The JSON configuration of one folder (``config.json`` and the manifest's ``config``):
    the fields :func:`load_folder` rebuilds the :class:`ComparisonConfig` from, the seeds, and
    every nested option (``options``) for the record and for refusing a different run."""
    return artifacts.jsonable({
        "experiment": ARTIFACT_NAME, "version": VERSION, "learner": config.learner,
        "variant": config.variant, "slip": config.slip, "seeds": [int(s) for s in seeds],
        "observed_steps": config.observed_steps, "n_trajectories": config.n_trajectories,
        "methods": config.methods, "options": dataclasses.asdict(config)})


def _config_of(stored: Mapping[str, Any]) -> ComparisonConfig:
    return ComparisonConfig(learner=stored["learner"], variant=stored["variant"],
                            slip=float(stored["slip"]),
                            observed_steps=tuple(int(m) for m in stored["observed_steps"]),
                            n_trajectories=int(stored["n_trajectories"]),
                            methods=tuple(stored["methods"]))


def result_record(result: ComparisonResult) -> dict[str, Any]:
    """One :class:`ComparisonResult` as a JSON object (:func:`result_from_record` inverts it)."""
    return artifacts.jsonable({
        "learner": result.config.learner, "seed": result.seed,
        "environment": result.environment, "optimal_value": result.optimal_value,
        "learner_returns": result.learner_returns,
        "outcomes": [dataclasses.asdict(o) for o in result.outcomes]})


def _number(x: Any) -> float:
    return float("nan") if x is None else float(x)


def result_from_record(record: Mapping[str, Any], config: ComparisonConfig) -> ComparisonResult:
    """The :class:`ComparisonResult` of a :func:`result_record` under ``config`` (``null``
    numbers become NaN, except an outcome's optional weight error and all-ones flag).

    Raises:
        logel.artifacts.ArtifactError: if the record is of another learner.
    """
    if record["learner"] != config.learner:
        raise artifacts.ArtifactError(f"record of learner {record['learner']!r} under "
                                      f"{config.learner!r}")
    outcomes = tuple(MethodOutcome(
        o["method"], int(o["m"]), _number(o["value"]), bool(o["optimal"]),
        None if o["weight_error"] is None else float(o["weight_error"]),
        None if o["fixed_constant_direction"] is None else bool(o["fixed_constant_direction"]))
        for o in record["outcomes"])
    return ComparisonResult(config, int(record["seed"]), dict(record["environment"]),
                            _number(record["optimal_value"]), outcomes,
                            np.array([_number(v) for v in record["learner_returns"]]))


def regenerating_command(config: ComparisonConfig, seeds: Sequence[int]) -> str:
    """The ``logel run comparison_runs`` command that writes the folder of ``config`` and
    ``seeds`` (under the default artifact root)."""
    span = setting_name(config.variant, config.slip, seeds).rsplit("_seeds", 1)[1]
    seed_text = span if "-" in span else ",".join(span.split("_"))
    return (f"logel run comparison_runs --learners {config.learner} --variant {config.variant} "
            f"--slip {config.slip:g} --observed-steps {','.join(map(str, config.observed_steps))} "
            f"--n-trajectories {config.n_trajectories} --methods {','.join(config.methods)} "
            f"--seeds {seed_text}")


def _readme(config: ComparisonConfig, seeds: Sequence[int]) -> str:
    return f"""# The gridworld comparison, {config.learner}, {setting_name(config.variant, config.slip, seeds)}

One run of `logel.experiments.comparison.run_comparison` per seed: the {config.learner} learner on
the `{config.variant}` gridworld (slip {config.slip:g}), observed by {", ".join(config.methods)}
after m = {", ".join(map(str, config.observed_steps))} learning steps, {config.n_trajectories}
trajectories per step, every other option at the package default (all of them in
`config.json`, key `options`).

- `config.json`: the configuration; `seeds/seed_<s>.json`: per observer and m, the value of the
  greedy policy for the recovered reward, whether it is optimal, the weight error, plus the
  optimum and the learner's returns; `counts.json`: optimal seeds per observer and m.
- `manifest.json` holds the SHA-256 of every file, `manifest.sha256` that of the manifest
  (`logel artifacts verify <folder>`); `logel.experiments.comparison_runs.load_folder` checks
  both before it reads anything.

A frozen snapshot, regenerated only deliberately (remove the folder first):

    {regenerating_command(config, seeds)}
"""


def _seed_file(folder: Path, seed: int) -> Path:
    return folder / "seeds" / f"seed_{seed}.json"


def _timed_run(config: ComparisonConfig, seed: int) -> tuple[ComparisonResult, float]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_comparison(config, seed)
    return result, time.perf_counter() - t0


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        return {prefix: obj}
    out: dict[str, Any] = {}
    for k, v in obj.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _differences(previous: Any, current: Mapping[str, Any]) -> str:
    """``"key: stored x, asked y"`` for every differing (dotted) key of two configurations;
    the nested ``options`` only where the top-level fields agree."""
    if not isinstance(previous, dict):
        return "config.json is not a JSON object"
    old, new = _flat(previous), _flat(current)
    diff = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    top = [k for k in diff if not k.startswith("options.")]
    return ", ".join(f"{k}: stored {str(old.get(k))[:40]}, asked {str(new.get(k))[:40]}"
                     for k in (top or diff))


def write_folder(config: ComparisonConfig, seeds: Sequence[int], folder: str | Path, *,
                 n_jobs: int = 1, progress: bool = False, log: bool = False) -> Path:
    """Run ``config`` on ``seeds`` and write the folder, resumably (module docstring).

    Returns:
        ``folder``, complete and sealed (a folder whose manifest already verifies is returned
        as it is).

    Raises:
        logel.artifacts.ArtifactError: if the folder holds another configuration (naming the
            fields that differ).
    """
    folder = Path(folder)
    stored = folder / "config.json"
    cfg = folder_config(config, seeds)
    if stored.exists():
        try:
            previous = json.loads(stored.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise artifacts.ArtifactError(f"{stored}: invalid JSON ({err})") from None
        if previous != cfg:
            raise artifacts.ArtifactError(
                f"{folder}: holds another configuration ({_differences(previous, cfg)}); "
                "remove it or write elsewhere (--root)")
        if artifacts.is_complete(folder):
            return folder
    else:
        artifacts.save_json(stored, cfg)
    todo = [int(s) for s in seeds if not _seed_file(folder, int(s)).is_file()]
    if log:
        print(f"{config.learner}: {len(todo)} of {len(seeds)} seeds to run -> {folder}",
              flush=True)
    chunk = max(1, n_jobs)
    for i in range(0, len(todo), chunk):
        batch = todo[i:i + chunk]
        done = run_jobs(_timed_run, [(config, s) for s in batch],
                        n_jobs=min(n_jobs, len(batch)), progress=progress,
                        description=config.learner)
        for seed, (result, seconds) in zip(batch, done, strict=True):
            artifacts.save_json(_seed_file(folder, seed),
                                {**result_record(result), "seconds": seconds})
            if log:
                print(f"  {config.learner} seed {seed}: {seconds:.1f} s", flush=True)
    results = _read_seeds(folder, cfg)
    seconds = sum(float(json.loads(_seed_file(folder, int(s)).read_text(encoding="utf-8"))
                        .get("seconds", 0.0)) for s in seeds)
    artifacts.atomic_write_text(folder / "README.md", _readme(config, seeds))
    artifacts.save_json(folder / "counts.json",
                        {method: {str(m): c for m, c in optimal_counts(results, method).items()}
                         for method in config.methods})
    artifacts.write_manifest(folder, config=cfg, seeds=[int(s) for s in seeds],
                             wall_time_seconds=seconds,
                             extra={"experiment": ARTIFACT_NAME, "version": VERSION})
    return folder


def _read_seeds(folder: Path, stored: Mapping[str, Any]) -> list[ComparisonResult]:
    config = _config_of(stored)
    return [result_from_record(json.loads(_seed_file(folder, int(s)).read_text(
        encoding="utf-8")), config) for s in stored["seeds"]]


def load_folder(folder: str | Path) -> tuple[list[ComparisonResult], dict[str, Any]]:
    """Verify a folder of :func:`write_folder` (every file against the manifest, the manifest
    against its digest: :func:`logel.artifacts.load`), then rebuild its results.

    Returns:
        ``(results, manifest)``: one :class:`ComparisonResult` per seed, in the stored seed
        order, and the verified manifest.

    Raises:
        logel.artifacts.ArtifactError: if the folder is missing, incomplete or edited, or a
            seed listed by its configuration is missing.
    """
    data = artifacts.load(folder)
    stored = data["config"]
    if data["manifest"].get("config") != stored:
        raise artifacts.ArtifactError(f"{folder}: config.json differs from the manifest")
    config = _config_of(stored)
    results = []
    for s in stored["seeds"]:
        key = f"seeds/seed_{s}"
        if key not in data:
            raise artifacts.ArtifactError(f"{folder}: no {key}.json in the manifest")
        results.append(result_from_record(data[key], config))
    return results, data["manifest"]


def load_runs(setting: str, learners: Sequence[str] = LEARNERS,
              root: str | Path | None = None
              ) -> tuple[dict[str, list[ComparisonResult]], dict[str, dict[str, Any]]]:
    """:func:`load_folder` of every learner of one setting, e.g.
    ``load_runs(setting_name("paper", 0.0, FRESH_SEEDS))``.

    Returns:
        ``(results, manifests)``, both by learner.
    """
    base = Path(root) if root is not None else artifacts.artifact_root()
    results, manifests = {}, {}
    for ln in learners:
        results[ln], manifests[ln] = load_folder(base / ARTIFACT_NAME / setting / ln)
    return results, manifests


def write_runs(configs: Mapping[str, ComparisonConfig], seeds: Sequence[int],
               root: str | Path | None = None, *, n_jobs: int = 1, progress: bool = False,
               log: bool = False) -> dict[str, Path]:
    """:func:`write_folder` of every learner's configuration in its :func:`run_folder`."""
    return {ln: write_folder(cfg, seeds, run_folder(cfg, seeds, root), n_jobs=n_jobs,
                             progress=progress, log=log) for ln, cfg in configs.items()}


def format_runs(results: Mapping[str, Sequence[ComparisonResult]]) -> str:
    """Plain text: optimal seeds per observer and ``m``, for each learner."""
    lines = []
    for ln, res in results.items():
        cfg = res[0].config
        lines.append(f"{ln} ({cfg.variant}, slip {cfg.slip}; seeds {res[0].seed}..{res[-1].seed}, "
                     f"n = {len(res)}): optimal seeds at m = "
                     + " ".join(map(str, cfg.observed_steps)))
        for method in cfg.methods:
            counts = [int(optimal_seeds(res, method, m).sum()) for m in cfg.observed_steps]
            lines.append(f"  {method:>26s} " + " ".join(f"{c:2d}" for c in counts))
    return "\n".join(lines)


# ------------------------------------------------------------------------------ command line


@dataclass(frozen=True)
class RunsCommand:
    """``logel run comparison_runs``: the comparison for several learners, one sealed folder
    per learner (the out-of-sample check of chapter 7 by default)."""

    learners: tuple[LearnerKind, ...] = LEARNERS
    """The learners to run."""
    variant: Variant = "paper"
    """Gridworld dynamics variant."""
    slip: float = 0.0
    """Probability of a random move."""
    observed_steps: tuple[int, ...] = tuple(range(2, 16))
    """Numbers m of observed learning steps (default: the book budget's)."""
    n_trajectories: int = 50
    """Trajectories per learning step (learner and observers)."""
    methods: tuple[Method, ...] = FRESH_METHODS
    """Which observers to run (LfL is left out by default)."""
    root: Path | None = None
    """Artifact root (default: $LOGEL_ARTIFACTS or the repository's artifacts); the folders
    are <root>/comparison_runs/<setting>/<learner>."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        items(self.learners, c + "learners", lambda v, n: choice(v, n, LEARNERS))
        if len(set(self.learners)) != len(self.learners):
            raise ValueError(f"{c}learners: a learner is given twice: {self.learners}")
        choice(self.variant, c + "variant", get_args(Variant))
        real(self.slip, c + "slip", low=0, high=1)
        items(self.observed_steps, c + "observed_steps", lambda v, n: integer(v, n, low=1))
        integer(self.n_trajectories, c + "n_trajectories", low=1)
        items(self.methods, c + "methods", lambda v, n: choice(v, n, METHODS + EXTRA_METHODS))

    def configs(self) -> dict[str, ComparisonConfig]:
        """One :class:`ComparisonConfig` per learner."""
        return {ln: ComparisonConfig(learner=ln, variant=self.variant, slip=self.slip,
                                     observed_steps=self.observed_steps,
                                     n_trajectories=self.n_trajectories, methods=self.methods)
                for ln in self.learners}


def _execute(command: RunsCommand, args: Any) -> None:
    folders = write_runs(command.configs(), args.seeds, command.root, n_jobs=args.n_jobs,
                         progress=args.progress, log=True)
    results = {ln: load_folder(folder)[0] for ln, folder in folders.items()}
    for folder in folders.values():
        print(f"artifact: {folder} (verified)")
    print(format_runs(results))


# logel run comparison_runs: write_runs over --seeds for --learners.
COMMAND = Command(config=RunsCommand, execute=_execute, seeds="100-119",
                  options=("n_jobs", "progress"))


def main(argv: list[str] | None = None) -> int:
    """``python -m logel.experiments.comparison_runs --seeds 100-119``: the same as
    ``logel run comparison_runs ...``."""
    return cli.run("comparison_runs", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
