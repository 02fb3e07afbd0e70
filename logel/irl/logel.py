"""Recover reward weights from a gradient-based learner's parameter changes.

The learner is assumed to update (paper Sec. 1.4)

.. math:: \\theta_{t+1}=\\theta_t+\\alpha_t\\nabla\\psi_t\\,\\omega,\\qquad\\alpha_t>0,

so the observer minimises (paper Secs. 2 and 4)

.. math:: L(\\omega,\\alpha)=\\sum_{t=1}^m\\big\\|\\Delta_t-\\alpha_t\\nabla\\psi_t\\,\\omega\\big\\|_2^2 .

* Known learning rates (exact and approximate settings): :func:`solve_weights`, linear least
  squares in :math:`\\omega`.
* Unknown learning rates (realistic setting): :func:`fit`, block-coordinate descent alternating
  the exact :math:`\\alpha`-block (a projected 1-D least squares per step) and the
  :math:`\\omega`-block (least squares).

Both first reduce each block with a thin QR factorisation :math:`\\nabla\\psi_t=Q_tR_t`: since
:math:`\\|\\Delta_t-\\alpha_tQ_tR_t\\omega\\|^2=\\|Q_t^\\top\\Delta_t-\\alpha_tR_t\\omega\\|^2+
\\mathrm{const}`, every later step works on :math:`q\\times q` blocks, whatever ``d`` is.
Least squares is solved by SVD with a relative cut-off (minimum-norm solution), never by
inverting the normal equations.

Identifiability: :math:`\\omega` is determined (up to a positive scale when the learning rates
are unknown) iff the stacked Jacobians :math:`[\\nabla\\psi_1;\\dots;\\nabla\\psi_m]` have rank
``q``. One-hot features that partition the state space (as on the gridworld) satisfy
:math:`\\nabla\\psi\\,\\mathbf 1=0`, so the all-ones direction is never identifiable; pass
``null_directions=np.ones(q)`` to fix it to zero.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from logel._validation import as_array

RANK_RTOL = 1e-9
"""Singular values below ``RANK_RTOL * largest`` count as zero (rank and null space)."""
ILL_CONDITIONED = 1e6
"""Condition numbers above this trigger an :class:`IdentifiabilityWarning`."""


class IdentifiabilityWarning(UserWarning):
    """The stacked Jacobians do not determine the weights (rank-deficient or ill-conditioned)."""


class DegenerateGradientWarning(UserWarning):
    """:math:`\\nabla\\psi_t\\omega=0` for some step, so its learning rate is undetermined."""


@dataclass(frozen=True)
class Identifiability:
    """Diagnostics of the stacked Jacobians restricted to the free directions of ``omega``.

    Attributes:
        rank: numerical rank (relative tolerance :data:`RANK_RTOL`).
        n_free: number of free directions, ``q`` minus the number of ``null_directions``.
        condition_number: ratio of the largest to the smallest singular value (``inf`` if 0).
        singular_values: ``(n_free,)`` singular values, descending.
        null_space: ``(q, n_free - rank)`` orthonormal directions of ``omega`` the data do not
            determine (beyond the fixed ones).
        fixed_directions: ``(q, k)`` orthonormal directions constrained to zero by the caller.
        note: plain-language summary, including the scale ambiguity when learning rates are
            unknown.
    """

    rank: int
    n_free: int
    condition_number: float
    singular_values: np.ndarray
    null_space: np.ndarray
    fixed_directions: np.ndarray
    note: str

    @property
    def identifiable(self) -> bool:
        """True if every free direction is determined and the problem is well conditioned."""
        return self.rank == self.n_free and self.condition_number <= ILL_CONDITIONED


@dataclass(frozen=True)
class LOGELResult:
    """Outcome of :func:`fit` (block-coordinate descent with unknown learning rates).

    Attributes:
        weights: ``(q,)`` recovered :math:`\\hat\\omega` (scale fixed by ``alpha_min``/init).
        learning_rates: ``(m,)`` recovered :math:`\\hat\\alpha_t \\ge \\alpha_{min}`.
        objective: ``(n_iter + 1,)`` value of :math:`L(\\omega,\\alpha)` after the initial
            :math:`\\omega`-step and after every iteration; non-increasing.
        n_iter: number of BCD iterations run.
        converged: True if the relative change of ``weights`` fell below ``tol``.
        identifiability: rank / conditioning diagnostics of the stacked Jacobians.
    """

    weights: np.ndarray
    learning_rates: np.ndarray
    objective: np.ndarray
    n_iter: int
    converged: bool
    identifiability: Identifiability


@dataclass(frozen=True)
class _Reduced:
    """QR-reduced problem: ``R`` (m, r, q), ``z`` (m, r), ``offset`` = sum of residuals outside
    the column spans, ``basis`` (q, n_free) the free directions of omega."""

    R: np.ndarray
    z: np.ndarray
    offset: float
    basis: np.ndarray
    fixed: np.ndarray


def _check_inputs(deltas: Any, jacobians: Any) -> tuple[np.ndarray, np.ndarray]:
    J = as_array(jacobians, "jacobians", ndim=3, shape_doc="(m, d, q)")
    m, d, q = J.shape
    D = as_array(deltas, "deltas", ndim=2, shape_doc=f"(m, d) = ({m}, {d})")
    if D.shape != (m, d):
        raise ValueError(f"deltas must have shape (m, d) = ({m}, {d}) to match jacobians "
                         f"{J.shape}, got {D.shape}")
    return D, J


def _free_basis(null_directions: Any, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal bases of the fixed directions ``(q, k)`` and of their complement."""
    if null_directions is None:
        return np.eye(q), np.zeros((q, 0))
    N = np.atleast_2d(as_array(null_directions, "null_directions", ndim=np.ndim(null_directions),
                               shape_doc=f"({q},) or (k, {q})"))
    if N.ndim != 2 or N.shape[1] != q:
        raise ValueError(f"null_directions must have shape ({q},) or (k, {q}), got {N.shape}")
    U, s, _ = np.linalg.svd(N.T, full_matrices=True)
    k = int((s > RANK_RTOL * max(s.max(), 1e-300)).sum())
    if k == 0:
        raise ValueError("null_directions must contain at least one non-zero direction")
    if k >= q:
        raise ValueError("null_directions leave no free direction for omega")
    return U[:, k:], U[:, :k]


def _reduce(D: np.ndarray, J: np.ndarray, null_directions: Any) -> _Reduced:
    m, d, q = J.shape
    basis, fixed = _free_basis(null_directions, q)
    Q, R = np.linalg.qr(J, mode="reduced")  # (m, d, r), (m, r, q)
    z = np.einsum("mdr,md->mr", Q, D)
    offset = float(np.sum(D * D) - np.sum(z * z))
    return _Reduced(R, z, max(offset, 0.0), basis, fixed)


def _diagnose(red: _Reduced, learning_rates_known: bool) -> Identifiability:
    q = red.basis.shape[0]
    A = (red.R @ red.basis).reshape(-1, red.basis.shape[1])
    _, s, Vt = np.linalg.svd(A, full_matrices=True)
    s_full = np.zeros(red.basis.shape[1])
    s_full[: s.size] = s
    tol = RANK_RTOL * max(s_full.max(initial=0.0), 1e-300)
    rank = int((s_full > tol).sum())
    null_space = red.basis @ Vt[rank:].T
    cond = float(s_full[0] / s_full[-1]) if s_full[-1] > 0 else float("inf")
    notes = []
    if rank < red.basis.shape[1]:
        dirs = "; ".join(np.array2string(v, precision=3, suppress_small=True)
                         for v in null_space.T[:3])
        notes.append(f"rank {rank} < {red.basis.shape[1]} free directions: omega is not "
                     f"determined along {dirs}")
        ones = np.ones(q) / np.sqrt(q)
        if null_space.size and np.linalg.norm(null_space.T @ ones) > 0.99:
            notes.append("the all-ones direction is unidentifiable, as for one-hot features that "
                         "partition the states (sum_j phi_j = 1); pass "
                         "null_directions=np.ones(q) to fix it")
    elif cond > ILL_CONDITIONED:
        notes.append(f"ill-conditioned (condition number {cond:.3g})")
    else:
        notes.append(f"full rank {rank} (condition number {cond:.3g})")
    if red.fixed.shape[1]:
        notes.append(f"{red.fixed.shape[1]} direction(s) fixed to zero by null_directions")
    if not learning_rates_known:
        notes.append("learning rates unknown: omega is identifiable at most up to a positive "
                     "scale, fixed here by the learning-rate initialisation and lower bound")
    return Identifiability(rank, red.basis.shape[1], cond, s_full, null_space, red.fixed,
                           "; ".join(notes) + ".")


def _omega_step(red: _Reduced, alpha: np.ndarray) -> np.ndarray:
    """argmin_omega sum_t ||z_t - alpha_t R_t omega||^2 over the free directions (min-norm)."""
    A = (alpha[:, None, None] * (red.R @ red.basis)).reshape(-1, red.basis.shape[1])
    beta, *_ = np.linalg.lstsq(A, red.z.reshape(-1), rcond=RANK_RTOL)
    return red.basis @ beta


def _objective(red: _Reduced, omega: np.ndarray, alpha: np.ndarray) -> float:
    resid = red.z - alpha[:, None] * (red.R @ omega)
    return float(np.sum(resid * resid) + red.offset)


def identifiability(jacobians: Any, *, null_directions: Any = None,
                    learning_rates_known: bool = True) -> Identifiability:
    """Rank and conditioning of the stacked Jacobians ``(m, d, q)`` (paper Sec. 2)."""
    J = as_array(jacobians, "jacobians", ndim=3, shape_doc="(m, d, q)")
    return _diagnose(_reduce(np.zeros(J.shape[:2]), J, null_directions), learning_rates_known)


def _warn_if_unidentifiable(diag: Identifiability) -> None:
    if not diag.identifiable:
        warnings.warn(f"Weights are not well identified: {diag.note}", IdentifiabilityWarning,
                      stacklevel=3)


def solve_weights(deltas: Any, jacobians: Any, learning_rates: Any, *,
                  null_directions: Any = None) -> np.ndarray:
    """Closed-form weights for known learning rates (exact/approximate settings, paper Sec. 2).

    .. math:: \\hat\\omega=\\arg\\min_\\omega\\sum_t\\|\\Delta_t-\\alpha_t\\nabla\\psi_t\\omega\\|^2,

    the minimum-norm least-squares solution (the official code's
    :math:`(\\sum_t\\alpha_t^2\\nabla\\psi_t^\\top\\nabla\\psi_t)^{-1}\\sum_t\\alpha_t
    \\nabla\\psi_t^\\top\\Delta_t` when that matrix is invertible).

    Args:
        deltas: ``(m, d)`` parameter changes :math:`\\theta_{t+1}-\\theta_t`.
        jacobians: ``(m, d, q)`` Jacobians :math:`\\nabla\\psi_t` (exact or estimated).
        learning_rates: ``(m,)`` positive :math:`\\alpha_t`.
        null_directions: optional ``(q,)`` or ``(k, q)`` directions of omega fixed to zero.

    Returns:
        ``(q,)`` weights.

    Warns:
        IdentifiabilityWarning: if the stacked Jacobians are rank-deficient or ill-conditioned.
    """
    D, J = _check_inputs(deltas, jacobians)
    m = J.shape[0]
    alpha = as_array(learning_rates, "learning_rates", ndim=1, shape_doc=f"(m,) = ({m},)")
    if alpha.shape != (m,):
        raise ValueError(f"learning_rates must have shape (m,) = ({m},), got {alpha.shape}")
    if (alpha <= 0).any():
        raise ValueError("learning_rates must be positive")
    red = _reduce(D, J, null_directions)
    _warn_if_unidentifiable(_diagnose(red, learning_rates_known=True))
    return _omega_step(red, alpha)


def fit(deltas: Any, jacobians: Any, *, alpha_init: float | Any = 0.1, alpha_min: float = 0.01,
        tol: float = 1e-6, max_iter: int = 1000, null_directions: Any = None,
        callback: Callable[[int, np.ndarray, np.ndarray, float], None] | None = None
        ) -> LOGELResult:
    """Weights and learning rates by block-coordinate descent (realistic setting, paper Sec. 4).

    Starting from :math:`\\alpha^{(0)}` and the :math:`\\omega`-step, each iteration sets

    .. math::
        \\alpha_t\\leftarrow\\max\\Big\\{\\alpha_{min},\\,
        \\frac{\\Delta_t^\\top\\nabla\\psi_t\\omega}{\\|\\nabla\\psi_t\\omega\\|^2}\\Big\\},\\qquad
        \\omega\\leftarrow\\arg\\min_\\omega L(\\omega,\\alpha).

    Each block step is an exact minimisation, so the objective never increases. The loop stops
    when :math:`\\|\\omega^{(k)}-\\omega^{(k-1)}\\|\\le\\mathrm{tol}\\,\\|\\omega^{(k)}\\|` or after
    ``max_iter`` iterations (it always terminates, unlike the official MuJoCo loop). A step with
    :math:`\\nabla\\psi_t\\omega=0` keeps its previous learning rate (with a warning) instead of
    dividing by zero.

    Args:
        deltas: ``(m, d)`` parameter changes (true or behaviour-cloned).
        jacobians: ``(m, d, q)`` Jacobians at the (estimated) parameters.
        alpha_init: initial learning rates, a scalar or ``(m,)`` (official gridworld: 0.1).
        alpha_min: lower bound :math:`\\alpha_{min}>0` (official gridworld: 0.01).
        tol: relative tolerance on the change of ``omega``.
        max_iter: maximum number of iterations.
        null_directions: optional ``(q,)`` or ``(k, q)`` directions of omega fixed to zero
            (e.g. ``np.ones(q)`` for one-hot partition features).
        callback: called as ``callback(k, omega, alpha, objective)`` after every iteration.

    Returns:
        A :class:`LOGELResult`.
    """
    D, J = _check_inputs(deltas, jacobians)
    m = J.shape[0]
    if not alpha_min > 0:
        raise ValueError(f"alpha_min must be > 0, got {alpha_min}")
    if max_iter < 0 or tol < 0:
        raise ValueError("max_iter and tol must be non-negative")
    alpha = np.broadcast_to(np.asarray(alpha_init, dtype=float), (m,)).copy()
    if not np.all(np.isfinite(alpha)) or (alpha < alpha_min).any():
        raise ValueError(f"alpha_init must be finite and >= alpha_min = {alpha_min}")
    red = _reduce(D, J, null_directions)
    diag = _diagnose(red, learning_rates_known=False)
    _warn_if_unidentifiable(diag)

    omega = _omega_step(red, alpha)
    objective = [_objective(red, omega, alpha)]
    converged, n_iter, degenerate = False, 0, set()
    for k in range(1, max_iter + 1):
        u = red.R @ omega  # (m, r): J_t omega in the reduced coordinates
        uu = np.einsum("mr,mr->m", u, u)
        zu = np.einsum("mr,mr->m", red.z, u)
        scale = np.linalg.norm(red.R, axis=(1, 2)) * np.linalg.norm(omega)
        ok = uu > (1e-12 * scale) ** 2
        degenerate.update(np.flatnonzero(~ok).tolist())
        alpha = np.where(ok, np.maximum(alpha_min, zu / np.where(ok, uu, 1.0)), alpha)
        omega_new = _omega_step(red, alpha)
        change = np.linalg.norm(omega_new - omega)
        omega = omega_new
        objective.append(_objective(red, omega, alpha))
        n_iter = k
        if callback is not None:
            callback(k, omega.copy(), alpha.copy(), objective[-1])
        if change <= tol * np.linalg.norm(omega):
            converged = True
            break
    if degenerate:
        warnings.warn(f"J_t omega = 0 for step(s) {sorted(degenerate)}: their learning rates are "
                      "undetermined and were kept at their previous values",
                      DegenerateGradientWarning, stacklevel=2)
    if not np.any(omega):
        warnings.warn("The recovered weights are all zero (no parameter change is explained by "
                      "the Jacobians)", DegenerateGradientWarning, stacklevel=2)
    return LOGELResult(omega, alpha, np.asarray(objective), n_iter, converged, diag)
