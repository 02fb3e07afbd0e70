"""Why does LOGEL recover (or not) a MuJoCo learner's reward? Diagnostics on kept traces.

The MuJoCo pipeline (:mod:`logel.experiments.mujoco`) judges a recovered reward only through an
observer trained on it, which is slow and noisy. These diagnostics look inside, on the learner
traces that ``--trace-dir`` keeps:

* **explained motion** -- the fraction of the parameter motion
  :math:`\\sum_t\\|\\Delta_t\\|^2` that the gradient-step model
  :math:`\\Delta_t\\approx\\alpha_t\\nabla\\psi_t\\omega` explains (Sec. 2 of the paper). A random
  ``q``-dimensional subspace of :math:`\\mathbb R^d` explains about ``q / d`` of a vector, the
  *chance level*;
* **reward correlation** -- Pearson correlation between :math:`\\omega^\\top\\phi(s,a)` and the
  environment's true per-step reward over the observed samples (the reward is outside the
  feature span for Reacher, so 1 is not reachable there);
* the cosine between cloned and true parameter changes (``delta_cosine``, from
  :func:`logel.irl.neural.neural_logel`).

Each is computed for four observers of the same trace: the realistic one (cloned
:math:`\\hat\\theta_t`), the approximate-gradient one (the learner's true :math:`\\theta_t`,
the actor trunk as in the paper, or the trunk and the mean head), and the realistic one with the cloning started from the learner's first observed policy (an oracle
that keeps the clone in the learner's parameterisation); and for a *reference* reward: gymnasium's
own weights (Hopper) or the least-squares projection of the true reward on the features
(Reacher), with its best learning rates at the true :math:`\\theta_t`, and the per-step cosine
between :math:`\\Delta_t` and :math:`\\nabla\\psi_t\\omega_{ref}` (a random direction of
:math:`\\mathbb R^d` has :math:`|\\cos|\\approx 1/\\sqrt d`);
* **Jacobian reliability** -- the cosine between :math:`\\widehat{\\nabla\\psi}_t\\omega_{ref}`
  estimated on two disjoint halves of the environments (:func:`split_half_cosines`).

Run::

    python -m logel.experiments.mujoco_diagnostics --env Reacher-v5 --seeds 0-9 \\
        --trace-dir <scratch>/traces

Results go to ``artifacts/mujoco_diagnostics/<env>/seed_<k>/`` with a manifest.

``--analysis data_choices`` instead compares our data choices with the official code's on the same
trace (:func:`compare_data_choices`: the official 40 windows of 50 steps of environment 0, which
cross Hopper's episode ends, and the official cloning schedule) and writes
``artifacts/mujoco_data_choices/<env>/seed_<k>/``; ``--analysis log_std`` is E5 (the log-std in
:math:`\\theta`, :func:`log_std_in_theta`); ``--analysis cloning`` tunes the cloning schedule on a
seed no evaluation uses (:func:`tune_cloning`, run with ``--seeds 100``).
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
from logel.diagnostics import best_learning_rates, explained_motion  # noqa: F401  (moved)
from logel.envs.mujoco_features import env_family
from logel.evaluation import cosine_similarity
from logel.experiments.mujoco import (
    TRUE_WEIGHTS,
    MujocoCommand,
    experiment_config,
    require_directory,
    start_logging,
    trace_name,
)
from logel.irl.neural import (
    GaussianMLPClass,
    NeuralLOGELConfig,
    NeuralLOGELResult,
    neural_logel,
)
from logel.policies.gaussian_mlp import GaussianBCConfig
from logel.traces import LearnerTrace

log = logging.getLogger(__name__)

VERSION = "v2"
"""Result version in every manifest (v2: the per-layer float64 Jacobian of `logel.irl.neural`;
the committed v1 artifacts are kept as the record of v1)."""


def reward_correlation(trace: LearnerTrace, steps: Sequence[int], omega: np.ndarray) -> float:
    """Pearson correlation of :math:`\\omega^\\top\\phi` with the true reward on ``steps``."""
    if trace.rewards is None:
        raise ValueError("the trace records no rewards")
    phi = trace.features[list(steps)].reshape(-1, trace.n_features)
    r = np.asarray(trace.rewards[list(steps)], dtype=np.float64).reshape(-1)
    return float(np.corrcoef(phi @ omega, r)[0, 1])


def reference_weights(trace: LearnerTrace, steps: Sequence[int]) -> np.ndarray:
    """Gymnasium's weights (Hopper) or the least-squares fit of the true reward on
    ``[phi, 1]`` over the observed samples, constant dropped (Reacher)."""
    family = env_family(trace.metadata["env_id"])
    if family in TRUE_WEIGHTS:
        return np.asarray(TRUE_WEIGHTS[family], dtype=np.float64)
    phi = trace.features[list(steps)].reshape(-1, trace.n_features).astype(np.float64)
    r = np.asarray(trace.rewards[list(steps)], dtype=np.float64).reshape(-1)
    coef, *_ = np.linalg.lstsq(np.column_stack([phi, np.ones(len(phi))]), r, rcond=None)
    return coef[:-1]


CONTROL_COST = {"Hopper": 1e-3, "Reacher": 1.0}
"""Gymnasium v5's control-cost weight :math:`c` in :math:`-c\\|a\\|^2` (the last feature)."""


def reward_parts(trace: LearnerTrace) -> dict[str, Any]:
    """Per update, the mean per-step true reward split into the control cost
    :math:`-c\\|a\\|^2` and the rest, and the learner's log standard deviations."""
    c = CONTROL_COST[env_family(trace.metadata["env_id"])]
    if trace.rewards is None:
        raise ValueError("the trace records no rewards")
    control = -c * trace.features[..., -1].mean(axis=(1, 2))
    total = trace.rewards.mean(axis=(1, 2))
    act_dim = int(trace.metadata["act_dim"])
    log_std = [np.asarray(h)[-act_dim:].tolist() for h in trace.metadata["actor_heads"]]
    return {"reward_per_step": total.tolist(), "control_per_step": control.tolist(),
            "rest_per_step": (total - control).tolist(), "log_std": log_std}


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Uncentred cosine (0 when either vector is zero): :func:`logel.evaluation.cosine_similarity`."""
    return cosine_similarity(a, b, centre=False)


def split_half_cosines(trace: LearnerTrace, config: NeuralLOGELConfig, omega: np.ndarray
                       ) -> list[float]:
    """Reliability of the Jacobian estimate: per step, the cosine between
    :math:`\\widehat{\\nabla\\psi}_t\\omega` estimated on the first and on the second half of the
    environments, at the learner's true :math:`\\theta_t` (1: the estimate is stable; about
    :math:`1/\\sqrt d`: it is noise)."""
    n_envs = trace.states.shape[1]
    if n_envs < 2:
        raise ValueError("a split-half check needs at least two environments")
    halves = []
    for rows in (slice(0, n_envs // 2), slice(n_envs // 2, n_envs)):
        half = LearnerTrace(trace.states[:, rows], trace.actions[:, rows],
                            trace.features[:, rows], trace.gamma, thetas=trace.thetas,
                            metadata=trace.metadata,
                            episode_starts=trace.episode_starts[:, rows])
        res = neural_logel(half, replace(config, thetas="true"))
        halves.append(np.einsum("tdq,q->td", res.jacobians, omega))
    return [_cosine(a, b) for a, b in zip(*halves, strict=True)]


def _observer_summary(trace: LearnerTrace, res: NeuralLOGELResult) -> dict[str, Any]:
    """Weights, explained motion, reward correlation and cloning fidelity of one observer."""
    d = np.diff(res.thetas, axis=0)
    return {
        "weights": res.weights.tolist(),
        "explained_motion": explained_motion(d, res.jacobians, res.weights, res.learning_rates),
        "reward_correlation": reward_correlation(trace, res.steps, res.weights),
        "delta_cosine": None if res.delta_cosine is None else res.delta_cosine.tolist(),
        "n_trajectories": res.n_trajectories,
        "seconds": res.seconds,
    }


def diagnose(trace: LearnerTrace, config: NeuralLOGELConfig) -> dict[str, Any]:
    """The four observers and the reference reward on one trace (see the module docstring)."""
    q = trace.n_features
    out: dict[str, Any] = {"observers": {}}
    variants: dict[str, NeuralLOGELConfig] = {
        "realistic (cloned theta)": config,
        "approximate (true theta)": replace(config, thetas="true"),
        "approximate (true theta with the mean head)": replace(
            config, thetas="true", include_mean_head=True),
    }
    true_run = None
    for name, cfg in variants.items():
        res = neural_logel(trace, cfg)
        if cfg.thetas == "true" and not cfg.include_mean_head:
            true_run = res
        out["observers"][name] = _observer_summary(trace, res)
    assert true_run is not None
    # cloning started from the learner's own first observed policy (oracle start)
    first = GaussianMLPClass.of_trace(trace).true_policy(trace, true_run.steps[0])
    out["observers"]["realistic, clone started at the learner's policy"] = _observer_summary(
        trace, neural_logel(trace, config, bc_init=first))
    w_ref = reference_weights(trace, true_run.steps)
    d_true = np.diff(true_run.thetas, axis=0)
    u_ref = np.einsum("tdq,q->td", true_run.jacobians, w_ref)
    out["reference"] = {
        "weights": w_ref.tolist(),
        "explained_motion_true_theta": explained_motion(d_true, true_run.jacobians, w_ref),
        "step_cosine_true_theta": [_cosine(a, b) for a, b in zip(d_true, u_ref, strict=True)],
        "split_half_cosine": split_half_cosines(trace, config, w_ref),
        "reward_correlation": reward_correlation(trace, true_run.steps, w_ref),
        "cosine_to_recovered": {k: _cosine(np.asarray(v["weights"]), w_ref)
                                for k, v in out["observers"].items()},
    }
    out["reward_parts"] = reward_parts(trace)
    out["chance_level"] = q / d_true.shape[1]
    out["chance_cosine"] = 1.0 / np.sqrt(d_true.shape[1])
    out["steps"] = list(true_run.steps)
    out["theta_dim"] = int(d_true.shape[1])
    out["motion_norms_true"] = np.linalg.norm(d_true, axis=1).tolist()
    return out


def data_choice_configs(config: NeuralLOGELConfig) -> dict[str, NeuralLOGELConfig]:
    """Our data choices against the official code's (spec Sec. 4.2), realistic and with true
    :math:`\\theta` (which isolates the Jacobian's data from the cloning's). With true
    :math:`\\theta`, environment 0 at its episode starts has exactly the samples of the official
    windows: it separates the effect of the windows from that of 16 times fewer samples."""
    official_windows = replace(config, segments="official")
    return {
        "ours: all environments at episode starts, gentle cloning": config,
        "official windows (environment 0, 40 x 50 steps), gentle cloning": official_windows,
        "official windows and official cloning (environment 0, 1000 Adam steps)": replace(
            official_windows, bc_data="env0", bc=GaussianBCConfig.official()),
        "true theta, all environments at episode starts": replace(config, thetas="true"),
        "true theta, environment 0 at episode starts": replace(config, thetas="true",
                                                               jacobian_data="env0"),
        "true theta, official windows": replace(official_windows, thetas="true"),
    }


DATA_CHOICE_NAMES = tuple(data_choice_configs(NeuralLOGELConfig()))
"""The rows of :func:`compare_data_choices`, in order (ours first)."""


def compare_data_choices(trace: LearnerTrace, config: NeuralLOGELConfig) -> dict[str, Any]:
    """Recovered weights under our and the official data choices, against the reference.

    For each configuration of :func:`data_choice_configs`: the observer summary and the cosine
    of :math:`\\hat\\omega` to the reference weights (:func:`reference_weights`).
    """
    out: dict[str, Any] = {"observers": {}}
    steps: tuple[int, ...] = ()
    for name, cfg in data_choice_configs(config).items():
        res = neural_logel(trace, cfg)
        out["observers"][name] = _observer_summary(trace, res)
        steps = res.steps
    w_ref = reference_weights(trace, steps)
    for v in out["observers"].values():
        v["cosine_to_reference"] = _cosine(np.asarray(v["weights"]), w_ref)
    out["reference"] = {"weights": w_ref.tolist(),
                        "reward_correlation": reward_correlation(trace, steps, w_ref)}
    out["steps"] = list(steps)
    return out


def log_std_in_theta(trace: LearnerTrace, config: NeuralLOGELConfig) -> dict[str, Any]:
    """E5: :math:`\\theta` with the log standard deviation, at the learner's true parameters
    and cloned, against the trunk alone.

    Most of PPO's gain on Reacher comes from shrinking the log-std, which the paper's
    :math:`\\theta` (the trunk) leaves out; with it in :math:`\\theta` the Jacobian has the
    log-std's rows (scores :math:`z^2-1`) and the learner's log-std steps are part of
    :math:`\\Delta_t`. Per observer: the summary of :func:`diagnose`, the reference reward's
    explained motion and the cosine of :math:`\\hat\\omega` to the reference."""
    out: dict[str, Any] = {"observers": {}}
    variants = {
        "true theta (trunk)": replace(config, thetas="true"),
        "true theta with the log-std": replace(config, thetas="true", include_log_std=True),
        "cloned theta with the log-std": replace(config, include_log_std=True),
    }
    steps: tuple[int, ...] = ()
    for name, cfg in variants.items():
        res = neural_logel(trace, cfg)
        steps = res.steps
        w_ref = reference_weights(trace, steps)
        summary = _observer_summary(trace, res)
        summary["explained_motion_reference"] = explained_motion(
            np.diff(res.thetas, axis=0), res.jacobians, w_ref)
        summary["cosine_to_reference"] = _cosine(res.weights, w_ref)
        summary["control_weight"] = float(res.weights[-1])
        out["observers"][name] = summary
    out["reference"] = {"weights": reference_weights(trace, steps).tolist()}
    out["steps"] = list(steps)
    return out


def cloning_schedule_configs(config: NeuralLOGELConfig) -> dict[str, NeuralLOGELConfig]:
    """Candidate behavioural-cloning schedules for :func:`tune_cloning` (ours first), each
    with every other option of ``config`` unchanged. The first step of each fits a fresh
    network for about 100 epochs; the official schedule is the official code's
    (:meth:`GaussianBCConfig.official`, here on all environments so that only the schedule
    differs)."""
    bc = config.bc
    return {
        "ours: 5 epochs per step at lr 3e-4": config,
        "5 epochs per step at lr 1e-3": replace(config, bc=replace(bc, lr=1e-3)),
        "1 epoch per step at lr 3e-4": replace(config, bc=replace(bc, epochs=1,
                                                                  first_step_factor=100)),
        "20 epochs per step at lr 1e-3": replace(config, bc=replace(bc, epochs=20, lr=1e-3,
                                                                    first_step_factor=5)),
        "official: 1000 Adam iterations of 200 samples per step at lr 1e-3": replace(
            config, bc=GaussianBCConfig.official()),
    }


CLONING_SCHEDULES = tuple(cloning_schedule_configs(NeuralLOGELConfig()))
"""The candidates of :func:`tune_cloning`, in order (ours first)."""


def select_cloning_schedule(result: dict[str, Any]) -> str:
    """The schedule a tuning run selects: the largest cosine between its :math:`\\hat\\omega`
    and the :math:`\\hat\\omega` recovered from the learner's true :math:`\\theta_t` on the
    same trace (``"agreement_with_true_theta"``); the first candidate (ours) wins ties.

    The criterion uses the tuning learner's own parameters, not any reward: cloning's job is to
    let the realistic observer recover what the approximate one (true :math:`\\theta_t`)
    recovers."""
    observers = result["observers"]
    if set(observers) != set(CLONING_SCHEDULES):
        raise ValueError(f"a tuning result must hold the schedules {CLONING_SCHEDULES}, "
                         f"got {sorted(observers)}")
    scores = {name: observers[name]["agreement_with_true_theta"] for name in CLONING_SCHEDULES}
    best = max(scores.values())
    return next(name for name, v in scores.items() if v == best)


def tune_cloning(trace: LearnerTrace, config: NeuralLOGELConfig) -> dict[str, Any]:
    """Issue "MuJoCo verdicts", provenance: choose the cloning schedule on a *tuning* learner.

    Runs the realistic observer with each schedule of :func:`cloning_schedule_configs` and
    the approximate one (the learner's true :math:`\\theta_t`) on one kept trace, and reports
    per schedule: the observer summary (:func:`diagnose`'s), the cosine of its
    :math:`\\hat\\omega` to the true-:math:`\\theta` observer's
    (``agreement_with_true_theta``, the selection criterion of
    :func:`select_cloning_schedule`), to the reference reward (reported, not used), the median
    norm of :math:`\\hat\\Delta_t` over that of the learner's :math:`\\Delta_t`, and BCD's
    convergence. Run it on a seed no evaluation uses (100)."""
    true_run = neural_logel(trace, replace(config, thetas="true"))
    w_ref = reference_weights(trace, true_run.steps)
    true_norm = np.linalg.norm(np.diff(true_run.thetas, axis=0), axis=1)
    out: dict[str, Any] = {"observers": {}}
    for name, cfg in cloning_schedule_configs(config).items():
        res = neural_logel(trace, cfg)
        summary = _observer_summary(trace, res)
        summary["agreement_with_true_theta"] = _cosine(res.weights, true_run.weights)
        summary["cosine_to_reference"] = _cosine(res.weights, w_ref)
        summary["motion_norm_ratio"] = float(np.median(
            np.linalg.norm(np.diff(res.thetas, axis=0), axis=1)) / np.median(true_norm))
        summary["converged"] = bool(res.fit.converged)
        summary["n_iter"] = int(res.fit.n_iter)
        summary["bc"] = artifacts.jsonable(asdict(cfg.bc))
        out["observers"][name] = summary
    out["true_theta"] = _observer_summary(trace, true_run)
    out["true_theta"]["cosine_to_reference"] = _cosine(true_run.weights, w_ref)
    out["reference"] = {"weights": w_ref.tolist()}
    out["steps"] = list(true_run.steps)
    return out


ANALYSES = {"diagnostics": diagnose, "data_choices": compare_data_choices,
            "log_std": log_std_in_theta,
            "cloning": tune_cloning}
"""Analyses of a kept trace; each writes ``artifacts/mujoco_<name>/<env>/seed_<k>/<name>.json``."""


def _base(analysis: str, env_id: str, budget: str, root: Path | None,
          parity: str = "sb3") -> Path:
    if analysis not in ANALYSES:
        raise ValueError(f"analysis must be one of {sorted(ANALYSES)}, got {analysis!r}")
    name = (f"mujoco_{analysis}" + ("" if parity == "sb3" else f"_{parity}")
            + ("" if budget == "paper" else f"_{budget}"))
    return (root or artifacts.artifact_root()) / name / env_id


def run(env_id: str, seeds: Sequence[int], trace_dir: Path, budget: str = "paper",
        root: Path | None = None, force: bool = False, analysis: str = "diagnostics",
        parity: str = "sb3") -> dict[int, str]:
    """Run ``analysis`` (a key of :data:`ANALYSES`) on every seed whose learner trace (of the
    ``parity`` learner, as :mod:`logel.experiments.mujoco` keeps it) is in ``trace_dir``; seeds
    whose artifact verifies are skipped unless ``force``."""
    config = experiment_config(env_id, budget, parity=parity)
    base = _base(analysis, env_id, budget, root, parity)
    status = {}
    for seed in seeds:
        out = base / f"seed_{seed}"
        path = Path(trace_dir) / trace_name(config, seed)
        if not force and artifacts.is_complete(out):
            status[seed] = "skipped"
            continue
        if not path.is_file():
            log.warning("seed %d: no trace at %s", seed, path)
            status[seed] = "missing trace"
            continue
        t0 = time.perf_counter()
        trace = LearnerTrace.load(path)
        result = ANALYSES[analysis](trace, replace(config.logel, seed=seed))
        cfg = {"env_id": env_id, "budget": budget, "seed": seed, "version": VERSION,
               "analysis": analysis,
               "logel": artifacts.jsonable(asdict(replace(config.logel, seed=seed))),
               "trace_sha256": artifacts.sha256_file(path)}
        out.mkdir(parents=True, exist_ok=True)
        artifacts.save_json(out / f"{analysis}.json", result)
        artifacts.write_manifest(out, config=cfg, seeds=[seed],
                                 wall_time_seconds=time.perf_counter() - t0,
                                 extra={"experiment": f"mujoco_{analysis}", "version": VERSION})
        log.info("seed %d: %s", seed, {k: (round(v["explained_motion"], 4),
                                           round(v["reward_correlation"], 3))
                                       for k, v in result["observers"].items()})
        status[seed] = "done"
    return status


def load_results(env_id: str, budget: str = "paper", root: Path | None = None,
                 analysis: str = "diagnostics", parity: str = "sb3"
                 ) -> dict[int, dict[str, Any]]:
    """Every seed of ``analysis``, verified against its manifest."""
    base = _base(analysis, env_id, budget, root, parity)
    return {seed: artifacts.load(p)[analysis]
            for seed, p in artifacts.seed_folders(base).items()}


@dataclass(frozen=True, kw_only=True)
class DiagnosticsCommand(MujocoCommand):
    """``logel run mujoco_diagnostics``: one analysis on kept learner traces."""

    env: str = "Reacher-v5"
    """Gymnasium id: Hopper-v5 or Reacher-v5."""
    trace_dir: Path
    """Directory of kept learner traces (of logel run mujoco --trace-dir)."""
    analysis: str = "diagnostics"
    """Which analysis (a key of ANALYSES)."""
    parity: str = "sb3"
    """The learner whose kept traces are analysed."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_directory(self.trace_dir, type(self).__name__ + ".trace_dir")
        choice(self.analysis, type(self).__name__ + ".analysis", tuple(sorted(ANALYSES)))
        choice(self.parity, type(self).__name__ + ".parity", ("official", "sb3"))


def _execute(options: DiagnosticsCommand, args: Any) -> int:
    start_logging()
    log.info("finished: %s", run(options.env, args.seeds, options.trace_dir, options.budget,
                                 options.root, options.force, options.analysis, options.parity))
    return 0


# logel run mujoco_diagnostics: run over --seeds.
COMMAND = Command(config=DiagnosticsCommand, execute=_execute, seeds="0-9",
                  choices={"analysis": sorted(ANALYSES), "parity": ("official", "sb3")})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco_diagnostics ...``: the same as
    ``logel run mujoco_diagnostics ...``."""
    return cli.run("mujoco_diagnostics", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
