"""Reward features for the MuJoCo experiments (spec ``logel-method-and-experiments.md`` Sec. 5.5).

The official code reads the simulator state through a custom baselines ``SubprocVecEnv`` that
was never released (``reference-code-notes.md`` Sec. 3.1). Here a gymnasium wrapper computes the
features *inside* ``step``, from the wrapped environment's own simulator, and puts them in
``info["features"]``. Vector environments (SB3's ``DummyVecEnv``, gymnasium's vector envs) only
reset an environment *after* its ``step`` has returned, so the features of a terminal step
always describe that step, never the state after an automatic reset (official defect: at a
Hopper terminal step its ``x_after`` was the reset position).

Feature maps (the observer's hypothesis class):

==============  ====  ===========================================================================
environment     q     features
==============  ====  ===========================================================================
Hopper-v5       3     ``x_after - x_before`` (torso x displacement, ``data.qpos[0]``);
                      alive indicator ``1`` if not terminated else ``0``; ``||a||^2``
Reacher-v5      26    25 unnormalised Gaussian RBFs of the planar ``fingertip - target`` vector
                      after the step (centres on the 5x5 grid over ``[-0.2, 0.2]^2``, index
                      ``k = 5 i + j`` with ``x = lin[j]``, ``y = lin[i]``, per-dimension variance
                      0.0025); ``||a||^2`` (positive sign, the official 16-process path)
==============  ====  ===========================================================================

``a`` is the action the environment receives, the same action the true reward's control cost
charges. With the official learner's parity (:class:`RawActions`, ``PPOConfig.parity =
"official"``) that is the raw Gaussian sample, as in the official code, and the simulator clamps
the control to the actuators' range; with ``parity="sb3"`` it is SB3's sample *clipped* to the
action box. The observer's log-probabilities always use the unclipped sample.

Gymnasium v5 against the paper's gym v2 (mujoco_py):

==============================  ===================================  ============================
item                            paper (gym ``*-v2``)                 here (gymnasium ``*-v5``)
==============================  ===================================  ============================
simulator                       mujoco_py (MuJoCo 1.50)              ``mujoco`` bindings (>= 3.1)
Hopper observation              11                                   11 (actor trunk d = 4928)
Hopper alive bonus              paid on every step, terminal too     paid only while healthy,
                                                                     i.e. exactly ``phi_2``
Hopper ``dt``                   0.008 (timestep 0.002 x 4)           0.008 (same)
Reacher observation             11 (incl. the always-0 z of          10 (z dropped; actor trunk
                                ``fingertip - target``)              d = 4864)
Reacher distance reward         before the physics step              after the step (same as the
                                                                     RBF features)
Reacher ``dt``                  0.02                                 0.02 (timestep 0.01 x 2)
==============================  ===================================  ============================

True-reward directions in the features' own units (:func:`true_weights`):

* Hopper-v5: :math:`r=w_f\\,(x_{after}-x_{before})/dt+h\\,\\mathbb 1[\\text{healthy}]-c\\|a\\|^2` with
  gymnasium's defaults ``forward_reward_weight`` ``w_f = 1``, ``healthy_reward`` ``h = 1``,
  ``ctrl_cost_weight`` ``c = 1e-3`` and ``dt = 0.008``, so
  :math:`\\omega^\\star=(1/dt,\\,1,\\,-10^{-3})=(125,1,-0.001)` *exactly* (v5 pays the alive bonus
  only when healthy, which is ``phi_2``).
* Reacher-v5: :math:`r=-\\|d\\|-\\|a\\|^2` is not in the span of the RBFs (``-||d||`` is not a
  combination of Gaussians), so there are no true weights; evaluate by the observer's return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnvWrapper

RBF_HALF_WIDTH = 0.2
"""The RBF centres span ``[-0.2, 0.2]^2`` (official ``build_features_reacher2(0.2, 5, 2)``)."""
RBF_GRID = 5
"""Centres per axis."""
RBF_VARIANCE = (RBF_HALF_WIDTH / 4) ** 2
"""Per-dimension variance ``(0.2 / 4)^2 = 0.0025`` (sigma = 0.05)."""

SUPPORTED = ("Hopper", "Reacher")


def rbf_centres() -> np.ndarray:
    """``(25, 2)`` RBF centres in meshgrid order: row ``k = 5 i + j`` is ``(lin[j], lin[i])``."""
    lin = np.linspace(-RBF_HALF_WIDTH, RBF_HALF_WIDTH, RBF_GRID)
    xs, ys = np.meshgrid(lin, lin)  # xs[i, j] = lin[j], ys[i, j] = lin[i]
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


_CENTRES = rbf_centres()


def reacher_features(delta_xy: np.ndarray, action: np.ndarray) -> np.ndarray:
    """Reacher features ``(26,)``: 25 RBFs of ``delta_xy`` then ``||a||^2``.

    Args:
        delta_xy: ``(2,)`` planar ``fingertip - target`` vector after the step.
        action: the action the environment received.

    Returns:
        :math:`\\phi_k=\\exp(-\\|c_k-d\\|^2/(2\\cdot0.0025))` for ``k < 25`` and
        :math:`\\phi_{25}=\\|a\\|^2`.
    """
    d = np.asarray(delta_xy, dtype=float).reshape(2)
    sq = np.sum((_CENTRES - d) ** 2, axis=1)
    a = np.asarray(action, dtype=float).ravel()
    return np.concatenate([np.exp(-sq / (2.0 * RBF_VARIANCE)), [a @ a]])


_TWO_VARIANCE = 2.0 * RBF_VARIANCE


def reacher_features_fast(delta: np.ndarray, action: np.ndarray) -> np.ndarray:
    """:func:`reacher_features` of a float64 ``delta`` (``(2,)`` or ``(3,)``), with the same
    operations in the same order (bit for bit, tested) and fewer Python-level calls."""
    diff = _CENTRES - delta[:2]
    rbf = np.exp(-np.add.reduce(np.square(diff), axis=1) / _TWO_VARIANCE)
    a = np.asarray(action, dtype=float).ravel()
    out = np.empty(rbf.size + 1)
    out[:-1] = rbf
    out[-1] = a @ a
    return out


def hopper_features(x_before: float, x_after: float, terminated: bool,
                    action: np.ndarray) -> np.ndarray:
    """Hopper features ``(3,)``: x displacement, alive indicator, ``||a||^2``."""
    a = np.asarray(action, dtype=float).ravel()
    return np.array([x_after - x_before, 0.0 if terminated else 1.0, a @ a])


def env_family(env_id: str) -> str:
    """``"Hopper"`` or ``"Reacher"`` from an id such as ``"Hopper-v5"``."""
    family = env_id.split("-")[0].split("/")[-1]
    if family not in SUPPORTED:
        raise ValueError(f"no reward features for {env_id!r}; supported: {SUPPORTED}")
    return family


def n_features(env_id: str) -> int:
    """``q``: 3 for Hopper, 26 for Reacher."""
    return {"Hopper": 3, "Reacher": 26}[env_family(env_id)]


def feature_names(env_id: str) -> list[str]:
    """Human-readable names of the ``q`` features."""
    if env_family(env_id) == "Hopper":
        return ["x displacement", "alive", "|a|^2"]
    return [f"rbf({x:+.1f},{y:+.1f})" for x, y in _CENTRES] + ["|a|^2"]


def true_weights(env: gym.Env) -> np.ndarray | None:
    """The true reward's weights in feature units, read from the environment's own settings.

    Hopper: ``(forward_reward_weight / dt, healthy_reward, -ctrl_cost_weight)``, i.e.
    ``(125, 1, -0.001)`` with gymnasium's v5 defaults. Reacher: ``None`` (not in the span).
    """
    u: Any = env.unwrapped
    family = env_family(env.spec.id if env.spec is not None else type(u).__name__)
    if family == "Reacher":
        return None
    return np.array([u._forward_reward_weight / u.dt, u._healthy_reward, -u._ctrl_cost_weight])


class RewardFeatures(gym.Wrapper):
    """Adds ``info["features"]`` (``(q,)`` float64) and ``info["true_reward"]`` to every step.

    Wrap *outside* ``gym.make``'s wrappers (and any ``Monitor``): features are computed from the
    simulator right before and right after the wrapped ``step``, which never resets by itself.
    ``info["true_reward"]`` is the reward the wrapped environment returned, kept so that a
    reward-replacing wrapper further out does not lose it.
    """

    def __init__(self, env: gym.Env, env_id: str | None = None) -> None:
        super().__init__(env)
        env_id = env_id or (env.spec.id if env.spec is not None else "")
        self.family = env_family(env_id)
        self.n_features = n_features(env_id)
        # the simulator's MjData lives as long as the environment (resets work in place), and
        # ``data.body(name).xpos`` is a view of it: look them up once, not at every step
        u: Any = env.unwrapped
        self._qpos = u.data.qpos
        if self.family == "Reacher":
            self._fingertip = u.data.body("fingertip").xpos
            self._target = u.data.body("target").xpos

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        x_before = float(self._qpos[0])
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.family == "Hopper":
            phi = hopper_features(x_before, float(self._qpos[0]), bool(terminated), action)
        else:
            # get_body_com(name) is data.body(name).xpos: the same numbers, without the lookups
            phi = reacher_features_fast(self._fingertip - self._target, action)
        info = dict(info)
        info["features"] = phi
        info["true_reward"] = float(reward)
        return obs, reward, terminated, truncated, info


class LinearFeatureReward(gym.Wrapper):
    """Replaces the reward by :math:`\\hat\\omega^\\top\\phi` (the LOGEL observer's reward).

    Must wrap a :class:`RewardFeatures` (it reads ``info["features"]``). The environment's own
    reward stays in ``info["true_reward"]`` and in any ``Monitor`` further in.
    """

    def __init__(self, env: gym.Env, weights: np.ndarray) -> None:
        super().__init__(env)
        self.weights = np.asarray(weights, dtype=float).ravel()

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, _, terminated, truncated, info = self.env.step(action)
        phi = info["features"]
        if phi.shape != self.weights.shape:
            raise ValueError(f"weights have shape {self.weights.shape}, features {phi.shape}")
        return obs, float(self.weights @ phi), terminated, truncated, info


class CallableReward(gym.Wrapper):
    """Replaces the reward by ``reward_fn(obs_before, action)`` (e.g. the LfL reward network).

    ``reward_fn`` receives the raw observation at which the action was taken and the action the
    environment received; normalisation, if any, is the function's business.
    """

    def __init__(self, env: gym.Env, reward_fn: Callable[[np.ndarray, np.ndarray], float]) -> None:
        super().__init__(env)
        self.reward_fn = reward_fn
        self._last_obs: np.ndarray | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._last_obs = np.asarray(obs)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._last_obs is None:
            raise RuntimeError("call reset() before step()")
        reward = float(self.reward_fn(self._last_obs, np.asarray(action)))
        obs, _, terminated, truncated, info = self.env.step(action)
        self._last_obs = np.asarray(obs)
        return obs, reward, terminated, truncated, info


def _per_row_dot(rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``[rows[i] @ vector for i]`` in one call, with each row's float64 arithmetic unchanged.

    A stacked ``(n, 1, k) @ (k, 1)`` product makes numpy call the same BLAS dot as the 1-D
    ``rows[i] @ vector``, row by row in C; a plain ``rows @ vector`` may sum in another order.
    """
    return np.matmul(rows[:, None, :], vector[:, None])[:, 0, 0]


def per_row_matmul(rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``np.stack([rows[i] @ matrix for i])`` in one call, bit for bit (see :func:`_per_row_dot`)."""
    return np.matmul(rows[:, None, :], matrix)[:, 0, :]


class VecLinearFeatureReward(VecEnvWrapper):
    """Vectorised :class:`LinearFeatureReward`: :math:`\\hat\\omega^\\top\\phi` for all environments
    at once, between SB3's ``DummyVecEnv`` and ``VecNormalize``.

    Each environment must be wrapped in :class:`RewardFeatures` (``info["features"]``); any
    ``Monitor`` inside still logs the true return. The rewards are bit-identical to the per-step
    wrapper's (same float64 dot product per environment, then SB3's float32 reward buffer).
    """

    def __init__(self, venv: Any, weights: np.ndarray) -> None:
        super().__init__(venv)
        self.weights = np.asarray(weights, dtype=float).ravel()

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, _, dones, infos = self.venv.step_wait()
        phi = np.stack([info["features"] for info in infos])
        if phi.shape[1:] != self.weights.shape:
            raise ValueError(f"weights have shape {self.weights.shape}, features {phi.shape[1:]}")
        rewards = _per_row_dot(phi, self.weights).astype(np.float32)
        return obs, rewards, dones, infos


class VecCallableReward(VecEnvWrapper):
    """Vectorised :class:`CallableReward`: ``reward_fn(observations, actions) -> (n_envs,)``.

    ``reward_fn`` receives the raw observations at which the actions were taken (``(n_envs,
    obs_dim)``, after any automatic reset: the first observation of the new episode) and the
    actions the environments received. Place it between ``DummyVecEnv`` and ``VecNormalize``.
    """

    def __init__(self, venv: Any,
                 reward_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        super().__init__(venv)
        self.reward_fn = reward_fn
        self._last_obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None

    def reset(self) -> Any:
        obs = self.venv.reset()
        self._last_obs = np.array(obs)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if self._last_obs is None or self._actions is None:
            raise RuntimeError("call reset() and step_async() before step_wait()")
        rewards = np.asarray(self.reward_fn(self._last_obs, self._actions), dtype=float)
        obs, _, dones, infos = self.venv.step_wait()
        self._last_obs = np.array(obs)
        return obs, rewards.astype(np.float32), dones, infos


class RawActions(gym.Wrapper):
    """Shows the agent an action box it is never clipped to, so that SB3 passes its raw sample.

    SB3 clips a sampled action to the environment's action box before ``env.step``; the official
    learner (Kostrikov's PPO on gym ``*-v2``) did not. Behind this wrapper SB3's clip is a no-op
    (the box is :math:`[-m, m]` with ``m`` the largest float32: SB3 requires finite bounds, and no
    Gaussian sample comes near them), so the environment receives the raw sample: the true
    reward's control cost (gymnasium v5 charges the action it receives, as gym v2 did) and the
    :math:`\\|a\\|^2` feature see the raw action, while the simulator clamps the control to each
    actuator's ``ctrlrange`` itself (``ctrllimited`` actuators, checked here), as MuJoCo did
    for gym v2: the dynamics are those of the clipped action.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        import mujoco

        model = env.unwrapped.model  # type: ignore[attr-defined]
        if (not np.all(model.actuator_ctrllimited)
                or model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_CLAMPCTRL):
            raise ValueError("RawActions needs actuators that clamp their control (ctrllimited)")
        space = env.action_space
        big = float(np.finfo(np.float32).max)
        self.action_space = gym.spaces.Box(-big, big, shape=space.shape,
                                           dtype=space.dtype)  # type: ignore[arg-type]
        self.clamp_low = np.asarray(model.actuator_ctrlrange[:, 0])
        """Lower end of the control range the simulator clamps to (the original box)."""
        self.clamp_high = np.asarray(model.actuator_ctrlrange[:, 1])
        """Upper end of the control range."""


EPISODE_KEYS = {
    "Hopper": ("ep_reward_forward", "ep_reward_survive", "ep_reward_ctrl",
               "ep_forward_distance"),
    "Reacher": ("ep_reward_dist", "ep_reward_ctrl", "ep_final_distance"),
}
"""Per-episode statistics that :class:`EpisodeStats` adds to the ``Monitor``'s episode record:
the true reward's terms summed over the episode, Hopper's forward distance (torso ``x`` at the
end minus at the start) and Reacher's fingertip-to-target distance at the episode's last step."""


class EpisodeStats(gym.Wrapper):
    """Accumulates the true reward's terms over an episode and reports them when it ends.

    Sits directly on the gymnasium environment (inside the ``Monitor``, which copies the keys of
    :data:`EPISODE_KEYS` into its episode record, ``info_keywords``). Gymnasium v5 reports each
    term of the true reward in ``info`` (``reward_forward``, ``reward_survive``,
    ``reward_ctrl`` for Hopper; ``reward_dist``, ``reward_ctrl`` for Reacher), which sum to the
    reward, so the split is the environment's own.
    """

    def __init__(self, env: gym.Env, env_id: str) -> None:
        super().__init__(env)
        self.family = env_family(env_id)
        self._terms: dict[str, float] = {}
        self._x0 = 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._terms = {}
        self._x0 = float(info.get("x_position", 0.0))
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        for key, value in info.items():
            if key.startswith("reward_"):
                self._terms[key] = self._terms.get(key, 0.0) + float(value)
        if terminated or truncated:
            for key, value in self._terms.items():
                info["ep_" + key] = value
            if self.family == "Hopper":
                info["ep_forward_distance"] = float(info["x_position"]) - self._x0
            else:
                info["ep_final_distance"] = -float(info["reward_dist"])
        return obs, reward, terminated, truncated, info


def make_feature_env(env_id: str, *, monitor: bool = True,
                     reward: Callable[[gym.Env], gym.Env] | None = None,
                     features: bool = True, raw_actions: bool = False,
                     **make_kwargs: Any) -> gym.Env:
    """``gym.make(env_id)`` -> (SB3 ``Monitor``) -> :class:`RewardFeatures` -> ``reward(env)``
    [-> :class:`RawActions`].

    The ``Monitor`` sits innermost, so it logs the *true* episode return even when ``reward``
    replaces the reward (the official observers' metric), with the episode statistics of
    :class:`EpisodeStats` (the true reward's terms, forward or final distance). ``features=False`` leaves out
    :class:`RewardFeatures` (for a reward that does not read them, e.g. the LfL observer's).
    ``raw_actions=True`` (the official learner's parity) makes SB3 pass its raw samples.
    """
    env = gym.make(env_id, **make_kwargs)
    if monitor:
        from stable_baselines3.common.monitor import Monitor

        env = Monitor(EpisodeStats(env, env_id),
                      info_keywords=EPISODE_KEYS[env_family(env_id)])
    if features:
        env = RewardFeatures(env, env_id)
    if reward is not None:
        env = reward(env)
    if raw_actions:
        env = RawActions(env)
    return env


def per_row_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[a[i] @ b[i] for i]`` in one call, bit for bit: a stacked ``(n, 1, k) @ (n, k, 1)``
    product calls the same dot as the 1-D ``a[i] @ b[i]`` (see :func:`_per_row_dot`)."""
    return np.matmul(a[:, None, :], b[:, :, None])[:, 0, 0]


class BatchedFeatureSteps:
    """One step of ``n`` environments made by :func:`make_feature_env` (no ``reward``), for all
    of them at once: what the wrapped environments compute per step, vectorised.

    The wrapper chain ``RawActions -> RewardFeatures -> Monitor -> EpisodeStats -> TimeLimit
    -> OrderEnforcing -> PassiveEnvChecker -> HopperEnv/ReacherEnv`` costs more Python than
    the simulation itself (about 3 of 4 seconds of every 16 000 Hopper steps). Here each
    environment's simulator is stepped directly (``data.ctrl``, ``mj_step`` with the frame skip,
    ``mj_rnePostConstraint``: gymnasium's ``do_simulation``), and the observation, the true
    reward and its terms, termination, time limit, the reward features (:class:`RewardFeatures`),
    the episode statistics (:class:`EpisodeStats`) and the ``Monitor``'s episode record are
    computed for all environments in numpy, with each environment's float arithmetic unchanged
    (element-wise operations; per-row dots as :func:`per_row_dots`; the ``Monitor``'s return is
    the same ``sum`` of the same list). The step's outputs and infos are therefore those of the
    wrapped environments, bit for bit (tested against them, terminations and time limits
    included). Resets still go through the wrapped environments (:meth:`after_reset`).

    Only gymnasium's ``Hopper-v5`` and ``Reacher-v5`` are supported (:meth:`supports`); the
    settings (weights, ranges, frame skip, time limit) are read from each environment.
    """

    def __init__(self, envs: list[gym.Env], threads: int = 1) -> None:
        if not envs or not all(self.supports(e) for e in envs):
            raise ValueError("BatchedFeatureSteps needs Hopper-v5 or Reacher-v5 environments "
                             "made by make_feature_env without a reward wrapper")
        self.envs = envs
        self.n = len(envs)
        self.raw: list[Any] = [e.unwrapped for e in envs]
        u = self.raw[0]
        self.family = env_family(envs[0].spec.id if envs[0].spec is not None else "")
        self.features = _find_wrapper(envs[0], RewardFeatures) is not None
        self.monitors: list[Any] = [_find_wrapper(e, _monitor_class()) for e in envs]
        limit = _find_wrapper(envs[0], gym.wrappers.TimeLimit)
        self.max_steps = int(limit._max_episode_steps)  # type: ignore[union-attr]
        self.frame_skip = int(u.frame_skip)
        self.dt = u.dt
        self.nu = int(u.model.nu)
        self.elapsed = np.zeros(self.n, dtype=np.int64)
        self.term_names = ("reward_forward", "reward_ctrl", "reward_survive") if (
            self.family == "Hopper") else ("reward_dist", "reward_ctrl")
        self.terms = np.zeros((self.n, len(self.term_names)))
        self.x0 = np.zeros(self.n)
        if self.family == "Reacher":
            self.fingertips = [r.data.body("fingertip").xpos for r in self.raw]
            self.targets = [r.data.body("target").xpos for r in self.raw]
        # views of each simulator's arrays (MjData lives as long as the environment and resets
        # work in place): looked up once, not at every step
        self._sims = [(r.model, r.data, r.data.ctrl) for r in self.raw]
        self._qpos = [r.data.qpos for r in self.raw]
        self._qvel = [r.data.qvel for r in self.raw]
        self._pool: Any = None
        self.threads = 1
        """Threads stepping the simulators (:meth:`set_threads`)."""
        self.set_threads(threads)

    def set_threads(self, threads: int) -> None:
        """Step the simulators in ``threads`` threads (1 or 2): with 2, a worker thread steps the
        first half of the environments while this thread steps the rest (MuJoCo releases the
        GIL in ``mj_step``). Each simulator gets the same calls with the same inputs either
        way, so the numbers are the same; only a second core idle otherwise makes it faster."""
        if threads not in (1, 2):
            raise ValueError(f"threads must be 1 or 2, got {threads}")
        if threads == 2 and self.n < 2:
            threads = 1
        if threads == self.threads and (threads == 1 or self._pool is not None):
            return
        self.close()
        self.threads = threads
        if threads == 2:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mujoco-physics")

    def close(self) -> None:
        """Stop the physics thread, if any (:meth:`set_threads`)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.threads = 1

    def _simulate(self, sims: list[tuple[Any, Any, Any]], actions: np.ndarray) -> None:
        """``data.ctrl``, ``mj_step`` with the frame skip and ``mj_rnePostConstraint``
        (gymnasium's ``do_simulation``) for each simulator with its row of ``actions``."""
        import mujoco

        mj_step, frame_skip = mujoco.mj_step, self.frame_skip
        rne_post_constraint = mujoco.mj_rnePostConstraint
        for (model, data, ctrl), a in zip(sims, actions, strict=True):
            ctrl[:] = a
            mj_step(model, data, nstep=frame_skip)
            rne_post_constraint(model, data)

    @staticmethod
    def supports(env: gym.Env) -> bool:
        """Whether ``env`` is a chain this class reproduces: ``make_feature_env(..., monitor=True,
        reward=None)`` of gymnasium's ``Hopper-v5`` or ``Reacher-v5`` with default settings."""
        u: Any = env.unwrapped
        name = f"{type(u).__module__}.{type(u).__name__}"
        if name not in ("gymnasium.envs.mujoco.hopper_v5.HopperEnv",
                        "gymnasium.envs.mujoco.reacher_v5.ReacherEnv"):
            return False
        chain: list[type] = []
        e: Any = env
        while isinstance(e, gym.Wrapper):
            chain.append(type(e))
            e = e.env
        expected = [RewardFeatures, _monitor_class(), EpisodeStats, gym.wrappers.TimeLimit,
                    gym.wrappers.OrderEnforcing, gym.wrappers.PassiveEnvChecker]
        if chain and chain[0] is RawActions:
            chain = chain[1:]
        if chain[:1] != [RewardFeatures]:
            expected = expected[1:]
        if chain != expected or getattr(u, "render_mode", None) is not None:
            return False
        if name.endswith("HopperEnv"):
            return bool(u._exclude_current_positions_from_observation
                        and u._terminate_when_unhealthy)
        return True

    def after_reset(self, i: int, info: dict[str, Any]) -> None:
        """Start environment ``i``'s episode (call after resetting the wrapped environment)."""
        self.elapsed[i] = 0
        self.terms[i] = 0.0
        self.x0[i] = float(info.get("x_position", 0.0))

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                 np.ndarray, list[dict[str, Any]]]:
        """Step every environment with its row of ``actions`` (as received by ``env.step``).

        Returns:
            ``(obs, reward, terminated, truncated, infos)``: observations ``(n, obs_dim)``, true
            rewards ``(n,)`` float64, flags ``(n,)`` and one info dict per environment, as the
            wrapped environments' ``step`` returns them.
        """
        actions = np.asarray(actions)
        if actions.shape[1:] != (self.nu,) or actions.shape[0] != self.n:
            raise ValueError(f"Action dimension mismatch. Expected ({self.n}, {self.nu}), "
                             f"found {actions.shape}")
        x_before = np.array([q[0] for q in self._qpos])
        if self._pool is None:
            self._simulate(self._sims, actions)
        else:
            half = self.n // 2
            first = self._pool.submit(self._simulate, self._sims[:half], actions[:half])
            self._simulate(self._sims[half:], actions[half:])
            first.result()
        qpos = np.array(self._qpos)
        qvel = np.array(self._qvel)
        a64 = np.asarray(actions, dtype=float)
        a_sq = per_row_dots(a64, a64)
        if self.family == "Hopper":
            obs, reward, terminated, env_infos, phi, terms = self._hopper(
                actions, x_before, qpos, qvel, a_sq)
        else:
            obs, reward, terminated, env_infos, phi, terms = self._reacher(actions, qpos, qvel,
                                                                           a_sq)
        self.terms += terms  # the info values of self.term_names, as an (n, terms) array
        self.elapsed += 1
        truncated = self.elapsed >= self.max_steps
        done = terminated | truncated
        rewards = reward.tolist()  # float(reward[i]) for every i
        for monitor, r in zip(self.monitors, rewards, strict=True):
            monitor.rewards.append(r)
            monitor.total_steps += 1
        for i in np.flatnonzero(done).tolist():
            info = env_infos[i]
            for k, key in enumerate(self.term_names):
                info["ep_" + key] = float(self.terms[i, k])
            if self.family == "Hopper":
                info["ep_forward_distance"] = float(info["x_position"]) - float(self.x0[i])
            else:
                info["ep_final_distance"] = -float(info["reward_dist"])
            _monitor_episode_end(self.monitors[i], info)
        if self.features:
            for info, row, r in zip(env_infos, phi, rewards, strict=True):
                info["features"] = row
                info["true_reward"] = r
        return obs, reward, terminated, truncated, env_infos

    def _hopper(self, actions: np.ndarray, x_before: np.ndarray, qpos: np.ndarray,
                qvel: np.ndarray, a_sq: np.ndarray) -> tuple[Any, ...]:
        """gymnasium ``HopperEnv.step`` (v5) for all environments."""
        u: Any = self.raw[0]
        x_after = qpos[:, 0]
        x_velocity = (x_after - x_before) / self.dt
        obs = np.concatenate((qpos[:, 1:], np.clip(qvel, -10, 10)), axis=1)
        state = np.concatenate([qpos, qvel], axis=1)[:, 2:]
        (min_state, max_state), (min_z, max_z) = u._healthy_state_range, u._healthy_z_range
        min_angle, max_angle = u._healthy_angle_range
        z, angle = qpos[:, 1], qpos[:, 2]
        healthy = (np.all((min_state < state) & (state < max_state), axis=1)
                   & (min_z < z) & (z < max_z) & (min_angle < angle) & (angle < max_angle))
        forward = u._forward_reward_weight * x_velocity
        survive = healthy * u._healthy_reward
        ctrl_cost = u._ctrl_cost_weight * np.sum(np.square(actions), axis=1)
        reward = (forward + survive) - ctrl_cost
        terminated = ~healthy
        z0 = u.init_qpos[1]
        infos = [{"x_position": x_after[i], "z_distance_from_origin": qpos[i, 1] - z0,
                  "x_velocity": x_velocity[i], "reward_forward": forward[i],
                  "reward_ctrl": -ctrl_cost[i], "reward_survive": survive[i]}
                 for i in range(self.n)]
        phi = np.stack([x_after - x_before, np.where(terminated, 0.0, 1.0), a_sq], axis=1)
        terms = np.stack([forward, -ctrl_cost, survive], axis=1)  # self.term_names' order
        return obs, reward, terminated, infos, phi, terms

    def _reacher(self, actions: np.ndarray, qpos: np.ndarray, qvel: np.ndarray,
                 a_sq: np.ndarray) -> tuple[Any, ...]:
        """gymnasium ``ReacherEnv.step`` (v5) for all environments."""
        u: Any = self.raw[0]
        vec = np.array(self.fingertips) - np.array(self.targets)
        theta = qpos[:, :2]
        obs = np.concatenate([np.cos(theta), np.sin(theta), qpos[:, 2:], qvel[:, :2],
                              vec[:, :2]], axis=1)
        reward_dist = -np.sqrt(per_row_dots(vec, vec)) * u._reward_dist_weight
        reward_ctrl = -np.square(actions).sum(axis=1) * u._reward_control_weight
        reward = reward_dist + reward_ctrl
        infos = [{"reward_dist": reward_dist[i], "reward_ctrl": reward_ctrl[i]}
                 for i in range(self.n)]
        diff = _CENTRES[None] - vec[:, None, :2]
        rbf = np.exp(-np.add.reduce(np.square(diff), axis=2) / _TWO_VARIANCE)
        phi = np.concatenate([rbf, a_sq[:, None]], axis=1)
        terms = np.stack([reward_dist, reward_ctrl], axis=1)  # self.term_names' order
        return obs, reward, np.zeros(self.n, dtype=bool), infos, phi, terms


def _monitor_class() -> type:
    from stable_baselines3.common.monitor import Monitor

    return Monitor


def _find_wrapper(env: gym.Env, cls: type) -> Any:
    e: Any = env
    while isinstance(e, gym.Wrapper):
        if type(e) is cls:
            return e
        e = e.env
    return None


def _monitor_episode_end(monitor: Any, info: dict[str, Any]) -> None:
    """What SB3's ``Monitor.step`` does when an episode ends (its rewards already appended)."""
    import time

    monitor.needs_reset = True
    ep_rew = sum(monitor.rewards)
    ep_len = len(monitor.rewards)
    ep_info = {"r": round(ep_rew, 6), "l": ep_len, "t": round(time.time() - monitor.t_start, 6)}
    for key in monitor.info_keywords:
        ep_info[key] = info[key]
    monitor.episode_returns.append(ep_rew)
    monitor.episode_lengths.append(ep_len)
    monitor.episode_times.append(time.time() - monitor.t_start)
    ep_info.update(monitor.current_reset_info)
    if monitor.results_writer:
        monitor.results_writer.write_row(ep_info)
    info["episode"] = ep_info
