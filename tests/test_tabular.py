"""Tabular MDP tools: validation, planning, (soft) evaluation, exact feature expectations and their
Jacobian, and the gridworld's documented facts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logel.envs.gridworld import (
    CENTRE_STATE,
    GOAL_STATE,
    START_STATE,
    Gridworld,
    colour_features,
    grid_transitions,
)
from logel.evaluation import optimal_value
from logel.policies.boltzmann import BoltzmannPolicy
from logel.tabular import (
    TabularMDP,
    deterministic_policy,
    feature_expectations,
    feature_expectations_jacobian,
    policy_evaluation,
    soft_policy_evaluation,
    soft_policy_iteration,
    state_action_features,
    value_iteration,
)

PROPERTY = settings(max_examples=20, deadline=None, database=None)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
timings = st.sampled_from(["current", "next"])


def random_policy(rng: np.random.Generator, mdp: TabularMDP) -> np.ndarray:
    return rng.dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)


# ----------------------------------------------------------------------------- TabularMDP


@PROPERTY
@given(seed=seeds, timing=timings)
def test_random_mdp_rows_are_probability_vectors(random_mdp, seed, timing):
    mdp = random_mdp(np.random.default_rng(seed), timing)
    assert 4 <= mdp.n_states <= 6 and 2 <= mdp.n_actions <= 3 and mdp.n_features == 3
    np.testing.assert_allclose(mdp.transitions.sum(axis=2), 1.0, atol=1e-12)
    assert (mdp.transitions >= 0).all()
    np.testing.assert_allclose(mdp.start.sum(), 1.0, atol=1e-12)


def _valid_parts(rng):
    S, A, q = 4, 2, 3
    return dict(transitions=rng.dirichlet(np.ones(S), size=(S, A)),
                state_features=rng.normal(size=(S, q)), start=np.full(S, 1 / S), gamma=0.9)


def _non_stochastic(parts):
    parts["transitions"] = parts["transitions"] * 1.01


def _negative_entry(parts):
    P = parts["transitions"].copy()
    P[0, 0, :2] = [1.5, -0.5]
    P[0, 0, 2:] = 0.0
    parts["transitions"] = P


BAD_INPUTS = {
    "non-stochastic rows": (_non_stochastic, "transitions"),
    "negative probability": (_negative_entry, "transitions"),
    "transitions 2-D": (lambda p: p.update(transitions=p["transitions"][:, 0, :]), "transitions"),
    "transitions not square": (lambda p: p.update(transitions=p["transitions"][:3]),
                               "transitions"),
    "features wrong rows": (lambda p: p.update(state_features=p["state_features"][:3]),
                            "state_features"),
    "features 1-D": (lambda p: p.update(state_features=p["state_features"][:, 0]),
                     "state_features"),
    "start wrong shape": (lambda p: p.update(start=np.full(5, 0.2)), "start"),
    "start not normalised": (lambda p: p.update(start=np.full(4, 0.3)), "start"),
    "start negative": (lambda p: p.update(start=np.array([1.5, -0.5, 0.0, 0.0])), "start"),
    "gamma = 1": (lambda p: p.update(gamma=1.0), "gamma"),
    "gamma > 1": (lambda p: p.update(gamma=1.5), "gamma"),
    "gamma < 0": (lambda p: p.update(gamma=-0.1), "gamma"),
    "gamma NaN": (lambda p: p.update(gamma=float("nan")), "gamma"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_tabular_mdp_rejects_bad_inputs(rng, case):
    parts = _valid_parts(rng)
    TabularMDP(**parts)  # the unmodified parts are valid
    mutate, name = BAD_INPUTS[case]
    mutate(parts)
    with pytest.raises(ValueError, match=name):
        TabularMDP(**parts)


def test_tabular_mdp_rejects_unknown_feature_timing(rng):
    with pytest.raises(ValueError, match="feature_timing"):
        TabularMDP(**_valid_parts(rng), feature_timing="previous")


# ----------------------------------------------------------------------------- policies


@PROPERTY
@given(seed=seeds, scale=st.sampled_from([0.1, 3.0, 300.0]))
def test_boltzmann_probabilities_are_normalised_and_non_negative(seed, scale):
    rng = np.random.default_rng(seed)
    S, A = int(rng.integers(2, 7)), int(rng.integers(2, 5))
    policy = BoltzmannPolicy(S, A)
    theta = scale * rng.normal(size=policy.n_params)  # large scales probe overflow
    probs = policy.probabilities(theta)
    assert probs.shape == (S, A)
    assert np.all(np.isfinite(probs)) and (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(policy.log_probabilities(theta)), probs, atol=1e-12)
    # the reference (last) action has logit 0: pi(a|s) / pi(A-1|s) = exp(theta_(s,a))
    if scale < 10:
        ratio = probs[:, :-1] / probs[:, -1:]
        np.testing.assert_allclose(np.log(ratio).ravel(), theta, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------- planning


@PROPERTY
@given(seed=seeds, timing=timings)
def test_value_iteration_is_at_its_fixed_point(random_mdp, seed, timing):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, timing)
    omega = rng.normal(size=mdp.n_features)
    V, Q, greedy = value_iteration(mdp, omega)
    r = state_action_features(mdp) @ omega
    backup = r + mdp.gamma * mdp.transitions @ V
    assert np.max(np.abs(backup.max(axis=1) - V)) < 1e-8  # Bellman optimality residual
    np.testing.assert_allclose(Q, backup, atol=1e-12)
    np.testing.assert_array_equal(greedy, Q.argmax(axis=1))
    # the greedy policy's exact value is the optimal value ...
    V_greedy = policy_evaluation(mdp, deterministic_policy(greedy, mdp.n_actions), omega)
    np.testing.assert_allclose(V_greedy, V, atol=1e-8)
    # ... and no random policy does better in any state
    for _ in range(5):
        assert (policy_evaluation(mdp, random_policy(rng, mdp), omega) <= V + 1e-8).all()


@PROPERTY
@given(seed=seeds, timing=timings)
def test_policy_evaluation_solves_the_bellman_equation(random_mdp, seed, timing):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, timing)
    omega = rng.normal(size=mdp.n_features)
    pi = random_policy(rng, mdp)
    V = policy_evaluation(mdp, pi, omega)
    r = state_action_features(mdp) @ omega
    np.testing.assert_allclose(V, (pi * (r + mdp.gamma * mdp.transitions @ V)).sum(axis=1),
                               atol=1e-10)


@PROPERTY
@given(seed=seeds, timing=timings, temperature=st.sampled_from([0.3, 1.0]))
def test_soft_policy_evaluation_satisfies_its_bellman_equation(random_mdp, seed, timing,
                                                               temperature):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, timing)
    omega = rng.normal(size=mdp.n_features)
    pi = random_policy(rng, mdp)
    pi[0] = np.eye(mdp.n_actions)[0]  # a deterministic row: 0 log 0 must count as 0
    q, v = soft_policy_evaluation(mdp, pi, omega, temperature)
    assert np.all(np.isfinite(q)) and np.all(np.isfinite(v))
    r = state_action_features(mdp) @ omega
    np.testing.assert_allclose(q, r + mdp.gamma * mdp.transitions @ v, atol=1e-10)
    with np.errstate(divide="ignore"):
        log_pi = np.where(pi > 0, np.log(pi), 0.0)
    np.testing.assert_allclose(v, (pi * (q - temperature * log_pi)).sum(axis=1), atol=1e-10)
    # temperature 0 is ordinary policy evaluation
    _, v0 = soft_policy_evaluation(mdp, pi, omega, 0.0)
    np.testing.assert_allclose(v0, policy_evaluation(mdp, pi, omega), atol=1e-10)


@PROPERTY
@given(seed=seeds, timing=timings, temperature=st.sampled_from([0.3, 1.0]))
def test_soft_policy_iteration_is_monotone(random_mdp, seed, timing, temperature):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, timing)
    omega = 3.0 * rng.normal(size=mdp.n_features)
    policies = soft_policy_iteration(mdp, omega, temperature, n_iter=8,
                                     initial_policy=random_policy(rng, mdp))
    assert len(policies) == 9
    values = np.array([soft_policy_evaluation(mdp, pi, omega, temperature)[1]
                       for pi in policies])
    assert (np.diff(values, axis=0) >= -1e-9).all()  # soft policy improvement, in every state
    assert values[-1].sum() > values[0].sum()  # and it actually improves
    # the uniform default start
    assert np.allclose(soft_policy_iteration(mdp, omega, temperature, 0)[0], 1 / mdp.n_actions)


# ----------------------------------------------------------------------------- feature expectations


def brute_force_feature_expectations(mdp: TabularMDP, pi: np.ndarray, horizon: int
                                     ) -> np.ndarray:
    """Enumerate every trajectory s_0 a_0 s_1 ... a_{T-1} s_T with its probability."""
    S, A = pi.shape
    phi = mdp.state_features
    total = np.zeros(mdp.n_features)
    for path in itertools.product(range(S), *([range(A), range(S)] * horizon)):
        states, actions = path[0::2], path[1::2]
        prob = mdp.start[states[0]]
        for t in range(horizon):
            prob *= pi[states[t], actions[t]] * mdp.transitions[states[t], actions[t],
                                                                 states[t + 1]]
        if prob == 0.0:
            continue
        shift = 0 if mdp.feature_timing == "current" else 1
        for t in range(horizon):
            total += prob * mdp.gamma**t * phi[states[t + shift]]
    return total


def iterated_feature_expectations(mdp: TabularMDP, pi: np.ndarray, horizon: int) -> np.ndarray:
    """Propagate the state distribution by explicit loops (no matrix helpers of the package)."""
    S, A = pi.shape
    d = mdp.start.copy()
    total = np.zeros(mdp.n_features)
    for t in range(horizon):
        d_next = np.zeros(S)
        for s in range(S):
            for a in range(A):
                for s2 in range(S):
                    p = d[s] * pi[s, a] * mdp.transitions[s, a, s2]
                    d_next[s2] += p
                    if mdp.feature_timing == "next":
                        total += mdp.gamma**t * p * mdp.state_features[s2]
            if mdp.feature_timing == "current":
                total += mdp.gamma**t * d[s] * mdp.state_features[s]
        d = d_next
    return total


@settings(max_examples=8, deadline=None, database=None)
@given(seed=seeds, timing=timings)
def test_feature_expectations_match_trajectory_enumeration(random_mdp, seed, timing):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, timing, n_states=4, n_actions=2)
    pi = random_policy(rng, mdp)
    np.testing.assert_allclose(feature_expectations(mdp, pi, 3),
                               brute_force_feature_expectations(mdp, pi, 3), atol=1e-12)


@PROPERTY
@given(seed=seeds, timing=timings, horizon=st.sampled_from([1, 2, 7, 20]))
def test_feature_expectations_match_iterated_distributions(random_mdp, seed, timing, horizon):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, timing)
    pi = random_policy(rng, mdp)
    np.testing.assert_allclose(feature_expectations(mdp, pi, horizon),
                               iterated_feature_expectations(mdp, pi, horizon), atol=1e-11)


def finite_difference_jacobian(mdp: TabularMDP, policy: BoltzmannPolicy, theta: np.ndarray,
                               horizon: int, h: float = 1e-5) -> np.ndarray:
    cols = []
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        plus = feature_expectations(mdp, policy.probabilities(theta + e), horizon)
        minus = feature_expectations(mdp, policy.probabilities(theta - e), horizon)
        cols.append((plus - minus) / (2 * h))
    return np.array(cols)  # (d, q)


def exact_jacobian(mdp, policy, theta, horizon):
    return feature_expectations_jacobian(mdp, policy.probabilities(theta),
                                         policy.probability_jacobian(theta), horizon)


@PROPERTY
@given(seed=seeds, timing=timings, horizon=st.sampled_from([1, 2, 5, 20]))
def test_feature_jacobian_matches_finite_differences(random_mdp, seed, timing, horizon):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, timing)
    policy = BoltzmannPolicy(mdp.n_states, mdp.n_actions)
    theta = rng.normal(scale=1.5, size=policy.n_params)
    J = exact_jacobian(mdp, policy, theta, horizon)
    assert J.shape == (policy.n_params, mdp.n_features)
    np.testing.assert_allclose(J, finite_difference_jacobian(mdp, policy, theta, horizon),
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize("variant", ["paper", "consistent"])
@pytest.mark.parametrize("model", ["sampling_model", "planning_model"])
def test_gridworld_feature_jacobian_matches_finite_differences(variant, model):
    grid = Gridworld(variant, slip=0.3 if variant == "consistent" else 0.0)
    mdp = getattr(grid, model)
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    theta = np.random.default_rng(3).normal(size=policy.n_params)
    J = exact_jacobian(mdp, policy, theta, grid.horizon)
    assert np.abs(J).max() > 1e-2  # a non-trivial Jacobian
    np.testing.assert_allclose(J, finite_difference_jacobian(mdp, policy, theta, grid.horizon),
                               atol=1e-6, rtol=0)
    # one-hot colours partition the states (sum_j phi_j = 1), so psi . 1 is constant
    np.testing.assert_allclose(J @ np.ones(5), 0.0, atol=1e-12)


def test_feature_jacobian_rejects_mismatched_policy_jacobian(rng, random_mdp):
    mdp = random_mdp(rng, "current")
    pi = random_policy(rng, mdp)
    with pytest.raises(ValueError, match="policy_jacobian"):
        feature_expectations_jacobian(mdp, pi, np.zeros((mdp.n_states + 1, mdp.n_actions, 2)),
                                      5)


# ----------------------------------------------------------------------------- gridworld facts


def test_gridworld_optimal_and_uniform_values():
    grid = Gridworld("paper")
    # spec Sec. 5.1: V*(s0) = 2.061 (more digits: 2.06176...)
    assert optimal_value(grid) == pytest.approx(2.0618, abs=1e-4)
    # spec Sec. 5.1 rounds the uniform policy's value to -28.56; the exact evaluation on the
    # paper planning model gives -28.5793 (difference within the official evaluator's 1e-3
    # stopping tolerance accumulated over the horizon).
    uniform = np.full((grid.n_states, grid.n_actions), 0.25)
    v_uniform = policy_evaluation(grid.planning_model, uniform, grid.true_weights)[START_STATE]
    assert v_uniform == pytest.approx(-28.579, abs=1e-3)


def test_gridworld_layout_and_colour_counts():
    phi = colour_features()
    assert phi.shape == (25, 5)
    np.testing.assert_array_equal(phi.sum(axis=1), 1.0)  # one-hot
    np.testing.assert_array_equal(phi.sum(axis=0), [3, 1, 17, 3, 1])  # R, V, N, P, G
    np.testing.assert_array_equal(np.flatnonzero(phi[:, 0]), [3, 4, 9])  # R: (0,3),(0,4),(1,4)
    np.testing.assert_array_equal(np.flatnonzero(phi[:, 1]), [CENTRE_STATE])  # V: (2,2)
    np.testing.assert_array_equal(np.flatnonzero(phi[:, 3]), [15, 20, 21])  # P: (3,0),(4,0),(4,1)
    np.testing.assert_array_equal(np.flatnonzero(phi[:, 4]), [GOAL_STATE])  # G: (4,4)
    np.testing.assert_array_equal(Gridworld().true_weights, [0, -5, -1, -3, 7])


@pytest.mark.parametrize("slip", [0.0, 0.3])
def test_goal_resets_and_centre_teleports_only_in_paper_planning_model(slip):
    paper, consistent = Gridworld("paper", slip=slip), Gridworld("consistent", slip=slip)
    for mdp in (paper.sampling_model, paper.planning_model, consistent.sampling_model,
                consistent.planning_model):
        np.testing.assert_array_equal(mdp.transitions[GOAL_STATE, :, START_STATE], 1.0)
    np.testing.assert_array_equal(paper.planning_model.transitions[CENTRE_STATE, :, START_STATE],
                                  1.0)
    for mdp in (paper.sampling_model, consistent.sampling_model, consistent.planning_model):
        assert (mdp.transitions[CENTRE_STATE, :, START_STATE] == 0).all()
    assert paper.sampling_model.feature_timing == "next"
    assert paper.planning_model.feature_timing == "current"
    np.testing.assert_array_equal(consistent.planning_model.transitions,
                                  consistent.sampling_model.transitions)
    assert consistent.planning_model.feature_timing == "next"


def test_deterministic_moves_and_wall_clipping():
    P = grid_transitions(0.0)
    assert set(np.unique(P)) == {0.0, 1.0}
    # interior state (1, 1) = 6: down, up, left, right
    for action, target in zip(range(4), [11, 1, 5, 7], strict=True):
        assert P[6, action, target] == 1.0
    assert P[0, 1, 0] == 1.0 and P[0, 2, 0] == 1.0  # up / left from the corner: stay


def test_slip_rows_sum_to_one_and_favour_the_intended_move():
    P = grid_transitions(0.3)
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-12)
    assert (P >= 0).all()
    intended = 0.7 + 0.3 / 4
    interior = [s for s in range(25) if 0 < s // 5 < 4 and 0 < s % 5 < 4]
    for s in interior:
        for action, target in enumerate([s + 5, s - 5, s - 1, s + 1]):
            assert P[s, action, target] == pytest.approx(intended, abs=1e-12)
            others = np.delete(P[s, action], target)
            np.testing.assert_allclose(others[others > 0], 0.3 / 4, atol=1e-12)
    # corner s0, action "right": up and left both clip to s0
    assert P[0, 3, 1] == pytest.approx(intended)
    assert P[0, 3, 0] == pytest.approx(2 * 0.3 / 4)
    assert P[0, 3, 5] == pytest.approx(0.3 / 4)
    with pytest.raises(ValueError, match="slip"):
        grid_transitions(1.5)
