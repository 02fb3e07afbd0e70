"""Vector-valued policy-gradient estimators of the Jacobian :math:`\\nabla_\\theta\\psi(\\theta)`.

Replacing the scalar reward of REINFORCE or G(PO)MDP by the feature vector gives one gradient
column per feature (paper Sec. 3.1). Both estimators use the component-wise, time-dependent
variance-minimising baseline of Peters & Schaal: for G(PO)MDP

.. math::
    b_{t,k,j}=\\frac{\\frac1N\\sum_i G_{i,t,k}^2F_{i,t,j}}{\\frac1N\\sum_iG_{i,t,k}^2+\\epsilon_b},
    \\qquad
    \\widehat{\\nabla\\psi}_{k,j}=\\frac1N\\sum_i\\sum_tG_{i,t,k}\\,(F_{i,t,j}-b_{t,k,j}),

with :math:`G_{i,t}=\\sum_{l\\le t}g_{i,l}` the cumulative score and
:math:`F_{i,t}=\\gamma^t\\phi_{i,t}`. Both estimators and their baselines are linear in the
reward, so ``gpomdp_jacobian(scores, features, gamma) @ omega`` is exactly the scalar-reward
G(PO)MDP gradient for reward :math:`\\omega^\\top\\phi` on the same samples.

Memory is :math:`O(NT(d+q)+Tdq)`: the sums over samples are contracted with ``einsum`` and the
:math:`(N,T,d,q)` outer products are never formed. These are the **only** estimators in the
project; the gridworld and MuJoCo paths both call them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logel._validation import as_array


def _prepare(scores: Any, features: Any, gamma: float, baseline_eps: float,
             mask: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    g = as_array(scores, "scores", ndim=3, shape_doc="(N, T, d)")
    phi = as_array(features, "features", ndim=3, shape_doc="(N, T, q)")
    valid = None
    if mask is not None:
        valid = np.asarray(mask, dtype=bool)
        if valid.shape != g.shape[:2]:
            raise ValueError(f"mask must have shape (N, T) = {g.shape[:2]}, got {valid.shape}")
    if phi.shape[:2] != g.shape[:2]:
        raise ValueError(f"features must have shape (N, T, q) = ({g.shape[0]}, {g.shape[1]}, q) "
                         f"to match scores {g.shape}, got {phi.shape}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    if baseline_eps < 0:
        raise ValueError(f"baseline_eps must be >= 0, got {baseline_eps}")
    return g, phi, valid


def gpomdp_jacobian(scores: Any, features: Any, gamma: float,
                    baseline_eps: float = 1e-3, mask: Any = None) -> np.ndarray:
    """G(PO)MDP estimate of the feature-expectation Jacobian, with baseline (paper Sec. 3.1).

    Args:
        scores: ``(N, T, d)`` per-step scores :math:`\\nabla_\\theta\\log\\pi(a_t|s_t)`.
        features: ``(N, T, q)`` per-step undiscounted features :math:`\\phi_t`.
        gamma: discount factor; step ``t`` of each trajectory is weighted by ``gamma**t``.
        baseline_eps: :math:`\\epsilon_b` in the baseline's denominator (official: 1e-3 on the
            gridworld, 1e-4 on MuJoCo).
        mask: optional ``(N, T)`` booleans, False on the padding after a trajectory ended
            (trajectories of unequal length, left-aligned); padded steps contribute nothing.

    Returns:
        ``(d, q)`` estimate of :math:`\\nabla_\\theta\\psi(\\theta)`.
    """
    g, phi, valid = _prepare(scores, features, gamma, baseline_eps, mask)
    N, T, _ = g.shape
    # time-major (T, N, .) layout keeps every per-step product a contiguous BLAS call
    G = np.cumsum(g.transpose(1, 0, 2), axis=0)  # (T, N, d) cumulative scores
    if valid is not None:
        G *= valid.T[:, :, None]
    F = phi.transpose(1, 0, 2) * (gamma ** np.arange(T))[:, None, None]  # (T, N, q)
    G2 = G * G
    # baseline numerator: one (d, N) @ (N, q) product per time step, (T, d, q) in all
    numerator = np.matmul(G2.transpose(0, 2, 1), F)
    baseline = numerator / (G2.sum(axis=1)[:, :, None] + N * baseline_eps)
    raw = G.reshape(T * N, -1).T @ F.reshape(T * N, -1)  # sum_{t,n} G F^T
    correction = np.einsum("tk,tkj->kj", G.sum(axis=1), baseline)
    return (raw - correction) / N


def reinforce_jacobian(scores: Any, features: Any, gamma: float,
                       baseline_eps: float = 1e-3) -> np.ndarray:
    """REINFORCE estimate of the feature-expectation Jacobian, with baseline (paper Sec. 3.1).

    :math:`\\frac1N\\sum_i\\big(\\sum_lg_{i,l}\\big)\\big(\\sum_t\\gamma^t\\phi_{i,t}-b\\big)^\\top`
    with the component-wise baseline
    :math:`b_{k,j}=\\overline{G_k^2R_j}/(\\overline{G_k^2}+\\epsilon_b)`, ``G`` the total score and
    ``R`` the discounted feature return of a trajectory.

    Args:
        scores: ``(N, T, d)`` per-step scores.
        features: ``(N, T, q)`` per-step undiscounted features.
        gamma: discount factor.
        baseline_eps: :math:`\\epsilon_b`.

    Returns:
        ``(d, q)`` estimate of :math:`\\nabla_\\theta\\psi(\\theta)`.
    """
    g, phi, _ = _prepare(scores, features, gamma, baseline_eps)
    N, T, _ = g.shape
    G = g.sum(axis=1)  # (N, d)
    R = np.einsum("ntj,t->nj", phi, gamma ** np.arange(T))  # (N, q)
    G2 = G * G
    baseline = (G2.T @ R) / (G2.sum(axis=0)[:, None] + N * baseline_eps)  # (d, q)
    return (G.T @ R - G.sum(axis=0)[:, None] * baseline) / N
