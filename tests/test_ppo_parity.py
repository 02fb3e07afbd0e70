"""The paper's learner (``PPOConfig.parity = "official"``) against SB3's (``"sb3"``), element by
element: mean-head gain, log-std, raw-action control cost and feature with the control clamped
by the simulator, time limits (no bootstrap at truncations, forced masks), and where each
variant's artifacts live."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

import gymnasium as gym  # noqa: E402
import torch  # noqa: E402

from logel import artifacts  # noqa: E402
from logel.envs.mujoco_features import RawActions, make_feature_env  # noqa: E402
from logel.experiments import mujoco as mj  # noqa: E402
from logel.experiments.mujoco import ppo_config  # noqa: E402
from logel.learners.ppo import (  # noqa: E402
    FORCED_MASK_PERIOD,
    ForcedMaskRolloutBuffer,
    PPOConfig,
    TimeLimitAsTermination,
    build_model,
    make_vec_env,
    train_ppo,
)

pytestmark = pytest.mark.mujoco


def _model(parity: str, env_id: str = "Hopper-v5", seed: int = 3):
    config = ppo_config("smoke", env_id=env_id, parity=parity, seed=seed)
    return build_model(config, make_vec_env(config))


# ----------------------------------------------------------------------------- initialisation


def test_official_mean_head_is_orthogonal_with_gain_one():
    official, sb3 = _model("official").policy, _model("sb3").policy
    w_off = official.action_net.weight.detach().double().numpy()
    w_sb3 = sb3.action_net.weight.detach().double().numpy()
    assert w_off.shape == (3, 64)
    # orthonormal rows (orthogonal init of a 3 x 64 matrix with gain 1) ...
    np.testing.assert_allclose(w_off @ w_off.T, np.eye(3), atol=1e-6)
    # ... SB3's gain is 0.01, and the official head is SB3's draw rescaled
    np.testing.assert_allclose(w_sb3 @ w_sb3.T, 1e-4 * np.eye(3), atol=1e-10)
    np.testing.assert_allclose(w_off, 100 * w_sb3, rtol=1e-6)
    for policy in (official, sb3):
        assert not policy.action_net.bias.detach().any()
    # everything else starts identical
    for name, p in official.named_parameters():
        if not name.startswith("action_net"):
            np.testing.assert_array_equal(p.detach().numpy(),
                                          dict(sb3.named_parameters())[name].detach().numpy())


def test_log_std_starts_at_zero():
    for parity in ("official", "sb3"):
        assert not _model(parity).policy.log_std.detach().any()
    with pytest.raises(ValueError, match="initialises the log-std at 0"):
        PPOConfig(parity="official", log_std_init=-0.5)
    assert PPOConfig(parity="sb3", log_std_init=-0.5).log_std_init == -0.5
    with pytest.raises(ValueError, match="parity must be one of"):
        PPOConfig(parity="kostrikov")  # type: ignore[arg-type]
    # the dataclass keeps SB3's learner for code that builds environments from it; the
    # paper's experiment selects the official one
    assert PPOConfig().parity == "sb3"
    assert mj.experiment_config("Reacher-v5", "book").learner.parity == "official"


# ----------------------------------------------------------------------------- raw actions


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Reacher-v5"])
def test_raw_action_is_charged_and_the_simulator_clamps_it(env_id):
    raw_env = make_feature_env(env_id, raw_actions=True)
    clip_env = make_feature_env(env_id)
    assert isinstance(raw_env, RawActions)
    assert np.all(raw_env.action_space.high > 1e30) and np.all(clip_env.action_space.high == 1)
    raw_env.reset(seed=5)
    clip_env.reset(seed=5)
    rng = np.random.default_rng(0)
    nu = raw_env.action_space.shape[0]
    ctrl_weight = 1e-3 if env_id.startswith("Hopper") else 1.0
    for _ in range(10):
        raw = (3 * rng.normal(size=nu)).astype(np.float32)
        clipped = np.clip(raw, -1, 1)
        obs_r, rew_r, term_r, _, info_r = raw_env.step(raw)
        obs_c, rew_c, term_c, _, info_c = clip_env.step(clipped)
        # the simulator saw the same control: MuJoCo clamps ctrl to ctrlrange
        np.testing.assert_array_equal(obs_r, obs_c)
        assert raw_env.unwrapped.data.ctrl.tolist() == pytest.approx(raw.tolist())
        assert term_r == term_c
        # but the control cost and the |a|^2 feature charge the raw action
        a = raw.astype(float)
        assert info_r["features"][-1] == pytest.approx(a @ a, rel=1e-12)
        assert info_c["features"][-1] == pytest.approx(clipped.astype(float) @ clipped, rel=1e-12)
        assert info_r["reward_ctrl"] == pytest.approx(-ctrl_weight * (a @ a), rel=1e-6)
        np.testing.assert_allclose(rew_r - rew_c, info_r["reward_ctrl"] - info_c["reward_ctrl"],
                                   rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(info_r["features"][:-1], info_c["features"][:-1])
        if term_r:
            break


def test_raw_actions_need_a_clamping_simulator():
    env = gym.make("Reacher-v5")
    env.unwrapped.model.actuator_ctrllimited[:] = False
    with pytest.raises(ValueError, match="clamp their control"):
        RawActions(env)


@pytest.mark.parametrize("parity", ["official", "sb3"])
def test_learner_feature_sees_the_raw_or_clipped_sample(parity):
    torch.set_num_threads(1)
    run = train_ppo(ppo_config("smoke", env_id="Reacher-v5", parity=parity, n_steps=100,
                               batch_size=100, n_updates=1))
    a = run.trace.actions.astype(float)  # the unclipped Gaussian samples
    assert np.abs(a).max() > 1  # with log-std 0, samples leave the box
    ctrl = run.trace.features[..., -1]
    if parity == "official":
        np.testing.assert_allclose(ctrl, np.sum(a * a, axis=-1), rtol=1e-12)
    else:
        np.testing.assert_allclose(ctrl, np.sum(np.clip(a, -1, 1) ** 2, axis=-1), rtol=1e-12)
    assert run.trace.metadata["config"]["parity"] == parity


# ----------------------------------------------------------------------------- time limits


def test_time_limit_truncation_is_a_termination_in_the_official_learner():
    for parity in ("official", "sb3"):
        venv = make_vec_env(ppo_config("smoke", env_id="Reacher-v5", parity=parity))
        assert isinstance(venv.venv, TimeLimitAsTermination) == (parity == "official")
        venv.reset()
        for _ in range(49):  # Reacher's time limit is 50 steps
            assert not venv.step(np.zeros((2, 2), dtype=np.float32))[2].any()
        _, _, dones, infos = venv.step(np.zeros((2, 2), dtype=np.float32))
        assert dones.all()
        # SB3 bootstraps the value when this flag is set; the official learner does not
        assert all(i["TimeLimit.truncated"] == (parity == "sb3") for i in infos)
        if parity == "official":
            assert all(i["time_limit_truncated"] for i in infos)


def _official_gae(rewards, values, masks, next_value, gamma, lam):
    """Kostrikov's ``compute_returns`` (``masks[t+1] = 0`` after a done at step ``t``)."""
    T = len(rewards)
    v = np.concatenate([values, next_value[None]])
    gae, adv = 0.0, np.zeros_like(rewards)
    for t in reversed(range(T)):
        delta = rewards[t] + gamma * v[t + 1] * masks[t + 1] - v[t]
        gae = delta + gamma * lam * masks[t + 1] * gae
        adv[t] = gae
    return adv


@pytest.mark.parametrize("n_steps", [2500, 2001])
def test_forced_masks_reproduce_the_official_gae(n_steps):
    """Rollout step 1000 (and 2000) ends the GAE recursion for every environment, as the
    official learner's ``done`` forced at ``step % 1000 == 0``; the real episode starts are
    kept."""
    from gymnasium import spaces

    rng = np.random.default_rng(1)
    n_envs, gamma, lam = 3, 0.99, 0.95
    buf = ForcedMaskRolloutBuffer(n_steps, spaces.Box(-1, 1, (2,)), spaces.Box(-1, 1, (1,)),
                                  gamma=gamma, gae_lambda=lam, n_envs=n_envs)
    rewards = rng.normal(size=(n_steps, n_envs)).astype(np.float32)
    values = rng.normal(size=(n_steps, n_envs)).astype(np.float32)
    starts = rng.random((n_steps, n_envs)) < 0.01
    starts[0] = True
    for t in range(n_steps):
        buf.add(np.zeros((n_envs, 2)), np.zeros((n_envs, 1)), rewards[t], starts[t],
                torch.tensor(values[t]), torch.zeros(n_envs))
    last_values = rng.normal(size=n_envs).astype(np.float32)
    last_dones = rng.random(n_envs) < 0.5
    buf.compute_returns_and_advantage(torch.tensor(last_values), last_dones)
    np.testing.assert_array_equal(buf.episode_starts, starts)  # restored
    masks = np.ones((n_steps + 1, n_envs))
    masks[1:n_steps] = 1 - starts[1:]
    masks[n_steps] = 1 - last_dones
    for s in range(FORCED_MASK_PERIOD, n_steps, FORCED_MASK_PERIOD):
        masks[s + 1] = 0.0
    for e in range(n_envs):
        ref = _official_gae(rewards[:, e].astype(float), values[:, e].astype(float),
                            masks[:, e], np.float64(last_values[e]), gamma, lam)
        np.testing.assert_allclose(buf.advantages[:, e], ref, rtol=1e-4, atol=1e-4)
    # and it is not SB3's GAE
    plain = ForcedMaskRolloutBuffer.__mro__[1](n_steps, spaces.Box(-1, 1, (2,)),
                                               spaces.Box(-1, 1, (1,)), gamma=gamma,
                                               gae_lambda=lam, n_envs=n_envs)
    for t in range(n_steps):
        plain.add(np.zeros((n_envs, 2)), np.zeros((n_envs, 1)), rewards[t], starts[t],
                  torch.tensor(values[t]), torch.zeros(n_envs))
    plain.compute_returns_and_advantage(torch.tensor(last_values), last_dones)
    assert not np.allclose(plain.advantages[FORCED_MASK_PERIOD], buf.advantages[FORCED_MASK_PERIOD])


# ----------------------------------------------------------------------------- experiment


def test_experiment_defaults_to_the_official_learner_and_keeps_sb3_apart(tmp_path):
    official = mj.experiment_config("Hopper-v5", "paper")
    sb3 = mj.experiment_config("Hopper-v5", "paper", parity="sb3")
    assert official.learner.parity == official.observer.parity == "official"
    assert sb3.learner.parity == sb3.observer.parity == "sb3"
    assert mj.config_dict(official, 0)["learner"]["parity"] == "official"
    root = artifacts.artifact_root()
    assert mj.output_dir(sb3, 0) == root / "mujoco" / "Hopper-v5" / "seed_0"
    assert mj.output_dir(official, 0) == root / "mujoco_official" / "Hopper-v5" / "seed_0"
    assert (mj.output_dir(mj.experiment_config("Reacher-v5", "smoke"), 2, tmp_path)
            == tmp_path / "mujoco_official_smoke" / "Reacher-v5" / "seed_2")
    assert mj.trace_name(sb3, 1) == "Hopper-v5_paper_seed1.npz"
    assert mj.trace_name(official, 1) == "Hopper-v5_paper_official_seed1.npz"
    # the committed runs are the SB3 learner: they match its configuration, not the official one
    seed_dir = root / "mujoco" / "Hopper-v5" / "seed_0"
    sb3_v1 = replace(sb3, logel=replace(sb3.logel, convergence="weights"))
    assert mj.same_config(seed_dir, sb3_v1, 0)
    assert not mj.same_config(seed_dir, replace(official, logel=sb3_v1.logel), 0)
    # a kept trace written before the option existed is an SB3 trace
    stored = artifacts.jsonable(mj.asdict(sb3.learner))
    del stored["parity"]
    assert mj.same_learner(stored, sb3.learner)
    assert not mj.same_learner(stored, official.learner)


def test_smoke_run_of_each_parity_and_load_results(tmp_path):
    torch.set_num_threads(1)
    curves = {}
    for parity in ("official", "sb3"):
        config = mj.experiment_config("Reacher-v5", "smoke", parity=parity)
        config = replace(config, learner=replace(config.learner, n_steps=100, batch_size=100),
                         observer=replace(config.observer, n_steps=100, batch_size=100,
                                          n_updates=2), run_lfl=parity == "sb3")
        assert mj.run(config, [0], root=tmp_path) == {0: "done"}
        results = mj.load_results("Reacher-v5", "smoke", tmp_path, parity=parity)
        assert list(results) == [0]
        res = results[0]
        assert res["config"]["learner"]["parity"] == res["config"]["observer"]["parity"] == parity
        assert res["manifest"]["config"]["learner"]["parity"] == parity
        curves[parity] = res["learner"]["curve"]
        readme = (mj.output_dir(config, 0, tmp_path).parent / "README.md").read_text()
        assert f"--parity {parity}" in readme
    assert (tmp_path / "mujoco_official_smoke").is_dir() and (tmp_path / "mujoco_smoke").is_dir()
    # raw actions are charged in full: the official learner's true returns start lower
    assert curves["official"][0] < curves["sb3"][0]
    assert mj.load_results("Reacher-v5", "smoke", tmp_path).keys() == {0}  # sb3 by default
