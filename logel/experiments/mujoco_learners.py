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
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from logel import artifacts, cli
from logel._validation import choice
from logel.cli import Command
from logel.evaluation import cosine_similarity
from logel.experiments.mujoco import MujocoCommand, experiment_config, start_logging
from logel.experiments.mujoco_diagnostics import explained_motion, reference_weights
from logel.irl.neural import NeuralLOGELConfig, neural_logel
from logel.learners.ppo import PPOConfig, train_ppo

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
               root: Path | None = None) -> Path:
    """``<root>/mujoco_<experiment>[_<budget>]/<env>/seed_<seed>``."""
    root = artifacts.artifact_root() if root is None else Path(root)
    name = f"mujoco_{experiment}" + ("" if budget == "paper" else f"_{budget}")
    return root / name / env_id / f"seed_{seed}"


def run_seed(experiment: str, env_id: str, budget: str, seed: int,
             out: Path | None = None) -> dict[str, Any]:
    """Every variant of ``experiment`` for one seed (the learner seeded by ``seed``)."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {tuple(EXPERIMENTS)}, got {experiment!r}")
    t_start = time.perf_counter()
    base = experiment_config(env_id, budget)
    learner = replace(base.learner, seed=seed, record=True)
    variants: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    for name, overrides in EXPERIMENTS[experiment].items():
        cfg = variant_config(learner, overrides)
        t0 = time.perf_counter()
        run = train_ppo(cfg)
        premise = premise_at_true_theta(run.trace, replace(base.logel, seed=seed))
        variants[name] = {"learner_curve": [None if np.isnan(v) else float(v)
                                            for v in run.curve],
                          "learner_episode_stats": {k: v.tolist() for k, v in
                                                    run.episode_stats.items()},
                          **premise, "seconds": time.perf_counter() - t0}
        configs[name] = asdict(cfg)
        log.info("%s %s seed %d, %s: explained %.3f, step cosines %s, control weight %.3g",
                 experiment, env_id, seed, name, premise["explained_motion_ref"],
                 np.round(premise["step_cosine_ref"], 3), premise["control_weight"])
    result = {"experiment": experiment, "env_id": env_id, "variants": variants}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        cfg_all = {"experiment": f"mujoco_{experiment}", "env_id": env_id, "budget": budget,
                   "seed": seed, "version": VERSION, "learners": configs,
                   "logel": asdict(replace(base.logel, seed=seed, thetas="true"))}
        artifacts.save_json(out / "config.json", cfg_all)
        artifacts.save_json(out / f"{experiment}.json", result)
        artifacts.write_manifest(out, config=cfg_all, seeds=[seed],
                                 wall_time_seconds=time.perf_counter() - t_start,
                                 extra={"experiment": f"mujoco_{experiment}",
                                        "version": VERSION})
    return result


def run(experiment: str, env_id: str, seeds: Sequence[int], budget: str = "paper",
        root: Path | None = None, force: bool = False) -> dict[int, str]:
    """Every seed not already complete; resumable."""
    status = {}
    for seed in seeds:
        out = output_dir(experiment, env_id, budget, seed, root)
        if not force and artifacts.is_complete(out):
            status[seed] = "skipped"
            continue
        run_seed(experiment, env_id, budget, seed, out)
        status[seed] = "done"
    return status


def load_results(experiment: str, env_id: str, budget: str = "paper",
                 root: Path | None = None) -> dict[int, dict[str, Any]]:
    """Every complete seed, verified against its manifest."""
    base = output_dir(experiment, env_id, budget, 0, root).parent
    return {seed: artifacts.load(d)[experiment]
            for seed, d in artifacts.seed_folders(base).items()}


@dataclass(frozen=True, kw_only=True)
class LearnersCommand(MujocoCommand):
    """``logel run mujoco_learners``: E2 (factorial) or E3 (ladder)."""

    experiment: str
    """Which variants: the PPO ladder (E3) or the head-gain x control-cost factorial (E2)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        choice(self.experiment, type(self).__name__ + ".experiment", tuple(EXPERIMENTS))


def _execute(options: LearnersCommand, args: Any) -> int:
    start_logging()
    status = run(options.experiment, options.env, args.seeds, options.budget, options.root,
                 options.force)
    log.info("finished: %s", status)
    return 0


# logel run mujoco_learners: run over --seeds.
COMMAND = Command(config=LearnersCommand, execute=_execute, seeds="0-4",
                  choices={"experiment": tuple(EXPERIMENTS)})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco_learners ...``: the same as
    ``logel run mujoco_learners ...``."""
    return cli.run("mujoco_learners", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
