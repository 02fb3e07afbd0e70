"""How good is a recovered reward? Return of its greedy policy, and weight errors (paper Sec. 5.3).

The paper's gridworld metric: plan greedily for :math:`\\hat\\omega` (value iteration on the
planning model) and report that policy's value :math:`V^{\\pi_{\\hat\\omega}}(s_0)` under the *true*
weights. It is invariant to a positive scale and (on the gridworld) an additive constant of
:math:`\\hat\\omega`, the two directions the data cannot determine. Weight errors are therefore
reported after centring and normalising (spec Sec. 8, q6).
"""

from __future__ import annotations

import numpy as np

from logel.envs.gridworld import START_STATE, Gridworld
from logel.statistics import mean_ci  # noqa: F401  (moved to logel.statistics; re-exported)
from logel.tabular import deterministic_policy, policy_evaluation, value_iteration


def greedy_policy(grid: Gridworld, omega: np.ndarray | None = None, *,
                  reward: np.ndarray | None = None) -> np.ndarray:
    """Deterministic optimal policy ``(S,)`` on the planning model for reward weights ``omega``
    (or for an ``(S, A)`` reward table ``reward``)."""
    _, _, greedy = value_iteration(grid.planning_model, omega, reward=reward)
    return greedy


def greedy_value(grid: Gridworld, omega: np.ndarray | None = None, *,
                 reward: np.ndarray | None = None) -> float:
    """:math:`V^{\\pi_{\\hat\\omega}}(s_0)` under the true weights (exact policy evaluation) of
    the greedy policy for ``omega`` (or for a reward table ``reward``)."""
    policy = deterministic_policy(greedy_policy(grid, omega, reward=reward), grid.n_actions)
    return float(policy_evaluation(grid.planning_model, policy, grid.true_weights)[START_STATE])


def optimal_value(grid: Gridworld) -> float:
    """:math:`V^*(s_0)` under the true weights (2.0618 for the paper variant)."""
    V, _, _ = value_iteration(grid.planning_model, grid.true_weights)
    return float(V[START_STATE])


OPTIMAL_ATOL = 1e-6
"""Tolerance of "attains the optimal value" (values are exact policy evaluations)."""


def attains_optimum(value: float, optimal: float, atol: float = OPTIMAL_ATOL) -> bool:
    """True if ``value`` equals the optimal value ``optimal`` up to ``atol``."""
    return bool(value >= optimal - atol)


def is_optimal(grid: Gridworld, omega: np.ndarray, atol: float = OPTIMAL_ATOL) -> bool:
    """True if the greedy policy of ``omega`` attains the optimal value from s0."""
    return attains_optimum(greedy_value(grid, omega), optimal_value(grid), atol)


def _normalise(v: np.ndarray, centre: bool) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    if centre:
        v = v - v.mean()
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def weight_error(omega_hat: np.ndarray, omega_true: np.ndarray, centre: bool = True) -> float:
    """:math:`\\|\\bar{\\hat\\omega}-\\bar\\omega\\|_2` of the (centred, then) normalised vectors.

    With ``centre=True`` this ignores the unidentifiable scale and additive constant; it lies in
    ``[0, 2]`` (0: same direction, 2: opposite).
    """
    return float(np.linalg.norm(_normalise(omega_hat, centre) - _normalise(omega_true, centre)))


def cosine_similarity(omega_hat: np.ndarray, omega_true: np.ndarray, centre: bool = True) -> float:
    """Cosine between the (centred) weight vectors."""
    return float(_normalise(omega_hat, centre) @ _normalise(omega_true, centre))

