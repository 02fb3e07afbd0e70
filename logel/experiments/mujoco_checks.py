"""E6, a finite-difference check: does the true return rise along :math:`\\nabla\\psi\\,\\hat\\omega`?

LOGEL's recovered reward is only useful if moving the policy along its gradient improves the
true objective. At an observed policy :math:`\\theta_k` of a kept learner trace we estimate the
Jacobian :math:`\\widehat{\\nabla\\psi}_k` (:func:`logel.irl.observer.step_jacobians`, on the trace's
own samples) and measure, on fresh rollouts with common random numbers (the same environment
seeds and action noise for every evaluation), the central difference

.. math:: s(v)=\\frac{R(\\theta_k+\\varepsilon v)-R(\\theta_k-\\varepsilon v)}{2\\varepsilon},
    \\qquad \\|v\\|=1,

of the mean true reward per step :math:`R` along: :math:`v\\propto\\widehat{\\nabla\\psi}_k\\hat\\omega`
(the recovered reward's gradient), :math:`\\widehat{\\nabla\\psi}_k\\omega_{ref}` (the reference
reward's), the learner's own step :math:`\\Delta_k`, and ``n_random`` random directions (the
noise floor). The mean head and the log standard deviation stay at the learner's values.

Run on kept traces of ``logel.experiments.mujoco`` (``--trace-dir``) and the weights its
artifacts recovered::

    python -m logel.experiments.mujoco_checks --env Hopper-v5 --seeds 0-4 --trace-dir DIR

``--parity`` (default ``official``, the paper's learner) picks the learner: its traces, its
recovered weights and its environments (raw or clipped action). Results go to
``artifacts/mujoco_checks[_<parity>][_<budget>]/<env>/seed_<k>/`` with a manifest (no parity for
``sb3``).
"""

from __future__ import annotations

import copy
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from logel import artifacts, cli
from logel._validation import choice, integer, items, real
from logel.cli import Command
from logel.envs.mujoco_features import n_features
from logel.experiments.mujoco import (
    MujocoCommand,
    experiment_config,
    require_directory,
    start_logging,
    trace_name,
)
from logel.experiments.mujoco import load_results as load_run_results
from logel.experiments.mujoco_diagnostics import reference_weights
from logel.irl.neural import GaussianMLPClass
from logel.irl.observer import step_jacobians
from logel.learners.policy_gradient import rollout
from logel.learners.ppo import PARITIES, PPOConfig, make_vec_env
from logel.policies.gaussian_mlp import GaussianMLPPolicy, load_theta
from logel.traces import LearnerTrace

log = logging.getLogger(__name__)

VERSION = "v1"
"""Bump when a change alters results; stored in every manifest."""


@dataclass(frozen=True)
class FiniteDifferenceConfig:
    """E6's sizes (defaults: paper budget)."""

    epsilon: float = 0.1
    """Half-width :math:`\\varepsilon` of the central difference, in parameter units."""
    n_random: int = 10
    """Random unit directions (the noise floor of the slopes)."""
    n_envs: int = 8
    """Environments per evaluation."""
    n_steps: int = 1000
    """Steps per environment per evaluation."""
    steps: tuple[int, ...] = (-10, -2)
    """Trace indices of the policies checked (negative: from the end; default: the first and
    the second-to-last observed policy of the last 10)."""
    baseline_eps: float = 1e-4
    """:math:`\\epsilon_b` of the Jacobian estimate (as the observer)."""
    seed: int = 0
    """Seeds the random directions, the environments and the action noise."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        real(self.epsilon, c + "epsilon", low=0, low_open=True)
        for name in ("n_random", "n_envs", "n_steps"):
            integer(getattr(self, name), c + name, low=1)
        items(self.steps, c + "steps", integer)
        real(self.baseline_eps, c + "baseline_eps", low=0, allow_inf=True)
        integer(self.seed, c + "seed", low=0)


def check_config(budget: str) -> FiniteDifferenceConfig:
    """``paper``: 8 x 1000 steps per evaluation, 10 random directions; ``book``: 4 x 500, 6;
    ``smoke``: 2 x 100, 2 (tests only)."""
    sizes = {"paper": {}, "book": {"n_envs": 4, "n_steps": 500, "n_random": 6},
             "smoke": {"n_envs": 2, "n_steps": 100, "n_random": 2, "steps": (0,)}}
    if budget not in sizes:
        raise ValueError(f"budget must be one of {tuple(sizes)}, got {budget!r}")
    return replace(FiniteDifferenceConfig(), **sizes[budget])


def mean_true_reward(trace: LearnerTrace, k: int, policy: GaussianMLPPolicy,
                     config: FiniteDifferenceConfig) -> float:
    """Mean true reward per step of ``policy`` on fresh rollouts, observations normalised with
    the learner's frozen statistics of update ``k``; the same seeds for every call.

    The environments are the learner's: its ``parity`` and ``raw_control`` (read from the
    trace's configuration; traces written before the option existed are SB3's) decide whether
    the simulator receives, and the true reward charges, the raw or the clipped action."""
    meta = trace.metadata
    learner = meta.get("config", {})
    env_cfg = replace(PPOConfig(), env_id=meta["env_id"], n_envs=config.n_envs,
                      n_steps=config.n_steps, norm_reward=False,
                      clip_obs=float(meta.get("clip_obs", 10.0)),
                      parity=learner.get("parity", "sb3"),
                      raw_control=learner.get("raw_control"))
    venv = make_vec_env(env_cfg)
    venv.obs_rms.mean = np.asarray(meta["obs_rms_mean"][k], dtype=np.float64)
    venv.obs_rms.var = np.asarray(meta["obs_rms_var"][k], dtype=np.float64)
    venv.training = False
    venv.seed(config.seed)
    obs = venv.reset()
    gen = torch.Generator().manual_seed(config.seed + 1)
    roll = rollout(venv, policy, obs, np.ones(config.n_envs, dtype=bool), config.n_steps, gen,
                   [], n_features(meta["env_id"]))
    venv.close()
    return float(roll["rewards"].mean())


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    if norm == 0:
        raise ValueError("a direction of length 0 cannot be normalised")
    return v / norm


def finite_difference_check(trace: LearnerTrace, omega: np.ndarray,
                            config: FiniteDifferenceConfig = FiniteDifferenceConfig(),
                            omega_reference: np.ndarray | None = None) -> dict[str, Any]:
    """Slopes of the true return along the recovered reward's gradient and controls.

    Returns:
        Per checked step: ``slopes`` (``recovered``, ``reference``, ``learner_step``,
        ``random`` list), the fraction of random directions whose slope the recovered one
        exceeds, and the unperturbed mean reward.
    """
    K = trace.n_policies
    out: dict[str, Any] = {"epsilon": config.epsilon, "steps": []}
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0xE6]))
    policy_class = GaussianMLPClass.of_trace(trace)
    for raw_k in config.steps:
        k = raw_k % K
        policy = policy_class.true_policy(trace, k)
        theta = trace.thetas[k][:policy.n_theta()]
        jac = step_jacobians(policy_class, [policy], trace.states[k:k + 1],
                             trace.actions[k:k + 1], trace.features[k:k + 1], trace.gamma,
                             config.baseline_eps,
                             episode_starts=trace.episode_starts[k:k + 1])[0]
        directions = {"recovered": _unit(jac @ omega)}
        if omega_reference is not None:
            directions["reference"] = _unit(jac @ omega_reference)
        if k + 1 < K:
            directions["learner_step"] = _unit(trace.thetas[k + 1][:theta.size] - theta)
        randoms = [_unit(rng.normal(size=theta.size)) for _ in range(config.n_random)]

        def slope(v: np.ndarray, k: int = k, theta: np.ndarray = theta,
                  policy: GaussianMLPPolicy = policy) -> float:
            values = []
            for sign in (1.0, -1.0):
                moved = load_theta(copy.deepcopy(policy), theta + sign * config.epsilon * v)
                values.append(mean_true_reward(trace, k, moved, config))
            return (values[0] - values[1]) / (2 * config.epsilon)

        slopes = {name: slope(v) for name, v in directions.items()}
        random_slopes = [slope(v) for v in randoms]
        out["steps"].append({
            "step": k,
            "reward_per_step": mean_true_reward(trace, k, policy, config),
            "slopes": slopes,
            "random_slopes": random_slopes,
            "recovered_beats_random": (float(np.mean(np.asarray(random_slopes)
                                                     < slopes["recovered"]))
                                       if random_slopes else None),
        })
        log.info("step %d: slopes %s, random %s", k,
                 {a: round(b, 4) for a, b in slopes.items()}, np.round(random_slopes, 4))
    return out


def output_dir(env_id: str, budget: str, seed: int, root: Path | None = None,
               parity: str = "official") -> Path:
    """``<root>/mujoco_checks[_<parity>][_<budget>]/<env>/seed_<seed>`` (no parity for
    ``"sb3"``, as :func:`logel.experiments.mujoco.variant_name`)."""
    root = artifacts.artifact_root() if root is None else Path(root)
    name = ("mujoco_checks" + ("" if parity == "sb3" else f"_{parity}")
            + ("" if budget == "paper" else f"_{budget}"))
    return root / name / env_id / f"seed_{seed}"


def run(env_id: str, seeds: Sequence[int], trace_dir: Path, budget: str = "paper",
        root: Path | None = None, force: bool = False,
        weights_root: Path | None = None, parity: str = "official") -> dict[int, str]:
    """E6 on every seed of the ``parity`` learner with a kept trace (named as
    :func:`logel.experiments.mujoco.trace_name`) and recovered weights (its artifacts under
    ``weights_root``); resumable."""
    config = check_config(budget)
    recovered = load_run_results(env_id, budget, weights_root, parity=parity)
    learner_config = experiment_config(env_id, budget, parity=parity)
    status = {}
    for seed in seeds:
        out = output_dir(env_id, budget, seed, root, parity)
        path = Path(trace_dir) / trace_name(learner_config, seed)
        if not force and artifacts.is_complete(out):
            status[seed] = "skipped"
            continue
        if not path.is_file() or seed not in recovered:
            log.warning("seed %d: no trace at %s or no recovered weights", seed, path)
            status[seed] = "missing"
            continue
        t0 = time.perf_counter()
        trace = LearnerTrace.load(path)
        omega = np.asarray(recovered[seed]["logel"]["weights"], dtype=np.float64)
        observed = recovered[seed]["logel"]["steps"]
        result = finite_difference_check(trace, omega, replace(config, seed=seed),
                                         reference_weights(trace, observed))
        cfg = {"experiment": "mujoco_checks", "env_id": env_id, "budget": budget,
               "seed": seed, "version": VERSION, "parity": parity, **asdict(replace(config, seed=seed)),
               "trace_sha256": artifacts.sha256_file(path)}
        out.mkdir(parents=True, exist_ok=True)
        artifacts.save_json(out / "finite_differences.json",
                            {**result, "recovered_weights": omega.tolist()})
        artifacts.write_manifest(out, config=cfg, seeds=[seed],
                                 wall_time_seconds=time.perf_counter() - t0,
                                 extra={"experiment": "mujoco_checks", "version": VERSION})
        status[seed] = "done"
    return status


def load_results(env_id: str, budget: str = "paper", root: Path | None = None,
                 parity: str = "official") -> dict[int, dict[str, Any]]:
    """Every complete seed's ``finite_differences.json``, verified against its manifest."""
    base = output_dir(env_id, budget, 0, root, parity).parent
    return {seed: artifacts.load(d)["finite_differences"]
            for seed, d in artifacts.seed_folders(base).items()}


@dataclass(frozen=True, kw_only=True)
class ChecksCommand(MujocoCommand):
    """``logel run mujoco_checks``: E6 on kept learner traces."""

    trace_dir: Path
    """Directory of kept learner traces (<env>_<budget>[_<parity>]_seed<k>.npz)."""
    parity: str = "official"
    """The learner whose kept traces and recovered weights are checked."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_directory(self.trace_dir, type(self).__name__ + ".trace_dir")
        choice(self.parity, type(self).__name__ + ".parity", PARITIES)


def _execute(options: ChecksCommand, args: Any) -> int:
    start_logging()
    status = run(options.env, args.seeds, options.trace_dir, options.budget, options.root,
                 options.force, parity=options.parity)
    log.info("finished: %s", status)
    return 0


# logel run mujoco_checks: run over --seeds.
COMMAND = Command(config=ChecksCommand, execute=_execute, seeds="0-4",
                  choices={"parity": PARITIES})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m logel.experiments.mujoco_checks ...``: the same as
    ``logel run mujoco_checks ...``."""
    return cli.run("mujoco_checks", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
