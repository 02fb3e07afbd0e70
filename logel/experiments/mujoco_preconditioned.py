"""Preconditioned LOGEL on the MuJoCo traces of the paper's PPO learner (issue 16, MuJoCo part).

The paper's learner is PPO with Adam. Plain LOGEL models each observed update as a plain
gradient step :math:`\\Delta_t=\\alpha_t\\nabla\\psi_t\\omega`; the preconditioned observer
(:mod:`logel.irl.preconditioned`, book chapter 10) models it as
:math:`\\Delta_t=\\alpha_tP_t\\nabla\\psi_t\\omega`. On the kept learner traces of
:mod:`logel.experiments.mujoco` (``--trace-dir``, learner parity ``official``) and for each
observer's :math:`\\theta` -- the learner's **true** parameters (approximate setting, the actor
trunk) and the **cloned** :math:`\\hat\\theta_t` of the main run
(:func:`logel.irl.neural.neural_logel`, the same cloning, configuration and seed) -- we fit
three learner models on the same :math:`(\\Delta_t,\\widehat{\\nabla\\psi}_t)`:

* ``plain``: :math:`P_t=I` (LOGEL as in the paper; equal to the main run's fit);
* ``diagonal``: one free positive diagonal shared by all steps, by block-coordinate descent;
* ``adam``: Adam's preconditioner from the observer's own gradient estimates, **per update**.
  One PPO update is ``S`` Adam steps (``n_epochs`` passes over ``n_envs * n_steps /
  batch_size`` minibatches; 320 at the paper's sizes) on a gradient that changes little within
  the update, so over one update Adam's moment averages decay by :math:`\\beta^S`
  (:func:`update_betas`): :math:`(0.9, 0.999)` per minibatch is :math:`(\\approx0, 0.726)` per
  update -- no momentum across updates, a second moment that remembers about three updates.

Reported per seed, observer and model (:func:`analyse`): :math:`\\cos(\\hat\\omega,
\\omega_{ref})` (:math:`\\omega_{ref}` from
:func:`~logel.experiments.mujoco_diagnostics.reference_weights`), raw and standardised (each
weight times its feature's standard deviation, :func:`~logel.experiments.mujoco_controls.
feature_scales`); the explained parameter motion of the fit; the motion null
(:func:`logel.diagnostics.motion_null`: the same model's explained motion for
:math:`\\hat\\omega`, for :math:`\\omega_{ref}` and for random reward directions, from one
stream per cell); the standardised weights (Reacher's control weight, Hopper's forward, alive
and control weights); and the solver's convergence.

Run::

    OMP_NUM_THREADS=1 nice -n 5 logel run mujoco_preconditioned --env Reacher-v5 --seeds 0-7 \\
        --trace-dir <directory of kept learner traces>

Results go to ``artifacts/mujoco_preconditioned[_<budget>]/<env>/<observer>_theta/seed_<k>/``
with a sealed manifest; complete seeds are skipped (resumable).

**On a rung of E3's PPO ladder** (``rung``, a slug of
:func:`logel.experiments.mujoco_learners.variant_slugs`, e.g. ``adam`` for "+ Adam" or
``sgd-full-batch-1-epoch``): the same analysis on the learner traces that
``logel run mujoco_learners --experiment ladder --trace-dir ...`` keeps (each trace checked to
be that rung's learner), at the true :math:`\\theta` only. On the full-batch one-epoch rungs one
update is one optimizer step, so the ``adam`` model's per-update betas are the learner's own,
:math:`(0.9, 0.999)`. Results go to
``.../<env>/ladder_<rung>/true_theta/seed_<k>/``; the manifest records the trace's SHA-256, the
rung and the Adam steps per update::

    OMP_NUM_THREADS=1 logel run mujoco_preconditioned --env Reacher-v5 --seeds 0-4 \
        --rung adam --trace-dir <directory of kept ladder traces>
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from logel import artifacts, cli
from logel._validation import as_array, choice, instance, integer, items, real
from logel.cli import Command
from logel.diagnostics import motion_null
from logel.envs.mujoco_features import feature_names
from logel.evaluation import cosine_similarity
from logel.experiments.budgets import BUDGETS
from logel.experiments.mujoco import (
    MujocoCommand,
    check_env,
    experiment_config,
    require_directory,
    same_learner,
    start_logging,
    trace_name,
)
from logel.experiments.mujoco_controls import feature_scales
from logel.experiments.mujoco_diagnostics import reference_weights
from logel.experiments.mujoco_learners import (
    RUNGS,
    seed_learner,
    variant_config,
    variant_slugs,
)
from logel.experiments.mujoco_learners import trace_name as ladder_trace_name
from logel.irl.neural import NeuralLOGELConfig, neural_logel
from logel.irl.preconditioned import PreconditionerKind, fit_preconditioned
from logel.statistics import Claim, mean_ci
from logel.streams import cell_rng
from logel.traces import LearnerTrace

log = logging.getLogger(__name__)

VERSION = "v1"
"""Bump when a change alters results; stored in every manifest."""

EXPERIMENT = "mujoco_preconditioned"

MODELS: dict[str, PreconditionerKind] = {"plain": "identity", "diagonal": "diagonal",
                                         "adam": "adam"}
"""The learner models compared: name -> :func:`~logel.irl.preconditioned.fit_preconditioned`'s
``preconditioner``."""

OBSERVERS = ("true", "bc")
"""The observers' :math:`\\theta`: the learner's true parameters, or cloned ones."""

LADDER_RUNGS: dict[str, str] = variant_slugs("ladder")
"""``{slug: rung name}`` of E3's ladder (:data:`logel.experiments.mujoco_learners.RUNGS`): the
values of :attr:`PreconditionedMujocoConfig.rung`."""


def update_betas(betas: tuple[float, float], adam_steps: int) -> tuple[float, float]:
    """Adam's decay rates per PPO update: :math:`(\\beta_1^S,\\beta_2^S)`.

    Adam's moments are exponential averages, :math:`m_k=\\beta_1m_{k-1}+(1-\\beta_1)g_k`
    (Kingma & Ba 2015, Alg. 1). Over ``S`` minibatch steps on a nearly constant gradient
    :math:`g_t` the average moves to :math:`\\beta_1^Sm+(1-\\beta_1^S)g_t`: per update, the
    same average with decay :math:`\\beta_1^S` (and likewise :math:`\\beta_2^S` for
    :math:`g^2`).
    """
    b = items(betas, "betas", lambda v, n: real(v, n, low=0.0, high=1.0, high_open=True))
    if len(b) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas}")
    s = integer(adam_steps, "adam_steps", low=1)
    return (float(b[0]) ** s, float(b[1]) ** s)


def adam_steps_per_update(learner: Mapping[str, Any]) -> int:
    """Adam steps of one PPO update: ``n_epochs * ceil(n_envs * n_steps / batch_size)``
    (the learner's configuration as the trace records it)."""
    try:
        n_epochs, n_envs = int(learner["n_epochs"]), int(learner["n_envs"])
        n_steps, batch = int(learner["n_steps"]), int(learner["batch_size"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"learner must give n_epochs, n_envs, n_steps and batch_size ({err})"
                         ) from None
    if min(n_epochs, n_envs, n_steps, batch) < 1:
        raise ValueError(f"learner sizes must be positive, got {dict(learner)}")
    return n_epochs * math.ceil(n_envs * n_steps / batch)


@dataclass(frozen=True)
class PreconditionedMujocoConfig:
    """The experiment at one budget (everything but the seed)."""

    env_id: str = "Reacher-v5"
    """Gymnasium id (Hopper-v5 or Reacher-v5)."""
    budget: str = "paper"
    """``smoke`` | ``book`` | ``paper``: the budget of the learner traces and of the cloning."""
    observer: str = "true"
    """The observer's :math:`\\theta`: ``true`` (the learner's) or ``bc`` (cloned, as the main
    run); each has its own artifact folder (:func:`output_dir`)."""
    rung: str | None = None
    """The learner traces: ``None``, the main run's (the paper's PPO); or a rung of E3's ladder
    by slug (:data:`LADDER_RUNGS`), the traces kept by ``mujoco_learners --trace-dir`` (true
    :math:`\\theta` only; its own artifact folder)."""
    learner_betas: tuple[float, float] = (0.9, 0.999)
    """The learner's Adam :math:`(\\beta_1,\\beta_2)` per minibatch step (PyTorch's default)."""
    n_directions: int = 200
    """Random reward directions of each motion null."""
    outer_iter: int = 50
    """Outer iterations over the preconditioner (``diagonal``, ``adam``)."""
    logel: NeuralLOGELConfig = field(default_factory=NeuralLOGELConfig)
    """The observer's options, as the main run's (``thetas`` and ``seed`` are set per run)."""
    version: str = VERSION
    """Result version, recorded in the manifest."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        check_env(self.env_id, c + "env_id")
        choice(self.budget, c + "budget", BUDGETS)
        choice(self.observer, c + "observer", OBSERVERS)
        if self.rung is not None:
            choice(self.rung, c + "rung", tuple(LADDER_RUNGS))
            if self.observer != "true":
                raise ValueError(f"{c}rung: a ladder rung's traces are observed at the true "
                                 f"theta only (observer 'true'), got observer "
                                 f"{self.observer!r}")
        betas = items(self.learner_betas, c + "learner_betas",
                      lambda v, n: real(v, n, low=0.0, high=1.0, high_open=True))
        if len(betas) != 2:
            raise ValueError(f"{c}learner_betas must be a pair (beta1, beta2), got {betas}")
        integer(self.n_directions, c + "n_directions", low=1)
        integer(self.outer_iter, c + "outer_iter", low=1)
        instance(self.logel, c + "logel", NeuralLOGELConfig)
        instance(self.version, c + "version", str)


def experiment_settings(env_id: str = "Reacher-v5", budget: str = "paper", **overrides: Any
                        ) -> PreconditionedMujocoConfig:
    """The configuration at ``budget``: the observer of the main run
    (:func:`logel.experiments.mujoco.experiment_config`, parity ``official``)."""
    logel_cfg = experiment_config(env_id, budget, parity="official").logel
    return replace(PreconditionedMujocoConfig(env_id=env_id, budget=budget, logel=logel_cfg),
                   **overrides)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Uncentred cosine (0 when either vector is zero): :func:`logel.evaluation.cosine_similarity`."""
    return cosine_similarity(a, b, centre=False)


def _unit(v: np.ndarray) -> list[float]:
    n = float(np.linalg.norm(v))
    return (v / n if n > 0 else v).tolist()


def analyse(deltas: Any, jacobians: Any, omega_ref: Any, scales: Any, *,
            alpha_init: Any, fit_options: Mapping[str, Any], betas: tuple[float, float],
            rng_key: tuple[int, str], n_directions: int = 200, outer_iter: int = 50
            ) -> dict[str, dict[str, Any]]:
    """Every learner model of :data:`MODELS` on one observer's inputs.

    Args:
        deltas: ``(m, d)`` parameter changes (true or cloned).
        jacobians: ``(m, d, q)`` estimated Jacobians.
        omega_ref: ``(q,)`` reference weights.
        scales: ``(q,)`` feature standard deviations (standardised cosines and weights).
        alpha_init: ``(m,)`` initial learning rates of BCD (the observer's).
        fit_options: :func:`logel.fit`'s options (``alpha_min``, ``tol``, ``max_iter``,
            ``convergence``).
        betas: :math:`(\\beta_1,\\beta_2)` of the ``adam`` model, per observed update.
        rng_key: ``(seed, cell name)``: each model's null draws from
            ``cell_rng(seed, f"{name}/{model}")``; :math:`\\hat\\omega` and
            :math:`\\omega_{ref}` face the same random directions.
        n_directions: random directions per null.
        outer_iter: outer iterations of the preconditioned fits.

    Returns:
        Per model name, a JSON-ready summary (module docstring).
    """
    D = as_array(deltas, "deltas", ndim=2, shape_doc="(m, d)")
    J = as_array(jacobians, "jacobians", ndim=3, shape_doc="(m, d, q)")
    if J.shape[:2] != D.shape:
        raise ValueError(f"jacobians {J.shape} must be (m, d, q) with (m, d) = deltas' "
                         f"{D.shape}")
    q = J.shape[2]
    w_ref = as_array(omega_ref, "omega_ref", ndim=1, shape_doc="(q,)")
    s = as_array(scales, "scales", ndim=1, shape_doc="(q,)")
    if w_ref.shape != (q,) or s.shape != (q,):
        raise ValueError(f"omega_ref {w_ref.shape} and scales {s.shape} must be ({q},)")
    seed, name = rng_key
    out: dict[str, dict[str, Any]] = {}
    for model, kind in MODELS.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pre = fit_preconditioned(D, J, kind, adam_betas=betas, outer_iter=outer_iter,
                                     alpha_init=alpha_init, **fit_options)
        w = pre.weights
        nulls = {}
        for label, omega in (("recovered", w), ("reference", w_ref)):
            nulls[label] = motion_null(D, J, omega, cell_rng(seed, f"{name}/{model}"),
                                       n_directions=n_directions, preconditioner=kind,
                                       **({"adam_betas": betas} if kind == "adam" else {}))
        null = nulls["recovered"].null
        objective = pre.objective
        out[model] = {
            "weights": w.tolist(),
            "learning_rates": pre.learning_rates.tolist(),
            "weights_standardised": _unit(w * s),
            "cosine_reference": _cosine(w, w_ref),
            "cosine_reference_standardised": _cosine(w * s, w_ref * s),
            "explained_motion_fit": float(pre.explained),
            "explained_motion_recovered": nulls["recovered"].explained,
            "explained_motion_reference": nulls["reference"].explained,
            "null_median": float(np.median(null)),
            "null_q95": float(np.quantile(null, 0.95)),
            "null_p_recovered": nulls["recovered"].p_value,
            "null_p_reference": nulls["reference"].p_value,
            "objective": objective.tolist(),
            "objective_non_increasing": bool(np.all(np.diff(objective)
                                                    <= 1e-9 * objective[0])),
            "n_outer": int(pre.n_outer),
            "outer_converged": kind == "identity" or int(pre.n_outer) < outer_iter,
            "converged": bool(pre.fit.converged),
            "n_iter": int(pre.fit.n_iter),
            "preconditioner_spread": [float(np.min(pre.preconditioners)),
                                      float(np.median(pre.preconditioners)),
                                      float(np.max(pre.preconditioners))],
            "seconds": time.perf_counter() - t0,
        }
    return out


def fit_options(config: NeuralLOGELConfig) -> dict[str, Any]:
    """:func:`logel.fit`'s options of the neural observer (as
    :func:`logel.irl.neural.observer_config` passes them)."""
    return {"alpha_min": config.alpha_min, "tol": config.tol, "max_iter": config.max_iter,
            "convergence": config.convergence}


def main_run_weights(env_id: str, seed: int, root: Path | None = None) -> np.ndarray | None:
    """The cloned observer's weights of the committed main run
    (``artifacts/mujoco_official/<env>/seed_<k>/logel.json``, verified), or None."""
    folder = (root or artifacts.artifact_root()) / "mujoco_official" / env_id / f"seed_{seed}"
    if not artifacts.is_complete(folder):
        return None
    return np.asarray(artifacts.load(folder)["logel"]["weights"], dtype=np.float64)


def run_trace(trace: LearnerTrace, config: PreconditionedMujocoConfig, seed: int,
              root: Path | None = None) -> dict[str, Any]:
    """The experiment on one kept trace (module docstring)."""
    learner = trace.metadata.get("config")
    if not isinstance(learner, Mapping):
        raise ValueError("trace.metadata['config'] must hold the learner's configuration")
    if config.rung is not None and not same_learner(learner, rung_learner(config, seed)):
        raise ValueError(f"trace: its learner is not the {LADDER_RUNGS[config.rung]!r} rung's "
                         f"at budget {config.budget!r}, seed {seed} (config.rung "
                         f"{config.rung!r})")
    steps_per_update = adam_steps_per_update(learner)
    betas = update_betas(config.learner_betas, steps_per_update)
    result: dict[str, Any] = {"env_id": config.env_id, "seed": seed,
                              "feature_names": feature_names(config.env_id),
                              "adam_steps_per_update": steps_per_update,
                              "update_betas": list(betas), "observers": {}}
    if config.rung is not None:
        result.update(rung=LADDER_RUNGS[config.rung], learner_optimizer=learner.get("optimizer"))
    for observer in (config.observer,):
        res = neural_logel(trace, replace(config.logel, thetas=observer, seed=seed))
        steps = list(res.steps)
        w_ref = reference_weights(trace, steps)
        scales = feature_scales(trace, steps)
        D = np.diff(res.thetas, axis=0)
        models = analyse(D, res.jacobians, w_ref, scales, alpha_init=res.alpha_init,
                         fit_options=fit_options(config.logel), betas=betas,
                         rng_key=(seed, f"{EXPERIMENT}/{config.env_id}/{observer}"),
                         n_directions=config.n_directions, outer_iter=config.outer_iter)
        main = main_run_weights(config.env_id, seed, root) if observer == "bc" else None
        result["observers"][observer] = {
            "models": models,
            "steps": steps,
            "reference_weights": w_ref.tolist(),
            "reference_weights_standardised": _unit(w_ref * scales),
            "feature_scales": scales.tolist(),
            "theta_dim": int(D.shape[1]),
            "chance_level": res.jacobians.shape[2] / D.shape[1],
            "plain_equals_observer": bool(np.array_equal(models["plain"]["weights"],
                                                         res.weights.tolist())),
            "cosine_to_main_run": None if main is None else _cosine(res.weights, main),
            "observer_seconds": res.seconds,
        }
        log.info("%s seed %d %s: %s", config.env_id, seed, observer,
                 {k: (round(v["cosine_reference_standardised"], 3),
                      round(v["explained_motion_fit"], 3), round(v["null_median"], 3))
                  for k, v in models.items()})
    return result


def rung_learner(config: PreconditionedMujocoConfig, seed: int) -> Any:
    """The learner configuration of ``config.rung``'s trace for ``seed`` (as
    :func:`logel.experiments.mujoco_learners.run_seed` trains it)."""
    if config.rung is None:
        raise ValueError("config.rung is None: the main run's traces have no ladder rung")
    return variant_config(seed_learner(config.env_id, config.budget, seed),
                          RUNGS[LADDER_RUNGS[config.rung]])


def output_dir(config: PreconditionedMujocoConfig, seed: int, root: Path | None = None) -> Path:
    """``<root>/mujoco_preconditioned[_<budget>]/<env>/[ladder_<rung>/]<observer>_theta/
    seed_<seed>`` (``true_theta`` or ``bc_theta``; ``ladder_<rung>/`` for a ladder rung's
    traces)."""
    base = artifacts.artifact_root() if root is None else Path(root)
    name = EXPERIMENT if config.budget == "paper" else f"{EXPERIMENT}_{config.budget}"
    folder = base / name / config.env_id
    if config.rung is not None:
        folder = folder / f"ladder_{config.rung}"
    return folder / f"{config.observer}_theta" / f"seed_{seed}"


def config_dict(config: PreconditionedMujocoConfig, seed: int) -> dict[str, Any]:
    """JSON form of one seed's configuration (``rung`` only when set: the main run's folders
    were written before the option existed)."""
    values = asdict(config)
    if values["rung"] is None:
        del values["rung"]
    return artifacts.jsonable({"experiment": EXPERIMENT, "seed": seed, **values})


def trace_path(config: PreconditionedMujocoConfig, seed: int, trace_dir: Path) -> Path:
    """The kept trace the experiment reads for ``seed``: the main run's
    (:func:`logel.experiments.mujoco.trace_name`, parity ``official``) or the ladder rung's
    (:func:`logel.experiments.mujoco_learners.trace_name`)."""
    if config.rung is None:
        trace_cfg = experiment_config(config.env_id, config.budget, parity="official")
        return Path(trace_dir) / trace_name(trace_cfg, seed)
    return Path(trace_dir) / ladder_trace_name("ladder", config.env_id, config.budget,
                                               LADDER_RUNGS[config.rung], seed)


LADDER_README = """# Preconditioned LOGEL on E3's ladder rung '{rung}' ({env_id}, budget {budget})

Generated by `logel.experiments.mujoco_preconditioned` (result version {version}) from the
learner traces of the rung '{rung}' of E3's PPO ladder (`logel.experiments.mujoco_learners`,
`RUNGS`), kept by

    OMP_NUM_THREADS=1 logel run mujoco_learners --experiment ladder --env {env_id} \\
        --budget {budget} --seeds <seeds> --rungs {slug} --trace-dir <traces>

(the same learners, seeds and results as E3's own folders; each trace's learner configuration is
checked against the rung's). Regenerate with

    OMP_NUM_THREADS=1 logel run mujoco_preconditioned --env {env_id} --budget {budget} \\
        --seeds <seeds> --rung {slug} --trace-dir <traces>

One folder per seed, `true_theta/seed_<k>/` (the learner's true actor-trunk parameters, the last
10 policies observed), each complete only if its `manifest.json` verifies (`logel artifacts
verify <folder>`); load them with
`logel.experiments.mujoco_preconditioned.load_results("{env_id}", rung="{slug}")`.

| file | content |
|---|---|
| `config.json` | the configuration of the seed (observer options as the main run's; `rung`) |
| `preconditioned.json` | per learner model (`plain`, `diagonal`, `adam`): recovered weights and learning rates, cosines to the reference weights (raw and standardised), explained motion, motion null against random reward directions, solver convergence; the rung, the learner's optimizer, Adam steps per update and the per-update betas |
| `manifest.json`, `manifest.sha256` | config, seed, versions, git SHA, hardware, wall time, SHA-256 of every file and of the trace read (`trace_sha256`, file name `trace`), the rung and the Adam steps per update; digest of the manifest |

No trajectories or traces are stored (the traces are about 100 MB each).
"""
"""README of a ladder rung's results folder (``<env>/ladder_<rung>/``), written by :func:`run`."""


def run(config: PreconditionedMujocoConfig, seeds: Sequence[int], trace_dir: Path,
        root: Path | None = None, force: bool = False) -> dict[int, str]:
    """Run every seed whose trace is in ``trace_dir`` and whose artifact is not complete with
    this configuration (unless ``force``)."""
    status = {}
    if config.rung is not None and seeds:
        folder = output_dir(config, seeds[0], root).parent.parent
        folder.mkdir(parents=True, exist_ok=True)
        artifacts.atomic_write_text(folder / "README.md", LADDER_README.format(
            rung=LADDER_RUNGS[config.rung], slug=config.rung, env_id=config.env_id,
            budget=config.budget, version=config.version))
    for seed in seeds:
        out = output_dir(config, seed, root)
        if not force and artifacts.is_complete(out):
            if artifacts.read_manifest(out).get("config") != config_dict(config, seed):
                raise RuntimeError(f"{out} holds a different configuration; pass --force to "
                                   "overwrite it")
            status[seed] = "skipped"
            continue
        path = trace_path(config, seed, trace_dir)
        if not path.is_file():
            log.warning("seed %d: no trace at %s", seed, path)
            status[seed] = "missing trace"
            continue
        t0 = time.perf_counter()
        result = run_trace(LearnerTrace.load(path), config, seed, root)
        out.mkdir(parents=True, exist_ok=True)
        cfg = config_dict(config, seed)
        artifacts.save_json(out / "config.json", cfg)
        artifacts.save_json(out / "preconditioned.json", result)
        extra = {"experiment": EXPERIMENT, "version": config.version,
                 "trace_sha256": artifacts.sha256_file(path),
                 "adam_steps_per_update": result["adam_steps_per_update"]}
        if config.rung is not None:
            extra.update(rung=LADDER_RUNGS[config.rung], trace=path.name)
        artifacts.write_manifest(out, config=cfg, seeds=[seed],
                                 wall_time_seconds=time.perf_counter() - t0, extra=extra)
        artifacts.verify(out)
        status[seed] = "done"
    return status


def load_results(env_id: str, budget: str = "paper", root: Path | None = None,
                 observers: Sequence[str] = OBSERVERS, rung: str | None = None
                 ) -> dict[int, dict[str, Any]]:
    """Every seed of ``env_id`` at ``budget`` with a complete artifact for each of
    ``observers``, verified against its manifest; the observers' results merged per seed.
    ``rung``: the folders of a ladder rung's traces (observer ``true`` only)."""
    merged: dict[int, dict[str, Any]] = {}
    for i, observer in enumerate(observers):
        cfg = PreconditionedMujocoConfig(env_id=env_id, budget=budget, observer=observer,
                                         rung=rung)
        base = output_dir(cfg, 0, root).parent
        found = {seed: artifacts.load(d)["preconditioned"]
                 for seed, d in artifacts.seed_folders(base).items()}
        for seed, r in found.items():
            if i == 0:
                merged[seed] = r
            elif seed in merged:
                merged[seed]["observers"].update(r["observers"])
        merged = {s: r for s, r in merged.items() if s in found}
    return dict(sorted(merged.items()))


def available_observers(env_id: str, budget: str = "paper", root: Path | None = None
                        ) -> tuple[str, ...]:
    """The observers of :data:`OBSERVERS` with a results folder for ``env_id`` at ``budget``
    (the main run's traces; their seeds still verify on :func:`load_results`)."""
    return tuple(o for o in OBSERVERS if output_dir(PreconditionedMujocoConfig(
        env_id=env_id, budget=budget, observer=o), 0, root).parent.is_dir())


def available_rungs(env_id: str, budget: str = "paper", root: Path | None = None
                    ) -> tuple[str, ...]:
    """The ladder rungs (slugs, in the ladder's order) with a results folder for ``env_id``
    at ``budget`` (their seeds still verify on :func:`load_results`)."""
    return tuple(r for r in LADDER_RUNGS if output_dir(PreconditionedMujocoConfig(
        env_id=env_id, budget=budget, rung=r), 0, root).parent.is_dir())


def per_seed(results: Mapping[int, Mapping[str, Any]], observer: str, model: str, key: str
             ) -> np.ndarray:
    """``(n_seeds,)`` one reported value of one observer and model, by seed order."""
    return np.array([r["observers"][observer]["models"][model][key]
                     for _, r in sorted(results.items())], dtype=float)


MODEL_MARGIN = 0.0
"""The claims "model X's :math:`\\hat\\omega` is closer to :math:`\\omega_{ref}` than plain
LOGEL's" hold when the t-interval of the paired difference of standardised cosines lies above
this margin (and fail when it lies below)."""


def claims(results: Mapping[int, Mapping[str, Any]], env_id: str,
           observers: Sequence[str] = OBSERVERS) -> list[Claim]:
    """The verdicts of one environment, each a paired t-interval over seeds:

    * for ``diagonal`` and ``adam`` and each observer: the mean paired difference of
      standardised cosines to :math:`\\omega_{ref}` (model minus plain) exceeds
      :data:`MODEL_MARGIN`;
    * for each model (true :math:`\\theta`): :math:`\\omega_{ref}` explains more motion than the
      median random direction under that model (mean excess > 0).
    """
    out = []
    n = len(results)
    label = {"true": "true θ", "bc": "cloned θ̂"}
    name = {"diagonal": "free-diagonal", "adam": "Adam", "plain": "plain"}
    for observer in observers:
        plain = per_seed(results, observer, "plain", "cosine_reference_standardised")
        for model in ("diagonal", "adam"):
            diff = per_seed(results, observer, model, "cosine_reference_standardised") - plain
            mean, half = mean_ci(diff)
            out.append(Claim.of(
                f"{env_id}, {label[observer]}: the {name[model]} model's ω̂ is closer to ω_ref "
                f"than plain LOGEL's (paired difference of standardised cosines, {n} seeds)",
                mean, mean - half, mean + half, MODEL_MARGIN, ">", "t",
                experiment=EXPERIMENT))
    if "true" in observers:
        for model in MODELS:
            excess = (per_seed(results, "true", model, "explained_motion_reference")
                      - per_seed(results, "true", model, "null_median"))
            mean, half = mean_ci(excess)
            out.append(Claim.of(
                f"{env_id}, true θ: ω_ref explains more motion than a random direction under "
                f"the {name[model]} model (excess over the null's median, {n} seeds)",
                mean, mean - half, mean + half, 0.0, ">", "t", experiment=EXPERIMENT))
    return out


RUNG_MARGIN = 0.0
"""The rung claims (:func:`rung_claims`) hold when the t-interval of the paired difference
(Adam model minus plain LOGEL) lies above this margin, and fail when it lies below."""


def rung_claims(results: Mapping[int, Mapping[str, Any]], env_id: str, rung: str
                ) -> list[Claim]:
    """The pre-registered claims of the Adam model on one ladder rung (true :math:`\\theta`),
    each a paired t-interval over seeds of the Adam model minus plain LOGEL:

    * *motion*: :math:`\\omega_{ref}`'s explained motion (other parameters at their best);
    * *direction*: the standardised cosine of :math:`\\hat\\omega` with
      :math:`\\omega_{ref}`;
    * *beyond the null*: the motion gain for :math:`\\omega_{ref}` minus the gain for the
      median random direction, :math:`(E^{adam}_{ref}-\\mathrm{med}^{adam})-
      (E^{plain}_{ref}-\\mathrm{med}^{plain})`.

    Each holds when its interval lies above :data:`RUNG_MARGIN` and fails when it lies below.
    """
    choice(rung, "rung", tuple(LADDER_RUNGS))
    n = len(results)
    where = f"{env_id}, ladder rung '{LADDER_RUNGS[rung]}', true θ"

    def diff(key: str) -> np.ndarray:
        return per_seed(results, "true", "adam", key) - per_seed(results, "true", "plain", key)

    parts = (
        ("the Adam model explains more of the motion for ω_ref than plain LOGEL (paired "
         "difference of explained motion", diff("explained_motion_reference")),
        ("the Adam model's ω̂ is closer to ω_ref than plain LOGEL's (paired difference of "
         "standardised cosines", diff("cosine_reference_standardised")),
        ("the Adam model's motion gain for ω_ref exceeds its gain for a random direction "
         "(paired difference of gains over the null's median",
         diff("explained_motion_reference") - diff("null_median")),
    )
    out = []
    for words, values in parts:
        mean, half = mean_ci(values)
        out.append(Claim.of(f"{where}: {words}, {n} seeds)", mean, mean - half, mean + half,
                            RUNG_MARGIN, ">", "t", experiment=EXPERIMENT))
    return out


@dataclass(frozen=True, kw_only=True)
class PreconditionedCommand(MujocoCommand):
    """``logel run mujoco_preconditioned``: the preconditioned observer on kept traces."""

    env: str = "Reacher-v5"
    """Gymnasium id: Hopper-v5 or Reacher-v5."""
    trace_dir: Path
    """Directory of kept learner traces of the paper's learner (logel run mujoco --trace-dir),
    or of the ladder's rungs (logel run mujoco_learners --trace-dir) with --rung."""
    observer: str = "true"
    """Observer's theta: true or bc (cloned, as the main run)."""
    rung: str | None = None
    """Read the traces of this rung of E3's ladder (by slug, e.g. adam or
    sgd-full-batch-1-epoch) instead of the main run's; true theta only."""
    n_directions: int = 200
    """Random reward directions of each motion null."""

    def __post_init__(self) -> None:
        super().__post_init__()
        c = type(self).__name__ + "."
        require_directory(self.trace_dir, c + "trace_dir")
        if self.rung is not None:
            choice(self.rung, c + "rung", tuple(LADDER_RUNGS))
            if self.observer != "true":
                raise ValueError(f"{c}rung: a ladder rung's traces are observed at the true "
                                 f"theta only (--observer true), got {self.observer!r}")


def _execute(options: PreconditionedCommand, args: Any) -> int:
    start_logging()
    config = experiment_settings(options.env, options.budget, observer=options.observer,
                                 n_directions=options.n_directions, rung=options.rung)
    log.info("finished: %s", run(config, args.seeds, options.trace_dir, options.root,
                                 options.force))
    return 0


# logel run mujoco_preconditioned: run over --seeds.
COMMAND = Command(config=PreconditionedCommand, execute=_execute, seeds="0-7",
                  choices={"observer": OBSERVERS, "rung": tuple(LADDER_RUNGS)})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco_preconditioned ...``: the same as
    ``logel run mujoco_preconditioned ...``."""
    return cli.run("mujoco_preconditioned", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["LADDER_RUNGS", "MODELS", "OBSERVERS", "PreconditionedCommand",
           "PreconditionedMujocoConfig", "adam_steps_per_update", "analyse", "available_observers",
           "available_rungs", "claims", "config_dict", "experiment_settings", "fit_options",
           "load_results", "main_run_weights", "output_dir", "per_seed", "rung_claims",
           "rung_learner", "run", "run_trace", "trace_path", "update_betas"]
