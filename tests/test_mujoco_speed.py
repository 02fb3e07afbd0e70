"""The faster env-seed (issue "MuJoCo at the speed limit"): every shortcut gives the same numbers.

Vectorised reward wrappers, the shallow info copy, the two-process environment stepping and the
two-process stage layout are checked bit for bit against the per-step, one-process code.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

import torch  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from logel.envs.mujoco_features import (  # noqa: E402
    CallableReward,
    LinearFeatureReward,
    VecCallableReward,
    VecLinearFeatureReward,
    make_feature_env,
    n_features,
    per_row_matmul,
)
from logel.experiments import mujoco as mj  # noqa: E402
from logel.learners.ppo import ShallowInfoDummyVecEnv, SplitVecEnv  # noqa: E402
from logel.policies.gaussian_mlp import GaussianMLPPolicy  # noqa: E402

pytestmark = pytest.mark.mujoco

ENVS = ("Hopper-v5", "Reacher-v5")


def _actions(env_id: str, n_steps: int, n_envs: int, seed: int = 0) -> np.ndarray:
    act_dim = 3 if env_id.startswith("Hopper") else 2
    rng = np.random.default_rng(seed)
    # large enough that Hopper falls (terminations) and some actions leave the box
    return (1.5 * rng.normal(size=(n_steps, n_envs, act_dim))).astype(np.float32)


def _rollout(venv, actions):
    venv.seed(7)
    out = [venv.reset()]
    for a in actions:
        obs, rew, done, infos = venv.step(a)
        out.append((obs, rew, done, [{k: v for k, v in i.items() if k != "episode"}
                                     for i in infos]))
    return out


def _assert_same(a, b):
    assert len(a) == len(b)
    np.testing.assert_array_equal(a[0], b[0])
    for (o1, r1, d1, i1), (o2, r2, d2, i2) in zip(a[1:], b[1:], strict=True):
        np.testing.assert_array_equal(o1, o2)
        assert r1.dtype == r2.dtype == np.float32
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(d1, d2)
        assert len(i1) == len(i2)
        for x, y in zip(i1, i2, strict=True):
            assert x.keys() == y.keys()
            for k in x:
                np.testing.assert_array_equal(x[k], y[k])


@pytest.mark.parametrize("env_id", ENVS)
def test_vectorised_linear_reward_is_the_per_step_reward(env_id):
    n, T = 3, 120
    w = 10 * np.random.default_rng(1).normal(size=n_features(env_id))
    per_step = DummyVecEnv([lambda: make_feature_env(
        env_id, reward=lambda e: LinearFeatureReward(e, w))] * n)
    vec = VecLinearFeatureReward(ShallowInfoDummyVecEnv([lambda: make_feature_env(env_id)] * n), w)
    actions = _actions(env_id, T, n)
    a, b = _rollout(per_step, actions), _rollout(vec, actions)
    _assert_same(a, b)
    assert any(d.any() for _, _, d, _ in a[1:])  # episodes ended inside the rollout
    bad = VecLinearFeatureReward(ShallowInfoDummyVecEnv([lambda: make_feature_env(env_id)]),
                                 np.ones(2))
    bad.reset()
    with pytest.raises(ValueError, match="weights have shape"):
        bad.step(actions[0, :1])


def _mlp_reward(obs_dim: int):
    rng = np.random.default_rng(3)
    w1, w2 = rng.normal(size=(obs_dim, 16)), rng.normal(size=16)

    def one(obs, action):
        return float(np.tanh(obs @ w1) @ w2) - float(action @ action)

    def batch(obs, actions):
        return (np.matmul(np.tanh(per_row_matmul(obs, w1))[:, None, :], w2[:, None])[:, 0, 0]
                - np.matmul(actions[:, None, :], actions[:, :, None])[:, 0, 0])

    return one, batch


@pytest.mark.parametrize("env_id", ENVS)
def test_vectorised_callable_reward_is_the_per_step_reward(env_id):
    n, T = 3, 120
    obs_dim = 11 if env_id.startswith("Hopper") else 10
    one, batch = _mlp_reward(obs_dim)
    per_step = DummyVecEnv([lambda: make_feature_env(
        env_id, reward=lambda e: CallableReward(e, one))] * n)
    vec = VecCallableReward(ShallowInfoDummyVecEnv([lambda: make_feature_env(env_id)] * n), batch)
    actions = _actions(env_id, T, n, seed=2)
    _assert_same(_rollout(per_step, actions), _rollout(vec, actions))


def test_shallow_info_copy_changes_nothing():
    actions = _actions("Hopper-v5", 150, 2, seed=4)
    _assert_same(_rollout(DummyVecEnv([lambda: make_feature_env("Hopper-v5")] * 2), actions),
                 _rollout(ShallowInfoDummyVecEnv([lambda: make_feature_env("Hopper-v5")] * 2),
                          actions))


@pytest.mark.parametrize("env_id", ENVS)
def test_split_vec_env_is_one_dummy_vec_env(env_id):
    n, T = 5, 80
    actions = _actions(env_id, T, n, seed=5)
    split = SplitVecEnv(lambda: make_feature_env(env_id), n, n_local=2)
    try:
        assert split.get_attr("spec", indices=[1, 3])[1].id == env_id
        assert split.env_is_wrapped(type(make_feature_env(env_id))) == [True] * n
        _assert_same(_rollout(DummyVecEnv([lambda: make_feature_env(env_id)] * n), actions),
                     _rollout(split, actions))
    finally:
        split.close()
    with pytest.raises(ValueError, match="n_local"):
        SplitVecEnv(lambda: make_feature_env(env_id), 2, n_local=2)


def test_lfl_reward_batch_is_bitwise_the_single_call():
    net = GaussianMLPPolicy(11, 3, (64, 64), log_std_init=-0.4, seed=2)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))

    class Result:
        def reward_network(self) -> GaussianMLPPolicy:
            return net

    rng = np.random.default_rng(0)
    mean, var = rng.normal(size=11), rng.uniform(0.5, 2.0, size=11)
    reward = mj.lfl_reward_function(Result(), mean, var, clip=10.0)
    obs, act = rng.normal(size=(40, 11)) * 3, rng.normal(size=(40, 3)).astype(np.float32)
    batch = reward(obs, act)
    assert batch.shape == (40,)
    np.testing.assert_array_equal(batch, [reward(o, a) for o, a in zip(obs, act, strict=True)])


def test_parallel_layout_gives_the_sequential_numbers(tmp_path):
    """The two-process layout (learner environments in two processes, the LOGEL and LfL chains
    in two processes) reproduces the one-process run bit for bit."""
    config = mj.experiment_config("Hopper-v5", "smoke")
    config = replace(config, learner=replace(config.learner, n_steps=100, batch_size=100),
                     observer=replace(config.observer, n_steps=100, batch_size=100,
                                      n_updates=2))
    seq = mj.run_seed(replace(config, parallel=False), 0, out=tmp_path / "seq")
    par = mj.run_seed(replace(config, parallel=True), 0, out=tmp_path / "par")
    np.testing.assert_array_equal(seq["learner_curve"], par["learner_curve"])
    assert ({k: v for k, v in seq["logel"].items() if k != "seconds"}
            == {k: v for k, v in par["logel"].items() if k != "seconds"})
    np.testing.assert_array_equal(seq["observer_logel_curve"], par["observer_logel_curve"])
    np.testing.assert_array_equal(seq["observer_lfl_curve"], par["observer_lfl_curve"])
    a = np.load(tmp_path / "seq" / "lfl.npz")
    b = np.load(tmp_path / "par" / "lfl.npz")
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    assert {"after_learner_wall", "total_wall"} <= set(par["timings"])
    # the layout is not a result option: a seed run in one layout is skipped by the other
    assert mj.same_config(tmp_path / "seq", replace(config, parallel=True), 0)


def test_fast_reacher_features_are_bitwise_the_reference():
    from logel.envs.mujoco_features import reacher_features, reacher_features_fast

    rng = np.random.default_rng(6)
    for scale in (0.01, 0.1, 0.3):
        for _ in range(300):
            delta = rng.normal(size=3) * scale
            action = (2 * rng.normal(size=2)).astype(np.float32)
            np.testing.assert_array_equal(reacher_features_fast(delta, action),
                                          reacher_features(delta[:2], action))


def test_observer_without_features():
    """The LfL observer's environments skip the reward features (its reward does not read
    them); a recording learner cannot."""
    from logel.experiments.mujoco import ppo_config
    from logel.learners.ppo import make_vec_env

    config = ppo_config("smoke", env_id="Reacher-v5", n_steps=10, batch_size=10)
    venv = make_vec_env(replace(config, record=False), features=False)
    venv.reset()
    _, _, _, infos = venv.step(np.zeros((2, 2), dtype=np.float32))
    assert "features" not in infos[0]
    with pytest.raises(ValueError, match="needs the reward features"):
        make_vec_env(config, features=False)


def test_pipelined_layout_with_threaded_learner_gives_the_pinned_numbers(monkeypatch):
    """The pipelined layout with the learner's simulators in two threads (what it does on two
    idle cores) and LfL's reward fit in the LOGEL worker gives the numbers pinned in
    ``tests/data/env_seed_fixture.json`` (one process, code of ce0535c)."""
    import json
    from pathlib import Path

    from make_env_seed_fixture import env_seed_digest

    monkeypatch.setattr(mj, "idle_cores", lambda seconds=0.5: 2.0)
    assert mj.PIPELINE_PHYSICS_THREADS == 2
    fixture = Path(__file__).resolve().parent / "data" / "env_seed_fixture.json"
    pinned = json.loads(fixture.read_text())["cases"]["Hopper-v5 official"]
    case = {k: v for k, v in pinned.items() if k != "digest"}
    layouts = []
    learner_trace = mj.learner_trace

    def spy(*args, **kwargs):
        layouts.append((kwargs["env_processes"], kwargs["physics_threads"]))
        return learner_trace(*args, **kwargs)

    monkeypatch.setattr(mj, "learner_trace", spy)
    digest = env_seed_digest(**case, parallel=True)
    assert layouts == [(1, 2)]
    differ = [k for k in pinned["digest"] if digest[k] != pinned["digest"][k]]
    assert not differ, f"pipelined layout, threaded learner: outputs differ: {differ}"
