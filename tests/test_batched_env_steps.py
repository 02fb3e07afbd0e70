"""The batched environment step (:class:`logel.envs.mujoco_features.BatchedFeatureSteps`) gives
the wrapped environments' numbers bit for bit: observations, rewards, dones and every info
(features, true rewards, episode statistics, the ``Monitor``'s record), through terminations,
time limits and automatic resets, for both action parities and with or without features."""

from __future__ import annotations

import functools

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

from logel.envs.mujoco_features import (  # noqa: E402
    BatchedFeatureSteps,
    LinearFeatureReward,
    make_feature_env,
    per_row_dots,
)
from logel.learners.ppo import ShallowInfoDummyVecEnv  # noqa: E402

pytestmark = pytest.mark.mujoco


def _same(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), where
        for k in a:
            if k != "t":  # the Monitor's wall-clock time
                _same(a[k], b[k], f"{where}.{k}")
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=where)
        assert np.asarray(a).dtype == np.asarray(b).dtype, where


def _venvs(env_id: str, n_envs: int, raw: bool, features: bool, threads: int = 1,
           **make_kwargs):
    factory = functools.partial(make_feature_env, env_id, monitor=True, features=features,
                                raw_actions=raw, **make_kwargs)
    fast = ShallowInfoDummyVecEnv([factory] * n_envs, physics_threads=threads)
    slow = ShallowInfoDummyVecEnv([factory] * n_envs, batched=False)
    return fast, slow


@pytest.mark.parametrize("env_id,steps,limit", [("Hopper-v5", 300, 80), ("Reacher-v5", 160, None)])
@pytest.mark.parametrize("raw,features,threads", [(True, True, 1), (False, True, 1),
                                                  (True, False, 1), (True, True, 2)])
def test_batched_steps_equal_wrapped_steps(env_id: str, steps: int, limit: int | None,
                                           raw: bool, features: bool, threads: int) -> None:
    n_envs = 5
    # Hopper: a shorter time limit (read from gymnasium's TimeLimit) so that some episodes end
    # by truncation, others by a fall
    fast, slow = _venvs(env_id, n_envs, raw, features, threads,
                        **({} if limit is None else {"max_episode_steps": limit}))
    assert fast.batched is not None and slow.batched is None
    assert fast.batched.threads == threads
    act_dim = fast.action_space.shape[0]
    rng = np.random.default_rng(3)
    # mostly small actions (long Hopper episodes reach the 1000-step limit), some large ones
    # (falls, and actions outside the box for the clipping parity)
    scale = np.where(rng.random((steps, 1, 1)) < 0.05, 2.0, 0.05)
    actions = (scale * rng.normal(size=(steps, n_envs, act_dim))).astype(np.float32)
    if not raw:
        actions = np.clip(actions, fast.action_space.low, fast.action_space.high)
    for venv in (fast, slow):
        venv.seed(11)
    _same(fast.reset(), slow.reset(), "reset")
    episodes = truncations = 0
    for t in range(steps):
        for venv in (fast, slow):
            venv.step_async(actions[t])
        out_fast, out_slow = fast.step_wait(), slow.step_wait()
        for k, name in enumerate(("obs", "rewards", "dones")):
            _same(out_fast[k], out_slow[k], f"step {t} {name}")
        for i, (a, b) in enumerate(zip(out_fast[3], out_slow[3], strict=True)):
            _same(a, b, f"step {t} env {i} info")
            episodes += "episode" in a
            truncations += bool(a["TimeLimit.truncated"])
        _same(fast.reset_infos, slow.reset_infos, f"step {t} reset infos")
    assert episodes > n_envs
    assert truncations > 0  # the time limit was reached at least once
    for a, b in zip(fast.envs, slow.envs, strict=True):
        ma, mb = a.get_wrapper_attr("episode_returns"), b.get_wrapper_attr("episode_returns")
        assert ma == mb
        assert a.get_wrapper_attr("total_steps") == b.get_wrapper_attr("total_steps") == steps
    fast.close()
    assert fast.batched.threads == 1 and fast.batched._pool is None


def test_batched_steps_only_for_plain_feature_chains() -> None:
    env = make_feature_env("Hopper-v5", reward=lambda e: LinearFeatureReward(e, np.ones(3)))
    assert not BatchedFeatureSteps.supports(env)
    assert ShallowInfoDummyVecEnv([lambda: env]).batched is None
    with pytest.raises(ValueError, match="Hopper-v5 or Reacher-v5"):
        BatchedFeatureSteps([env])
    assert BatchedFeatureSteps.supports(make_feature_env("Reacher-v5", monitor=True))
    assert not BatchedFeatureSteps.supports(make_feature_env("Reacher-v5", monitor=False))


def test_per_row_dots_equal_one_dimensional_dots() -> None:
    rng = np.random.default_rng(0)
    for k in (2, 3, 11, 40):
        a, b = rng.normal(size=(9, k)), rng.normal(size=(9, k))
        np.testing.assert_array_equal(per_row_dots(a, b), [x @ y for x, y in zip(a, b, strict=True)])
