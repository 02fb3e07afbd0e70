"""E2 and E3: which part of the PPO learner breaks LOGEL's premise?

Both experiments train variants of the paper's PPO learner (``parity="official"``) and measure,
at the learner's **true** parameters (no cloning), how well the gradient-step model
:math:`\\Delta_t=\\alpha_t\\nabla\\psi_t\\omega` describes its updates, for the reference reward
:math:`\\omega_{ref}` (Hopper: gymnasium's weights; Reacher: the least-squares projection of the
true reward on the features, :func:`logel.experiments.mujoco_diagnostics.reference_weights`):

* the **explained motion** :math:`1-\\sum_t\\|\\Delta_t-\\alpha_tJ_t\\omega_{ref}\\|^2/
  \\sum_t\\|\\Delta_t\\|^2` with the best non-negative :math:`\\alpha_t`;
* the per-step cosine :math:`\\cos(\\Delta_t, J_t\\omega_{ref})`;
* LOGEL's :math:`\\hat\\omega` from the true parameters, its standardised cosine with
  :math:`\\omega_{ref}` and its control weight (sign and size).

**E3, the PPO ladder**: from a plain policy-gradient step to the full PPO update, one
ingredient at a time (:data:`RUNGS`): full-batch one-epoch SGD, then Adam, then 32 minibatches,
then 10 epochs, then the clipped surrogate, then the decaying learning rate and clip range (the
paper's learner).

**E2, the factorial**: mean-head gain {0.01, 1} x control cost on {the clipped, the raw} action
(:data:`FACTORIAL`), everything else the paper's learner.

Run::

    python -m logel.experiments.mujoco_learners --experiment ladder --env Hopper-v5 --seeds 0-4
    python -m logel.experiments.mujoco_learners --experiment factorial --env Reacher-v5 --seeds 0-4

Results go to ``artifacts/mujoco_<experiment>[_<budget>]/<env>/seed_<k>/`` (one JSON with every
variant) with a manifest; complete seeds are skipped.

**Kept traces** (``--trace-dir``, as ``logel run mujoco``'s): each variant's learner trace is
saved there as ``<env>_<budget>_<experiment>-<slug>_seed<k>.npz`` (:func:`trace_name`, about
100 MB at the paper budget; never committed) and reused by a later run with the same learner
configuration; results are the same with or without it. **A subset of variants**
(``--variants adam,sgd-full-batch-1-epoch``, by :func:`variant_slug`) is written to its own
folder, ``mujoco_<experiment>_subset[_<budget>]/<env>/<slugs>/seed_<k>``
(:func:`output_dir`), never mistaken for a complete experiment's::

    python -m logel.experiments.mujoco_learners --experiment ladder --env Reacher-v5 \
        --seeds 0-4 --variants sgd-full-batch-1-epoch,adam --trace-dir <scratch folder>
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from logel import artifacts, cli
from logel._validation import choice, items, text
from logel.cli import Command
from logel.evaluation import cosine_similarity
from logel.experiments.mujoco import (
    MujocoCommand,
    experiment_config,
    learner_trace,
    require_directory,
    start_logging,
)
from logel.experiments.mujoco_diagnostics import explained_motion, reference_weights
from logel.irl.neural import NeuralLOGELConfig, neural_logel
from logel.learners.ppo import PPOConfig

log = logging.getLogger(__name__)

VERSION = "v1"
"""Bump when a change alters results; stored in every manifest."""

SGD_LEARNING_RATE = 0.1
"""Step size of the SGD rungs (Adam's 7e-4 would barely move plain SGD; the explained motion
does not depend on it, since :math:`\\alpha_t` is fitted per step)."""

NO_CLIP = 1e9
"""A clip range no probability ratio reaches: the unclipped surrogate."""

RUNGS: dict[str, dict[str, Any]] = {
    "sgd, full batch, 1 epoch": {"optimizer": "sgd", "learning_rate": SGD_LEARNING_RATE,
                                 "n_epochs": 1, "batch_size": None, "clip_range": NO_CLIP,
                                 "lr_schedule": "constant", "clip_schedule": "constant"},
    "+ Adam": {"optimizer": "adam", "learning_rate": 7e-4, "n_epochs": 1, "batch_size": None,
               "clip_range": NO_CLIP, "lr_schedule": "constant", "clip_schedule": "constant"},
    "+ 32 minibatches": {"optimizer": "adam", "learning_rate": 7e-4, "n_epochs": 1,
                         "clip_range": NO_CLIP, "lr_schedule": "constant",
                         "clip_schedule": "constant"},
    "+ 10 epochs": {"optimizer": "adam", "learning_rate": 7e-4, "clip_range": NO_CLIP,
                    "lr_schedule": "constant", "clip_schedule": "constant"},
    "+ clipping": {"optimizer": "adam", "learning_rate": 7e-4, "clip_range": 0.2,
                   "lr_schedule": "constant", "clip_schedule": "constant"},
    "+ decay (the paper's PPO)": {},
}
"""E3's rungs: overrides of the paper's learner (``batch_size=None``: the whole rollout)."""

FACTORIAL: dict[str, dict[str, Any]] = {
    "gain 0.01, clipped": {"head_gain": 0.01, "raw_control": False},
    "gain 0.01, raw": {"head_gain": 0.01, "raw_control": True},
    "gain 1, clipped": {"head_gain": 1.0, "raw_control": False},
    "gain 1, raw (the paper's)": {"head_gain": 1.0, "raw_control": True},
}
"""E2's cells: overrides of the paper's learner."""

EXPERIMENTS = {"ladder": RUNGS, "factorial": FACTORIAL}


def variant_slug(name: str) -> str:
    """A variant's name as a file-name part: lower case, every run of other characters than
    letters and digits one ``-`` (``"+ Adam"`` -> ``adam``, ``"sgd, full batch, 1 epoch"`` ->
    ``sgd-full-batch-1-epoch``)."""
    return re.sub(r"[^a-z0-9]+", "-", text(name, "name").lower()).strip("-")


def variant_slugs(experiment: str) -> dict[str, str]:
    """``{slug: variant name}`` of ``experiment``'s variants, in their order."""
    choice(experiment, "experiment", tuple(EXPERIMENTS))
    return {variant_slug(name): name for name in EXPERIMENTS[experiment]}


def select_variants(experiment: str, slugs: Sequence[str] = (), name: str = "variants"
                    ) -> tuple[str, ...]:
    """The variant names of ``experiment`` that ``slugs`` pick (:func:`variant_slug`), in the
    experiment's order; every variant for ``()``. A ``ValueError`` naming ``name`` for an
    unknown or repeated slug."""
    known = variant_slugs(experiment)
    picked = items(slugs, name, text, nonempty=False)
    if len(set(picked)) != len(picked):
        raise ValueError(f"{name} names a variant twice: {list(picked)}")
    for slug in picked:
        if slug not in known:
            raise ValueError(f"{name}: unknown {experiment} variant {slug!r} (choose from "
                             f"{', '.join(known)})")
    return tuple(v for s, v in known.items() if not picked or s in picked)


def trace_name(experiment: str, env_id: str, budget: str, variant: str, seed: int) -> str:
    """File name of a variant's kept learner trace:
    ``<env>_<budget>_<experiment>-<slug>_seed<k>.npz``."""
    choice(experiment, "experiment", tuple(EXPERIMENTS))
    choice(variant, "variant", tuple(EXPERIMENTS[experiment]))
    return f"{env_id}_{budget}_{experiment}-{variant_slug(variant)}_seed{seed}.npz"


def seed_learner(env_id: str, budget: str, seed: int) -> PPOConfig:
    """The paper's learner (parity ``official``) of ``budget``, seeded by ``seed`` and
    recording, that every variant overrides."""
    return replace(experiment_config(env_id, budget).learner, seed=seed, record=True)


def variant_config(learner: PPOConfig, overrides: dict[str, Any]) -> PPOConfig:
    """The learner with ``overrides`` (``batch_size=None``: one minibatch of the whole rollout)."""
    values = dict(overrides)
    if "batch_size" in values and values["batch_size"] is None:
        values["batch_size"] = learner.n_envs * learner.n_steps
    return replace(learner, **values)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Uncentred cosine (0 when either vector is zero): :func:`logel.evaluation.cosine_similarity`."""
    return cosine_similarity(a, b, centre=False)


def premise_at_true_theta(run_trace: Any, logel_config: NeuralLOGELConfig) -> dict[str, Any]:
    """How well :math:`\\Delta_t=\\alpha_tJ_t\\omega` describes a learner at its true
    parameters, for :math:`\\omega_{ref}` and for LOGEL's :math:`\\hat\\omega` (module
    docstring)."""
    result = neural_logel(run_trace, replace(logel_config, thetas="true"))
    steps = list(result.steps)
    omega_ref = reference_weights(run_trace, steps)
    deltas = np.diff(result.thetas, axis=0)
    grads = np.einsum("tdq,q->td", result.jacobians, omega_ref)
    phi = np.asarray(run_trace.features[steps], dtype=np.float64)
    scales = phi.reshape(-1, phi.shape[-1]).std(axis=0)
    return {
        "steps": steps,
        "omega_ref": omega_ref.tolist(),
        "explained_motion_ref": explained_motion(deltas, result.jacobians, omega_ref),
        "step_cosine_ref": [_cosine(d, g) for d, g in zip(deltas, grads, strict=True)],
        "weights": result.weights.tolist(),
        "explained_motion_fit": explained_motion(deltas, result.jacobians, result.weights,
                                                 result.learning_rates),
        "cosine_standardised": _cosine(result.weights * scales, omega_ref * scales),
        "control_weight": float(result.weights[-1]),
        "control_weight_ref": float(omega_ref[-1]),
        "delta_norms": np.linalg.norm(deltas, axis=1).tolist(),
        "converged": bool(result.fit.converged),
    }


def output_dir(experiment: str, env_id: str, budget: str, seed: int,
               root: Path | None = None, variants: Sequence[str] | None = None) -> Path:
    """``<root>/mujoco_<experiment>[_<budget>]/<env>/seed_<seed>`` for every variant (``None``,
    ``()`` or all of them); for a subset, its own folder
    ``<root>/mujoco_<experiment>_subset[_<budget>]/<env>/<slug>_<slug>.../seed_<seed>`` (the
    slugs in the experiment's order), so that it is never read as the complete experiment."""
    root = artifacts.artifact_root() if root is None else Path(root)
    chosen = select_variants(experiment, [variant_slug(v) for v in variants or ()])
    suffix = "" if budget == "paper" else f"_{budget}"
    if chosen == tuple(EXPERIMENTS[experiment]):
        return root / f"mujoco_{experiment}{suffix}" / env_id / f"seed_{seed}"
    subset = "_".join(variant_slug(v) for v in chosen)
    return root / f"mujoco_{experiment}_subset{suffix}" / env_id / subset / f"seed_{seed}"


def config_dict(experiment: str, env_id: str, budget: str, seed: int,
                variants: Sequence[str] | None = None) -> dict[str, Any]:
    """JSON form of one seed's configuration (what ``config.json`` and the manifest hold): the
    learner of every variant run (``None``: all of ``experiment``'s) and the observer."""
    names = variants or tuple(EXPERIMENTS[experiment])
    learner = seed_learner(env_id, budget, seed)
    base = experiment_config(env_id, budget)
    return artifacts.jsonable({
        "experiment": f"mujoco_{experiment}", "env_id": env_id, "budget": budget,
        "seed": seed, "version": VERSION,
        "learners": {name: asdict(variant_config(learner, EXPERIMENTS[experiment][name]))
                     for name in names},
        "logel": asdict(replace(base.logel, seed=seed, thetas="true"))})


def run_seed(experiment: str, env_id: str, budget: str, seed: int,
             out: Path | None = None, trace_dir: Path | None = None,
             variants: Sequence[str] | None = None) -> dict[str, Any]:
    """The variants of ``experiment`` for one seed (the learner seeded by ``seed``).

    Args:
        experiment: ``"ladder"`` (E3) or ``"factorial"`` (E2).
        env_id: Gymnasium id.
        budget: ``smoke`` | ``book`` | ``paper``.
        seed: the learner's seed.
        out: artifact folder, or None to write nothing.
        trace_dir: keep each variant's learner trace there (:func:`trace_name`), and reuse a
            kept trace of the same learner configuration instead of training
            (:func:`logel.experiments.mujoco.learner_trace`); the results are the same.
        variants: the variant names to run (None: all, in the experiment's order).
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {tuple(EXPERIMENTS)}, got {experiment!r}")
    names = select_variants(experiment, [variant_slug(v) for v in variants or ()])
    t_start = time.perf_counter()
    base = experiment_config(env_id, budget)
    learner = seed_learner(env_id, budget, seed)
    results: dict[str, Any] = {}
    traces: dict[str, str] = {}
    for name in names:
        cfg = variant_config(learner, EXPERIMENTS[experiment][name])
        t0 = time.perf_counter()
        path = (None if trace_dir is None
                else Path(trace_dir) / trace_name(experiment, env_id, budget, name, seed))
        trace, curve, _ = learner_trace(cfg, path)
        premise = premise_at_true_theta(trace, replace(base.logel, seed=seed))
        stats = trace.metadata["learner_episode_stats"]
        results[name] = {"learner_curve": [None if np.isnan(v) else float(v) for v in curve],
                         "learner_episode_stats": {
                             k: [np.nan if v is None else float(v) for v in stats[k]]
                             for k in sorted(stats)},
                         **premise, "seconds": time.perf_counter() - t0}
        if path is not None:
            traces[name] = artifacts.sha256_file(path)
        log.info("%s %s seed %d, %s: explained %.3f, step cosines %s, control weight %.3g",
                 experiment, env_id, seed, name, premise["explained_motion_ref"],
                 np.round(premise["step_cosine_ref"], 3), premise["control_weight"])
    result = {"experiment": experiment, "env_id": env_id, "variants": results}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        cfg_all = config_dict(experiment, env_id, budget, seed, names)
        artifacts.save_json(out / "config.json", cfg_all)
        artifacts.save_json(out / f"{experiment}.json", result)
        extra: dict[str, Any] = {"experiment": f"mujoco_{experiment}", "version": VERSION}
        if traces:  # provenance of the kept traces (file names and digests, no path)
            extra["trace_sha256"] = {
                trace_name(experiment, env_id, budget, n, seed): h for n, h in traces.items()}
        artifacts.write_manifest(out, config=cfg_all, seeds=[seed],
                                 wall_time_seconds=time.perf_counter() - t_start, extra=extra)
    return result


def run(experiment: str, env_id: str, seeds: Sequence[int], budget: str = "paper",
        root: Path | None = None, force: bool = False, trace_dir: Path | None = None,
        variants: Sequence[str] | None = None) -> dict[int, str]:
    """Every seed not already complete; resumable. ``trace_dir`` and ``variants``: see
    :func:`run_seed` (a subset of variants has its own folder, :func:`output_dir`).

    Raises:
        RuntimeError: if a complete seed folder holds another configuration (unless
            ``force``).
    """
    names = select_variants(experiment, [variant_slug(v) for v in variants or ()])
    status = {}
    for seed in seeds:
        out = output_dir(experiment, env_id, budget, seed, root, names)
        if not force and artifacts.is_complete(out):
            if artifacts.read_manifest(out).get("config") != config_dict(
                    experiment, env_id, budget, seed, names):
                raise RuntimeError(f"{out} holds a different configuration; pass --force to "
                                   "overwrite it")
            status[seed] = "skipped"
            continue
        run_seed(experiment, env_id, budget, seed, out, trace_dir, names)
        status[seed] = "done"
    return status


def load_results(experiment: str, env_id: str, budget: str = "paper",
                 root: Path | None = None, variants: Sequence[str] | None = None
                 ) -> dict[int, dict[str, Any]]:
    """Every complete seed (of the folder of ``variants``, :func:`output_dir`), verified
    against its manifest."""
    base = output_dir(experiment, env_id, budget, 0, root, variants).parent
    return {seed: artifacts.load(d)[experiment]
            for seed, d in artifacts.seed_folders(base).items()}


@dataclass(frozen=True, kw_only=True)
class LearnersCommand(MujocoCommand):
    """``logel run mujoco_learners``: E2 (factorial) or E3 (ladder)."""

    experiment: str
    """Which variants: the PPO ladder (E3) or the head-gain x control-cost factorial (E2)."""
    variants: tuple[str, ...] = ()
    """Run only these variants, by slug (e.g. sgd-full-batch-1-epoch,adam for the ladder;
    default: all); a subset is written to its own folder (mujoco_<experiment>_subset)."""
    trace_dir: Path | None = None
    """Scratch directory that keeps each variant's learner trace (~100 MB per variant and seed
    at the paper budget) and reuses it in later runs; results are unchanged."""

    def __post_init__(self) -> None:
        super().__post_init__()
        c = type(self).__name__ + "."
        choice(self.experiment, c + "experiment", tuple(EXPERIMENTS))
        select_variants(self.experiment, self.variants, c + "variants")
        if self.trace_dir is not None:
            require_directory(self.trace_dir, c + "trace_dir")


def _execute(options: LearnersCommand, args: Any) -> int:
    start_logging()
    names = select_variants(options.experiment, options.variants)
    status = run(options.experiment, options.env, args.seeds, options.budget, options.root,
                 options.force, options.trace_dir, names)
    log.info("finished: %s", status)
    return 0


# logel run mujoco_learners: run over --seeds.
COMMAND = Command(config=LearnersCommand, execute=_execute, seeds="0-4",
                  choices={"experiment": tuple(EXPERIMENTS)}, aliases={"variants": ("--rungs",)})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco_learners ...``: the same as
    ``logel run mujoco_learners ...``."""
    return cli.run("mujoco_learners", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
