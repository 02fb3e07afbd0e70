"""A T-REX-style baseline: a linear reward learned from the *time order* of a learner's trajectories.

T-REX (Brown et al. 2019) learns a reward from ranked demonstrations with a Bradley–Terry model
on trajectory returns. Watching a learner gives a ranking for free, if one assumes that the
learner improves: a trajectory of a later policy is preferred to one of an earlier policy. This
observer uses nothing else -- no policy parameters, no gradients, no model -- so it is agnostic to
how the learner updates (gradient step, Adam, natural gradient, PPO, Q-learning ...).

With the reward linear in the features, :math:`R_\\omega(\\tau)=\\omega^\\top\\Phi(\\tau)`,
:math:`\\Phi(\\tau)=\\sum_t\\gamma^t\\phi_t` (:func:`trajectory_features`), the probability that
:math:`\\tau_j` (of policy :math:`l`) is preferred to :math:`\\tau_i` (of policy :math:`k<l`) is
:math:`\\sigma(\\omega^\\top(\\Phi(\\tau_j)-\\Phi(\\tau_i)))` and the weights minimise the ridge-
penalised negative log-likelihood of sampled pairs (:func:`bradley_terry_loss`)

.. math:: \\ell(\\omega)=\\frac1P\\sum_{p=1}^P\\log\\big(1+e^{-\\omega^\\top x_p}\\big)
    +\\frac\\lambda2\\|\\omega\\|^2,\\qquad x_p=\\Phi(\\tau_{j_p})-\\Phi(\\tau_{i_p}),

a convex logistic regression without intercept, solved by L-BFGS. With one-hot features that
partition the states every :math:`x_p` sums to zero, so the all-ones direction of :math:`\\omega`
is unidentifiable here too; the ridge sets it to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from logel._validation import boolean, integer, real
from logel.traces import LearnerTrace


@dataclass(frozen=True)
class TREXConfig:
    """Options of :func:`trex_reward`."""

    n_pairs: int = 5000
    """Pairs of trajectories sampled (policy pair uniform over ``k < l``, then one trajectory
    of each, uniformly)."""
    l2: float = 1e-3
    """Ridge :math:`\\lambda`."""
    discounted: bool = True
    """Rank by discounted (the learner's objective) or undiscounted feature sums."""
    max_iter: int = 500
    """L-BFGS iteration cap."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        integer(self.n_pairs, c + "n_pairs", low=1)
        real(self.l2, c + "l2", low=0)
        boolean(self.discounted, c + "discounted")
        integer(self.max_iter, c + "max_iter", low=1)


@dataclass(frozen=True)
class TREXResult:
    """Outcome of :func:`trex_reward`.

    Attributes:
        weights: ``(q,)`` the recovered :math:`\\hat\\omega`.
        accuracy: fraction of the sampled pairs the weights order as the time order does.
        loss: the final :math:`\\ell(\\hat\\omega)`.
        n_pairs: pairs used.
    """

    weights: np.ndarray
    accuracy: float
    loss: float
    n_pairs: int


def trajectory_features(features: np.ndarray, gamma: float, discounted: bool = True
                        ) -> np.ndarray:
    """:math:`\\Phi(\\tau)=\\sum_t\\gamma^t\\phi_t` (or :math:`\\sum_t\\phi_t`) of ``(..., T, q)``
    per-step features, shape ``(..., q)``."""
    T = features.shape[-2]
    weights = gamma ** np.arange(T) if discounted else np.ones(T)
    return np.einsum("...tq,t->...q", features, weights)


def ranking_pairs(n_policies: int, n_trajectories: int, n_pairs: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``(n_pairs, 4)`` int rows ``(k, i, l, j)``: trajectory ``i`` of policy ``k`` ranked below
    trajectory ``j`` of policy ``l > k`` (policy pair uniform over ``k < l``)."""
    if n_policies < 2:
        raise ValueError("a time ranking needs at least two policies")
    k, l_ = np.triu_indices(n_policies, 1)
    pick = rng.integers(0, k.size, n_pairs)
    rows = rng.integers(0, n_trajectories, (n_pairs, 2))
    return np.column_stack([k[pick], rows[:, 0], l_[pick], rows[:, 1]])


def bradley_terry_loss(omega: np.ndarray, diffs: np.ndarray, l2: float
                       ) -> tuple[float, np.ndarray]:
    """:math:`\\ell(\\omega)` and its gradient
    :math:`-\\frac1P\\sum_p\\sigma(-\\omega^\\top x_p)x_p+\\lambda\\omega` for ``(P, q)`` pair
    differences ``diffs`` (module docstring)."""
    z = diffs @ omega
    value = float(np.mean(np.logaddexp(0.0, -z)) + 0.5 * l2 * omega @ omega)
    sig = np.exp(-np.logaddexp(0.0, z))  # sigma(-z), stable
    grad = -(sig @ diffs) / len(z) + l2 * omega
    return value, grad


def trex_reward(trace: LearnerTrace, config: TREXConfig, rng: np.random.Generator
                ) -> TREXResult:
    """Linear reward weights from the time ranking of a trace's trajectories.

    Args:
        trace: the learner's trace (only its features are used; every policy's trajectories
            are ranked by the policy's index).
        config: options.
        rng: draws the pairs (e.g. :func:`logel.streams.cell_rng`).

    Returns:
        A :class:`TREXResult`.
    """
    phi = trajectory_features(np.asarray(trace.features, dtype=float), trace.gamma,
                              config.discounted)  # (K, N, q)
    pairs = ranking_pairs(trace.n_policies, trace.n_trajectories, config.n_pairs, rng)
    diffs = phi[pairs[:, 2], pairs[:, 3]] - phi[pairs[:, 0], pairs[:, 1]]
    scale = max(float(np.abs(diffs).max()), 1e-12)
    res = minimize(bradley_terry_loss, np.zeros(diffs.shape[1]), args=(diffs / scale, config.l2),
                   jac=True, method="L-BFGS-B", options={"maxiter": config.max_iter})
    omega = res.x / scale
    return TREXResult(omega, float(np.mean(diffs @ omega > 0)), float(res.fun), len(diffs))


__all__ = ["TREXConfig", "TREXResult", "bradley_terry_loss", "ranking_pairs",
           "trajectory_features", "trex_reward"]
