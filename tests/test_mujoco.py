"""MuJoCo path: reward features, PPO trace, per-sample scores, masked Jacobians, pipeline.

Skipped when the optional ``mujoco`` extra (mujoco, stable-baselines3) is not installed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

import gymnasium as gym  # noqa: E402
import torch  # noqa: E402

from logel import artifacts  # noqa: E402
from logel.envs.mujoco_features import (  # noqa: E402
    RBF_VARIANCE,
    RewardFeatures,
    make_feature_env,
    rbf_centres,
    reacher_features,
    true_weights,
)
from logel.estimators import trajectory_index  # noqa: E402
from logel.experiments import mujoco as mj  # noqa: E402
from logel.irl.neural import (  # noqa: E402
    NeuralLOGELConfig,
    neural_logel,
    official_index,
)
from logel.learners.ppo import schedule_values  # noqa: E402
from logel.policies.gaussian_mlp import (  # noqa: E402
    GaussianBCConfig,
    GaussianMLPPolicy,
    clone_gaussian_policies,
    per_sample_scores,
    policy_from_theta,
    set_flat_parameters,
)
from logel.traces import LearnerTrace  # noqa: E402

pytestmark = pytest.mark.mujoco


# ----------------------------------------------------------------------------- features


def test_hopper_terminal_step_features_before_autoreset():
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([lambda: make_feature_env("Hopper-v5")])
    venv.seed(3)
    venv.reset()
    w_star = true_weights(gym.make("Hopper-v5"))
    np.testing.assert_allclose(w_star, [125.0, 1.0, -1e-3])
    x_prev = float(venv.envs[0].unwrapped.data.qpos[0])
    action = np.array([[1.0, -1.0, 1.0]], dtype=np.float32)
    for _ in range(1000):
        _, _, dones, infos = venv.step(action)
        info = infos[0]
        phi = info["features"]
        # displacement is measured on the stepped simulator, not on the reset one
        np.testing.assert_allclose(phi[0], info["x_position"] - x_prev, atol=1e-12)
        np.testing.assert_allclose(phi[2], 3.0)
        np.testing.assert_allclose(phi @ w_star, info["true_reward"], atol=1e-9)
        if dones[0]:
            assert "terminal_observation" in info and not info.get("TimeLimit.truncated")
            assert phi[1] == 0.0
            break
        assert phi[1] == 1.0
        x_prev = float(info["x_position"])
    else:
        pytest.fail("the Hopper never terminated")
    # after the automatic reset the simulator is back near x = 0
    assert abs(venv.envs[0].unwrapped.data.qpos[0]) < 0.1


def test_reacher_rbf_layout_and_wrapper():
    centres = rbf_centres()
    lin = np.linspace(-0.2, 0.2, 5)
    for i in range(5):
        for j in range(5):
            np.testing.assert_allclose(centres[5 * i + j], [lin[j], lin[i]])
    for k, c in enumerate(centres):
        phi = reacher_features(c, np.zeros(2))
        assert phi[k] == 1.0 and np.argmax(phi[:25]) == k
    phi = reacher_features(centres[0] + [0.05, 0.0], np.array([0.5, -1.0]))
    np.testing.assert_allclose(phi[0], np.exp(-0.05**2 / (2 * RBF_VARIANCE)))
    np.testing.assert_allclose(phi[25], 1.25)

    env = RewardFeatures(gym.make("Reacher-v5"))
    assert env.observation_space.shape == (10,)  # v5 drops the always-zero z (v2: 11)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(5):
        action = env.action_space.sample()
        obs, reward, _, _, info = env.step(action)
        # the last two observation entries are fingertip - target after the step
        np.testing.assert_allclose(info["features"], reacher_features(obs[-2:], action),
                                   atol=1e-12)
        assert info["true_reward"] == reward
    assert true_weights(env) is None


# ----------------------------------------------------------------------------- scores


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_func_scores_match_autograd_loop(dtype):
    rng = np.random.default_rng(0)
    policy = GaussianMLPPolicy(11, 3, seed=1).to(dtype)
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-0.3, 0.1, 0.4]))
    obs = rng.normal(size=(37, 11))
    act = rng.normal(size=(37, 3))
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    for head in (False, True):
        fast = per_sample_scores(policy, obs, act, include_mean_head=head, chunk_size=8)
        params = dict(policy.named_parameters())
        names = policy.theta_names(head)
        assert fast.shape == (37, policy.n_theta(head))
        for i in range(len(obs)):
            policy.zero_grad()
            policy(torch.tensor(obs[i:i + 1], dtype=dtype),
                   torch.tensor(act[i:i + 1], dtype=dtype)).sum().backward()
            ref = torch.cat([params[n].grad.reshape(-1) for n in names]).numpy()
            # float32: absolute 1e-6 on the trunk; the mean head's larger entries to 1e-6
            # relative (different summation orders of batched and single-row matmuls)
            np.testing.assert_allclose(fast[i], ref, atol=tol, rtol=4 * tol)


def test_bc_snapshots_are_copies_and_warm_started():
    rng = np.random.default_rng(1)
    obs = [rng.normal(size=(64, 4)) for _ in range(3)]
    act = [rng.normal(size=(64, 2)) + k for k in range(3)]
    res = clone_gaussian_policies(obs, act, GaussianBCConfig(epochs=3, batch_size=32), seed=0,
                                  hidden=(8, 8))
    assert res.thetas.shape == (3, 4 * 8 + 8 + 8 * 8 + 8)
    assert np.all(np.linalg.norm(np.diff(res.parameters, axis=0), axis=1) > 0)
    p0 = res.policy(0, 4, 2, (8, 8))
    with torch.no_grad():
        p0.trunk[0].weight.add_(1.0)
    np.testing.assert_array_equal(res.policy(0, 4, 2, (8, 8)).trunk[0].weight.detach().numpy(),
                                  res.policy(0, 4, 2, (8, 8)).trunk[0].weight.detach().numpy())
    assert not np.allclose(p0.trunk[0].weight.detach().numpy(),
                           res.policy(0, 4, 2, (8, 8)).trunk[0].weight.detach().numpy())


# ----------------------------------------------------------------------------- Jacobian


def test_trajectory_index_and_official_windows():
    rng = np.random.default_rng(2)
    N, T = 3, 17
    starts = rng.random((N, T)) < 0.2
    index, mask = trajectory_index(starts)
    assert mask.sum() == N * T
    np.testing.assert_array_equal(np.sort(index[mask]), np.arange(N * T))
    index, mask = official_index(200, 50)
    assert index.shape == (4, 50) and mask.all()


def test_ppo_schedule_is_shifted():
    lrs = schedule_values("shifted_linear", 7e-4, 20)
    np.testing.assert_allclose(lrs, 7e-4 * (1 - np.arange(20) / 20))
    assert schedule_values("linear", 7e-4, 20)[-1] == 0.0


# ----------------------------------------------------------------------------- pipeline


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    torch.set_num_threads(1)
    # the SB3 learner: its trace names and folders are those of the committed runs
    config = mj.experiment_config("Hopper-v5", "smoke", parity="sb3")
    config = replace(config, learner=replace(config.learner, n_steps=100, batch_size=100),
                     observer=replace(config.observer, n_steps=100, batch_size=100,
                                      n_updates=2))
    root = tmp_path_factory.mktemp("artifacts")
    status = mj.run(config, [0], root=root, trace_dir=root / "traces")
    return config, root, status


def test_rerun_from_kept_trace_reproduces_the_seed(smoke_run, tmp_path):
    config, root, _ = smoke_run
    first = mj.load_results("Hopper-v5", "smoke", root)[0]
    traces = list((root / "traces").glob("*.npz"))
    assert [t.name for t in traces] == ["Hopper-v5_smoke_seed0.npz"]
    status = mj.run(config, [0], root=tmp_path, trace_dir=root / "traces")
    assert status == {0: "done"}
    again = mj.load_results("Hopper-v5", "smoke", tmp_path)[0]
    np.testing.assert_array_equal(again["learner"]["curve"], first["learner"]["curve"])
    assert again["logel"]["weights"] == first["logel"]["weights"]
    np.testing.assert_array_equal(again["observer_logel"]["curve"],
                                  first["observer_logel"]["curve"])


def test_smoke_pipeline_end_to_end(smoke_run):
    config, root, status = smoke_run
    assert status == {0: "done"}
    results = mj.load_results("Hopper-v5", "smoke", root)
    res = results[0]
    assert res["learner"]["curve"].shape == (3,)
    assert res["observer_logel"]["curve"].shape == (2,)
    assert res["observer_lfl"]["curve"].shape == (2,)
    assert len(res["logel"]["weights"]) == 3 and len(res["logel"]["learning_rates"]) == 2
    assert res["config"]["seed"] == 0
    assert set(res["manifest"]["environment"]["libraries"]) >= {"torch", "mujoco"}
    # resumable: a verified seed with the same config is skipped
    assert mj.run(config, [0], root=root) == {0: "skipped"}


def test_artifact_tampering_is_detected(smoke_run, tmp_path):
    import shutil

    _, root, *_ = smoke_run
    src = mj.output_dir(mj.experiment_config("Hopper-v5", "smoke", parity="sb3"), 0, root)
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    artifacts.verify(dst)
    logel_json = dst / "logel.json"
    data = json.loads(logel_json.read_text())
    data["weights"][0] += 1.0
    logel_json.write_text(json.dumps(data))
    with pytest.raises(artifacts.ArtifactError, match="hash mismatch logel.json"):
        artifacts.load(dst)
    assert not artifacts.is_complete(dst)
    (dst / "learner.npz").unlink()
    with pytest.raises(artifacts.ArtifactError, match="missing learner.npz"):
        artifacts.verify(dst)


@pytest.mark.filterwarnings("ignore::logel.IdentifiabilityWarning")
def test_ppo_trace_roundtrip_and_log_probs(tmp_path):
    from logel.experiments.mujoco import ppo_config
    from logel.learners.ppo import train_ppo

    torch.set_num_threads(1)
    run = train_ppo(ppo_config("smoke", env_id="Reacher-v5", n_steps=100, batch_size=100,
                               n_updates=2))
    trace = run.trace
    assert trace.states.shape == (2, 2, 100, 10) and trace.states.dtype == np.float32
    assert trace.thetas.shape == (2, 10 * 64 + 64 + 64 * 64 + 64)
    assert trace.episode_starts.dtype == bool and trace.rewards.shape == (2, 2, 100)
    assert trace.episode_starts[0, :, 0].all()  # the very first step starts an episode
    loaded = LearnerTrace.load(trace.save(tmp_path / "trace.npz"))
    for name in ("states", "actions", "features", "thetas", "episode_starts", "rewards"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(trace, name))
    assert loaded.metadata == json.loads(json.dumps(trace.metadata))
    # the last recorded theta + heads reproduce SB3's log-probabilities of the final policy
    # (recorded before the last update's training: compare against that policy's parameters)
    policy = policy_from_theta(10, 2, trace.thetas[-1])
    set_flat_parameters(policy, np.asarray(trace.metadata["actor_heads"][-1]),
                        ["mean.weight", "mean.bias", "log_std"])
    model_policy = run.model.policy
    obs = torch.tensor(trace.states[-1, 0, :20])
    act = torch.tensor(trace.actions[-1, 0, :20])
    ours = policy(obs, act).detach().numpy()
    assert np.all(np.isfinite(ours))
    # rebuild the SB3 actor at the recorded parameters and compare
    sb3_trunk = model_policy.mlp_extractor.policy_net
    with torch.no_grad():
        flat = torch.tensor(trace.thetas[-1]).float()
        offset = 0
        for p in sb3_trunk.parameters():
            p.copy_(flat[offset:offset + p.numel()].reshape(p.shape))
            offset += p.numel()
        heads = torch.tensor(trace.metadata["actor_heads"][-1]).float()
        offset = 0
        for p in [*model_policy.action_net.parameters(), model_policy.log_std]:
            p.copy_(heads[offset:offset + p.numel()].reshape(p.shape))
            offset += p.numel()
        _, logp, _ = model_policy.evaluate_actions(obs, act)
    np.testing.assert_allclose(ours, logp.numpy(), rtol=1e-5, atol=1e-5)
    # LOGEL runs on it in both segment modes
    for segments in ("episodes", "official"):
        res = neural_logel(trace, NeuralLOGELConfig(segments=segments, max_iter=50,
                                                    bc=GaussianBCConfig(epochs=1)))
        assert res.weights.shape == (26,) and res.jacobians.shape == (1, 4864, 26)
    # jacobian_data="env0" is the estimate on environment 0 alone, at its episode starts
    cfg = NeuralLOGELConfig(thetas="true", max_iter=50)
    env0 = LearnerTrace(trace.states[:, :1], trace.actions[:, :1], trace.features[:, :1],
                        trace.gamma, thetas=trace.thetas, metadata=trace.metadata,
                        episode_starts=trace.episode_starts[:, :1])
    np.testing.assert_array_equal(
        neural_logel(trace, replace(cfg, jacobian_data="env0")).jacobians,
        neural_logel(env0, cfg).jacobians)
    assert not np.array_equal(neural_logel(trace, cfg).jacobians,
                              neural_logel(env0, cfg).jacobians)
    for bad in ({"jacobian_data": "env1"}, {"bc_data": "some"}, {"segments": "windows"}):
        with pytest.raises(ValueError, match=f"NeuralLOGELConfig.{next(iter(bad))} must be"):
            neural_logel(trace, replace(cfg, **bad))


def test_lfl_reward_numpy_matches_network():
    net = GaussianMLPPolicy(11, 2, (16, 16), log_std_init=-0.3, seed=5)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))

    class Result:
        def reward_network(self) -> GaussianMLPPolicy:
            return net

    rng = np.random.default_rng(0)
    mean, var = rng.normal(size=11), rng.uniform(0.5, 2.0, size=11)
    reward = mj.lfl_reward_function(Result(), mean, var, clip=10.0)
    for _ in range(5):
        obs, action = rng.normal(size=11) * 3, rng.normal(size=2)
        s = torch.from_numpy(mj.normalise_observations(obs, mean, var, 10.0)[None])
        with torch.no_grad():
            expected = float(net(s, torch.tensor(action[None], dtype=torch.float32))[0])
        assert reward(obs, action) == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_explained_motion_and_best_learning_rates():
    from logel.experiments.mujoco_diagnostics import best_learning_rates, explained_motion

    rng = np.random.default_rng(1)
    J = rng.normal(size=(4, 30, 3))
    omega = np.array([1.0, -2.0, 0.5])
    alpha = np.array([0.3, 1.0, 0.1, 2.0])
    deltas = alpha[:, None] * np.einsum("tdq,q->td", J, omega)
    np.testing.assert_allclose(best_learning_rates(deltas, J, omega), alpha)
    assert explained_motion(deltas, J, omega) == pytest.approx(1.0)
    # a motion orthogonal to every J_t omega is not explained at all
    noise = rng.normal(size=deltas.shape)
    u = np.einsum("tdq,q->td", J, omega)
    noise -= (np.sum(noise * u, 1) / np.sum(u * u, 1))[:, None] * u
    assert explained_motion(noise, J, omega) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(best_learning_rates(noise, J, omega), 0.0, atol=1e-12)


def test_diagnostics_on_a_kept_trace(smoke_run, tmp_path):
    from logel.experiments import mujoco_diagnostics as diag

    _, root, _ = smoke_run
    status = diag.run("Hopper-v5", [0], root / "traces", budget="smoke", root=tmp_path)
    assert status == {0: "done"}
    res = diag.load_results("Hopper-v5", "smoke", tmp_path)[0]
    assert set(res["observers"]) == {"realistic (cloned theta)", "approximate (true theta)",
                                     "approximate (true theta with the mean head)",
                                     "realistic, clone started at the learner's policy"}
    for v in res["observers"].values():
        assert -1.0 <= v["reward_correlation"] <= 1.0
        assert v["explained_motion"] <= 1.0
    assert res["reference"]["weights"] == [125.0, 1.0, -1e-3]
    assert res["chance_level"] == pytest.approx(3 / res["theta_dim"])
    assert len(res["reference"]["split_half_cosine"]) == len(res["steps"]) - 1
    parts = res["reward_parts"]
    np.testing.assert_allclose(np.add(parts["control_per_step"], parts["rest_per_step"]),
                               parts["reward_per_step"])
    assert all(v < 0 for v in parts["control_per_step"])


def test_data_choices_on_a_kept_trace(smoke_run, tmp_path):
    from logel.experiments import mujoco_diagnostics as diag

    _, root, _ = smoke_run
    status = diag.run("Hopper-v5", [0], root / "traces", budget="smoke", root=tmp_path,
                      analysis="data_choices")
    assert status == {0: "done"}
    assert (tmp_path / "mujoco_data_choices_smoke" / "Hopper-v5" / "seed_0").is_dir()
    res = diag.load_results("Hopper-v5", "smoke", tmp_path, analysis="data_choices")[0]
    obs = res["observers"]
    assert set(obs) == set(diag.DATA_CHOICE_NAMES)
    ours = obs["ours: all environments at episode starts, gentle cloning"]
    windows = obs["official windows (environment 0, 40 x 50 steps), gentle cloning"]
    # the official windows use environment 0 only: 100 steps make 2 windows of 50
    assert windows["n_trajectories"] == [2] * (len(res["steps"]) - 1)
    assert min(ours["n_trajectories"]) >= 2
    for v in obs.values():
        assert -1.0 <= v["cosine_to_reference"] <= 1.0
    # our choices are the pipeline's LOGEL observer: same weights as the run's artifact
    run_weights = mj.load_results("Hopper-v5", "smoke", root)[0]["logel"]["weights"]
    np.testing.assert_allclose(ours["weights"], run_weights, rtol=1e-10)
    from logel.experiments.mujoco_figures import diagnostics_table

    table = diagnostics_table({0: res})
    assert set(table) == set(obs)  # no reference row: this analysis does not measure it
    row = table["true theta, official windows"]
    assert row["trajectories"] == 2 and row["cosine"][0] == row["cosine_min"]
    with pytest.raises(ValueError, match="analysis must be one of"):
        diag.run("Hopper-v5", [0], root / "traces", budget="smoke", root=tmp_path,
                 analysis="nope")


def test_committed_paper_artifacts_match_the_current_configuration(tmp_path):
    """The committed seeds have the current options, although they were written before
    ``jacobian_data``, ``block_bytes`` and ``learner.parity`` existed (they are the SB3
    learner); they are result version v1, so rerunning the documented command says so instead
    of silently skipping or overwriting them."""
    config = mj.experiment_config("Hopper-v5", "paper", parity="sb3")
    # written with BCD's v1 stopping rule (the relative change of omega)
    config = replace(config, logel=replace(config.logel, convergence="weights"))
    seed_dir = artifacts.artifact_root() / "mujoco" / "Hopper-v5" / "seed_0"
    assert artifacts.is_complete(seed_dir)
    assert mj.same_config(seed_dir, config, 0)
    assert mj.stored_version(seed_dir) == "v1" != config.version
    copy = tmp_path / "mujoco" / "Hopper-v5" / "seed_0"
    shutil.copytree(seed_dir, copy)
    with pytest.raises(RuntimeError, match="result version v1"):
        mj.run(config, [0], root=tmp_path)
    other = replace(config, logel=replace(config.logel, jacobian_data="env0"))
    assert not mj.same_config(seed_dir, other, 0)
    assert not mj.same_config(seed_dir, config, 1)


def test_log_std_analysis_on_a_kept_trace(smoke_run, tmp_path):
    """E5: the log-std in theta adds act_dim coordinates and keeps the true-theta fit sane."""
    from logel.experiments import mujoco_diagnostics as diag

    _, root, _ = smoke_run
    assert diag.run("Hopper-v5", [0], root / "traces", budget="smoke", root=tmp_path,
                    analysis="log_std") == {0: "done"}
    res = diag.load_results("Hopper-v5", "smoke", tmp_path, analysis="log_std")[0]
    obs = res["observers"]
    assert set(obs) == {"true theta (trunk)", "true theta with the log-std",
                        "cloned theta with the log-std"}
    for v in obs.values():
        assert -1.0 <= v["cosine_to_reference"] <= 1.0
        assert v["explained_motion_reference"] <= 1.0
    # the official-parity traces are looked up under their own names
    assert diag.run("Hopper-v5", [0], root / "traces", budget="smoke", root=tmp_path,
                    analysis="log_std", parity="official") == {0: "missing trace"}


def test_cloning_tuning_on_a_kept_trace(smoke_run, tmp_path):
    """Provenance: the cloning-schedule tuning runs every candidate and selects by agreement
    with the true-theta observer (no reward), ours winning ties."""
    from logel.experiments import mujoco_diagnostics as diag

    _, root, _ = smoke_run
    assert diag.run("Hopper-v5", [0], root / "traces", budget="smoke", root=tmp_path,
                    analysis="cloning") == {0: "done"}
    res = diag.load_results("Hopper-v5", "smoke", tmp_path, analysis="cloning")[0]
    obs = res["observers"]
    assert set(obs) == set(diag.CLONING_SCHEDULES)
    for v in obs.values():
        assert -1.0 <= v["agreement_with_true_theta"] <= 1.0 + 1e-12
        assert v["motion_norm_ratio"] > 0 and isinstance(v["converged"], bool)
    chosen = diag.select_cloning_schedule(res)
    best = max(v["agreement_with_true_theta"] for v in obs.values())
    assert obs[chosen]["agreement_with_true_theta"] == best
    # ties go to the first candidate (ours)
    tied = {"observers": {name: {"agreement_with_true_theta": 0.5} for name in obs}}
    assert diag.select_cloning_schedule(tied) == diag.CLONING_SCHEDULES[0]
    with pytest.raises(ValueError, match="must hold the schedules"):
        diag.select_cloning_schedule({"observers": {"ours": {"agreement_with_true_theta": 1}}})
    # the schedules differ only in the cloning
    configs = diag.cloning_schedule_configs(mj.experiment_config("Hopper-v5", "smoke").logel)
    assert len({c.bc for c in configs.values()}) == len(configs)
    assert len({replace(c, bc=configs[diag.CLONING_SCHEDULES[0]].bc)
                for c in configs.values()}) == 1
