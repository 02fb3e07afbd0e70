"""The lean PPO (issue "MuJoCo at the speed limit", item 3) computes exactly SB3's numbers.

:class:`~logel.learners.ppo.LeanPPO` (rollout collection),
:class:`~logel.learners.ppo.LeanActorCriticPolicy` (training forward pass) and
:class:`~logel.learners.ppo.LeanVecNormalize` are checked bit for bit against SB3's ``PPO``,
``MlpPolicy`` and ``VecNormalize``, and Adam's ``_foreach`` update
(:data:`~logel.learners.ppo.ADAM_FOREACH`) against its loop: the recorded trace, the curves, the final parameters and optimiser state.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.policies import ActorCriticPolicy  # noqa: E402
from stable_baselines3.common.vec_env import VecNormalize  # noqa: E402

from logel.envs.mujoco_features import VecLinearFeatureReward, n_features  # noqa: E402
from logel.experiments.mujoco import ppo_config  # noqa: E402
from logel.learners import ppo  # noqa: E402

pytestmark = pytest.mark.mujoco

CASES = {
    # Hopper falls (terminations); the official parity passes raw actions, no bootstrap
    "Hopper official": {"env_id": "Hopper-v5", "parity": "official"},
    # Reacher's 50-step episodes end by the time limit: SB3's value bootstrap
    "Reacher sb3": {"env_id": "Reacher-v5", "parity": "sb3"},
}


def _config(env_id: str, parity: str, **changes: object) -> ppo.PPOConfig:
    base = ppo_config("smoke", env_id=env_id, parity=parity)
    return replace(base, **{"n_envs": 3, "n_steps": 120, "n_updates": 2, "batch_size": 60,
                            "seed": 3, **changes})


def _run(config: ppo.PPOConfig, lean: bool, monkeypatch: pytest.MonkeyPatch,
         **train: object) -> ppo.PPORun:
    with monkeypatch.context() as m:
        if not lean:
            m.setattr(ppo, "LeanPPO", PPO)
            m.setattr(ppo, "LeanVecNormalize", VecNormalize)
            m.setattr(ppo, "ADAM_FOREACH", False)
            m.setattr(ppo, "LeanActorCriticPolicy", ActorCriticPolicy)
        run = ppo.train_ppo(config, **train)  # type: ignore[arg-type]
    assert isinstance(run.model, ppo.LeanPPO) == lean
    assert run.model.policy.optimizer.defaults["foreach"] == (True if lean else None)
    assert (type(run.model.policy) is ppo.LeanActorCriticPolicy) == lean
    if lean:  # the lean training forward ran
        assert isinstance(run.model.policy._lean, ppo._LeanActorCritic)
    return run


def _assert_same_run(a: ppo.PPORun, b: ppo.PPORun) -> None:
    np.testing.assert_array_equal(a.curve, b.curve)
    assert sorted(a.episode_stats) == sorted(b.episode_stats)
    for k in a.episode_stats:
        np.testing.assert_array_equal(a.episode_stats[k], b.episode_stats[k])
    for p, q in zip(a.model.policy.parameters(), b.model.policy.parameters(), strict=True):
        assert torch.equal(p, q)
    sa, sb = a.model.policy.optimizer.state_dict(), b.model.policy.optimizer.state_dict()
    for k in sa["state"]:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(sa["state"][k][name], sb["state"][k][name])
    for name in ("observations", "actions", "rewards", "values", "log_probs", "returns",
                 "advantages", "episode_starts"):
        np.testing.assert_array_equal(getattr(a.model.rollout_buffer, name),
                                      getattr(b.model.rollout_buffer, name))
    va, vb = a.model.get_env(), b.model.get_env()
    np.testing.assert_array_equal(va.obs_rms.mean, vb.obs_rms.mean)
    np.testing.assert_array_equal(va.obs_rms.var, vb.obs_rms.var)
    np.testing.assert_array_equal(va.ret_rms.var, vb.ret_rms.var)


@pytest.mark.parametrize("case", sorted(CASES))
def test_lean_learner_is_bitwise_sb3(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(**CASES[case])  # type: ignore[arg-type]
    lean, sb3 = _run(config, True, monkeypatch), _run(config, False, monkeypatch)
    _assert_same_run(lean, sb3)
    assert lean.trace is not None and sb3.trace is not None
    for name in ("states", "actions", "features", "rewards", "episode_starts", "thetas"):
        np.testing.assert_array_equal(getattr(lean.trace, name), getattr(sb3.trace, name))
    for name in ("actor_heads", "obs_rms_mean", "obs_rms_var", "ret_rms_var"):
        assert lean.trace.metadata[name] == sb3.trace.metadata[name]
    if CASES[case]["env_id"].startswith("Reacher"):
        # the bootstrap path ran: some episodes ended by the time limit
        assert np.any(sb3.trace.episode_starts[:, :, 1:])


def test_lean_observer_is_bitwise_sb3(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config("Hopper-v5", "official", record=False, seed=10_004)
    w = np.random.default_rng(0).normal(size=n_features("Hopper-v5"))
    reward = {"vec_reward": lambda v: VecLinearFeatureReward(v, w)}
    _assert_same_run(_run(config, True, monkeypatch, **reward),
                     _run(config, False, monkeypatch, **reward))


def test_unsupported_policy_falls_back_to_sb3() -> None:
    config = _config("Hopper-v5", "sb3", n_updates=1)
    model = ppo.build_model(config, ppo.make_vec_env(config))
    assert ppo._LeanActorCritic.of(model) is not None
    model.policy.mlp_extractor.policy_net.append(torch.nn.ReLU())
    assert ppo._LeanActorCritic.of(model) is None
    model.learn(total_timesteps=config.n_envs * config.n_steps)  # SB3's own rollout


def test_skipping_the_last_training_changes_nothing_recorded() -> None:
    config = _config("Hopper-v5", "official")
    full, lean = ppo.train_ppo(config), ppo.train_ppo(config, train_last=False)
    np.testing.assert_array_equal(full.curve, lean.curve)
    for k in full.episode_stats:
        np.testing.assert_array_equal(full.episode_stats[k], lean.episode_stats[k])
    assert full.trace is not None and lean.trace is not None
    for name in ("states", "actions", "features", "rewards", "episode_starts", "thetas"):
        np.testing.assert_array_equal(getattr(full.trace, name), getattr(lean.trace, name))
    for name in ("actor_heads", "obs_rms_mean", "obs_rms_var", "ret_rms_var"):
        assert full.trace.metadata[name] == lean.trace.metadata[name]
    # only the returned model misses the last update's training
    assert not torch.equal(full.model.policy.log_std, lean.model.policy.log_std)


def test_physics_threads_switched_on_between_rollouts_change_nothing() -> None:
    config = _config("Hopper-v5", "official", record=False, n_updates=3, seed=10_004)
    w = np.random.default_rng(1).normal(size=n_features("Hopper-v5"))
    asked: list[int] = []

    def threads() -> int:  # one thread for the first rollout, then two
        asked.append(1)
        return 1 if len(asked) <= 2 else 2

    reward = {"vec_reward": lambda v: VecLinearFeatureReward(v, w)}
    switched = ppo.train_ppo(config, physics_threads=threads, **reward)
    assert len(asked) == 1 + config.n_updates  # at the start, then before every rollout
    plain = ppo.train_ppo(config, **reward)
    np.testing.assert_array_equal(switched.curve, plain.curve)
    for k in plain.episode_stats:
        np.testing.assert_array_equal(switched.episode_stats[k], plain.episode_stats[k])
    for p, q in zip(switched.model.policy.parameters(), plain.model.policy.parameters(),
                    strict=True):
        assert torch.equal(p, q)
