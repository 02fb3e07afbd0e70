"""A learner that *does* follow the policy gradient: G(PO)MDP ascent on a Gaussian MLP policy.

The positive control of the MuJoCo experiments (issue "MuJoCo verdicts", E1). The learner
optimises a *linear* reward :math:`\\omega^\\top\\phi` in the experiment's reward features, and
each update is exactly the premise of LOGEL (paper Eq. 1),

.. math::
    \\theta_{t+1}=\\theta_t+\\alpha_t\\,\\widehat{\\nabla_\\theta\\psi}(\\theta_t)\\,\\omega,
    \\qquad \\alpha_t=\\eta/\\|\\widehat{\\nabla_\\theta\\psi}(\\theta_t)\\,\\omega\\|,

with :math:`\\widehat{\\nabla_\\theta\\psi}` the project's one G(PO)MDP estimator
(:func:`logel.gpomdp_jacobian` on :func:`~logel.policies.gaussian_mlp.layer_scores`) on the
update's own rollout, split at its episode starts: a normalised gradient step of length
:math:`\\eta` in parameter space (the step size :math:`\\alpha_t` varies, as LOGEL allows).

:math:`\\theta` is the actor trunk, as for the PPO learner; the mean head (orthogonal gain 1)
and the log standard deviation are fixed, so nothing else moves. Observations are normalised
with ``VecNormalize`` statistics gathered on one warm-up rollout of the initial policy and then
frozen, so the policy class does not drift under the observer. Actions are the unclipped
Gaussian samples; the environment receives them clipped to its action space (as SB3 does).

With the learner's true :math:`\\theta` and the same samples, LOGEL must recover
:math:`\\omega` (up to scale) to rounding: that checks the pipeline end to end. With
behavioural cloning it measures what cloning costs when the premise holds exactly.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from logel._validation import integer, items, real, text
from logel.envs.mujoco_features import n_features
from logel.estimators import TrajectoryLayout, gpomdp_jacobian
from logel.learners.ppo import CURVE_WINDOW, PPOConfig, make_vec_env
from logel.policies.gaussian_mlp import (
    GaussianMLPPolicy,
    get_theta,
    layer_scores,
    load_theta,
)
from logel.traces import LearnerTrace


@dataclass(frozen=True)
class PGConfig:
    """The G(PO)MDP learner (defaults: the PPO learner's data sizes, paper budget)."""

    env_id: str = "Hopper-v5"
    """Gymnasium id (Hopper-v5 or Reacher-v5)."""
    weights: tuple[float, ...] | None = None
    """:math:`\\omega` the learner optimises; None = the least-squares fit of the true reward on
    ``[phi, 1]`` over the warm-up rollout, constant dropped."""
    n_envs: int = 16
    """Parallel environments (as the PPO learner)."""
    n_steps: int = 2000
    """Steps per environment per update (as the PPO learner)."""
    n_updates: int = 20
    """Gradient steps (policies recorded: ``n_updates``)."""
    step_length: float = 0.2
    """:math:`\\eta`, the length of each update in parameter space."""
    gamma: float = 0.99
    """Discount of :math:`\\psi` (the PPO learner's)."""
    baseline_eps: float = 1e-4
    """:math:`\\epsilon_b` of the G(PO)MDP baseline (official MuJoCo value)."""
    hidden: tuple[int, ...] = (64, 64)
    """Trunk widths."""
    log_std: float = -0.5
    """Fixed log standard deviation of every action dimension."""
    mean_gain: float = 1.0
    """Orthogonal gain of the (fixed) mean head (the official learner's)."""
    clip_obs: float = 10.0
    """Clip of the normalised observations."""
    seed: int = 0
    """Seeds the network, the action noise and the environments (``seed + rank``)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        text(self.env_id, c + "env_id")
        if self.weights is not None:
            items(self.weights, c + "weights", real)
        integer(self.n_envs, c + "n_envs", low=1)
        integer(self.n_steps, c + "n_steps", low=1)
        integer(self.n_updates, c + "n_updates", low=1)
        real(self.step_length, c + "step_length", low=0)
        real(self.gamma, c + "gamma", low=0, high=1)
        real(self.baseline_eps, c + "baseline_eps", low=0, allow_inf=True)
        items(self.hidden, c + "hidden", lambda v, n: integer(v, n, low=1), nonempty=False)
        real(self.log_std, c + "log_std")
        real(self.mean_gain, c + "mean_gain", low=0)
        real(self.clip_obs, c + "clip_obs", low=0, low_open=True)
        integer(self.seed, c + "seed", low=0)


@dataclass
class PGRun:
    """Output of :func:`train_policy_gradient`.

    Attributes:
        config: the configuration.
        weights: ``(q,)`` the :math:`\\omega` optimised.
        curve: ``(n_updates,)`` mean true return of the last 10 finished episodes after each
            update's rollout (NaN before any episode finished).
        trace: the learner trace (``thetas`` of the trunk, ``learning_rates`` the
            :math:`\\alpha_t`).
        gradient_norms: ``(n_updates,)`` :math:`\\|\\widehat{\\nabla\\psi}\\,\\omega\\|`.
        objective: ``(n_updates,)`` the learner's own reward :math:`\\omega^\\top\\phi`, mean per
            step over each update's rollout.
        update_seconds: ``(n_updates,)`` wall time of each update.
    """

    config: PGConfig
    weights: np.ndarray
    curve: np.ndarray
    trace: LearnerTrace
    gradient_norms: np.ndarray
    objective: np.ndarray
    update_seconds: np.ndarray


def rollout(venv: Any, policy: GaussianMLPPolicy, obs: np.ndarray, start: np.ndarray,
            n_steps: int, gen: torch.Generator, episodes: list[float], q: int
            ) -> dict[str, Any]:
    """``n_steps`` steps of every environment of ``venv`` from (normalised) ``obs``.

    Actions are Gaussian samples of ``policy`` drawn with ``gen``; the environments receive them
    clipped to the action space. Finished episodes' true returns (``Monitor``) are appended to
    ``episodes``.

    Args:
        venv: a ``VecNormalize`` vector of feature environments
            (:func:`logel.learners.ppo.make_vec_env`).
        policy: the policy.
        obs: ``(n_envs, obs_dim)`` current observations; start: ``(n_envs,)`` whether each is the
            first of an episode.
        n_steps: steps per environment.
        gen: the action-noise generator.
        episodes: list that collects finished episodes' true returns.
        q: number of reward features.

    Returns:
        ``states``, ``actions``, ``features``, ``rewards`` (true), ``starts`` as
        ``(n_envs, n_steps, ...)`` arrays, and ``next_obs``, ``next_start``.
    """
    n_envs = obs.shape[0]
    space = venv.action_space
    out = {"states": [], "actions": [], "features": np.zeros((n_steps, n_envs, q)),
           "rewards": np.zeros((n_steps, n_envs)), "starts": []}
    std = torch.exp(policy.log_std.detach())
    for t in range(n_steps):
        with torch.no_grad():
            obs_t = torch.as_tensor(obs, dtype=torch.float32)
            mean = policy.mean_action(obs_t)
            action = (mean + std * torch.randn(mean.shape, generator=gen)).numpy()
        out["states"].append(np.asarray(obs, dtype=np.float32))
        out["actions"].append(action.astype(np.float32))
        out["starts"].append(start.copy())
        obs, _, dones, infos = venv.step(np.clip(action, space.low, space.high))
        for i, info in enumerate(infos):
            out["features"][t, i] = info["features"]
            out["rewards"][t, i] = info["true_reward"]
            if "episode" in info:
                episodes.append(float(info["episode"]["r"]))
        start = np.asarray(dones, dtype=bool)
    arrays = {k: np.swapaxes(np.asarray(v), 0, 1) for k, v in out.items()}
    return {**arrays, "next_obs": obs, "next_start": start}


def least_squares_weights(features: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    """:math:`\\omega` of the least-squares fit of ``rewards`` on ``[features, 1]`` (constant
    dropped): the reward in the features' span closest to the true one on these samples."""
    phi = np.asarray(features, dtype=np.float64).reshape(-1, features.shape[-1])
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    coef, *_ = np.linalg.lstsq(np.column_stack([phi, np.ones(len(phi))]), r, rcond=None)
    return coef[:-1]


def train_policy_gradient(config: PGConfig) -> PGRun:
    """Run the G(PO)MDP learner and record its trace (module docstring).

    Returns:
        A :class:`PGRun`; ``trace.metadata`` has what :func:`logel.irl.neural.neural_logel`
        needs for ``thetas="true"`` (``actor_heads``, ``obs_dim``, ``act_dim``, ``hidden``).
    """
    if config.step_length <= 0:
        raise ValueError(f"step_length must be > 0, got {config.step_length}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        env_cfg = replace(PPOConfig(), env_id=config.env_id, n_envs=config.n_envs,
                          n_steps=config.n_steps, gamma=config.gamma, norm_reward=False,
                          clip_obs=config.clip_obs, seed=config.seed)
        venv = make_vec_env(env_cfg)
        venv.seed(config.seed)
        obs = venv.reset()
        obs_dim, act_dim = int(obs.shape[1]), int(venv.action_space.shape[0])
        policy = GaussianMLPPolicy(obs_dim, act_dim, config.hidden, log_std_init=config.log_std,
                                   seed=config.seed, mean_gain=config.mean_gain)
        gen = torch.Generator().manual_seed(int(config.seed) + 7)
        q = n_features(config.env_id)
        episodes: list[float] = []
        start = np.ones(config.n_envs, dtype=bool)
        warm = rollout(venv, policy, obs, start, config.n_steps, gen, episodes, q)
        venv.training = False  # freeze the observation statistics
        weights = (least_squares_weights(warm["features"], warm["rewards"])
                   if config.weights is None else np.asarray(config.weights, dtype=np.float64))
        if weights.shape != (warm["features"].shape[-1],):
            raise ValueError(f"weights must have {warm['features'].shape[-1]} entries, got "
                             f"{weights.shape}")
        obs, start = venv.normalize_obs(venv.get_original_obs()), warm["next_start"]
        heads = torch.cat([p.detach().reshape(-1) for p in
                           (policy.mean.weight, policy.mean.bias, policy.log_std)]).double()
        keep: dict[str, list[Any]] = {k: [] for k in ("states", "actions", "features",
                                                      "rewards", "starts")}
        thetas, alphas, norms, curve, seconds, objective = [], [], [], [], [], []
        for _ in range(config.n_updates):
            t0 = time.perf_counter()
            roll = rollout(venv, policy, obs, start, config.n_steps, gen, episodes, q)
            obs, start = roll["next_obs"], roll["next_start"]
            for k in keep:
                keep[k].append(roll[k])
            theta = get_theta(policy)
            n = config.n_envs * config.n_steps
            scores = layer_scores(policy, roll["states"].reshape(n, -1),
                                  roll["actions"].reshape(n, -1))
            jac = gpomdp_jacobian(scores, roll["features"].reshape(n, -1), config.gamma,
                                  config.baseline_eps,
                                  layout=TrajectoryLayout.from_episode_starts(roll["starts"]))
            grad = jac @ weights
            norm = float(np.linalg.norm(grad))
            alpha = config.step_length / norm if norm > 0 else 0.0
            load_theta(policy, theta + alpha * grad)
            thetas.append(theta)
            objective.append(float(np.mean(roll["features"] @ weights)))
            alphas.append(alpha)
            norms.append(norm)
            window = episodes[-CURVE_WINDOW:]
            curve.append(float(np.mean(window)) if window else np.nan)
            seconds.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    metadata = {
        "learner": "G(PO)MDP ascent (normalised steps) on the trunk of a Gaussian MLP",
        "env_id": config.env_id, "seed": config.seed, "config": asdict(config),
        "weights": weights.tolist(), "learner_curve": curve, "update_seconds": seconds,
        "gradient_norms": norms, "objective": objective, "obs_dim": obs_dim, "act_dim": act_dim,
        "hidden": list(config.hidden), "actor_heads": [heads.tolist()] * config.n_updates,
        "obs_rms_mean": [venv.obs_rms.mean.tolist()] * config.n_updates,
        "obs_rms_var": [venv.obs_rms.var.tolist()] * config.n_updates,
        "clip_obs": config.clip_obs,
        "states": "VecNormalize-normalised observations (frozen statistics, float32)",
        "actions": "unclipped Gaussian samples",
    }
    trace = LearnerTrace(np.stack(keep["states"]), np.stack(keep["actions"]),
                         np.stack(keep["features"]), config.gamma, thetas=np.stack(thetas),
                         learning_rates=np.asarray(alphas[:-1]), metadata=metadata,
                         episode_starts=np.stack(keep["starts"]),
                         rewards=np.stack(keep["rewards"]))
    return PGRun(config, weights, np.asarray(curve), trace, np.asarray(norms),
                 np.asarray(objective), np.asarray(seconds))
