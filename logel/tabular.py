"""Tabular MDP tools: planning, (soft) policy evaluation, and *exact* feature expectations.

Everything here works on a :class:`TabularMDP` with a linear reward
:math:`R_\\omega = \\omega^\\top\\phi` (paper Sec. 1.2). The reward features can belong to the
current state (``feature_timing="current"``) or to the state reached after the action
(``"next"``, as the official gridworld sampler returns them); :func:`state_action_features`
turns either into expected state-action features :math:`\\Phi(s,a)\\in\\mathbb R^q`, after which
every function is timing-agnostic.

The exact finite-horizon feature expectations :math:`\\psi(\\theta)` and their exact Jacobian
:math:`\\nabla_\\theta\\psi(\\theta)` (paper Sec. 1.2, the objects of the exact-gradient setting)
are computed by forward state distributions and backward feature-valued Q-functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

FeatureTiming = Literal["current", "next"]


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP with linear-in-features rewards.

    Attributes:
        transitions: ``(S, A, S)`` array, ``transitions[s, a, s'] = P(s' | s, a)``; rows sum to 1.
        state_features: ``(S, q)`` array, the reward features :math:`\\phi(s)` of each state.
        start: ``(S,)`` initial-state distribution :math:`\\mu`.
        gamma: discount factor in ``[0, 1)``.
        feature_timing: ``"current"`` if the reward at time t is :math:`\\omega^\\top\\phi(s_t)`,
            ``"next"`` if it is :math:`\\omega^\\top\\phi(s_{t+1})`.
    """

    transitions: np.ndarray
    state_features: np.ndarray
    start: np.ndarray
    gamma: float
    feature_timing: FeatureTiming = "current"

    def __post_init__(self) -> None:
        P = np.asarray(self.transitions, dtype=float)
        if P.ndim != 3 or P.shape[0] != P.shape[2]:
            raise ValueError(f"transitions must have shape (S, A, S), got {P.shape}")
        S = P.shape[0]
        if not np.allclose(P.sum(axis=2), 1.0, atol=1e-10) or (P < 0).any():
            raise ValueError("transitions: every row P[s, a, :] must be a probability vector")
        phi = np.asarray(self.state_features, dtype=float)
        if phi.ndim != 2 or phi.shape[0] != S:
            raise ValueError(f"state_features must have shape (S={S}, q), got {phi.shape}")
        mu = np.asarray(self.start, dtype=float)
        if mu.shape != (S,) or not np.isclose(mu.sum(), 1.0) or (mu < 0).any():
            raise ValueError(f"start must be a probability vector of shape ({S},)")
        if not 0.0 <= self.gamma < 1.0:
            raise ValueError(f"gamma must lie in [0, 1), got {self.gamma}")
        if self.feature_timing not in ("current", "next"):
            raise ValueError("feature_timing must be 'current' or 'next'")
        object.__setattr__(self, "transitions", P)
        object.__setattr__(self, "state_features", phi)
        object.__setattr__(self, "start", mu)

    @property
    def n_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def n_actions(self) -> int:
        return self.transitions.shape[1]

    @property
    def n_features(self) -> int:
        return self.state_features.shape[1]


def state_action_features(mdp: TabularMDP) -> np.ndarray:
    """Expected one-step features :math:`\\Phi(s,a)=\\mathbb E[\\phi_t\\mid s_t=s,a_t=a]`, ``(S, A, q)``."""
    if mdp.feature_timing == "current":
        return np.broadcast_to(mdp.state_features[:, None, :], (*mdp.transitions.shape[:2],
                                                                 mdp.n_features)).copy()
    return mdp.transitions @ mdp.state_features


def reward_table(mdp: TabularMDP, omega: np.ndarray) -> np.ndarray:
    """Expected reward :math:`r(s,a)=\\Phi(s,a)^\\top\\omega`, shape ``(S, A)``."""
    omega = np.asarray(omega, dtype=float)
    if omega.shape != (mdp.n_features,):
        raise ValueError(f"omega must have shape ({mdp.n_features},), got {omega.shape}")
    return state_action_features(mdp) @ omega


def policy_transition_matrix(mdp: TabularMDP, policy: np.ndarray) -> np.ndarray:
    """State-to-state kernel :math:`P_\\pi(s,s')=\\sum_a\\pi(a|s)P(s'|s,a)`, ``(S, S)``."""
    return np.einsum("sa,sat->st", policy, mdp.transitions)


def value_iteration(
    mdp: TabularMDP, omega: np.ndarray | None = None, *, reward: np.ndarray | None = None,
    tol: float = 1e-10, max_iter: int = 100_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Infinite-horizon discounted value iteration.

    Args:
        mdp: the MDP.
        omega: ``(q,)`` reward weights (reward :math:`\\omega^\\top\\Phi(s,a)`), or None.
        reward: ``(S, A)`` reward table, used instead of ``omega`` (e.g. LfL's reward).
        tol: stopping tolerance on the sup-norm change of the values.
        max_iter: iteration cap.

    Returns:
        ``(V, Q, greedy)``: optimal values ``(S,)``, action values ``(S, A)`` and a deterministic
        greedy policy ``(S,)`` (ties broken towards the lowest action index).
    """
    if (omega is None) == (reward is None):
        raise ValueError("give exactly one of omega (q,) and reward (S, A)")
    if reward is None:
        r = reward_table(mdp, omega)
    else:
        r = np.asarray(reward, dtype=float)
        if r.shape != mdp.transitions.shape[:2]:
            raise ValueError(f"reward must have shape (S, A) = {mdp.transitions.shape[:2]}, "
                             f"got {r.shape}")
    V = np.zeros(mdp.n_states)
    for _ in range(max_iter):
        Q = r + mdp.gamma * mdp.transitions @ V
        V_new = Q.max(axis=1)
        if np.max(np.abs(V_new - V)) <= tol:
            V = V_new
            break
        V = V_new
    Q = r + mdp.gamma * mdp.transitions @ V
    return V, Q, Q.argmax(axis=1)


def deterministic_policy(actions: np.ndarray, n_actions: int) -> np.ndarray:
    """One-hot ``(S, A)`` policy table from an ``(S,)`` array of actions."""
    return np.eye(n_actions)[np.asarray(actions, dtype=int)]


def policy_evaluation(mdp: TabularMDP, policy: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """Exact infinite-horizon value :math:`V^\\pi=(I-\\gamma P_\\pi)^{-1}r_\\pi`, shape ``(S,)``."""
    r_pi = np.einsum("sa,sa->s", policy, reward_table(mdp, omega))
    A = np.eye(mdp.n_states) - mdp.gamma * policy_transition_matrix(mdp, policy)
    return np.linalg.solve(A, r_pi)


def soft_policy_evaluation(
    mdp: TabularMDP, policy: np.ndarray, omega: np.ndarray, temperature: float
) -> tuple[np.ndarray, np.ndarray]:
    """Exact entropy-regularised evaluation of ``policy``.

    Solves :math:`v(s)=\\sum_a\\pi(a|s)[q(s,a)-\\tau\\log\\pi(a|s)]`,
    :math:`q=r+\\gamma Pv` in closed form (the fixed point the official SPI learner approaches
    by sweeps).

    Returns:
        ``(q, v)`` with shapes ``(S, A)`` and ``(S,)``.
    """
    r = reward_table(mdp, omega)
    with np.errstate(divide="ignore", invalid="ignore"):
        neg_entropy = np.where(policy > 0, policy * np.log(policy), 0.0).sum(axis=1)
    r_pi = np.einsum("sa,sa->s", policy, r) - temperature * neg_entropy
    A = np.eye(mdp.n_states) - mdp.gamma * policy_transition_matrix(mdp, policy)
    v = np.linalg.solve(A, r_pi)
    return r + mdp.gamma * mdp.transitions @ v, v


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax."""
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def soft_policy_iteration(
    mdp: TabularMDP, omega: np.ndarray, temperature: float, n_iter: int,
    initial_policy: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Soft policy iteration :math:`\\pi_{k+1}=\\mathrm{softmax}(q^{\\pi_k}_{soft}/\\tau)`.

    Returns the list of ``n_iter + 1`` policies, starting with ``initial_policy`` (uniform if None).
    """
    pi = (np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
          if initial_policy is None else np.asarray(initial_policy, dtype=float))
    policies = [pi]
    for _ in range(n_iter):
        q, _ = soft_policy_evaluation(mdp, pi, omega, temperature)
        pi = softmax(q / temperature, axis=1)
        policies.append(pi)
    return policies


def soft_bellman_backup(
    mdp: TabularMDP, omega: np.ndarray, q: np.ndarray, temperature: float = 1.0
) -> np.ndarray:
    """One soft-value-iteration backup :math:`q\\leftarrow r+\\gamma P\\,\\tau\\log\\sum_a e^{q/\\tau}`."""
    z = q / temperature
    m = z.max(axis=1)
    v = temperature * (m + np.log(np.exp(z - m[:, None]).sum(axis=1)))
    return reward_table(mdp, omega) + mdp.gamma * mdp.transitions @ v


def state_distributions(mdp: TabularMDP, policy: np.ndarray, horizon: int) -> np.ndarray:
    """Marginal state distributions :math:`d_t`, ``t = 0..horizon-1``, shape ``(horizon, S)``."""
    P_pi = policy_transition_matrix(mdp, policy)
    d = np.empty((horizon, mdp.n_states))
    d[0] = mdp.start
    for t in range(1, horizon):
        d[t] = d[t - 1] @ P_pi
    return d


def feature_expectations(mdp: TabularMDP, policy: np.ndarray, horizon: int) -> np.ndarray:
    """Exact finite-horizon discounted feature expectations (paper Sec. 1.2).

    :math:`\\psi=\\mathbb E\\big[\\sum_{t<T}\\gamma^t\\phi_t\\big]
    =\\sum_{t<T}\\gamma^t\\sum_{s,a}d_t(s)\\pi(a|s)\\Phi(s,a)`, shape ``(q,)``.
    """
    d = state_distributions(mdp, policy, horizon)
    discounts = mdp.gamma ** np.arange(horizon)
    occupancy = np.einsum("t,ts,sa->sa", discounts, d, policy)
    return np.einsum("sa,saq->q", occupancy, state_action_features(mdp))


def feature_expectations_jacobian(
    mdp: TabularMDP, policy: np.ndarray, policy_jacobian: np.ndarray, horizon: int
) -> np.ndarray:
    """Exact Jacobian :math:`\\nabla_\\theta\\psi(\\theta)\\in\\mathbb R^{d\\times q}` (paper Sec. 1.2).

    By the finite-horizon policy-gradient theorem applied to each feature column,

    .. math::
        \\nabla_\\theta\\psi=\\sum_{t<T}\\gamma^t\\sum_{s,a}d_t(s)\\,
        \\nabla_\\theta\\pi(a|s)\\,Q^{\\phi}_{T-t}(s,a)^\\top,

    where :math:`Q^\\phi_k` is the feature-valued action value with ``k`` steps to go:
    :math:`Q^\\phi_1=\\Phi`, :math:`Q^\\phi_k=\\Phi+\\gamma P\\,(\\pi\\cdot Q^\\phi_{k-1})`.

    Args:
        mdp: the MDP (its ``start`` is the trajectory start distribution).
        policy: ``(S, A)`` action probabilities :math:`\\pi_\\theta(a|s)`.
        policy_jacobian: ``(S, A, d)`` derivatives :math:`\\partial\\pi_\\theta(a|s)/\\partial\\theta`.
        horizon: trajectory length ``T``.

    Returns:
        ``(d, q)`` Jacobian.
    """
    S, A = policy.shape
    if policy_jacobian.shape[:2] != (S, A):
        raise ValueError(f"policy_jacobian must have shape (S={S}, A={A}, d), "
                         f"got {policy_jacobian.shape}")
    Phi = state_action_features(mdp)
    d = state_distributions(mdp, policy, horizon)
    weighted = np.zeros_like(Phi)  # sum_t gamma^t d_t(s) Q^phi_{T-t}(s, a, :)
    q_to_go = Phi.copy()  # Q^phi_1
    for t in range(horizon - 1, -1, -1):  # t = T-1 uses Q_1, t = 0 uses Q_T
        weighted += (mdp.gamma ** t) * d[t][:, None, None] * q_to_go
        if t > 0:
            v_to_go = np.einsum("sa,saq->sq", policy, q_to_go)
            q_to_go = Phi + mdp.gamma * np.einsum("sat,tq->saq", mdp.transitions, v_to_go)
    return np.einsum("sad,saq->dq", policy_jacobian, weighted)
