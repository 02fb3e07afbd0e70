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

Identifiability above the noise: with *estimated* Jacobians
:math:`\\widehat{\\nabla\\psi}_t=\\nabla\\psi_t+E_t`, estimation noise makes a rank-deficient stack
look full rank. Pass ``jacobian_stderr`` (entry-wise standard errors, e.g. from
:func:`logel.gpomdp_jacobian_stderr`) and singular values below the noise floor
(:func:`logel.irl.logel.direction_noise`) count as zero; row covariances
(``jacobian_covariance``) are preferred over entry-wise standard errors.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.linalg import lapack

from logel._validation import (
    as_array,
    boolean,
    choice,
    finite_result,
    integer,
    power_of_two_scale,
    real,
)

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
            unknown, and the comparison with the noise floor when standard errors are given.
    """

    rank: int
    n_free: int
    condition_number: float
    singular_values: np.ndarray
    null_space: np.ndarray
    fixed_directions: np.ndarray
    note: str
    noise: np.ndarray | None = None
    """``(n_free,)`` :func:`logel.irl.logel.direction_noise` along each singular value's right singular vector;
    None if no Jacobian standard errors or covariances were given."""
    rank_above_noise: int | None = None
    """Number of singular values above their ``noise``; None without standard errors."""

    @property
    def identifiable(self) -> bool:
        """True if every free direction is determined, the problem is well conditioned and (if
        standard errors were given) every singular value lies above the noise floor."""
        return (self.rank == self.n_free and self.condition_number <= ILL_CONDITIONED
                and (self.rank_above_noise is None or self.rank_above_noise == self.n_free))

    @property
    def above_noise(self) -> bool:
        """False if standard errors were given and some singular value lies below the floor."""
        return self.rank_above_noise is None or self.rank_above_noise == self.n_free


@dataclass(frozen=True)
class LOGELResult:
    """Outcome of :func:`fit` (block-coordinate descent with unknown learning rates).

    Attributes:
        weights: ``(q,)`` recovered :math:`\\hat\\omega` (scale fixed by ``alpha_min``/init).
        learning_rates: ``(m,)`` recovered :math:`\\hat\\alpha_t \\ge \\alpha_{min}`.
        objective: ``(n_iter + 1,)`` value of :math:`L(\\omega,\\alpha)` after the initial
            :math:`\\omega`-step and after every iteration; non-increasing.
            In the caller's units; the fit itself runs on inputs normalised by powers of two
            (scale-free), so only this value can overflow to ``inf`` (or underflow to 0) for
            deltas beyond about 1e154 (below 1e-162); weights and learning rates do not.
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
class ReducedProblem:
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


@dataclass(frozen=True)
class _Scales:
    """Powers of two near the largest |delta| and |jacobian| entries: the problem is solved on
    ``D / deltas`` and ``J / jacobians`` and mapped back, so that the results are equivariant to
    scaling the inputs (omega scales as ``deltas / jacobians``, learning rates not at all) and
    no square overflows or underflows. Powers of two keep every digit of well-scaled inputs."""

    deltas: float
    jacobians: float

    @classmethod
    def of(cls, D: np.ndarray, J: np.ndarray) -> _Scales:
        return cls(power_of_two_scale(D), power_of_two_scale(J))

    def weights(self, omega: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", under="ignore"):
            out = omega * (self.deltas / self.jacobians) if self.deltas >= self.jacobians \
                else omega / (self.jacobians / self.deltas)
        return finite_result(out, "the weights",
                             ": deltas are too large for jacobians this small")

    def objective(self, value: float) -> float:
        with np.errstate(over="ignore"):
            return float(np.float64(value) * self.deltas * self.deltas)

    def diagnosis(self, diag: Identifiability) -> Identifiability:
        noise = None if diag.noise is None else diag.noise * self.jacobians
        return dataclasses.replace(diag, singular_values=diag.singular_values * self.jacobians,
                                   noise=noise)


def _scaled_covariance(S: np.ndarray | None, scale: float) -> np.ndarray | None:
    if S is None:
        return None
    with np.errstate(under="ignore"):
        return S / scale / scale


def _noise_covariance(jacobian_stderr: Any, jacobian_covariance: Any,
                      shape: tuple[int, ...]) -> np.ndarray | None:
    """``(m, d, q, q)`` covariances of the Jacobian rows, or None (validated)."""
    if jacobian_stderr is not None and jacobian_covariance is not None:
        raise ValueError("pass at most one of jacobian_stderr and jacobian_covariance")
    if jacobian_covariance is not None:
        expected = (*shape, shape[-1])
        C = as_array(jacobian_covariance, "jacobian_covariance", ndim=4,
                     shape_doc=f"(m, d, q, q) = {expected}")
        if C.shape != expected:
            raise ValueError(f"jacobian_covariance must have shape (m, d, q, q) = {expected} to "
                             f"match jacobians, got {C.shape}")
        return C
    if jacobian_stderr is None:
        return None
    S = as_array(jacobian_stderr, "jacobian_stderr", ndim=3, shape_doc=f"(m, d, q) = {shape}")
    if S.shape != shape:
        raise ValueError(f"jacobian_stderr must have shape (m, d, q) = {shape} to match "
                         f"jacobians, got {S.shape}")
    if (S < 0).any():
        raise ValueError("jacobian_stderr must be finite and non-negative")
    with np.errstate(over="ignore", under="ignore"):
        C = S[..., :, None] * S[..., None, :] * np.eye(shape[-1])
    return finite_result(C, "jacobian_stderr squared", " (pass jacobian_covariance instead)")


def direction_noise(jacobian_covariance: Any, directions: Any) -> np.ndarray:
    """Root-mean-square estimation error of the stacked Jacobians along weight directions.

    For a unit direction :math:`v` of :math:`\\omega` and estimates
    :math:`\\widehat{\\nabla\\psi}_t=\\nabla\\psi_t+E_t` whose rows have covariance
    :math:`C_{t,k}`, :math:`\\mathbb E\\|[E_1;\\dots;E_m]v\\|^2=\\sum_{t,k}v^\\top C_{t,k}v`
    whatever the correlations between rows and steps. This is the noise floor of the singular
    value :math:`\\sigma_i=\\|\\hat A v_i\\|` of the stacked estimate along its right singular
    vector :math:`v_i` (paper Sec. 2): if the true Jacobians annihilate :math:`v_i`,
    :math:`\\hat Av_i=Ev_i` and :math:`\\sigma_i` is of this size; a singular value at or below
    it cannot be told apart from zero. Measuring the noise *along* :math:`v_i` rather than by
    the entry-wise standard errors matters: with one-hot features the columns' errors cancel
    along directions orthogonal to :math:`\\mathbf 1`
    (:func:`logel.gpomdp_jacobian_covariance`).

    Args:
        jacobian_covariance: ``(m, d, q, q)`` row covariances.
        directions: ``(q, n)`` directions (columns).

    Returns:
        ``(n,)`` noise levels.
    """
    C = as_array(jacobian_covariance, "jacobian_covariance", ndim=4, shape_doc="(m, d, q, q)")
    V = as_array(directions, "directions", ndim=2, shape_doc=f"({C.shape[-1]}, n)")
    if C.shape[-2] != C.shape[-1] or V.shape[0] != C.shape[-1]:
        raise ValueError(f"jacobian_covariance (m, d, q, q) and directions (q, n) must agree on "
                         f"q, got {C.shape} and {V.shape}")
    sc, sv = power_of_two_scale(C), power_of_two_scale(V)  # scale-free: no overflow
    out = np.sqrt(np.maximum(np.einsum("tkij,in,jn->n", C / sc, V / sv, V / sv), 0.0))
    with np.errstate(over="ignore", under="ignore"):
        return out * np.sqrt(sc) * sv


def _free_basis(null_directions: Any, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal bases of the fixed directions ``(q, k)`` and of their complement."""
    if null_directions is None:
        return np.eye(q), np.zeros((q, 0))
    ndim = np.ndim(null_directions) if np.ndim(null_directions) in (1, 2) else 2
    N = np.atleast_2d(as_array(null_directions, "null_directions", ndim=ndim,
                               shape_doc=f"({q},) or (k, {q})"))
    if N.ndim != 2 or N.shape[1] != q:
        raise ValueError(f"null_directions must have shape ({q},) or (k, {q}), got {N.shape}")
    N = N / power_of_two_scale(N)  # directions: their scale does not matter
    U, s, _ = np.linalg.svd(N.T, full_matrices=True)
    k = int((s > RANK_RTOL * max(s.max(), 1e-300)).sum())
    if k == 0:
        raise ValueError("null_directions must contain at least one non-zero direction")
    if k >= q:
        raise ValueError("null_directions leave no free direction for omega")
    return U[:, k:], U[:, :k]


def reduce_problem(D: np.ndarray, J: np.ndarray, null_directions: Any) -> ReducedProblem:
    """Steps 2-4 of the closed form: thin QR factorisations :math:`\\nabla\\psi_t=Q_tR_t`,
    :math:`z_t=Q_t^\\top\\Delta_t`, and a basis of the free directions of :math:`\\omega`.

    Args:
        D: ``(m, d)`` parameter changes :math:`\\Delta_t`.
        J: ``(m, d, q)`` Jacobians.
        null_directions: directions of :math:`\\omega` fixed to zero (``(q,)``, ``(k, q)`` or
            None).

    Returns:
        The :class:`ReducedProblem` every later step works on (``q x q`` blocks, whatever
        ``d`` is).
    """
    m, d, q = J.shape
    basis, fixed = _free_basis(null_directions, q)
    Q, R = np.linalg.qr(J, mode="reduced")  # (m, d, r), (m, r, q)
    z = np.einsum("mdr,md->mr", Q, D)
    offset = float(np.sum(D * D) - np.sum(z * z))
    return ReducedProblem(R, z, max(offset, 0.0), basis, fixed)


def _diagnose(red: ReducedProblem, learning_rates_known: bool,
              cov: np.ndarray | None = None) -> Identifiability:
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
    noise, rank_noise = None, None
    if cov is not None:
        noise = direction_noise(cov, red.basis @ Vt[: red.basis.shape[1]].T)
        below = s_full <= noise
        rank_noise = int((~below).sum())
        if rank_noise < red.basis.shape[1]:
            pairs = ", ".join(f"{a:.3g} <= {b:.3g}" for a, b in zip(s_full[below], noise[below],
                                                                   strict=True))
            notes.append(f"{red.basis.shape[1] - rank_noise} singular value(s) lie at or below "
                         f"the estimation noise along their direction ({pairs}): omega is not "
                         f"identified above the estimation noise")
        else:
            notes.append(f"every singular value exceeds the estimation noise along its "
                         f"direction (smallest ratio {np.min(s_full / noise):.3g})")
    if red.fixed.shape[1]:
        notes.append(f"{red.fixed.shape[1]} direction(s) fixed to zero by null_directions")
    if not learning_rates_known:
        notes.append("learning rates unknown: omega is identifiable at most up to a positive "
                     "scale, fixed here by the learning-rate initialisation and lower bound")
    return Identifiability(rank, red.basis.shape[1], cond, s_full, null_space, red.fixed,
                           "; ".join(notes) + ".", noise, rank_noise)


def omega_step(red: ReducedProblem, alpha: np.ndarray) -> np.ndarray:
    """Step 6 of the closed form (and the :math:`\\omega`-block of :func:`fit`): the
    minimum-norm :math:`\\arg\\min_\\omega\\sum_t\\|z_t-\\alpha_tR_t\\omega\\|^2` over the
    free directions, by SVD with a relative cut-off.

    Args:
        red: the :class:`ReducedProblem` of :func:`reduce_problem`.
        alpha: ``(m,)`` learning rates.

    Returns:
        ``(q,)`` weights :math:`\\omega`.
    """
    A = (alpha[:, None, None] * (red.R @ red.basis)).reshape(-1, red.basis.shape[1])
    beta, *_ = np.linalg.lstsq(A, red.z.reshape(-1), rcond=RANK_RTOL)
    return red.basis @ beta


def _objective(red: ReducedProblem, omega: np.ndarray, alpha: np.ndarray) -> float:
    resid = red.z - alpha[:, None] * (red.R @ omega)
    return float(np.sum(resid * resid) + red.offset)


@dataclass(frozen=True)
class _RowSpace:
    """The :math:`\\omega`-block of :func:`fit` in a basis of what the data determine.

    Since every :math:`\\alpha_t\\ge\\alpha_{min}>0`, the stacked matrix
    :math:`[\\alpha_1R_1;\\dots;\\alpha_mR_m]B` has the null space of :math:`[R_1;\\dots;R_m]B`
    whatever :math:`\\alpha`: it is computed once, and on its orthogonal complement
    :math:`W` (orthonormal, ``(q, p)``) the minimum-norm :func:`omega_step` is the solution
    :math:`\\omega=W\\beta` of the ``(p, p)`` normal equations
    :math:`\\big(\\sum_t\\alpha_t^2G_t\\big)\\beta=\\sum_t\\alpha_th_t` with
    :math:`G_t=(R_tW)^\\top R_tW` and :math:`h_t=(R_tW)^\\top z_t` precomputed. Only used when
    the kept directions are well conditioned and the dropped ones numerically zero, so that it
    agrees with :func:`omega_step` to round-off; otherwise :func:`fit` keeps :func:`omega_step`.
    """

    W: np.ndarray
    RW: np.ndarray
    G: np.ndarray
    h: np.ndarray

    @classmethod
    def of(cls, red: ReducedProblem) -> _RowSpace | None:
        RB = red.R @ red.basis
        if RB.shape[2] == 0:
            return None
        _, s, Vt = np.linalg.svd(RB.reshape(-1, RB.shape[2]), full_matrices=False)
        if not s[0] > 0:
            return None
        keep = s > RANK_RTOL * s[0]
        if s[keep][-1] * ILL_CONDITIONED < s[0] or (s[~keep] > 1e-13 * s[0]).any():
            return None
        W = red.basis @ Vt[keep].T
        RW = red.R @ W
        return cls(W, RW, np.einsum("trp,trs->tps", RW, RW), np.einsum("trp,tr->tp", RW, red.z))

    def beta(self, alpha: np.ndarray) -> np.ndarray:
        """Coordinates :math:`\\beta` of the :math:`\\omega`-step in ``W``."""
        p = self.h.shape[1]
        M = ((alpha * alpha) @ self.G.reshape(len(alpha), p * p)).reshape(p, p)
        _, beta, info = lapack.dposv(M, alpha @ self.h)  # M is positive definite
        return beta if info == 0 else np.linalg.lstsq(M, alpha @ self.h, rcond=None)[0]


def identifiability(jacobians: Any, *, null_directions: Any = None,
                    learning_rates_known: bool = True, jacobian_stderr: Any = None,
                    jacobian_covariance: Any = None) -> Identifiability:
    """Rank and conditioning of the stacked Jacobians ``(m, d, q)`` (paper Sec. 2).

    With estimated Jacobians, pass their ``(m, d, q, q)`` row covariances
    (``jacobian_covariance``, from :func:`logel.gpomdp_jacobian_covariance`) or, if
    only those are available, their ``(m, d, q)`` standard errors (``jacobian_stderr``, entries
    then treated as uncorrelated, which overstates the noise for one-hot features): singular
    values at or below the :func:`logel.irl.logel.direction_noise` along their direction then count as zero
    (``Identifiability.rank_above_noise``).
    """
    J = as_array(jacobians, "jacobians", ndim=3, shape_doc="(m, d, q)")
    learning_rates_known = boolean(learning_rates_known, "learning_rates_known")
    S = _noise_covariance(jacobian_stderr, jacobian_covariance, J.shape)
    scales = _Scales(1.0, power_of_two_scale(J))
    red = reduce_problem(np.zeros(J.shape[:2]), J / scales.jacobians, null_directions)
    return scales.diagnosis(_diagnose(red, learning_rates_known,
                                      _scaled_covariance(S, scales.jacobians)))


def _warn_if_unidentifiable(diag: Identifiability) -> None:
    if not diag.above_noise:
        warnings.warn(f"Weights are not identified above the estimation noise: {diag.note}",
                      IdentifiabilityWarning, stacklevel=3)
    elif not diag.identifiable:
        warnings.warn(f"Weights are not well identified: {diag.note}", IdentifiabilityWarning,
                      stacklevel=3)


def solve_weights(deltas: Any, jacobians: Any, learning_rates: Any, *,
                  null_directions: Any = None, jacobian_stderr: Any = None,
                  jacobian_covariance: Any = None) -> np.ndarray:
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
        jacobian_stderr: optional ``(m, d, q)`` standard errors of estimated Jacobians
            (:func:`logel.gpomdp_jacobian_stderr`); used only by the diagnosis
            (:func:`identifiability`).
        jacobian_covariance: optional ``(m, d, q, q)`` row covariances instead
            (:func:`logel.gpomdp_jacobian_covariance`); preferred.

    Returns:
        ``(q,)`` weights.

    Warns:
        IdentifiabilityWarning: if the stacked Jacobians are rank-deficient or ill-conditioned,
            or (with standard errors or covariances) some singular value lies at or below the
            estimation noise along its direction (:func:`logel.irl.logel.direction_noise`).
    """
    D, J = _check_inputs(deltas, jacobians)
    m = J.shape[0]
    alpha = as_array(learning_rates, "learning_rates", ndim=1, shape_doc=f"(m,) = ({m},)")
    if alpha.shape != (m,):
        raise ValueError(f"learning_rates must have shape (m,) = ({m},), got {alpha.shape}")
    if (alpha <= 0).any():
        raise ValueError("learning_rates must be positive")
    S = _noise_covariance(jacobian_stderr, jacobian_covariance, J.shape)
    scales = _Scales.of(D, J)  # scale-free: solved on normalised inputs, mapped back
    sa = power_of_two_scale(alpha)
    red = reduce_problem(D / scales.deltas, J / scales.jacobians, null_directions)
    _warn_if_unidentifiable(_diagnose(red, learning_rates_known=True,
                                      cov=_scaled_covariance(S, scales.jacobians)))
    return _Scales(scales.deltas, scales.jacobians * sa).weights(omega_step(red, alpha / sa))


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def fit(deltas: Any, jacobians: Any, *, alpha_init: float | Any = 0.1, alpha_min: float = 0.01,
        tol: float = 1e-6, max_iter: int = 1000, null_directions: Any = None,
        jacobian_stderr: Any = None, jacobian_covariance: Any = None,
        convergence: Literal["weights", "direction"] = "weights",
        step_sizes: Literal["per_step", "shared"] = "per_step",
        callback: Callable[[int, np.ndarray, np.ndarray, float], None] | None = None
        ) -> LOGELResult:
    """Weights and learning rates by block-coordinate descent (realistic setting, paper Sec. 4).

    Starting from :math:`\\alpha^{(0)}` and the :math:`\\omega`-step, each iteration sets

    .. math::
        \\alpha_t\\leftarrow\\max\\Big\\{\\alpha_{min},\\,
        \\frac{\\Delta_t^\\top\\nabla\\psi_t\\omega}{\\|\\nabla\\psi_t\\omega\\|^2}\\Big\\},\\qquad
        \\omega\\leftarrow\\arg\\min_\\omega L(\\omega,\\alpha).

    Each block step is an exact minimisation, so the objective never increases. With
    ``convergence="weights"`` the loop stops when
    :math:`\\|\\omega^{(k)}-\\omega^{(k-1)}\\|\\le\\mathrm{tol}\\,\\|\\omega^{(k)}\\|`; with
    ``"direction"`` when the direction of :math:`\\omega` has settled,
    :math:`\\|\\bar\\omega^{(k)}-\\bar\\omega^{(k-1)}\\|\\le\\mathrm{tol}` with
    :math:`\\bar\\omega=\\omega/\\|\\omega\\|`, *and* the objective has,
    :math:`L^{(k-1)}-L^{(k)}\\le\\mathrm{tol}\\,L^{(k-1)}`. The second rule is scale-free: the
    product :math:`\\alpha_t\\omega` is what the data determine, and BCD can keep trading the
    scale of :math:`\\omega` against that of :math:`\\alpha` long after the direction, the only
    part of :math:`\\omega` that matters, has converged. Either way the loop ends after
    ``max_iter`` iterations (it always terminates, unlike the official MuJoCo loop). A step with
    :math:`\\nabla\\psi_t\\omega=0` keeps its previous learning rate (with a warning) instead of
    dividing by zero.

    With ``step_sizes="shared"`` the learner is assumed to keep one step size over the observed
    steps, :math:`\\alpha_t=\\alpha`, and the :math:`\\alpha`-step pools them,

    .. math::
        \\alpha\\leftarrow\\max\\Big\\{\\alpha_{min},\\,
        \\frac{\\sum_t\\Delta_t^\\top\\nabla\\psi_t\\omega}{\\sum_t\\|\\nabla\\psi_t\\omega\\|^2}
        \\Big\\},

    so that each step weighs in proportion to the size of its gradient: a step whose gradient
    is small (a learner that has converged) can no longer be inflated by its own large
    :math:`\\alpha_t` to fit what is only cloning noise.

    Args:
        deltas: ``(m, d)`` parameter changes (true or behaviour-cloned).
        jacobians: ``(m, d, q)`` Jacobians at the (estimated) parameters.
        alpha_init: initial learning rates, a scalar or ``(m,)`` (official gridworld: 0.1).
        alpha_min: lower bound :math:`\\alpha_{min}>0` (official gridworld: 0.01).
        tol: relative tolerance on the change of ``omega``.
        max_iter: maximum number of iterations.
        null_directions: optional ``(q,)`` or ``(k, q)`` directions of omega fixed to zero
            (e.g. ``np.ones(q)`` for one-hot partition features).
        jacobian_stderr: optional ``(m, d, q)`` standard errors of the Jacobians, or
        jacobian_covariance: ``(m, d, q, q)`` row covariances (preferred): singular values at
            or below the estimation noise then count as zero in the diagnosis
            (:func:`identifiability`).
        callback: called as ``callback(k, omega, alpha, objective)`` after every iteration.
        convergence: the stopping rule, ``"weights"`` or ``"direction"`` (above).
        step_sizes: ``"per_step"`` (the paper: one :math:`\\alpha_t` per step) or ``"shared"``
            (one step size for all steps, above).

    Returns:
        A :class:`LOGELResult`.
    """
    D, J = _check_inputs(deltas, jacobians)
    m = J.shape[0]
    alpha_min = real(alpha_min, "alpha_min", low=0.0, low_open=True)
    tol = real(tol, "tol", low=0.0)
    max_iter = integer(max_iter, "max_iter", low=0)
    choice(convergence, "convergence", ("weights", "direction"))
    choice(step_sizes, "step_sizes", ("per_step", "shared"))
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    if np.ndim(alpha_init) == 0 and not isinstance(alpha_init, str):
        alpha = np.full(m, real(alpha_init, "alpha_init (at least alpha_min)", low=alpha_min))
    else:
        alpha = as_array(alpha_init, "alpha_init", ndim=1, shape_doc=f"() or (m,) = ({m},)")
        if alpha.shape != (m,):
            raise ValueError(f"alpha_init must be a scalar or have shape (m,) = ({m},), got "
                             f"{alpha.shape}")
        if (alpha < alpha_min).any():
            raise ValueError(f"alpha_init must be >= alpha_min = {alpha_min:g}")
    S = _noise_covariance(jacobian_stderr, jacobian_covariance, J.shape)
    # scale-free: solve on inputs normalised by powers of two, report in the caller's units
    scales = _Scales.of(D, J)
    red = reduce_problem(D / scales.deltas, J / scales.jacobians, null_directions)
    diag = scales.diagnosis(_diagnose(red, learning_rates_known=False,
                                      cov=_scaled_covariance(S, scales.jacobians)))
    _warn_if_unidentifiable(diag)

    # The BCD runs on the row-space coordinates beta (omega = W beta) when they are well
    # conditioned (same iterates as omega_step up to round-off, a fraction of the cost).
    rows = _RowSpace.of(red)
    if rows is not None:
        W, RW = rows.W, rows.RW
        beta = rows.beta(alpha)
    else:  # general path: omega itself, each omega-step by SVD
        W, RW = np.eye(red.R.shape[2]), red.R
        beta = omega_step(red, alpha)
    r_norm = np.linalg.norm(red.R, axis=(1, 2))
    u = RW @ beta  # (m, r): J_t omega in the reduced coordinates

    def objective_of(u: np.ndarray, alpha: np.ndarray) -> float:
        resid = red.z - alpha[:, None] * u
        return float(np.sum(resid * resid) + red.offset)

    objective = [objective_of(u, alpha)]
    converged, n_iter, degenerate = False, 0, set()
    for k in range(1, max_iter + 1):
        uu = np.einsum("mr,mr->m", u, u)
        zu = np.einsum("mr,mr->m", red.z, u)
        scale = r_norm * np.sqrt(beta @ beta)  # ||omega|| = ||beta||: W is orthonormal
        ok = uu > (1e-12 * scale) ** 2
        if not ok.all():
            degenerate.update(np.flatnonzero(~ok).tolist())
        if step_sizes == "shared":
            if ok.any():
                alpha = np.full(m, max(alpha_min, zu[ok].sum() / uu[ok].sum()))
        else:
            alpha = np.where(ok, np.maximum(alpha_min, zu / np.where(ok, uu, 1.0)), alpha)
        beta_new = rows.beta(alpha) if rows is not None else omega_step(red, alpha)
        if convergence == "weights":
            step = beta_new - beta
            settled = np.sqrt(step @ step) <= tol * np.sqrt(beta_new @ beta_new)
        else:
            settled = np.linalg.norm(_unit(beta_new) - _unit(beta)) <= tol
        beta = beta_new
        u = RW @ beta
        objective.append(objective_of(u, alpha))
        n_iter = k
        if callback is not None:
            callback(k, scales.weights(W @ beta), alpha.copy(), scales.objective(objective[-1]))
        if convergence == "direction":
            settled = settled and objective[-2] - objective[-1] <= tol * objective[-2]
        if settled:
            converged = True
            break
    omega = W @ beta
    if degenerate:
        warnings.warn(f"J_t omega = 0 for step(s) {sorted(degenerate)}: their learning rates are "
                      "undetermined and were kept at their previous values",
                      DegenerateGradientWarning, stacklevel=2)
    if not np.any(omega):
        warnings.warn("The recovered weights are all zero (no parameter change is explained by "
                      "the Jacobians)", DegenerateGradientWarning, stacklevel=2)
    return LOGELResult(scales.weights(omega), alpha,
                       np.array([scales.objective(v) for v in objective]), n_iter, converged,
                       diag)


# ------------------------------------------------------------ noise-aware LOGEL (feasible GLS)


COVARIANCE_RCOND = 1e-10
"""Eigenvalues of a step's noise covariance below ``COVARIANCE_RCOND`` times the largest
eigenvalue over all steps are raised to that floor by :func:`whitening` (with a warning)."""


class IllConditionedCovarianceWarning(UserWarning):
    """A step's noise covariance is (nearly) singular: its smallest variances were floored."""


class WrapsFit:
    """A result built around one :class:`~logel.irl.logel.LOGELResult`, its ``fit``: exposes
    that fit's :math:`\\hat\\omega` and learning rates as its own (the weighted and the
    preconditioned fits' results)."""

    fit: LOGELResult

    @property
    def weights(self) -> np.ndarray:
        """``(q,)`` recovered :math:`\\hat\\omega`."""
        return self.fit.weights

    @property
    def learning_rates(self) -> np.ndarray:
        """``(m,)`` recovered learning rates :math:`\\hat\\alpha_t`."""
        return self.fit.learning_rates


@dataclass(frozen=True)
class GLSResult(WrapsFit):
    """Outcome of :func:`fit_gls` (noise-aware LOGEL).

    Attributes:
        fit: the last weighted fit, :func:`logel.fit` on the whitened steps
            :math:`\\Sigma_t^{-1/2}\\Delta_t`, :math:`\\Sigma_t^{-1/2}\\nabla\\psi_t` (its
            ``objective`` is the whitened one, :math:`\\sum_t r_t^\\top\\Sigma_t^{-1}r_t`).
        covariances: ``(m, d, d)`` the noise covariances :math:`\\Sigma_t` of that fit.
        iterations: number of weighted fits run (re-weightings plus one).
        converged: True if the direction of :math:`\\hat\\omega` (or the covariances) settled
            before ``iterations`` reached its cap.
    """

    fit: LOGELResult
    covariances: np.ndarray
    iterations: int
    converged: bool


def _covariance_stack(covariances: Any, name: str, shape: tuple[int, int]) -> np.ndarray:
    """``(m, d, d)`` symmetric positive semi-definite covariances (validated)."""
    m, d = shape
    C = as_array(covariances, name, ndim=3, shape_doc=f"(m, d, d) = ({m}, {d}, {d})")
    if C.shape != (m, d, d):
        raise ValueError(f"{name} must have shape (m, d, d) = ({m}, {d}, {d}), got {C.shape}")
    scale = max(float(np.abs(C).max()), 1e-300)
    if np.abs(C - np.swapaxes(C, -1, -2)).max() > 1e-8 * scale:
        raise ValueError(f"{name} must be symmetric")
    if np.linalg.eigvalsh(C).min() < -1e-8 * scale:
        raise ValueError(f"{name} must be positive semi-definite")
    return C


def whitening(covariances: Any, *, rcond: float = COVARIANCE_RCOND) -> np.ndarray:
    """Symmetric inverse square roots :math:`\\Sigma_t^{-1/2}` of ``(m, d, d)`` covariances.

    Eigenvalues below ``rcond`` times the largest eigenvalue over *all* steps are raised to that
    floor (a ridge along the step's near-null directions), with an
    :class:`IllConditionedCovarianceWarning`: a direction with no noise would otherwise get an
    infinite weight. One floor for every step keeps the steps' relative weights.

    Args:
        covariances: ``(m, d, d)`` symmetric positive semi-definite matrices.
        rcond: relative floor, in ``(0, 1)``.

    Returns:
        ``(m, d, d)`` symmetric matrices :math:`W_t` with :math:`W_t\\Sigma_tW_t=I` (up to the
        floor).

    Raises:
        ValueError: on a wrong shape, a non-finite, non-symmetric or indefinite matrix, or
            covariances that are all zero.
    """
    C = as_array(covariances, "covariances", ndim=3, shape_doc="(m, d, d)")
    C = _covariance_stack(C, "covariances", C.shape[:2])
    rcond = real(rcond, "rcond", low=0.0, high=1.0, low_open=True, high_open=True)
    w, V = np.linalg.eigh(C)
    top = float(w.max())
    if not top > 0:
        raise ValueError("covariances are all zero: the steps' noise does not determine weights")
    floor = rcond * top
    low = np.flatnonzero((w < floor).any(axis=1))
    if low.size:
        warnings.warn(f"noise covariances of step(s) {low.tolist()} are (nearly) singular: "
                      f"eigenvalues below {floor:.3g} (rcond {rcond:g} times the largest) were "
                      f"raised to it", IllConditionedCovarianceWarning, stacklevel=2)
    w = np.maximum(w, floor)
    return np.einsum("tij,tj,tkj->tik", V, 1.0 / np.sqrt(w), V)


def gls_covariances(delta_covariance: Any, jacobian_covariance: Any | None, weights: Any,
                    learning_rates: Any) -> np.ndarray:
    """The noise covariances :math:`\\Sigma_t` of LOGEL's residuals at :math:`(\\omega,\\alpha)`.

    With cloned steps :math:`\\hat\\Delta_t=\\Delta_t+\\varepsilon_t`,
    :math:`\\mathrm{Cov}(\\varepsilon_t)=D_t`, and estimated Jacobians
    :math:`\\widehat{\\nabla\\psi}_t=\\nabla\\psi_t+E_t` whose row :math:`k` has covariance
    :math:`C_{t,k}`, independent of :math:`\\varepsilon_t`, the residual
    :math:`r_t=\\hat\\Delta_t-\\alpha_t\\widehat{\\nabla\\psi}_t\\omega` at the true
    :math:`(\\omega,\\alpha)` is :math:`\\varepsilon_t-\\alpha_tE_t\\omega`, with covariance

    .. math:: \\Sigma_t=D_t+\\alpha_t^2\\,\\mathrm{diag}_k\\big(\\omega^\\top C_{t,k}\\,\\omega\\big)

    (rows' cross-covariances are not estimated: :func:`logel.gpomdp_jacobian_covariance` gives
    each row's). It depends on :math:`(\\omega,\\alpha)` only through their product, so not on
    the scale that block-coordinate descent leaves free.

    Args:
        delta_covariance: ``(m, d, d)`` :math:`D_t` (e.g.
            :func:`logel.irl.bc.delta_covariances`).
        jacobian_covariance: ``(m, d, q, q)`` :math:`C_{t,k}`
            (:func:`logel.gpomdp_jacobian_covariance` per step), or None for exact Jacobians.
        weights: ``(q,)`` :math:`\\omega`.
        learning_rates: ``(m,)`` :math:`\\alpha_t`.

    Returns:
        ``(m, d, d)`` :math:`\\Sigma_t`.
    """
    D = as_array(delta_covariance, "delta_covariance", ndim=3, shape_doc="(m, d, d)")
    m, d = D.shape[:2]
    D = _covariance_stack(D, "delta_covariance", (m, d))
    alpha = as_array(learning_rates, "learning_rates", ndim=1, shape_doc=f"(m,) = ({m},)")
    if alpha.shape != (m,):
        raise ValueError(f"learning_rates must have shape (m,) = ({m},), got {alpha.shape}")
    if jacobian_covariance is None:
        return D.copy()
    C = as_array(jacobian_covariance, "jacobian_covariance", ndim=4, shape_doc="(m, d, q, q)")
    q = C.shape[-1]
    omega = as_array(weights, "weights", ndim=1, shape_doc=f"(q,) = ({q},)")
    if C.shape != (m, d, q, q) or omega.shape != (q,):
        raise ValueError(f"jacobian_covariance (m, d, q, q) = ({m}, {d}, q, q) and weights (q,) "
                         f"must agree, got {C.shape} and {omega.shape}")
    extra = alpha[:, None] ** 2 * np.maximum(np.einsum("tkij,i,j->tk", C, omega, omega), 0.0)
    return D + extra[:, :, None] * np.eye(d)


def step_signal_to_noise(deltas: Any, covariances: Any) -> np.ndarray:
    """How far each observed step stands above its noise: :math:`\\Delta_t^\\top\\Sigma_t^{-1}
    \\Delta_t/d` per step (through :func:`whitening`).

    About 1 for a step that is pure noise of covariance :math:`\\Sigma_t` (its expectation is
    then 1), large for a step the learner really took.

    Args:
        deltas: ``(m, d)`` observed steps.
        covariances: ``(m, d, d)`` their noise covariances.

    Returns:
        ``(m,)`` ratios.
    """
    D = as_array(deltas, "deltas", ndim=2, shape_doc="(m, d)")
    W = whitening(covariances)
    if W.shape[:2] != D.shape:
        raise ValueError(f"deltas (m, d) and covariances (m, d, d) must agree, got {D.shape} and "
                         f"{W.shape}")
    white = np.einsum("tij,tj->ti", W, D)
    return np.sum(white * white, axis=1) / D.shape[1]


def fit_gls(deltas: Any, jacobians: Any, delta_covariance: Any, *,
            jacobian_covariance: Any = None, iterations: int = 3, gls_tol: float = 1e-4,
            alpha_init: float | Any = 0.1, alpha_min: float = 0.01, tol: float = 1e-6,
            max_iter: int = 1000, null_directions: Any = None,
            convergence: Literal["weights", "direction"] = "weights",
            step_sizes: Literal["per_step", "shared"] = "per_step") -> GLSResult:
    """Noise-aware LOGEL: weights and learning rates by feasible generalised least squares.

    Minimises the whitened objective

    .. math:: L_\\Sigma(\\omega,\\alpha)=\\sum_{t=1}^m\\big(\\hat\\Delta_t-\\alpha_t
        \\widehat{\\nabla\\psi}_t\\omega\\big)^\\top\\Sigma_t^{-1}\\big(\\hat\\Delta_t-\\alpha_t
        \\widehat{\\nabla\\psi}_t\\omega\\big)

    with :math:`\\Sigma_t` of :func:`gls_covariances`. For fixed :math:`\\Sigma_t` this is plain
    LOGEL on the whitened steps :math:`W_t\\hat\\Delta_t`, :math:`W_t\\widehat{\\nabla\\psi}_t`
    (:math:`W_t=\\Sigma_t^{-1/2}`, :func:`whitening`), solved by :func:`logel.fit`'s block-coordinate
    descent. Since :math:`\\Sigma_t` depends on :math:`\\alpha_t\\omega` through the Jacobian
    noise, the fit is re-weighted: start with :math:`\\Sigma_t=D_t`, fit, recompute
    :math:`\\Sigma_t` at the fitted :math:`(\\hat\\omega,\\hat\\alpha)`, refit warm-started at
    :math:`\\hat\\alpha`, until the direction of :math:`\\hat\\omega` moves by at most
    ``gls_tol`` or ``iterations`` fits have run. Without ``jacobian_covariance`` one fit is
    exact GLS. With :math:`\\Sigma_t=cI` for every step this *is* :func:`logel.fit` (whitening by a
    common scalar changes neither :math:`\\hat\\omega` nor :math:`\\hat\\alpha`).

    Args:
        deltas: ``(m, d)`` observed (cloned) steps.
        jacobians: ``(m, d, q)`` (estimated) Jacobians.
        delta_covariance: ``(m, d, d)`` covariances of the observed steps
            (:func:`logel.irl.bc.delta_covariances`).
        jacobian_covariance: optional ``(m, d, q, q)`` row covariances of the Jacobians
            (:func:`logel.gpomdp_jacobian_covariance` per step).
        iterations: maximum number of weighted fits (at least 1). The default 3 is two-step
            feasible GLS (a fit with the cloning noise alone, one re-weighting with the Jacobian
            noise at its estimate, asymptotically as efficient as known covariances) plus a
            check that the direction settled.
        gls_tol: tolerance on the change of :math:`\\hat\\omega/\\|\\hat\\omega\\|` between fits.
        alpha_init, alpha_min, tol, max_iter, null_directions, convergence, step_sizes: as in
            :func:`logel.fit`.

    Returns:
        A :class:`GLSResult`.

    Warns:
        IllConditionedCovarianceWarning: when a step's covariance is (nearly) singular
            (:func:`whitening`); the fit goes on with floored eigenvalues. The warnings of
            :func:`logel.fit` (:class:`logel.IdentifiabilityWarning`,
            :class:`logel.DegenerateGradientWarning`) concern the whitened problem.
    """
    D, J = _check_inputs(deltas, jacobians)
    m, d, q = J.shape
    Dc = _covariance_stack(delta_covariance, "delta_covariance", (m, d))
    Jc = _noise_covariance(None, jacobian_covariance, J.shape)
    iterations = integer(iterations, "iterations", low=1)
    gls_tol = real(gls_tol, "gls_tol", low=0.0)
    alpha: float | np.ndarray = alpha_init
    sigma = Dc
    previous: np.ndarray | None = None
    result: LOGELResult | None = None
    converged = False
    n = 0
    for n in range(1, iterations + 1):
        W = whitening(sigma)
        wJ = np.einsum("tij,tjq->tiq", W, J)
        result = fit(np.einsum("tij,tj->ti", W, D), wJ, alpha_init=alpha, alpha_min=alpha_min,
                     tol=tol, max_iter=max_iter, null_directions=null_directions,
                     convergence=convergence, step_sizes=step_sizes)
        if Jc is None:
            converged = True
            break
        direction = _unit(result.weights)
        if previous is not None and np.linalg.norm(direction - previous) <= gls_tol:
            converged = True
            break
        new_sigma = gls_covariances(Dc, Jc, result.weights, result.learning_rates)
        if np.abs(new_sigma - sigma).max() <= gls_tol * np.abs(sigma).max():
            converged = True
            break
        if n == iterations:
            break
        previous, sigma = direction, new_sigma
        alpha = np.maximum(result.learning_rates, alpha_min)
    assert result is not None
    return GLSResult(result, sigma, n, converged)
