"""Observers on the preconditioned observers' rewards (issue 16, Reacher's return goal).

:mod:`logel.experiments.mujoco_preconditioned` fits three learner models (plain LOGEL, a free
diagonal, Adam per PPO update) to the kept traces of the paper's PPO learner and stores each
model's :math:`\\hat\\omega`; it judges the direction, not what an agent does with it. Issue 16
asks for *an observer whose final true return is within the learner's interval*. So, for each
seed with a complete ``mujoco_preconditioned`` folder and each **non-plain** model
(:data:`MODELS`), we train the observer of the main run -- the paper's PPO, the learner's
hyper-parameters, :attr:`~logel.experiments.mujoco.MujocoBudget.observer_updates` updates (30 at
the paper budget), seed ``10_000 + k`` -- on :math:`\\hat\\omega^\\top\\phi`
(:func:`logel.experiments.mujoco_calibration.observe`, the calibration observers' function). The
plain model's observer is the main run's own ``observer_logel`` (its :math:`\\hat\\omega` *is*
the main run's, checked by ``mujoco_preconditioned``), so nothing is retrained for it and every
observer here is **paired by seed** with the learner and the plain LOGEL observer of
``artifacts/mujoco_official/`` (same learner, same observer seed and configuration).

By default the rewards are those recovered from the **cloned** :math:`\\hat\\theta_t` (the
realistic observer, folder ``bc_theta``); ``--thetas bc,true`` adds those from the learner's
true :math:`\\theta_t`.

**Budgets** (``--budget``): the observer's sizes are the main run's at the same budget
(:func:`logel.experiments.mujoco.experiment_config`, one definition for every MuJoCo observer:
``smoke`` 3 updates of 2 x 200 steps, seconds, for tests; ``book`` 20 updates of 8 x 1000;
``paper`` 30 updates of 16 x 2000). The rewards are read from ``mujoco_preconditioned`` at the
same budget unless ``--source-budget`` says otherwise (and from ``--source-root``, default
``--root``).

Run (paper budget; each observer takes about 5--20 minutes of one core, as E4's did)::

    OMP_NUM_THREADS=1 nice -n 5 logel run mujoco_preconditioned_observers --env Reacher-v5 \\
        --seeds 0-7

Results go to ``artifacts/mujoco_preconditioned_observers[_<budget>]/<env>/seed_<k>/``
(``config.json``, ``observers.json``: per agent ``<theta>/<model>`` its weights, true-return
curve, episode statistics and wall time) with a sealed manifest that records the observer seed
and the digest of each source folder's manifest; complete seeds are skipped (resumable).
:func:`merge` pairs them with the main runs, :func:`summary_table` and :func:`claims` summarise
and judge them.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from logel import artifacts, cli
from logel._validation import choice, instance, items, text
from logel.cli import Command
from logel.envs.mujoco_features import env_family
from logel.experiments import mujoco_figures as mjf
from logel.experiments import mujoco_preconditioned as mpre
from logel.experiments.budgets import BUDGETS
from logel.experiments.mujoco import (
    MujocoCommand,
    check_env,
    experiment_config,
    start_logging,
)
from logel.experiments.mujoco_calibration import observe
from logel.learners.ppo import PPOConfig
from logel.plotting import markdown_table
from logel.statistics import Claim

log = logging.getLogger(__name__)

VERSION = "v1"
"""Bump when a change alters results; stored in every manifest."""

EXPERIMENT = "mujoco_preconditioned_observers"

MODELS: tuple[str, ...] = tuple(m for m in mpre.MODELS if m != "plain")
"""The learner models whose rewards get an observer: every model of
:data:`logel.experiments.mujoco_preconditioned.MODELS` but ``plain`` (the main run's own)."""

THETAS: tuple[str, ...] = ("bc", "true")
"""Whose :math:`\\theta` the rewards were recovered from: ``bc`` (cloned) or ``true``
(:data:`logel.experiments.mujoco_preconditioned.OBSERVERS`), in display order."""

OBSERVER_SEED_OFFSET = 10_000
"""Observer of seed ``k``: seed ``10_000 + k``, as the main run's and the calibration's."""

PREFIX = "preconditioned: "
"""Prefix of these observers' keys in :func:`merge`'s results (``"preconditioned: bc/adam"``)."""

MIN_SEEDS = 5
"""Seeds of paper-budget artifacts an environment needs before the book shows its results and
verdicts."""

MODEL_LABELS = {"diagonal": "free-diagonal", "adam": "Adam"}
"""How the claims and tables name each model."""

THETA_LABELS = {"bc": "cloned θ̂", "true": "true θ"}
"""How the claims and tables name each source of :math:`\\theta`."""


def check_names(values: Any, name: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """``values`` if it is a non-empty tuple of distinct entries of ``allowed``, else a
    ``TypeError``/``ValueError`` naming ``name``."""
    out = items(values, name, lambda v, n: choice(v, n, tuple(allowed)))
    if len(set(out)) != len(out):
        raise ValueError(f"{name} names a value twice: {out}")
    return out


@dataclass(frozen=True)
class PreconditionedObserversConfig:
    """The experiment at one budget (everything but the seed)."""

    env_id: str = "Reacher-v5"
    """Gymnasium id (Hopper-v5 or Reacher-v5)."""
    budget: str = "paper"
    """``smoke`` | ``book`` | ``paper``: the observer's sizes (the main run's at this budget)
    and the name of the results folder."""
    source_budget: str = "paper"
    """The budget of the ``mujoco_preconditioned`` folders whose rewards are observed."""
    thetas: tuple[str, ...] = ("bc",)
    """Rewards recovered from these :math:`\\theta` (:data:`THETAS`)."""
    models: tuple[str, ...] = MODELS
    """Rewards of these learner models (:data:`MODELS`)."""
    observer: PPOConfig = field(default_factory=lambda: experiment_config(
        "Reacher-v5", "paper").observer)
    """The observer's PPO (its seed is set per run to ``10_000 + k``)."""
    version: str = VERSION
    """Result version, recorded in the manifest."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        check_env(self.env_id, c + "env_id")
        choice(self.budget, c + "budget", BUDGETS)
        choice(self.source_budget, c + "source_budget", BUDGETS)
        check_names(self.thetas, c + "thetas", THETAS)
        check_names(self.models, c + "models", MODELS)
        instance(self.observer, c + "observer", PPOConfig)
        if self.observer.env_id != self.env_id:
            raise ValueError(f"{c}observer.env_id {self.observer.env_id!r} is not the "
                             f"experiment's {self.env_id!r}")
        text(self.version, c + "version")


def experiment_settings(env_id: str = "Reacher-v5", budget: str = "paper",
                        **overrides: Any) -> PreconditionedObserversConfig:
    """The configuration at ``budget``: the main run's observer
    (:func:`logel.experiments.mujoco.experiment_config`, the paper's learner), rewards from
    ``mujoco_preconditioned`` at the same budget (unless ``source_budget`` is given)."""
    observer = experiment_config(env_id, budget, parity="official").observer
    settings: dict[str, Any] = {"env_id": env_id, "budget": budget, "source_budget": budget,
                                "observer": observer}
    return PreconditionedObserversConfig(**{**settings, **overrides})


def observer_config(config: PreconditionedObserversConfig, seed: int) -> PPOConfig:
    """The observer of seed ``seed``: seed ``10_000 + seed``, nothing recorded."""
    return replace(config.observer, seed=OBSERVER_SEED_OFFSET + seed, record=False)


def output_dir(env_id: str, budget: str, seed: int, root: Path | None = None) -> Path:
    """``<root>/mujoco_preconditioned_observers[_<budget>]/<env>/seed_<seed>``."""
    base = artifacts.artifact_root() if root is None else Path(root)
    name = EXPERIMENT if budget == "paper" else f"{EXPERIMENT}_{budget}"
    return base / name / env_id / f"seed_{seed}"


def source_dir(config: PreconditionedObserversConfig, theta: str, seed: int,
               root: Path | None = None) -> Path:
    """The ``mujoco_preconditioned`` folder of one seed and :math:`\\theta` whose rewards are
    observed."""
    return mpre.output_dir(mpre.PreconditionedMujocoConfig(
        env_id=config.env_id, budget=config.source_budget, observer=theta), seed, root)


def config_dict(config: PreconditionedObserversConfig, seed: int) -> dict[str, Any]:
    """JSON form of one seed's configuration (the observer with its seed)."""
    cfg = replace(config, observer=observer_config(config, seed))
    return artifacts.jsonable({"experiment": EXPERIMENT, "seed": seed, **asdict(cfg)})


def agent_name(theta: str, model: str) -> str:
    """``"<theta>/<model>"``: one observer's key in ``observers.json``."""
    return f"{theta}/{model}"


def source_rewards(config: PreconditionedObserversConfig, seed: int,
                   root: Path | None = None) -> dict[str, dict[str, Any]]:
    """Per agent (:func:`agent_name`), the recovered weights it observes, its source folder
    (relative to the artifact root, so that artifacts name no machine's paths) and the digest of
    the source folder's manifest, from verified ``mujoco_preconditioned`` folders.

    Raises:
        logel.artifacts.ArtifactError: naming the folder if one is missing or does not verify.
    """
    base = artifacts.artifact_root() if root is None else Path(root)
    out = {}
    for theta in config.thetas:
        folder = source_dir(config, theta, seed, root)
        loaded = artifacts.load(folder)
        models = loaded["preconditioned"]["observers"][theta]["models"]
        for model in config.models:
            out[agent_name(theta, model)] = {
                "weights": np.asarray(models[model]["weights"], dtype=np.float64),
                "source": folder.relative_to(base).as_posix(),  # under the artifact root
                "source_manifest_sha256": artifacts.manifest_digest(loaded["manifest"])}
    return out


def check_sources(config: PreconditionedObserversConfig, seeds: Sequence[int],
                  root: Path | None = None) -> None:
    """Fail before any training if a seed's source folder is missing or incomplete.

    Raises:
        logel.artifacts.ArtifactError: one error naming every such folder and the command
            that writes them.
    """
    missing = [source_dir(config, theta, seed, root) for seed in seeds
               for theta in config.thetas
               if not artifacts.is_complete(source_dir(config, theta, seed, root))]
    if missing:
        raise artifacts.ArtifactError(
            "no complete mujoco_preconditioned results in "
            + ", ".join(str(p) for p in missing)
            + f" (write them with `logel run mujoco_preconditioned --env {config.env_id} "
            f"--budget {config.source_budget} --observer <theta> --trace-dir <traces>`, or "
            "check --seeds, --source-budget and --source-root)")


def run_seed(config: PreconditionedObserversConfig, seed: int, out: Path,
             source_root: Path | None = None) -> dict[str, Any]:
    """Every observer of one seed, written to ``out`` with a sealed manifest."""
    t0 = time.perf_counter()
    rewards = source_rewards(config, seed, source_root)
    observer = observer_config(config, seed)
    result = {}
    for name, src in rewards.items():
        obs = observe(src["weights"], observer)
        theta, model = name.split("/")
        result[name] = {**obs, "thetas": theta, "model": model, "source": src["source"],
                        "source_manifest_sha256": src["source_manifest_sha256"]}
        log.info("%s seed %d %s: %.0f s, curve %s", config.env_id, seed, name, obs["seconds"],
                 np.round(np.asarray(obs["curve"], dtype=float), 1))
    cfg = config_dict(config, seed)
    out.mkdir(parents=True, exist_ok=True)
    artifacts.save_json(out / "config.json", cfg)
    artifacts.save_json(out / "observers.json", result)
    artifacts.write_manifest(
        out, config=cfg, seeds=[seed], wall_time_seconds=time.perf_counter() - t0,
        extra={"experiment": EXPERIMENT, "version": config.version,
               "observer_seed": observer.seed,
               "sources": {k: v["source_manifest_sha256"] for k, v in rewards.items()}})
    artifacts.verify(out)
    return result


def run(config: PreconditionedObserversConfig, seeds: Sequence[int], root: Path | None = None,
        force: bool = False, source_root: Path | None = None) -> dict[int, str]:
    """Every seed not already complete with this configuration (unless ``force``); returns
    ``{seed: "done" | "skipped"}``.

    ``source_root``: the artifact root holding ``mujoco_preconditioned`` (default ``root``).

    Raises:
        logel.artifacts.ArtifactError: before any training, if a seed lacks a complete source
            folder (:func:`check_sources`).
        RuntimeError: if a complete seed was written with another configuration.
    """
    source_root = root if source_root is None else source_root
    todo, status = [], {}
    for seed in seeds:
        out = output_dir(config.env_id, config.budget, seed, root)
        if not force and artifacts.is_complete(out):
            if artifacts.read_manifest(out).get("config") != config_dict(config, seed):
                raise RuntimeError(f"{out} holds a different configuration; pass --force to "
                                   "overwrite it")
            status[seed] = "skipped"
        else:
            todo.append(seed)
    check_sources(config, todo, source_root)
    for seed in todo:
        run_seed(config, seed, output_dir(config.env_id, config.budget, seed, root),
                 source_root)
        status[seed] = "done"
    return dict(sorted(status.items()))


# ------------------------------------------------------------------ loading and summaries


def complete_seeds(env_id: str, budget: str = "paper", root: Path | None = None) -> list[int]:
    """The seeds of ``env_id`` at ``budget`` whose folders verify (empty if there is no results
    folder)."""
    base = output_dir(env_id, budget, 0, root).parent
    if not base.is_dir():
        return []
    return [s for s, d in artifacts.seed_folders(base).items() if artifacts.is_complete(d)]


def load_results(env_id: str, budget: str = "paper", root: Path | None = None
                 ) -> dict[int, dict[str, Any]]:
    """``{seed: {agent: observer}}`` of every seed folder, each verified against its manifest.

    Raises:
        logel.artifacts.ArtifactError: naming the folder if there is none or one fails to
            verify.
    """
    base = output_dir(env_id, budget, 0, root).parent
    return {seed: artifacts.load(d)["observers"]
            for seed, d in artifacts.seed_folders(base).items()}


def check_provenance(env_id: str, budget: str = "paper", root: Path | None = None,
                     source_root: Path | None = None) -> list[int]:
    """The complete seeds of ``env_id`` at ``budget`` (:func:`complete_seeds`), after checking
    that each was written at ``budget`` from rewards at ``budget``, that its observer seed is
    ``10_000 + k``, and that each source folder (under ``source_root``, default ``root``) still
    holds the manifest it observed (same digest).

    Raises:
        logel.artifacts.ArtifactError: naming every seed folder that fails a check.
    """
    source_root = root if source_root is None else source_root
    problems = []
    seeds = complete_seeds(env_id, budget, root)
    for seed in seeds:
        folder = output_dir(env_id, budget, seed, root)
        manifest = artifacts.read_manifest(folder)
        cfg = manifest.get("config") or {}
        if (cfg.get("budget"), cfg.get("source_budget")) != (budget, budget):
            problems.append(f"{folder}: written at budget {cfg.get('budget')!r} from rewards at "
                            f"{cfg.get('source_budget')!r}, not {budget!r}")
        if manifest.get("observer_seed") != OBSERVER_SEED_OFFSET + seed:
            problems.append(f"{folder}: observer seed {manifest.get('observer_seed')!r}, not "
                            f"{OBSERVER_SEED_OFFSET + seed}")
        config = experiment_settings(env_id, budget)
        for agent, digest in (manifest.get("sources") or {}).items():
            source = source_dir(config, agent.split("/")[0], seed, source_root)
            if not artifacts.is_complete(source) or digest != artifacts.manifest_digest(
                    artifacts.read_manifest(source)):
                problems.append(f"{folder}: {agent}'s source {source} is missing or was "
                                "rewritten since")
    if problems:
        raise artifacts.ArtifactError("; ".join(problems))
    return seeds


def merge(main: Mapping[int, Mapping[str, Any]], observers: Mapping[int, Mapping[str, Any]]
          ) -> dict[int, dict[str, Any]]:
    """The seeds in both the main runs (``main``: ``logel.experiments.mujoco.load_results(env,
    budget, parity="official")``) and :func:`load_results`: each seed's main results plus one
    agent per observer, ``"preconditioned: <theta>/<model>"``, paired by seed
    (:func:`logel.experiments.mujoco_figures.merge_calibration`)."""
    return mjf.merge_calibration(main, observers, prefix=PREFIX)


def agents(merged: Mapping[int, Mapping[str, Any]]) -> tuple[str, ...]:
    """The preconditioned observers of :func:`merge`'s results: by :data:`THETAS`, then by
    :data:`MODELS`."""

    def order(agent: str) -> tuple[int, int]:
        theta, model = agent.removeprefix(PREFIX).split("/")
        return THETAS.index(theta), MODELS.index(model)

    return tuple(sorted(mjf.calibration_agents(merged, prefix=PREFIX), key=order))


def agent_label(agent: str) -> str:
    """``"preconditioned: bc/adam"`` -> ``"Adam model (cloned θ̂)"``."""
    theta, model = agent.removeprefix(PREFIX).split("/")
    return f"{MODEL_LABELS[model]} model ({THETA_LABELS[theta]})"


def summary_table(merged: Mapping[int, Mapping[str, Any]], env_id: str, digits: int = 1
                  ) -> str:
    """Markdown table, one row per agent (the learner, the main run's plain LOGEL observer,
    each preconditioned observer): final true return and normalised return
    (:func:`logel.experiments.mujoco_figures.normalised_returns`: 0 at the learner's first
    update, 1 at its last) as means with 95% t-intervals, the per-seed normalised returns, and
    the final episode length and distance
    (:data:`logel.experiments.mujoco_figures.DISTANCE`)."""
    key, label = mjf.DISTANCE[env_family(env_id)]
    names = {"learner": "learner (PPO, true reward)",
             "observer_logel": "plain LOGEL observer (the main run's)"}
    names.update({a: agent_label(a) + " observer" for a in agents(merged)})
    rows = []
    for name, shown in names.items():
        norm = mjf.normalised_returns(merged, name)
        rows.append([shown, mjf.mean_text(mjf.final_values(merged, name), digits),
                     mjf.mean_text(norm, 2), " ".join(f"{v:.2f}" for v in norm),
                     mjf.mean_text(mjf.episode_values(merged, name, "length"), 0),
                     mjf.mean_text(mjf.episode_values(merged, name, key), 3)])
    return markdown_table(["agent", "final true return", "normalised return",
                           f"normalised return per seed ({', '.join(map(str, sorted(merged)))})",
                           "episode length", f"{label} (m)"], rows)


def claims(merged: Mapping[int, Mapping[str, Any]], env_id: str,
           n_resamples: int = mjf.N_RESAMPLES, seed: int = 0) -> dict[str, Claim]:
    """The claims of one environment, per preconditioned observer, paired by seed:

    * ``reaches_<theta>_<model>``: the observer reaches the learner, its mean normalised final
      return above :data:`~logel.experiments.mujoco_figures.REACH_FRACTION` (t-interval;
      :func:`logel.experiments.mujoco_figures.reaches_claim`), the issue's "final true return
      within the learner's interval";
    * ``beats_plain_<theta>_<model>`` (+ ``_diff``): it beats the main run's plain LOGEL
      observer on final true return, :math:`P(X>Y)>1/2` (paired bootstrap) and mean
      :math:`X-Y>0` (paired t) (:func:`logel.experiments.mujoco_figures.beats_claims`).

    With one seed every interval is unbounded and every verdict inconclusive.
    """
    plain = mjf.final_values(merged, "observer_logel")
    n = len(merged)
    out: dict[str, Claim] = {}
    for agent in agents(merged):
        key = agent.removeprefix(PREFIX).replace("/", "_")
        what = f"the {agent_label(agent)} observer"
        out["reaches_" + key] = mjf.reaches_claim(
            f"{env_id}: {what} reaches the learner (normalised final return > "
            f"{mjf.REACH_FRACTION}, {n} seeds)", merged, agent)
        out["beats_plain_" + key], out[f"beats_plain_{key}_diff"] = mjf.beats_claims(
            f"{env_id}: {what} (X) beats the plain LOGEL observer (Y), final return, {n} seeds",
            mjf.final_values(merged, agent), plain, n_resamples, seed)
    return out


def paper_command(env_id: str, seeds: Sequence[int]) -> str:
    """The command line that writes the paper-budget folders of ``seeds``."""
    s = sorted(seeds)
    span = f"{s[0]}-{s[-1]}" if s == list(range(s[0], s[-1] + 1)) else ",".join(map(str, s))
    return f"OMP_NUM_THREADS=1 nice -n 5 logel run {EXPERIMENT} --env {env_id} --seeds {span}"


# --------------------------------------------------------------------------- command line


@dataclass(frozen=True, kw_only=True)
class PreconditionedObserversCommand(MujocoCommand):
    """``logel run mujoco_preconditioned_observers``: observers on the preconditioned rewards."""

    env: str = "Reacher-v5"
    """Gymnasium id: Hopper-v5 or Reacher-v5."""
    thetas: tuple[str, ...] = ("bc",)
    """Rewards recovered from these thetas: bc (cloned, the main run's), true, or both."""
    models: tuple[str, ...] = MODELS
    """Rewards of these learner models: diagonal, adam."""
    source_budget: str | None = None
    """Budget of the mujoco_preconditioned folders read (default: --budget)."""
    source_root: Path | None = None
    """Artifact root holding mujoco_preconditioned (default: --root)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        c = type(self).__name__ + "."
        check_names(self.thetas, c + "thetas", THETAS)
        check_names(self.models, c + "models", MODELS)
        if self.source_budget is not None:
            choice(self.source_budget, c + "source_budget", BUDGETS)


def _execute(options: PreconditionedObserversCommand, args: Any) -> int:
    start_logging()
    config = experiment_settings(
        options.env, options.budget, thetas=tuple(options.thetas), models=tuple(options.models),
        source_budget=options.source_budget or options.budget)
    log.info("finished: %s", run(config, args.seeds, options.root, options.force,
                                 options.source_root))
    return 0


# logel run mujoco_preconditioned_observers: run over --seeds.
COMMAND = Command(config=PreconditionedObserversCommand, execute=_execute, seeds="0-7")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco_preconditioned_observers ...``: the same as
    ``logel run mujoco_preconditioned_observers ...``."""
    return cli.run("mujoco_preconditioned_observers", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["MIN_SEEDS", "MODELS", "PREFIX", "THETAS", "PreconditionedObserversCommand",
           "PreconditionedObserversConfig", "agent_label", "agent_name", "agents",
           "check_names", "check_provenance", "check_sources", "claims", "complete_seeds", "config_dict", "experiment_settings",
           "load_results", "merge", "observer_config", "output_dir", "paper_command", "run",
           "run_seed", "source_dir", "source_rewards", "summary_table"]
