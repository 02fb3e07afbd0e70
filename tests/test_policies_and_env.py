"""Boltzmann policy derivatives and sampling; gridworld batches and the gymnasium environment."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import logel.envs  # noqa: F401  (registers logel/ColourGrid-v0)
from logel.envs.gridworld import (
    GOAL_STATE,
    START_STATE,
    ColourGridEnv,
    Gridworld,
    colour_features,
    sample_batch,
)
from logel.policies.boltzmann import BoltzmannPolicy, sample_actions
from logel.tabular import deterministic_policy

H = 1e-6


# ----------------------------------------------------------------------------- Boltzmann policy


@pytest.mark.parametrize("shape", [(3, 2), (5, 3), (25, 4)])
def test_scores_equal_finite_differences_of_log_prob(rng, shape):
    policy = BoltzmannPolicy(*shape)
    theta = rng.normal(size=policy.n_params)
    states = rng.integers(0, shape[0], size=(4, 3))
    actions = rng.integers(0, shape[1], size=(4, 3))
    scores = policy.scores(theta, states, actions)
    assert scores.shape == (4, 3, policy.n_params)
    fd = np.empty_like(scores)
    for i in range(policy.n_params):
        e = np.zeros(policy.n_params)
        e[i] = H
        fd[..., i] = (policy.log_prob(theta + e, states, actions)
                      - policy.log_prob(theta - e, states, actions)) / (2 * H)
    np.testing.assert_allclose(scores, fd, atol=1e-8, rtol=0)
    # scores have zero mean under the policy: E_a[score(s, a)] = 0 in every state
    probs = policy.probabilities(theta)
    all_actions = np.broadcast_to(np.arange(shape[1]), (shape[0], shape[1]))
    all_states = np.broadcast_to(np.arange(shape[0])[:, None], (shape[0], shape[1]))
    mean_score = np.einsum("sa,sad->sd", probs, policy.scores(theta, all_states, all_actions))
    np.testing.assert_allclose(mean_score, 0.0, atol=1e-12)


def test_scores_reject_mismatched_states_and_actions(rng):
    policy = BoltzmannPolicy(4, 3)
    with pytest.raises(ValueError, match="states"):
        policy.scores(np.zeros(8), np.zeros(3, dtype=int), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="theta"):
        policy.probabilities(np.zeros(9))


@pytest.mark.parametrize("shape", [(3, 2), (5, 3), (25, 4)])
def test_probability_jacobian_equals_finite_differences(rng, shape):
    policy = BoltzmannPolicy(*shape)
    theta = rng.normal(scale=2.0, size=policy.n_params)
    jac = policy.probability_jacobian(theta)
    assert jac.shape == (*shape, policy.n_params)
    fd = np.empty_like(jac)
    for i in range(policy.n_params):
        e = np.zeros(policy.n_params)
        e[i] = H
        fd[..., i] = (policy.probabilities(theta + e) - policy.probabilities(theta - e)) / (2 * H)
    np.testing.assert_allclose(jac, fd, atol=1e-9, rtol=0)
    assert np.abs(jac).max() > 1e-3


def test_sample_actions_frequencies_match_probabilities(rng):
    S, A, n = 5, 4, 40_000
    probs = rng.dirichlet(np.ones(A), size=S)
    probs[0] = [0.0, 1.0, 0.0, 0.0]  # a deterministic row
    probs[1] = [0.5, 0.0, 0.0, 0.5]  # zero-probability actions in the middle
    states = np.repeat(np.arange(S), n)
    actions = sample_actions(probs, states, np.random.default_rng(0))
    assert actions.shape == states.shape and actions.dtype.kind == "i"
    counts = np.zeros((S, A))
    np.add.at(counts, (states, actions), 1)
    assert (counts[probs == 0] == 0).all()
    expected = n * probs
    mask = expected > 0
    chi2 = float((((counts - expected) ** 2)[mask] / expected[mask]).sum())
    dof = int(mask.sum()) - S
    # chi-square with `dof` degrees of freedom: mean dof, sd sqrt(2 dof); 6 sd is far in the tail
    assert chi2 < dof + 6 * np.sqrt(2 * dof), chi2


def test_policy_sample_uses_its_own_probabilities(rng):
    policy = BoltzmannPolicy(3, 3)
    theta = np.array([5.0, -5.0, 0.5, -0.3, 5.0, -40.0])
    # state 0 strongly prefers action 0; state 1 mixes all three actions (logits 0.5, -0.3, 0)
    a0 = policy.sample(theta, np.zeros(5000, dtype=int), rng)
    assert np.mean(a0 == 0) > 0.98
    a1 = policy.sample(theta, np.ones(20_000, dtype=int), rng)
    probs = policy.probabilities(theta)[1]
    np.testing.assert_allclose(np.bincount(a1, minlength=3) / 20_000, probs, atol=0.015)


def test_same_seed_gives_identical_samples():
    grid = Gridworld("paper", slip=0.3)
    policy = np.random.default_rng(1).dirichlet(np.ones(4), size=25)
    b1 = sample_batch(grid, policy, 7, np.random.default_rng(42))
    b2 = sample_batch(grid, policy, 7, np.random.default_rng(42))
    b3 = sample_batch(grid, policy, 7, np.random.default_rng(43))
    for field in ("states", "actions", "features", "final_states"):
        np.testing.assert_array_equal(getattr(b1, field), getattr(b2, field))
    assert not np.array_equal(b1.actions, b3.actions)


# ----------------------------------------------------------------------------- sample_batch


def _uniform():
    return np.full((25, 4), 0.25)


@pytest.mark.parametrize("variant", ["paper", "consistent"])
@pytest.mark.parametrize("slip", [0.0, 0.3])
def test_sample_batch_shapes_features_and_transitions(variant, slip):
    grid = Gridworld(variant, slip=slip, horizon=9)
    batch = sample_batch(grid, _uniform(), 30, np.random.default_rng(5))
    assert batch.states.shape == batch.actions.shape == (30, 9)
    assert batch.features.shape == (30, 9, 5)
    assert batch.final_states.shape == (30,)
    assert batch.states.dtype.kind == batch.actions.dtype.kind == "i"
    assert ((0 <= batch.actions) & (batch.actions < 4)).all()
    # features are the colours of the NEXT state
    next_states = np.concatenate([batch.states[:, 1:], batch.final_states[:, None]], axis=1)
    np.testing.assert_array_equal(batch.features, colour_features()[next_states])
    # every transition is possible under the sampling model
    P = grid.sampling_model.transitions
    assert (P[batch.states, batch.actions, next_states] > 0).all()
    if slip == 0.0:
        np.testing.assert_array_equal(P[batch.states, batch.actions, next_states], 1.0)


def test_consistent_batches_start_every_trajectory_at_s0():
    grid = Gridworld("consistent")
    batch = sample_batch(grid, _uniform(), 40, np.random.default_rng(6))
    np.testing.assert_array_equal(batch.states[:, 0], START_STATE)
    assert len(np.unique(batch.final_states)) > 1


def test_paper_batches_chain_segments():
    grid = Gridworld("paper")
    batch = sample_batch(grid, _uniform(), 40, np.random.default_rng(6))
    assert batch.states[0, 0] == START_STATE
    np.testing.assert_array_equal(batch.states[1:, 0], batch.final_states[:-1])
    assert (batch.states[1:, 0] != START_STATE).any()  # only the first segment is reset


def test_sample_batch_rejects_bad_arguments():
    grid = Gridworld()
    with pytest.raises(ValueError, match="policy"):
        sample_batch(grid, np.full((24, 4), 0.25), 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_trajectories"):
        sample_batch(grid, _uniform(), 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="variant"):
        Gridworld("other")


# ----------------------------------------------------------------------------- gymnasium env


def test_env_is_registered_and_passes_the_env_checker():
    env = gymnasium.make("logel/ColourGrid-v0")
    assert isinstance(env.unwrapped, ColourGridEnv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=False)
    # the only complaint allowed is the missing render_fps metadata (text rendering only)
    assert all("render_fps" in str(w.message) or "render fps" in str(w.message)
               for w in caught), [str(w.message) for w in caught]
    env.close()


def right_then_down() -> np.ndarray:
    """Deterministic policy table: move right until the last column, then down (G resets)."""
    actions = np.array([3 if s % 5 < 4 else 0 for s in range(25)])
    return deterministic_policy(actions, 4)


def test_env_reproduces_sample_batch_with_a_deterministic_policy():
    grid = Gridworld("consistent")
    policy = right_then_down()
    batch = sample_batch(grid, policy, 1, np.random.default_rng(0))
    env = gymnasium.make("logel/ColourGrid-v0", variant="consistent")
    obs, _ = env.reset(seed=123)
    states, actions, feats, rewards = [], [], [], []
    for _ in range(grid.horizon):
        action = int(policy[obs].argmax())
        states.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, info = env.step(action)
        feats.append(info["features"])
        rewards.append(reward)
        assert not terminated
    np.testing.assert_array_equal(batch.states[0], states)
    np.testing.assert_array_equal(batch.actions[0], actions)
    np.testing.assert_array_equal(batch.features[0], np.array(feats))
    assert batch.final_states[0] == obs
    np.testing.assert_allclose(rewards, batch.features[0] @ grid.true_weights)
    # the route: along the top row, down the right column, G sends back to s0
    np.testing.assert_array_equal(states[:10], [0, 1, 2, 3, 4, 9, 14, 19, GOAL_STATE, 0])
    env.close()


def test_env_truncates_at_the_horizon_and_never_terminates():
    env = gymnasium.make("logel/ColourGrid-v0", horizon=5, slip=0.3)
    env.reset(seed=0)
    flags = [env.step(int(a))[2:4] for a in np.random.default_rng(0).integers(0, 4, size=5)]
    assert flags == [(False, False)] * 4 + [(False, True)]
    obs, info = env.reset()
    assert obs == START_STATE and info == {}
    assert env.step(0)[3] is False  # reset restarts the step counter
    with pytest.raises(ValueError, match="action"):
        env.step(4)
    env.close()


def test_env_slip_frequencies_and_seeding():
    env = gymnasium.make("logel/ColourGrid-v0", slip=0.3)
    env.reset(seed=11)
    n = 4000
    nexts = []
    for _ in range(n):
        env.reset()
        nexts.append(env.step(3)[0])  # "right" from s0
    freq = np.bincount(nexts, minlength=25) / n
    expected = Gridworld(slip=0.3).sampling_model.transitions[0, 3]
    np.testing.assert_allclose(freq, expected, atol=4 * np.sqrt(0.25 / n))

    def rollout(seed):
        env.reset(seed=seed)
        return [env.step(1)[0] for _ in range(20)]

    assert rollout(5) == rollout(5)
    assert rollout(5) != rollout(6)
    env.close()


def test_env_render_marks_the_agent():
    env = ColourGridEnv(render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert text.splitlines()[0] == "@NNRR"
    env.step(3)
    assert env.render().splitlines()[0] == "N@NRR"
