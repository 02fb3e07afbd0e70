"""E4's logging: every episode's true reward split into its terms, forward and final distance."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

from logel.envs.mujoco_features import EPISODE_KEYS, make_feature_env  # noqa: E402


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Reacher-v5"])
def test_episode_terms_sum_to_the_monitored_return(env_id):
    env = make_feature_env(env_id)
    env.reset(seed=4)
    env.action_space.seed(4)
    x0 = float(env.unwrapped.data.qpos[0])
    finished = []
    for _ in range(2000):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        if terminated or truncated:
            finished.append(info)
            if len(finished) == 2:
                break
            env.reset()
            x0 = float(env.unwrapped.data.qpos[0])
    assert len(finished) == 2
    for info in finished:
        episode = info["episode"]
        assert set(EPISODE_KEYS[env_id.split("-")[0]]) <= set(episode)
        terms = sum(v for k, v in episode.items() if k.startswith("ep_reward_"))
        np.testing.assert_allclose(terms, episode["r"], atol=1e-4)  # Monitor rounds r to 1e-6
    last = finished[-1]
    if env_id.startswith("Hopper"):
        assert last["episode"]["ep_forward_distance"] == pytest.approx(
            last["x_position"] - x0, abs=1e-9)
    else:
        assert last["episode"]["ep_final_distance"] == pytest.approx(-last["reward_dist"])
