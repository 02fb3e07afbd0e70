"""E1, the positive control: LOGEL on a MuJoCo learner that follows the gradient by construction.

Issue "MuJoCo verdicts" asks whether "PPO breaks LOGEL's premise" can be told apart from "the
pipeline is wrong". Here the learner is :func:`logel.learners.policy_gradient.
train_policy_gradient`: normalised G(PO)MDP ascent on the same Gaussian MLP, the same features
and the same data sizes as the PPO learner, optimising a known linear reward
:math:`\\omega^\\top\\phi` (Hopper: gymnasium's weights; Reacher: the least-squares projection of
the true reward on the features over a warm-up rollout). Each update is exactly
:math:`\\Delta_t=\\alpha_t\\widehat{\\nabla\\psi}_t\\omega`. On its last 10 policies we run the
neural LOGEL observer twice:

* ``true``: the learner's recorded :math:`\\theta_t` (approximate setting). The Jacobians are
  estimated on the same samples by the same estimator, so :math:`\\hat\\omega` must equal
  :math:`\\omega` up to scale (cosine 1 to rounding) and the explained motion must be 1;
* ``bc``: behavioural cloning (realistic setting, our default cloning), which measures what
  cloning costs when the premise holds exactly.

Reported per seed: :math:`\\cos(\\hat\\omega,\\omega)`, the explained parameter motion
:math:`1-\\sum_t\\|\\Delta_t-\\hat\\alpha_t\\hat J_t\\hat\\omega\\|^2/\\sum_t\\|\\Delta_t\\|^2` with the
fitted learning rates, the same with the learner's :math:`\\omega` and the best non-negative
rates, the correlation of :math:`\\hat\\alpha_t` with the learner's :math:`\\alpha_t`, and BCD's
convergence.

Run::

    python -m logel.experiments.mujoco_controls --env Hopper-v5 --seeds 0-4 --budget paper

Results go to ``artifacts/mujoco_controls[_<budget>]/<env>/seed_<k>/`` with a verified manifest;
complete seeds are skipped (resumable).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from logel import artifacts, cli
from logel._validation import choice, instance
from logel.cli import Command
from logel.envs.mujoco_features import env_family, feature_names
from logel.evaluation import cosine_similarity
from logel.experiments.budgets import BUDGETS, check_budget
from logel.experiments.mujoco import (
    MUJOCO_BUDGETS,
    TRUE_WEIGHTS,
    MujocoCommand,
    check_env,
    logel_config,
    start_logging,
)
from logel.experiments.mujoco_diagnostics import explained_motion
from logel.irl.neural import NeuralLOGELConfig, neural_logel
from logel.learners.policy_gradient import PGConfig, train_policy_gradient
from logel.statistics import Claim, mean_ci

log = logging.getLogger(__name__)

VERSION = "v1"
"""Bump when a change alters results; stored in every manifest."""

OBSERVERS = ("true", "bc")
"""The observers' :math:`\\theta`: the learner's recorded parameters, or cloned ones."""


@dataclass(frozen=True)
class PositiveControlConfig:
    """E1 at one budget (everything but the seed)."""

    env_id: str = "Hopper-v5"
    """Gymnasium id (Hopper-v5 or Reacher-v5)."""
    budget: str = "paper"
    """``smoke`` | ``book`` | ``paper``: the learner's data sizes (:func:`pg_config`)."""
    learner: PGConfig = field(default_factory=PGConfig)
    """The G(PO)MDP learner (its seed is replaced by the run's seed)."""
    logel: NeuralLOGELConfig = field(default_factory=NeuralLOGELConfig)
    """The observer's options (``thetas`` and ``seed`` are set per run)."""
    version: str = VERSION
    """Result version, recorded in the manifest."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        check_env(self.env_id, c + "env_id")
        choice(self.budget, c + "budget", BUDGETS)
        instance(self.learner, c + "learner", PGConfig)
        instance(self.logel, c + "logel", NeuralLOGELConfig)
        instance(self.version, c + "version", str)


def pg_config(budget: str, **overrides: Any) -> PGConfig:
    """E1's learner at a compute budget: the PPO learner's data sizes
    (:data:`~logel.experiments.mujoco.MUJOCO_BUDGETS`), ``paper`` 16 x 2000 x 20."""
    return replace(PGConfig(), **{**MUJOCO_BUDGETS[check_budget(budget)].learner, **overrides})


def experiment_config(env_id: str = "Hopper-v5", budget: str = "paper", **overrides: Any
                      ) -> PositiveControlConfig:
    """E1's configuration: the learner at ``budget``, the observer with our defaults (tiny
    cloning at ``smoke``)."""
    check_budget(budget)
    family = env_family(env_id)
    weights = tuple(TRUE_WEIGHTS[family]) if family in TRUE_WEIGHTS else None
    learner = pg_config(budget, env_id=env_id, weights=weights)
    logel_cfg = logel_config(budget)
    return replace(PositiveControlConfig(env_id=env_id, budget=budget, learner=learner,
                                         logel=logel_cfg), **overrides)


def output_dir(config: PositiveControlConfig, seed: int, root: Path | None = None) -> Path:
    """``<root>/mujoco_controls[_<budget>]/<env>/seed_<seed>``."""
    root = artifacts.artifact_root() if root is None else Path(root)
    name = "mujoco_controls" if config.budget == "paper" else f"mujoco_controls_{config.budget}"
    return root / name / config.env_id / f"seed_{seed}"


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Uncentred cosine (0 when either vector is zero): :func:`logel.evaluation.cosine_similarity`."""
    return cosine_similarity(a, b, centre=False)


def feature_scales(trace: Any, steps: Sequence[int]) -> np.ndarray:
    """``(q,)`` standard deviation of each feature over the observed steps' samples."""
    phi = np.asarray(trace.features[list(steps)], dtype=np.float64)
    return phi.reshape(-1, phi.shape[-1]).std(axis=0)


def observe(trace: Any, omega: np.ndarray, learner_alphas: np.ndarray,
            config: NeuralLOGELConfig) -> dict[str, Any]:
    """Run one observer and score it against the learner's :math:`\\omega` and :math:`\\alpha`.

    ``cosine_standardised`` compares :math:`\\hat\\omega\\odot s` with :math:`\\omega\\odot s`,
    ``s`` the features' standard deviations: each weight in units of the reward it moves, so a
    feature with a large numeric weight (Hopper's forward velocity, 125) does not hide errors in
    the others."""
    result = neural_logel(trace, config)
    scales = feature_scales(trace, result.steps)
    deltas = np.diff(result.thetas, axis=0)
    steps = list(result.steps)
    true_alpha = np.asarray(learner_alphas)[steps[:-1]]
    alpha_corr = (float(np.corrcoef(result.learning_rates, true_alpha)[0, 1])
                  if np.std(result.learning_rates) > 0 and np.std(true_alpha) > 0 else None)
    return {
        "weights": result.weights.tolist(),
        "learning_rates": result.learning_rates.tolist(),
        "cosine": _cosine(result.weights, omega),
        "cosine_standardised": _cosine(result.weights * scales, omega * scales),
        "explained_motion_fit": explained_motion(deltas, result.jacobians, result.weights,
                                                 result.learning_rates),
        "explained_motion_learner_omega": explained_motion(deltas, result.jacobians, omega),
        "alpha_correlation": alpha_corr,
        "converged": bool(result.fit.converged),
        "n_iter": int(result.fit.n_iter),
        "delta_cosine": (None if result.delta_cosine is None
                         else result.delta_cosine.tolist()),
        "steps": steps,
        "seconds": result.seconds,
    }


def run_seed(config: PositiveControlConfig, seed: int, out: Path | None = None
             ) -> dict[str, Any]:
    """The learner and both observers for one seed; writes the artifacts to ``out``."""
    t_start = time.perf_counter()
    t0 = time.perf_counter()
    run = train_policy_gradient(replace(config.learner, seed=seed))
    learner_seconds = time.perf_counter() - t0
    log.info("%s seed %d: learner %.0fs, curve %s", config.env_id, seed, learner_seconds,
             np.round(run.curve, 1))
    alphas = np.append(run.trace.learning_rates, np.nan)  # the last update is not observed
    observers = {}
    for thetas in OBSERVERS:
        cfg = replace(config.logel, thetas=thetas, seed=seed)
        observers[thetas] = observe(run.trace, run.weights, alphas, cfg)
        log.info("%s seed %d: %s cos %.4f, explained %.3f", config.env_id, seed, thetas,
                 observers[thetas]["cosine"], observers[thetas]["explained_motion_fit"])
    result = {
        "env_id": config.env_id,
        "feature_names": feature_names(config.env_id),
        "learner_weights": run.weights.tolist(),
        "learner_curve": run.curve.tolist(),
        "learner_learning_rates": run.trace.learning_rates.tolist(),
        "gradient_norms": run.gradient_norms.tolist(),
        "learner_objective": run.objective.tolist(),
        "observers": observers,
        "timings": {"learner": learner_seconds,
                    **{f"observer_{k}": sum(v["seconds"].values())
                       for k, v in observers.items()}},
    }
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        cfg = config_dict(config, seed)
        artifacts.save_json(out / "config.json", cfg)
        artifacts.save_json(out / "positive_control.json", result)
        artifacts.write_manifest(out, config=cfg, seeds=[seed],
                                 wall_time_seconds=time.perf_counter() - t_start,
                                 extra={"experiment": "mujoco_controls",
                                        "version": config.version})
    return result


def config_dict(config: PositiveControlConfig, seed: int) -> dict[str, Any]:
    """JSON form of one seed's configuration (the learner's and observer's seeds are ``seed``)."""
    return {"experiment": "mujoco_controls", "seed": seed,
            **asdict(replace(config, learner=replace(config.learner, seed=seed)))}


def run(config: PositiveControlConfig, seeds: Sequence[int], root: Path | None = None,
        force: bool = False) -> dict[int, str]:
    """Run every seed not already complete with this configuration."""
    status = {}
    for seed in seeds:
        out = output_dir(config, seed, root)
        if not force and artifacts.is_complete(out):
            stored = artifacts.read_manifest(out).get("config")
            if stored != artifacts.jsonable(config_dict(config, seed)):
                raise RuntimeError(f"{out} holds a different configuration; pass --force to "
                                   "overwrite it")
            status[seed] = "skipped"
            continue
        run_seed(config, seed, out)
        status[seed] = "done"
    return status


def load_results(env_id: str, budget: str = "paper", root: Path | None = None
                 ) -> dict[int, dict[str, Any]]:
    """Every complete seed of ``env_id`` at ``budget``, verified against its manifest."""
    base = output_dir(experiment_config(env_id, budget), 0, root).parent
    return {seed: artifacts.load(d)["positive_control"]
            for seed, d in artifacts.seed_folders(base).items()}


CLAIM_THRESHOLDS = {"true": 0.999, "bc": 0.9}
"""E1's claims, stated before the results: with the learner's true :math:`\\theta` the mean
standardised cosine :math:`\\cos(\\hat\\omega\\odot s,\\omega\\odot s)` exceeds 0.999 (the
pipeline is right: the same samples and estimator give the learner's reward); with cloning it
exceeds 0.9 (cloning keeps the reward when the premise holds)."""


def claims(results: dict[int, dict[str, Any]], env_id: str) -> list[Claim]:
    """E1's verdicts for one environment: mean standardised cosine over seeds, t-interval,
    against :data:`CLAIM_THRESHOLDS`."""
    out = []
    for observer, text in (("true", "true-θ LOGEL recovers the positive control's reward"),
                           ("bc", "cloned-θ LOGEL recovers the positive control's reward")):
        values = [r["observers"][observer]["cosine_standardised"] for r in results.values()]
        mean, half = mean_ci(values)
        out.append(Claim.of(f"{env_id}: {text} (standardised cosine, {len(values)} seeds)",
                            mean, mean - half, mean + half, CLAIM_THRESHOLDS[observer], ">",
                            "t"))
    return out


def _execute(options: MujocoCommand, args: Any) -> int:
    start_logging()
    try:
        status = run(experiment_config(options.env, options.budget), args.seeds, options.root,
                     options.force)
    except (RuntimeError, ValueError) as err:
        print(f"logel run mujoco_controls: error: {err}", file=sys.stderr)
        return 2
    log.info("finished: %s", status)
    return 0


# logel run mujoco_controls: run over --seeds.
COMMAND = Command(config=MujocoCommand, execute=_execute, seeds="0-4")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco_controls ...``: the same as
    ``logel run mujoco_controls ...``."""
    return cli.run("mujoco_controls", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
