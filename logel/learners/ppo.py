"""The MuJoCo learner: PPO (stable-baselines3) plus a callback that writes a ``LearnerTrace``.

Spec Sec. 5.5 / ``reference-code-notes.md`` Sec. 3.3: 16 environments x 2000 steps per update
(``DummyVecEnv``; fastest on few cores), 20 updates, Adam 7e-4 (eps 1e-5) linearly decayed,
10 epochs, minibatch 1000 (32 per epoch), clip 0.2 linearly decayed, GAE 0.95, gamma 0.99,
``VecNormalize`` of observations and returns (clip 10), separate 2x64 tanh actor and critic,
state-independent log-std (init 0), entropy coefficient 0, value coefficient 0.5, gradient-norm
clip 0.5, advantage normalisation, orthogonal initialisation.

**Learning-rate and clip schedules.** SB3 evaluates a schedule at the *progress remaining*
``p = 1 - (timesteps so far) / (total timesteps)``, and only after the update's rollout, so
update ``j = 0..N-1`` sees ``p = 1 - (j+1)/N``: a plain linear schedule ``lr * p`` is 0 on the
last update, whose :math:`\\Delta\\theta` would then be zero (``toolchain-notes.md``). We shift it
by one update, ``lr * min(1, p + 1/N)``, so update ``j`` uses ``lr * (1 - j/N)``: ``lr`` on the
first update and ``lr / N`` on the last, exactly the official (Kostrikov) ``update_linear_schedule``
formula ``lr - lr * j / N``. The clip range follows the same shifted schedule
(official: ``0.2 * (1 - j/N)``).

**Recording.** :class:`TraceRecorder` runs at every rollout end, *before* ``train()`` flattens
the buffer, when the actor's parameters are the ones that generated the rollout. It keeps the
actor trunk :math:`\\theta` (``policy.mlp_extractor.policy_net``, optionally with the mean head
``policy.action_net``), the normalised observations (float32), the *unclipped* Gaussian actions
(the ones whose log-probability the policy defines), the reward features and true rewards from
``info`` (computed before any automatic reset, :mod:`logel.envs.mujoco_features`), the episode
starts, the ``VecNormalize`` statistics of that update and the learner curve (mean of the last 10
finished true episode returns, from ``Monitor``). :func:`train_ppo` returns it as a
:class:`~logel.traces.LearnerTrace` with ``states`` ``(K, n_envs, n_steps, obs_dim)``.

**Parity with the official learner** (:attr:`PPOConfig.parity`). ``"official"`` (the paper
experiment's default) adds to SB3 what the official learner (Kostrikov's PPO on gym ``*-v2``,
``reference-code-notes.md`` Sec. 3.3) does differently:

* the Gaussian mean head (``policy.action_net``) is orthogonal with gain 1 (SB3: 0.01; we rescale
  SB3's own draw, so both parities share the random directions) and the log-std starts at 0;
* the environment receives the *raw* sampled action, so the true reward's control cost and the
  :math:`\\|a\\|^2` feature charge it, while MuJoCo clamps the control to the actuators'
  range (:class:`~logel.envs.mujoco_features.RawActions`; SB3 clips the action before
  ``env.step``);
* time limits as in the official PPO: a ``TimeLimit`` truncation is a termination (no value
  bootstrap, :class:`TimeLimitAsTermination`), and GAE is cut after rollout step 1000 for every
  environment without a reset (the official forced masks, :class:`ForcedMaskRolloutBuffer`).

``"sb3"`` keeps SB3's choices: the learner of the artifacts written before the option existed,
reproduced bit for bit. Remaining differences in both: SB3's value clipping is off (the official
clipped value loss is a max of clipped and unclipped losses, SB3's is not), minibatches are drawn
by SB3's permutation, and the environments are gymnasium's v5 ones
(:mod:`logel.envs.mujoco_features`).

**Speed** (same numbers). :class:`LeanPPO` collects rollouts with exactly SB3's operations and
random draws but less Python (:class:`_LeanActorCritic`), Adam updates all parameters at once
(:data:`ADAM_FOREACH`), :class:`LeanVecNormalize` drops a copy per step and
:class:`ShallowInfoDummyVecEnv` steps all environments' wrappers at once; each is tested bit for
bit against SB3's own.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper, VecNormalize
from stable_baselines3.common.vec_env.util import dict_to_obs

from logel._validation import boolean, choice, integer, items, real, text
from logel.envs.mujoco_features import BatchedFeatureSteps, make_feature_env, n_features
from logel.traces import LearnerTrace

CURVE_WINDOW = 10
"""Episodes averaged by the learner/observer curves (official: last 10 finished episodes)."""

PARITIES = ("official", "sb3")
SCHEDULES = ("shifted_linear", "linear", "constant")
"""Values of ``PPOConfig.lr_schedule`` and ``PPOConfig.clip_schedule``."""
"""Values of :attr:`PPOConfig.parity`."""
OFFICIAL_HEAD_GAIN = 1.0
"""Orthogonal gain of the official Gaussian mean head (Kostrikov's ``DiagGaussian``)."""
SB3_HEAD_GAIN = 0.01
"""SB3's orthogonal gain for ``policy.action_net``."""
FORCED_MASK_PERIOD = 1000
"""The official learner marks every rollout step ``s > 1`` with ``s % 1000 == 0`` as terminal for
GAE (masks only, the environment is not reset)."""


@dataclass(frozen=True)
class PPOConfig:
    """Hyper-parameters of the PPO learner and observers (defaults: the paper's learner)."""

    env_id: str = "Hopper-v5"
    """Gymnasium id; features from :mod:`logel.envs.mujoco_features` (Hopper or Reacher)."""
    n_envs: int = 16
    """Parallel environments in one ``DummyVecEnv`` (official ``--num-processes`` 16)."""
    n_steps: int = 2000
    """Steps per environment per update (official ``--num-steps`` 2000)."""
    n_updates: int = 20
    """PPO updates = learning steps (official learner: 20, hard-coded; observers: 30)."""
    learning_rate: float = 7e-4
    """Initial Adam step size (official 7e-4)."""
    lr_schedule: str = "shifted_linear"
    """``"shifted_linear"`` (update ``j`` uses ``lr (1 - j/N)``, the official formula),
    ``"linear"`` (SB3's ``lr p``, zero on the last update) or ``"constant"``."""
    adam_eps: float = 1e-5
    """Adam epsilon (official and SB3: 1e-5)."""
    optimizer: str = "adam"
    """``"adam"`` (official) or ``"sgd"`` (plain stochastic gradient descent, no momentum: the
    first rung of the PPO ladder, experiment E3)."""
    n_epochs: int = 10
    """Passes over each rollout (official ``--ppo-epoch`` 10)."""
    batch_size: int = 1000
    """Minibatch size: 32 minibatches of 1000 for 16 x 2000 samples (official 32)."""
    clip_range: float = 0.2
    """Initial PPO clip parameter (official 0.2)."""
    clip_schedule: str = "shifted_linear"
    """Schedule of the clip range, as ``lr_schedule`` (official: linear decay)."""
    gamma: float = 0.99
    """Discount (official 0.99); also the return normaliser's discount."""
    gae_lambda: float = 0.95
    """GAE lambda (official ``--tau`` 0.95)."""
    ent_coef: float = 0.0
    """Entropy coefficient (official 0)."""
    vf_coef: float = 0.5
    """Value-loss coefficient (official 0.5)."""
    max_grad_norm: float = 0.5
    """Gradient-norm clip (official 0.5)."""
    hidden: tuple[int, ...] = (64, 64)
    """Widths of the separate actor and critic MLPs (tanh)."""
    log_std_init: float = 0.0
    """Initial log standard deviation (official 0)."""
    norm_obs: bool = True
    """``VecNormalize`` observations (official: yes, clip 10)."""
    norm_reward: bool = True
    """``VecNormalize`` returns (official: yes). Observers apply it to the recovered reward."""
    clip_obs: float = 10.0
    """Clip of the normalised observations."""
    include_mean_head: bool = False
    """Record the mean head in :math:`\\theta` too (official: trunk only)."""
    record: bool = True
    """Record the rollouts into a trace (observers switch it off)."""
    torch_threads: int = 1
    """``torch.set_num_threads`` during training."""
    seed: int = 0
    """Seeds SB3 (python, numpy, torch) and the environments (``seed + rank``)."""
    parity: Literal["official", "sb3"] = "sb3"
    """``"official"``: the official learner's choices SB3 does not make (mean head orthogonal
    with gain 1, log-std initialised at 0, control cost and :math:`\\|a\\|^2` feature on the raw
    sampled action with the simulator clamping the control, time limits as in the official
    PPO); ``"sb3"``: SB3's choices (head gain 0.01, the action clipped to the box before
    ``env.step``, value bootstrapped at time-limit truncations), the learner of the artifacts
    written before this option existed. The paper's experiment
    (:func:`logel.experiments.mujoco.experiment_config`) selects ``"official"``; the dataclass
    default stays ``"sb3"`` so that code building environments from a default
    :class:`PPOConfig` for its own rollouts keeps its behaviour. See the module docstring."""
    head_gain: float | None = None
    """Orthogonal gain of the mean head; None = the parity's (official 1, SB3 0.01). One factor
    of the head-gain x control-cost factorial (experiment E2)."""
    raw_control: bool | None = None
    """Whether the environment receives (and charges the control cost of) the raw sample; None =
    the parity's (official True, SB3 False). The other factor of experiment E2."""

    def head_gain_used(self) -> float:
        """The mean head's gain this configuration initialises."""
        if self.head_gain is not None:
            return float(self.head_gain)
        return OFFICIAL_HEAD_GAIN if self.parity == "official" else SB3_HEAD_GAIN

    def raw_control_used(self) -> bool:
        """Whether the environments receive the raw sample."""
        return self.parity == "official" if self.raw_control is None else bool(self.raw_control)

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        text(self.env_id, c + "env_id")
        for name in ("n_envs", "n_steps", "n_updates", "n_epochs", "batch_size", "torch_threads"):
            integer(getattr(self, name), c + name, low=1)
        integer(self.seed, c + "seed", low=0)
        for name in ("learning_rate", "ent_coef", "vf_coef"):
            real(getattr(self, name), c + name, low=0)
        for name in ("adam_eps", "clip_range", "max_grad_norm", "clip_obs"):
            real(getattr(self, name), c + name, low=0, low_open=True)
        for name in ("gamma", "gae_lambda"):
            real(getattr(self, name), c + name, low=0, high=1)
        for name in ("lr_schedule", "clip_schedule"):
            choice(getattr(self, name), c + name, SCHEDULES)
        choice(self.optimizer, c + "optimizer", ("adam", "sgd"))
        items(self.hidden, c + "hidden", lambda v, n: integer(v, n, low=1), nonempty=False)
        real(self.log_std_init, c + "log_std_init")
        for name in ("norm_obs", "norm_reward", "include_mean_head", "record"):
            boolean(getattr(self, name), c + name)
        if self.head_gain is not None:
            real(self.head_gain, c + "head_gain", low=0)
        if self.raw_control is not None:
            boolean(self.raw_control, c + "raw_control")
        if self.parity not in PARITIES:
            raise ValueError(f"PPOConfig.parity must be one of {PARITIES}, got {self.parity!r}")
        if self.parity == "official" and self.log_std_init != 0.0:
            raise ValueError("PPOConfig.parity='official' initialises the log-std at 0; use "
                             f"parity='sb3' for log_std_init={self.log_std_init}")

    @property
    def total_timesteps(self) -> int:
        return self.n_updates * self.n_envs * self.n_steps


def _schedule(kind: str, value: float, n_updates: int) -> Callable[[float], float]:
    if kind == "constant":
        return lambda p: value
    if kind == "linear":
        return lambda p: value * p
    if kind == "shifted_linear":
        return lambda p: value * min(1.0, p + 1.0 / n_updates)
    raise ValueError(f"unknown schedule {kind!r}")


def schedule_values(kind: str, value: float, n_updates: int) -> np.ndarray:
    """The value each update ``j = 0..N-1`` uses (SB3 evaluates at ``p = 1 - (j+1)/N``)."""
    f = _schedule(kind, value, n_updates)
    return np.array([f(1.0 - (j + 1) / n_updates) for j in range(n_updates)])


class ShallowInfoDummyVecEnv(DummyVecEnv):
    """SB3's ``DummyVecEnv`` without the per-step ``deepcopy`` of the 16 info dicts, stepping all
    environments at once where it can.

    Every environment step returns a fresh info dict, and ``DummyVecEnv`` replaces its buffered
    dict at the next step, so a shallow copy of the list is as safe as the deep one SB3 makes
    (about a tenth of a Hopper rollout's time). With ``batched=True`` (the default) and
    environments that :class:`~logel.envs.mujoco_features.BatchedFeatureSteps` supports (those of
    :func:`~logel.envs.mujoco_features.make_feature_env` without a per-environment reward
    wrapper), a step runs the simulators one by one but everything around them (gymnasium's
    step, time limit, ``Monitor``, episode statistics, reward features) once for all
    environments in numpy; resets still go through each wrapped environment. Observations,
    rewards, dones and infos are unchanged either way, bit for bit (tested). ``physics_threads=2``
    steps half of the simulators in a second thread (:meth:`~logel.envs.mujoco_features.
    BatchedFeatureSteps.set_threads`; same numbers), for a process that has a second core to
    itself.
    """

    def __init__(self, env_fns: list[Callable[[], gym.Env]], batched: bool = True,
                 physics_threads: int = 1) -> None:
        super().__init__(env_fns)
        self.batched: BatchedFeatureSteps | None = None
        """The vectorised step, or None (per-environment steps)."""
        if batched and all(BatchedFeatureSteps.supports(e) for e in self.envs):
            self.batched = BatchedFeatureSteps(self.envs, threads=physics_threads)

    def close(self) -> None:
        if self.batched is not None:
            self.batched.close()
        super().close()

    def reset(self) -> Any:
        obs = super().reset()
        if self.batched is not None:
            for env_idx in range(self.num_envs):
                self.batched.after_reset(env_idx, self.reset_infos[env_idx])
        return obs

    def step_wait(self) -> Any:
        if self.batched is not None:
            return self._batched_step_wait(self.batched)
        for env_idx in range(self.num_envs):
            obs, self.buf_rews[env_idx], terminated, truncated, self.buf_infos[env_idx] = (
                self.envs[env_idx].step(self.actions[env_idx]))
            self.buf_dones[env_idx] = terminated or truncated
            self.buf_infos[env_idx]["TimeLimit.truncated"] = truncated and not terminated
            if self.buf_dones[env_idx]:
                self.buf_infos[env_idx]["terminal_observation"] = obs
                obs, self.reset_infos[env_idx] = self.envs[env_idx].reset()
            self._save_obs(env_idx, obs)
        return (self._obs_from_buf(), np.copy(self.buf_rews), np.copy(self.buf_dones),
                list(self.buf_infos))

    def _obs_from_buf(self) -> Any:
        # SB3 deep-copies the dict of observation buffers at every step; copying the arrays
        # gives the same observations without deepcopy's per-call overhead
        return dict_to_obs(self.observation_space, {k: np.copy(v) for k, v in self.buf_obs.items()})

    def _batched_step_wait(self, batched: BatchedFeatureSteps) -> Any:
        obs, rewards, terminated, truncated, infos = batched.step(self.actions)
        self.buf_rews[:] = rewards
        self.buf_dones[:] = terminated | truncated
        for info, flag in zip(infos, (truncated & ~terminated).tolist(), strict=True):
            info["TimeLimit.truncated"] = flag
        if self.keys == [None]:  # one array of observations: store all, then the resets
            self.buf_obs[None][:] = obs
            for env_idx in np.flatnonzero(self.buf_dones).tolist():
                infos[env_idx]["terminal_observation"] = obs[env_idx]
                env_obs, self.reset_infos[env_idx] = self.envs[env_idx].reset()
                batched.after_reset(env_idx, self.reset_infos[env_idx])
                self._save_obs(env_idx, env_obs)
        else:
            for env_idx, info in enumerate(infos):
                env_obs = obs[env_idx]
                if self.buf_dones[env_idx]:
                    info["terminal_observation"] = env_obs
                    env_obs, self.reset_infos[env_idx] = self.envs[env_idx].reset()
                    batched.after_reset(env_idx, self.reset_infos[env_idx])
                self._save_obs(env_idx, env_obs)
        self.buf_infos = infos
        return (self._obs_from_buf(), np.copy(self.buf_rews), np.copy(self.buf_dones),
                list(infos))


def _split_worker(remote: Any, parent_remote: Any, env_fn: Any, n_envs: int) -> None:
    """The second process of a :class:`SplitVecEnv`: a :class:`ShallowInfoDummyVecEnv`."""
    parent_remote.close()
    venv = ShallowInfoDummyVecEnv([env_fn.var] * n_envs)
    try:
        while True:
            cmd, data = remote.recv()
            if cmd == "step":
                venv.step_async(data)
                remote.send((*venv.step_wait(), venv.reset_infos))
            elif cmd == "reset":
                venv._seeds, venv._options = data
                remote.send((venv.reset(), venv.reset_infos))
            elif cmd == "call":
                name, args, kwargs = data
                remote.send(getattr(venv, name)(*args, **kwargs))
            elif cmd == "close":
                venv.close()
                remote.send(time.process_time())
                break
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        remote.close()


class SplitVecEnv(VecEnv):
    """``n_envs`` environments stepped by two processes: the first ``n_local`` here, the rest in
    one worker process, at the same time (one core each). The default is half each: the policy
    and SB3's bookkeeping run in this process between two steps, while the worker waits for the
    actions, so only the environment steps themselves overlap.

    Each environment only sees its own actions and seed (``seed + index``, as in
    ``DummyVecEnv``), and the results are concatenated in index order, so observations,
    rewards, dones and infos are exactly those of one ``DummyVecEnv`` of all ``n_envs``.
    """

    def __init__(self, env_fn: Callable[[], gym.Env], n_envs: int,
                 n_local: int | None = None) -> None:
        import multiprocessing

        from stable_baselines3.common.vec_env.base_vec_env import CloudpickleWrapper

        self.n_local = n_envs // 2 if n_local is None else n_local
        if not 0 < self.n_local < n_envs:
            raise ValueError(f"n_local must be in 1..{n_envs - 1}, got {self.n_local}")
        self.local = ShallowInfoDummyVecEnv([env_fn] * self.n_local)
        ctx = multiprocessing.get_context("spawn")
        self._remote, work_remote = ctx.Pipe()
        self._process = ctx.Process(
            target=_split_worker, daemon=True,
            args=(work_remote, self._remote, CloudpickleWrapper(env_fn), n_envs - self.n_local))
        self._process.start()
        work_remote.close()
        self._closed = False
        self.worker_cpu_seconds = float("nan")
        """CPU time of the worker process, known once closed."""
        super().__init__(n_envs, self.local.observation_space, self.local.action_space)

    def _call_remote(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self._remote.send(("call", (name, args, kwargs)))
        return self._remote.recv()

    def _split(self, indices: Any) -> tuple[list[int], list[int]]:
        idx = list(range(self.num_envs)) if indices is None else (
            [indices] if isinstance(indices, int) else list(indices))
        return ([i for i in idx if i < self.n_local],
                [i - self.n_local for i in idx if i >= self.n_local])

    def _both(self, name: str, indices: Any, *args: Any, **kwargs: Any) -> list[Any]:
        local, remote = self._split(indices)
        out = getattr(self.local, name)(*args, indices=local, **kwargs) if local else []
        if remote:
            out = list(out) + list(self._call_remote(name, *args, indices=remote, **kwargs))
        return list(out)

    def step_async(self, actions: np.ndarray) -> None:
        self._remote.send(("step", actions[self.n_local:]))
        self.local.step_async(actions[:self.n_local])

    def step_wait(self) -> Any:
        obs, rews, dones, infos = self.local.step_wait()
        r_obs, r_rews, r_dones, r_infos, r_reset_infos = self._remote.recv()
        self.reset_infos = self.local.reset_infos + r_reset_infos
        return (np.concatenate([obs, r_obs]), np.concatenate([rews, r_rews]),
                np.concatenate([dones, r_dones]), infos + r_infos)

    def reset(self) -> Any:
        k = self.n_local
        self._remote.send(("reset", (self._seeds[k:], self._options[k:])))
        self.local._seeds, self.local._options = self._seeds[:k], self._options[:k]
        obs = self.local.reset()
        r_obs, r_reset_infos = self._remote.recv()
        self.reset_infos = self.local.reset_infos + r_reset_infos
        self._reset_seeds()
        self._reset_options()
        return np.concatenate([obs, r_obs])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.local.close()
        try:
            self._remote.send(("close", None))
            self.worker_cpu_seconds = float(self._remote.recv())
        except (BrokenPipeError, EOFError):
            pass
        self._process.join(timeout=10)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return self._both("get_attr", indices, attr_name)

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        self._both("set_attr", indices, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None,
                   **method_kwargs: Any) -> list[Any]:
        return self._both("env_method", indices, method_name, *method_args, **method_kwargs)

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return self._both("env_is_wrapped", indices, wrapper_class)

    def get_images(self) -> Any:
        raise NotImplementedError("SplitVecEnv does not render")


class TimeLimitAsTermination(VecEnvWrapper):
    """Time-limit truncations count as terminations (official learner, gym v2 era).

    SB3 adds :math:`\\gamma V(s_T)` to the reward of a step whose ``info`` says
    ``TimeLimit.truncated``; the official PPO (no ``bad_masks``) treated the ``done`` of gym's
    ``TimeLimit`` like any other: mask 0, no bootstrap. This wrapper clears the flag (the original
    value stays in ``info["time_limit_truncated"]``); nothing else changes.
    """

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        for info in infos:
            info["time_limit_truncated"] = bool(info.get("TimeLimit.truncated", False))
            info["TimeLimit.truncated"] = False
        return obs, rewards, dones, infos


class ForcedMaskRolloutBuffer(RolloutBuffer):
    """SB3's rollout buffer with the official learner's forced masks in GAE.

    The official learner sets ``done`` for every environment after rollout step ``s``
    (``s > 1``, ``s % 1000 == 0``; step 1000 of a 2000-step rollout), without resetting them:
    GAE neither bootstraps across that step nor carries the advantage past it. Here the episode
    starts of step ``s + 1`` (or the last ``dones``) are set for the computation of returns and
    advantages only; the buffer keeps the real episode starts (the trace records those).
    """

    def compute_returns_and_advantage(self, last_values: torch.Tensor,
                                      dones: np.ndarray) -> None:
        real_starts = self.episode_starts.copy()
        dones = np.array(dones, copy=True)
        for s in range(FORCED_MASK_PERIOD, self.buffer_size, FORCED_MASK_PERIOD):
            if s + 1 < self.buffer_size:
                self.episode_starts[s + 1] = 1.0
            else:
                dones[:] = True
        try:
            super().compute_returns_and_advantage(last_values, dones)
        finally:
            self.episode_starts[:] = real_starts


class LeanVecNormalize(VecNormalize):
    """SB3's ``VecNormalize`` without the ``deepcopy`` of every observation it normalises.

    SB3's ``normalize_obs`` deep-copies its input, then (observations normalised) replaces the
    copy by the normalised array computed from the input: the copy is never used. Everything
    else (statistics, clipping, float32 casts, terminal observations, returns) is SB3's code.
    """

    def normalize_obs(self, obs: Any) -> Any:
        if self.norm_obs and isinstance(obs, np.ndarray) and not isinstance(self.obs_rms, dict):
            return self._normalize_obs(obs, self.obs_rms).astype(np.float32)
        return super().normalize_obs(obs)


class _LeanActorCritic:
    """The forward pass of an SB3 ``ActorCriticPolicy`` with a diagonal Gaussian (``MlpPolicy``:
    flatten extractor shared by separate ``Linear``/``Tanh`` actor and critic trunks), as the
    same torch operations in the same order, without ``nn.Module`` calls, distribution objects
    and their argument validation.

    SB3's ``forward`` computes ``latent = trunk(obs)``, the value head, the mean head,
    ``std = ones_like(mean) * exp(log_std)``, ``Normal(mean, std).rsample()`` (one
    ``normal_`` draw of the mean's shape from the global generator: ``mean + eps * std``) and
    the log-density ``sum(-((a - mean) ** 2) / (2 * std ** 2) - log(std) - log(sqrt(2 pi)))``:
    so does :meth:`forward`, operation for operation (tested bit for bit).
    """

    _HALF_LOG_TWO_PI = math.log(math.sqrt(2 * math.pi))

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.actor = self._layers(policy.mlp_extractor.policy_net)
        self.critic = self._layers(policy.mlp_extractor.value_net)
        self.value_head = (policy.value_net.weight, policy.value_net.bias)
        self.mean_head = (policy.action_net.weight, policy.action_net.bias)
        self.log_std = policy.log_std

    @staticmethod
    def _layers(net: Any) -> list[tuple[torch.Tensor, torch.Tensor] | None]:
        """``(weight, bias)`` per ``Linear``, ``None`` per ``Tanh`` (anything else: ValueError)."""
        layers: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        for module in net:
            if type(module) is torch.nn.Linear and module.bias is not None:
                layers.append((module.weight, module.bias))
            elif type(module) is torch.nn.Tanh:
                layers.append(None)
            else:
                raise ValueError(f"no lean forward for {type(module).__name__}")
        return layers

    @classmethod
    def of(cls, model: Any) -> _LeanActorCritic | None:
        """The lean forward of ``model.policy``, or None where it would not be SB3's."""
        if model.use_sde:
            return None
        return cls.of_policy(model.policy)

    @classmethod
    def of_policy(cls, policy: Any) -> _LeanActorCritic | None:
        """The lean forward of ``policy``, or None where it would not be SB3's."""
        from gymnasium import spaces
        from stable_baselines3.common.distributions import DiagGaussianDistribution
        from stable_baselines3.common.torch_layers import FlattenExtractor

        if (type(policy).forward is not ActorCriticPolicy.forward
                or type(policy).extract_features is not ActorCriticPolicy.extract_features
                or type(policy.action_dist) is not DiagGaussianDistribution
                or not policy.share_features_extractor
                or type(policy.features_extractor) is not FlattenExtractor
                or not isinstance(policy.action_space, spaces.Box)
                or not isinstance(policy.observation_space, spaces.Box)
                or policy.squash_output or policy.use_sde or policy.device.type != "cpu"):
            return None
        try:
            return cls(policy)
        except (AttributeError, TypeError, ValueError):
            return None

    @staticmethod
    def _trunk(h: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor] | None]
               ) -> torch.Tensor:
        for layer in layers:
            h = torch.tanh(h) if layer is None else F.linear(h, layer[0], layer[1])
        return h

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(actions, values, log_prob)`` as SB3's ``policy(obs)`` returns them."""
        features = obs.float().flatten(1)  # preprocess_obs (Box) and FlattenExtractor
        latent_pi = self._trunk(features, self.actor)
        latent_vf = self._trunk(features, self.critic)
        values = F.linear(latent_vf, *self.value_head)
        mean = F.linear(latent_pi, *self.mean_head)
        std = torch.ones_like(mean) * self.log_std.exp()
        eps = torch.empty(mean.shape, dtype=mean.dtype, device=mean.device).normal_()
        actions = mean + eps * std
        var = std ** 2
        log_prob = (-((actions - mean) ** 2) / (2 * var) - std.log()
                    - self._HALF_LOG_TWO_PI).sum(dim=1)
        return actions.reshape((-1, *self.policy.action_space.shape)), values, log_prob


class LeanActorCriticPolicy(ActorCriticPolicy):
    """SB3's ``ActorCriticPolicy`` (``MlpPolicy``) whose :meth:`evaluate_actions` (PPO's
    training forward pass) builds the same autograd graph as SB3's, operation for operation and
    in the same order, so the gradients are the same bit for bit (tested), without
    ``nn.Module`` calls and the distribution object with its argument validation.

    SB3: trunks (actor, then critic), mean head, ``std = ones_like(mean) * exp(log_std)``,
    ``Normal(mean, std)`` (whose ``broadcast_tensors`` of mean and std is kept: it is part of
    the graph), the log-density, the value head, the entropy ``0.5 + 0.5 log(2 pi) + log(std)``,
    both summed over action dimensions. Policies :class:`_LeanActorCritic` does not cover use
    SB3's method. Construction and everything else is SB3's.
    """

    _lean: _LeanActorCritic | None | bool = False
    """The lean forward (None: not applicable; False: not looked up yet)."""

    def evaluate_actions(self, obs: Any, actions: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if self._lean is False:
            self._lean = _LeanActorCritic.of_policy(self)
        lean = self._lean
        if not isinstance(lean, _LeanActorCritic) or not isinstance(obs, torch.Tensor):
            return super().evaluate_actions(obs, actions)
        features = obs.float().flatten(1)  # preprocess_obs (Box) and FlattenExtractor
        latent_pi = lean._trunk(features, lean.actor)
        latent_vf = lean._trunk(features, lean.critic)
        mean = F.linear(latent_pi, *lean.mean_head)
        std = torch.ones_like(mean) * self.log_std.exp()
        loc, scale = torch.broadcast_tensors(mean, std)  # Normal(mean, std)
        var = scale ** 2
        log_prob = (-((actions - loc) ** 2) / (2 * var) - scale.log()
                    - _LeanActorCritic._HALF_LOG_TWO_PI).sum(dim=1)
        values = F.linear(latent_vf, *lean.value_head)
        entropy = (0.5 + 0.5 * math.log(2 * math.pi) + torch.log(scale)).sum(dim=1)
        return values, log_prob, entropy


class LeanPPO(PPO):
    """SB3's ``PPO`` whose rollout collection does exactly SB3's work with less Python.

    :meth:`collect_rollouts` draws the same random numbers and performs the same float
    operations in the same order as SB3's ``OnPolicyAlgorithm.collect_rollouts`` (the policy's
    forward pass as :class:`_LeanActorCritic`, the action clipping, the environment step, the
    callbacks, the episode-info buffer, the time-limit bootstrap, the rollout buffer's float32
    stores), without SB3's distribution objects, per-step tensor/array copies and loops over all
    environments where only finished ones matter. Policies it does not cover (other
    distributions or extractors, gSDE, squashed actions) fall back to SB3's method. Training
    (:meth:`train`) is SB3's, optionally skipped after the last rollout (:attr:`train_last`).
    """

    train_last: bool = True
    """Whether :meth:`train` runs after the last rollout. Everything a learner or an observer
    records (trace, curve, episode statistics) is taken at the end of a rollout, before the
    training that follows it: the last update's training changes only the returned model."""

    before_rollout: Callable[[], None] | None = None
    """Called at the start of every rollout (e.g. to change the number of physics threads)."""

    def train(self) -> None:
        if not self.train_last and self.num_timesteps >= self._total_timesteps:
            return
        super().train()

    def collect_rollouts(self, env: VecEnv, callback: Any, rollout_buffer: RolloutBuffer,
                         n_rollout_steps: int) -> bool:
        if self.before_rollout is not None:
            self.before_rollout()
        lean = _LeanActorCritic.of(self)
        if lean is None or not isinstance(self._last_obs, np.ndarray):
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        self.policy.set_training_mode(False)
        n_steps = 0
        rollout_buffer.reset()
        callback.on_rollout_start()
        buf = rollout_buffer
        low, high = self.action_space.low, self.action_space.high
        n_envs, action_dim = buf.n_envs, buf.action_dim
        inline_add = type(buf).add is RolloutBuffer.add and type(buf).reset is RolloutBuffer.reset
        new_obs: Any = None
        dones: Any = None
        while n_steps < n_rollout_steps:
            with torch.no_grad():
                actions_t, values, log_probs = lean.forward(torch.as_tensor(self._last_obs))
            actions = actions_t.numpy()
            clipped_actions = np.clip(actions, low, high)
            new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            n_steps += 1
            for idx in np.flatnonzero(dones).tolist():  # SB3's time-limit bootstrap (#633)
                if (infos[idx].get("terminal_observation") is not None
                        and infos[idx].get("TimeLimit.truncated", False)):
                    terminal_obs = self.policy.obs_to_tensor(
                        infos[idx]["terminal_observation"])[0]
                    with torch.no_grad():
                        terminal_value = self.policy.predict_values(terminal_obs)[0]
                    rewards[idx] += self.gamma * terminal_value
            if not inline_add:
                buf.add(self._last_obs, actions, rewards, self._last_episode_starts, values,
                        log_probs)
                self._last_obs = new_obs
                self._last_episode_starts = dones
                continue
            pos = buf.pos  # RolloutBuffer.add, into its float32 arrays
            buf.observations[pos] = self._last_obs
            buf.actions[pos] = actions.reshape((n_envs, action_dim))
            buf.rewards[pos] = rewards
            buf.episode_starts[pos] = self._last_episode_starts
            buf.values[pos] = values.numpy().flatten()
            buf.log_probs[pos] = log_probs.numpy()
            buf.pos += 1
            if buf.pos == buf.buffer_size:
                buf.full = True
            self._last_obs = new_obs
            self._last_episode_starts = dones
        with torch.no_grad():
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device))
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True


def make_vec_env(config: PPOConfig, reward: Callable[[gym.Env], gym.Env] | None = None,
                 vec_reward: Callable[[Any], Any] | None = None, env_processes: int = 1,
                 features: bool = True, physics_threads: int = 1) -> Any:
    """``VecNormalize(vec_reward(DummyVecEnv([Monitor -> RewardFeatures -> reward] x n_envs)))``.

    ``reward`` replaces the reward per environment and per step (a gymnasium wrapper factory);
    ``vec_reward`` does it for all environments at once (a ``VecEnvWrapper`` factory such as
    :class:`~logel.envs.mujoco_features.VecLinearFeatureReward`; much less Python per step).
    ``env_processes=2`` steps most of the environments in a second process
    (:class:`SplitVecEnv`, same numbers). ``features=False``: no reward features in the infos
    (for a ``vec_reward`` that does not read them; a recording learner needs them).
    ``physics_threads=2`` steps half of the simulators in a second thread (one process; see
    :class:`ShallowInfoDummyVecEnv`, same numbers).
    """
    if config.record and not features:
        raise ValueError("a recording learner needs the reward features")
    official = config.parity == "official"
    factory = functools.partial(make_feature_env, config.env_id, monitor=True, reward=reward,
                                features=features, raw_actions=config.raw_control_used())
    if env_processes == 1 or config.n_envs < 2:
        venv: Any = ShallowInfoDummyVecEnv([factory] * config.n_envs,
                                           physics_threads=physics_threads)
    elif env_processes == 2:
        venv = SplitVecEnv(factory, config.n_envs)
    else:
        raise ValueError(f"env_processes must be 1 or 2, got {env_processes}")
    if official:
        venv = TimeLimitAsTermination(venv)
    if vec_reward is not None:
        venv = vec_reward(venv)
    return LeanVecNormalize(venv, norm_obs=config.norm_obs, norm_reward=config.norm_reward,
                            clip_obs=config.clip_obs, gamma=config.gamma)


def actor_trunk_theta(policy: Any, include_mean_head: bool = False) -> np.ndarray:
    """Flattened actor trunk (``mlp_extractor.policy_net``) [+ mean head], float64."""
    mods = [policy.mlp_extractor.policy_net] + ([policy.action_net] if include_mean_head else [])
    return torch.cat([p.detach().reshape(-1) for m in mods for p in m.parameters()]
                     ).double().cpu().numpy()


def _curve_value(model: Any) -> float | None:
    buf = list(model.ep_info_buffer)[-CURVE_WINDOW:]
    return float(np.mean([ep["r"] for ep in buf])) if buf else None


def _episode_means(model: Any) -> dict[str, float]:
    """Mean over the last 10 finished episodes of the episode length ``l`` and of every
    :class:`~logel.envs.mujoco_features.EpisodeStats` key (NaN before any episode finished)."""
    buf = list(model.ep_info_buffer)[-CURVE_WINDOW:]
    keys = ("l", *sorted({k for ep in buf for k in ep if k.startswith("ep_")}))
    return {("length" if k == "l" else k[3:]): float(np.mean([ep[k] for ep in buf if k in ep]))
            for k in keys} if buf else {}


@dataclass
class _Rollouts:
    states: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    rewards: list[np.ndarray] = field(default_factory=list)
    starts: list[np.ndarray] = field(default_factory=list)
    thetas: list[np.ndarray] = field(default_factory=list)
    heads: list[list[float]] = field(default_factory=list)
    obs_mean: list[list[float]] = field(default_factory=list)
    obs_var: list[list[float]] = field(default_factory=list)
    ret_var: list[float] = field(default_factory=list)


def make_trace_recorder(config: PPOConfig, q: int,
                        on_record: Callable[[int, np.ndarray, np.ndarray], None] | None = None
                        ) -> Any:
    """The SB3 callback that records the learner's trace: at the end of each rollout (before
    ``train()`` flattens the buffer) the normalised observations, the unclipped actions, the
    ``q`` features, episode starts, true rewards, the policy's parameters and the normaliser's
    statistics; after each update the learner curve and episode statistics.

    Args:
        config: the learner's options (which parameters make up theta).
        q: number of reward features.
        on_record: called after each recorded rollout ``k`` with its states ``(n_envs,
            n_steps, obs_dim)`` and actions ``(n_envs, n_steps, act_dim)``, the arrays that
            become the trace's ``states[k]`` and ``actions[k]`` (e.g. to start work on them
            while the learner goes on).

    Returns:
        A ``stable_baselines3`` ``BaseCallback``.
    """
    from stable_baselines3.common.callbacks import BaseCallback

    class TraceRecorder(BaseCallback):
        """Records each rollout at its end (before ``train()``), plus the learner curve."""

        def __init__(self) -> None:
            super().__init__()
            self.data = _Rollouts()
            self.curve: list[float | None] = []
            self.episode_stats: list[dict[str, float]] = []
            self.update_seconds: list[float] = []
            self._t0 = time.perf_counter()
            self._t = 0

        def _on_rollout_start(self) -> None:
            self._t = 0
            if config.record:
                self._feat = np.zeros((config.n_steps, config.n_envs, q))
                self._rew = np.zeros((config.n_steps, config.n_envs))

        def _on_step(self) -> bool:
            if config.record:
                infos = self.locals["infos"]
                self._feat[self._t] = [info["features"] for info in infos]
                self._rew[self._t] = [info["true_reward"] for info in infos]
            self._t += 1
            return True

        def _on_rollout_end(self) -> None:
            model: Any = self.model
            # collect_rollouts has already passed every step's infos to ep_info_buffer
            self.curve.append(_curve_value(model))
            self.episode_stats.append(_episode_means(model))
            now = time.perf_counter()
            self.update_seconds.append(now - self._t0)
            self._t0 = now
            if not config.record:
                return
            if self._t != config.n_steps:
                raise RuntimeError(f"recorded {self._t} steps, expected {config.n_steps}")
            buf, d = model.rollout_buffer, self.data
            d.states.append(np.asarray(buf.observations, dtype=np.float32).swapaxes(0, 1).copy())
            d.actions.append(np.asarray(buf.actions, dtype=np.float32).swapaxes(0, 1).copy())
            d.starts.append(np.asarray(buf.episode_starts).astype(bool).T.copy())
            d.features.append(self._feat.swapaxes(0, 1).copy())
            d.rewards.append(self._rew.T.copy())
            policy = model.policy
            d.thetas.append(actor_trunk_theta(policy, config.include_mean_head))
            d.heads.append(torch.cat([p.detach().reshape(-1) for p in
                                      [*policy.action_net.parameters(), policy.log_std]]
                                     ).double().tolist())
            venv: Any = model.get_env()
            d.obs_mean.append(venv.obs_rms.mean.tolist())
            d.obs_var.append(venv.obs_rms.var.tolist())
            d.ret_var.append(float(venv.ret_rms.var))
            if on_record is not None:
                on_record(len(d.states) - 1, d.states[-1], d.actions[-1])

    return TraceRecorder()


@dataclass
class PPORun:
    """Output of :func:`train_ppo`.

    Attributes:
        config: the configuration.
        curve: ``(n_updates,)`` mean true return of the last 10 finished episodes after each
            update's rollout (NaN before any episode finished).
        update_seconds: ``(n_updates,)`` wall time of each update (rollout + training).
        trace: the learner trace (``config.record``) or None.
        model: the trained SB3 ``PPO`` (its env is the ``VecNormalize``, closed if
            ``env_processes=2``; without the last update's training if ``train_last=False``).
        cpu_seconds: CPU time of the whole run, the second process's included.
        episode_stats: per statistic (``length`` and the true reward's terms, forward or final
            distance: :data:`~logel.envs.mujoco_features.EPISODE_KEYS`), ``(n_updates,)``
            means over the last 10 finished episodes after each update's rollout (as ``curve``).
    """

    config: PPOConfig
    curve: np.ndarray
    update_seconds: np.ndarray
    trace: LearnerTrace | None
    model: Any
    cpu_seconds: float = float("nan")
    episode_stats: dict[str, np.ndarray] = field(default_factory=dict)


ADAM_FOREACH = True
"""Adam updates all parameters with torch's ``_foreach`` operations instead of a Python loop
over them (torch's default on CPU). On CPU each ``_foreach`` operation applies the per-tensor
operation of the loop to each parameter, with the same scalars, so the parameters are the same
bit for bit (tested); only the Python overhead of 13 parameters x 7 operations per minibatch
goes."""


def _optimizer_kwargs(config: PPOConfig) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` for ``config.optimizer``."""
    if config.optimizer == "adam":
        return {"optimizer_kwargs": {"eps": config.adam_eps,
                                     **({"foreach": True} if ADAM_FOREACH else {})}}
    if config.optimizer == "sgd":
        return {"optimizer_class": torch.optim.SGD, "optimizer_kwargs": {}}
    raise ValueError(f"PPOConfig.optimizer must be 'adam' or 'sgd', got {config.optimizer!r}")


def build_model(config: PPOConfig, venv: Any, lean: bool = True) -> Any:
    """SB3's ``PPO`` for ``config`` on ``venv``, initialised as ``config.parity`` says.

    ``parity="official"``: SB3's orthogonal draw of the mean head is rescaled from gain 0.01 to
    gain 1 (same directions, so the two parities start from the same random draw) and GAE uses
    the official forced masks (:class:`ForcedMaskRolloutBuffer`). The log-std starts at 0 in both.
    ``lean=True``: a :class:`LeanPPO` (same numbers, faster rollouts); False: SB3's ``PPO``.
    """
    from stable_baselines3.common.logger import Logger

    official = config.parity == "official"
    model = (LeanPPO if lean else PPO)(
        LeanActorCriticPolicy if lean else "MlpPolicy", venv,
        learning_rate=_schedule(config.lr_schedule, config.learning_rate, config.n_updates),
        n_steps=config.n_steps, batch_size=config.batch_size, n_epochs=config.n_epochs,
        gamma=config.gamma, gae_lambda=config.gae_lambda,
        clip_range=_schedule(config.clip_schedule, config.clip_range, config.n_updates),
        ent_coef=config.ent_coef, vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm, normalize_advantage=True,
        policy_kwargs={"net_arch": {"pi": list(config.hidden), "vf": list(config.hidden)},
                       "activation_fn": torch.nn.Tanh, "log_std_init": config.log_std_init,
                       "ortho_init": True, **_optimizer_kwargs(config)},
        rollout_buffer_class=ForcedMaskRolloutBuffer if official else None,
        seed=config.seed, device="cpu", verbose=0)
    if config.head_gain_used() != SB3_HEAD_GAIN:
        with torch.no_grad():
            model.policy.action_net.weight.mul_(config.head_gain_used() / SB3_HEAD_GAIN)
    # no logger folder: SB3 would otherwise create an empty /tmp/SB3-<date> per run
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


def train_ppo(config: PPOConfig, reward: Callable[[gym.Env], gym.Env] | None = None,
              vec_reward: Callable[[Any], Any] | None = None, env_processes: int = 1,
              features: bool = True,
              on_record: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
              train_last: bool = True, physics_threads: int | Callable[[], int] = 1
              ) -> PPORun:
    """Train PPO for ``config.n_updates`` updates and record what it did.

    Args:
        config: hyper-parameters (the MuJoCo experiment's at a budget:
            :func:`logel.experiments.mujoco.ppo_config`).
        reward: optional wrapper factory replacing the reward (observers), applied outside the
            feature wrapper; the ``Monitor`` still logs the true return.
        vec_reward: the same for all environments at once (a ``VecEnvWrapper`` factory, placed
            between ``DummyVecEnv`` and ``VecNormalize``; see :func:`make_vec_env`).
        env_processes: 1, or 2 to step the environments in two processes (same results).
        features: compute the reward features (needed to record, and by ``w.phi`` rewards).
        on_record: see :func:`make_trace_recorder` (recording learners only).
        train_last: False skips the training after the last rollout, which changes nothing
            recorded (trace, curve, episode statistics), only the returned ``model``
            (:attr:`LeanPPO.train_last`).
        physics_threads: 2 steps half of the simulators in a second thread (same numbers; for
            a second core that is otherwise idle), see :func:`make_vec_env`; or a function
            asked before every rollout (e.g. 2 once another process has finished).

    Returns:
        A :class:`PPORun`.
    """
    cpu_start = time.process_time()
    threads = torch.get_num_threads()
    torch.set_num_threads(config.torch_threads)
    venv = None
    try:
        threads_now = physics_threads() if callable(physics_threads) else physics_threads
        venv = make_vec_env(config, reward, vec_reward, env_processes, features, threads_now)
        n_minibatch_samples = config.n_envs * config.n_steps
        if n_minibatch_samples % config.batch_size:
            raise ValueError(f"batch_size {config.batch_size} must divide n_envs * n_steps = "
                             f"{n_minibatch_samples}")
        model = build_model(config, venv)
        if not train_last or callable(physics_threads):
            if not isinstance(model, LeanPPO):
                raise ValueError("train_last=False and physics_threads as a function need the "
                                 "lean PPO")
            model.train_last = train_last
        batched = getattr(venv.unwrapped, "batched", None)
        if callable(physics_threads) and batched is not None:
            threads_of = physics_threads
            model.before_rollout = lambda: batched.set_threads(threads_of())
        q = n_features(config.env_id)
        recorder = make_trace_recorder(config, q, on_record)
        model.learn(total_timesteps=config.total_timesteps, callback=recorder)
    finally:
        torch.set_num_threads(threads)
        worker_cpu = 0.0
        if venv is not None and env_processes > 1:
            venv.close()  # stops the second process; the model's env is closed
            worker_cpu = venv.unwrapped.worker_cpu_seconds
        elif venv is not None and getattr(venv.unwrapped, "batched", None) is not None:
            venv.unwrapped.batched.close()  # stops the physics thread, if any
    cpu_seconds = time.process_time() - cpu_start + worker_cpu
    curve = np.array([np.nan if v is None else v for v in recorder.curve])
    names = sorted({k for stats in recorder.episode_stats for k in stats})
    episode_stats = {k: np.array([stats.get(k, np.nan) for stats in recorder.episode_stats])
                     for k in names}
    episode_stats_lists = {k: [None if np.isnan(v) else float(v) for v in a]
                           for k, a in episode_stats.items()}
    trace = None
    if config.record:
        d = recorder.data
        policy = model.policy
        metadata = {
            "learner": "ppo (stable-baselines3)",
            "env_id": config.env_id,
            "seed": config.seed,
            "config": asdict(config),
            "learner_curve": recorder.curve,
            "learner_episode_stats": episode_stats_lists,
            "update_seconds": recorder.update_seconds,
            "cpu_seconds": cpu_seconds,
            "learning_rates_used": schedule_values(config.lr_schedule, config.learning_rate,
                                                   config.n_updates).tolist(),
            "theta": "actor trunk" + (" + mean head" if config.include_mean_head else ""),
            "theta_names": [n for n, _ in policy.mlp_extractor.policy_net.named_parameters()],
            "obs_dim": int(venv.observation_space.shape[0]),
            "act_dim": int(venv.action_space.shape[0]),
            "hidden": list(config.hidden),
            "actor_heads": d.heads,
            "obs_rms_mean": d.obs_mean,
            "obs_rms_var": d.obs_var,
            "ret_rms_var": d.ret_var,
            "clip_obs": config.clip_obs,
            "states": "VecNormalize-normalised observations (float32)",
            "actions": "unclipped Gaussian samples",
            "env_actions": ("the raw samples (the simulator clamps the control)"
                            if config.raw_control_used() else
                            "the samples clipped to the action box"),
        }
        trace = LearnerTrace(np.stack(d.states), np.stack(d.actions), np.stack(d.features),
                             config.gamma, thetas=np.stack(d.thetas), metadata=metadata,
                             episode_starts=np.stack(d.starts), rewards=np.stack(d.rewards))
    return PPORun(config, curve, np.asarray(recorder.update_seconds), trace, model, cpu_seconds,
                  episode_stats)


def normalise_observations(obs: np.ndarray, mean: np.ndarray, var: np.ndarray,
                           clip: float = 10.0, eps: float = 1e-8) -> np.ndarray:
    """``VecNormalize``'s observation transform with frozen statistics (float32)."""
    out = np.clip((np.asarray(obs) - mean) / np.sqrt(var + eps), -clip, clip)
    return out.astype(np.float32)
