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

Memory is :math:`O(NT(d+q)+dq)`: the sums over samples are contracted by matrix products, one
time step at a time for the baseline, and the :math:`(N,T,d,q)` outer products are never
formed. These are the **only** estimators in the
project; the gridworld and MuJoCo paths both call them.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    G, F, N = _time_major(scores, features, gamma, baseline_eps, mask)
    T = G.shape[0]
    raw = (F.reshape(T * N, -1).T @ G.reshape(T * N, -1)).T  # sum_{t,n} G F^T, (d, q)
    # baseline correction sum_t (sum_n G_t) * b_t, one step at a time: the (N, d) squares of
    # one step stay in cache and no (T, N, d) or (T, d, q) temporary is formed
    correction = np.zeros_like(raw)
    for t, baseline in _step_baselines(G, F, baseline_eps):
        correction += G[t].sum(axis=0)[:, None] * baseline
    return (raw - correction) / N


def _time_major(scores: Any, features: Any, gamma: float, baseline_eps: float,
                mask: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated time-major cumulative scores ``G`` (T, N, d) (zero on padding) and discounted
    features ``F`` (T, N, q) of G(PO)MDP, and ``N``."""
    g, phi, valid = _prepare(scores, features, gamma, baseline_eps, mask)
    N, T, _ = g.shape
    # time-major (T, N, d) float64 copy, made in one pass and summed in place: G[t] is the
    # cumulative score of step t, and every per-step product below is one contiguous BLAS call
    G = np.array(g.transpose(1, 0, 2), dtype=np.float64)
    np.cumsum(G, axis=0, out=G)
    if valid is not None:
        G *= valid.T[:, :, None]
    F = phi.transpose(1, 0, 2) * (gamma ** np.arange(T))[:, None, None]  # (T, N, q)
    return G, F, N


def _step_baselines(G: np.ndarray, F: np.ndarray,
                    baseline_eps: float) -> Iterator[tuple[int, np.ndarray]]:
    """The ``(d, q)`` G(PO)MDP baseline :math:`b_t` of every step ``t`` (module docstring)."""
    N = G.shape[1]
    for t in range(G.shape[0]):
        G2 = G[t] * G[t]
        yield t, (F[t].T @ G2).T / (G2.sum(axis=0)[:, None] + N * baseline_eps)


def _trajectory_terms(scores: Any, features: Any, gamma: float, baseline_eps: float,
                      mask: Any) -> np.ndarray:
    """``(N, d, q)`` per-trajectory terms :math:`X_i` whose mean is :func:`gpomdp_jacobian`."""
    G, F, N = _time_major(scores, features, gamma, baseline_eps, mask)
    if N < 2:
        raise ValueError(f"a standard error needs N >= 2 trajectories, got {N}")
    terms = np.einsum("tnk,tnj->nkj", G, F)  # (N, d, q)
    for t, baseline in _step_baselines(G, F, baseline_eps):
        terms -= G[t][:, :, None] * baseline[None]
    return terms


def gpomdp_jacobian_stderr(scores: Any, features: Any, gamma: float,
                           baseline_eps: float = 1e-3, mask: Any = None) -> np.ndarray:
    """Standard error of every entry of :func:`gpomdp_jacobian` (paper Sec. 3.1).

    The estimate is the mean over trajectories of the per-trajectory terms
    :math:`X_{i,k,j}=\\sum_tG_{i,t,k}(F_{i,t,j}-b_{t,k,j})`; this returns their sample standard
    deviation (``ddof=1``) divided by :math:`\\sqrt N`. **Approximation**: the baseline
    :math:`b_t` is computed from the same batch and treated as fixed; its own sampling error,
    of order :math:`1/N` in the estimate, is ignored (the CLT standard error of a mean of
    i.i.d. terms). The baseline is the one of :func:`gpomdp_jacobian`, computed by the same
    code, so ``X.mean(0)`` is that estimate up to rounding.

    Memory is :math:`O(NT(d+q)+Ndq)`: the ``(N, d, q)`` per-trajectory terms are formed.

    Args:
        scores: ``(N, T, d)`` per-step scores, as for :func:`gpomdp_jacobian`.
        features: ``(N, T, q)`` per-step undiscounted features.
        gamma: discount factor.
        baseline_eps: :math:`\\epsilon_b`.
        mask: optional ``(N, T)`` validity mask.

    Returns:
        ``(d, q)`` standard errors; the square root of the diagonal of
        :func:`gpomdp_jacobian_covariance`.
    """
    terms = _trajectory_terms(scores, features, gamma, baseline_eps, mask)
    return terms.std(axis=0, ddof=1) / np.sqrt(terms.shape[0])


def gpomdp_jacobian_covariance(scores: Any, features: Any, gamma: float,
                               baseline_eps: float = 1e-3, mask: Any = None) -> np.ndarray:
    """Covariance across features of every row of :func:`gpomdp_jacobian` (paper Sec. 3.1).

    ``C[k]`` is the ``(q, q)`` covariance of the estimate's row ``k``
    (:math:`\\widehat{\\nabla\\psi}_{k,:}`): the sample covariance of the per-trajectory terms
    divided by ``N``, with the same fixed-baseline approximation as
    :func:`gpomdp_jacobian_stderr` (whose squares are its diagonal). The off-diagonal terms
    matter: with one-hot features (:math:`\\sum_j\\phi_j=1`) the columns' errors are strongly
    negatively correlated, so the error along a direction :math:`v` of the weights,
    :math:`\\sqrt{v^\\top C_kv}`, can be far below what the entry-wise standard errors suggest.
    Pass a stack as ``jacobian_covariance`` to :func:`logel.identifiability`,
    :func:`logel.solve_weights` or :func:`logel.fit`.

    Returns:
        ``(d, q, q)`` covariances.
    """
    terms = _trajectory_terms(scores, features, gamma, baseline_eps, mask)
    N = terms.shape[0]
    centred = terms - terms.mean(axis=0)
    return np.einsum("nki,nkj->kij", centred, centred) / ((N - 1) * N)


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
