"""Preconditioned LOGEL: a learner model for Adam-, natural-gradient- and PPO-like learners.

Plain LOGEL assumes :math:`\\Delta_t=\\alpha_t\\nabla\\psi_t\\,\\omega` (paper Sec. 1.4). Learners
that rescale the gradient coordinate by coordinate move along
:math:`\\Delta_t=\\alpha_t P_t\\nabla\\psi_t\\,\\omega` with a positive diagonal :math:`P_t`
instead. The observer minimises the same residual with :math:`J_t=\\nabla\\psi_t` replaced by
:math:`P_tJ_t` (book chapter 10, Eq. ``eq:preconditioned-objective``):

.. math:: L(\\omega,\\alpha,P)=\\sum_{t=1}^m\\big\\|\\Delta_t-\\alpha_tP_tJ_t\\,\\omega\\big\\|_2^2 ,

and every variant below only chooses :math:`P_t`, then calls the plain solver :func:`logel.fit`
on :math:`(\\Delta_t, P_tJ_t)` -- never a copy of it. With :math:`P_t=I` the result *is*
:func:`logel.fit`'s.

``"diagonal"``
    one free diagonal :math:`P=\\mathrm{diag}(p)`, :math:`p\\ge0`, shared by all steps, fitted by
    block-coordinate descent: :func:`logel.fit` for :math:`(\\omega,\\alpha)` at fixed :math:`p`
    (warm-started at the previous :math:`\\alpha`), then the exact :math:`p`-block
    :func:`diagonal_step`. Each block minimises :math:`L` exactly, so :math:`L` never increases.
    A free diagonal has ``d`` parameters: it can fit motion for *any* reward direction, which is
    why its explained motion must be compared with random directions
    (:func:`logel.diagnostics.motion_null`).
``"adam"``
    the preconditioner an Adam learner would have used, computed from the observer's *own*
    gradient estimates :math:`\\hat g_s=J_s\\omega`, :math:`s\\le t`
    (:func:`adam_model`): the bias-corrected first moment replaces :math:`J_t` by the momentum
    Jacobian :math:`M_t=\\sum_{s\\le t}c_{ts}J_s` (linear in :math:`\\omega`) and the second moment
    gives :math:`P_t(\\omega)=\\mathrm{diag}(1/(\\sqrt{\\hat v_t(\\omega)}+\\epsilon))`. Since
    :math:`P_t` depends on :math:`\\omega`, the fit is a fixed-point iteration: :math:`P` from
    the current :math:`\\omega`, then :func:`logel.fit`; the iterate of least residual is kept.
    It assumes the observer sees the learner from its first step (Adam's moments start at 0).
``"natural"``
    the natural policy gradient's preconditioner :math:`P_t=(\\hat F_t+\\lambda I)^{-1}`, with
    :math:`\\hat F_t` the empirical Fisher of the observed policy :math:`\\theta_t` (true or
    cloned) on the observed trajectories of step ``t``
    (:func:`logel.estimators.empirical_fisher`, passed in as ``fishers``) and the damping
    :math:`\\lambda` the learner is assumed to use. :math:`P_t` does not depend on
    :math:`\\omega`, so the model is plain LOGEL on the natural Jacobians
    :math:`(\\hat F_t+\\lambda I)^{-1}J_t` (:func:`natural_jacobians`): one :func:`logel.fit`,
    no outer loop. The trust region's step length :math:`\\eta_t` is absorbed by
    :math:`\\alpha_t`. A (nearly) singular :math:`\\hat F_t` -- a tabular policy never visits
    some states -- is what :math:`\\lambda` regularises: directions of unvisited states are
    scaled by :math:`1/\\lambda`.

An explicit ``(d,)`` or ``(m, d)`` array is used as given (``np.ones`` gives plain LOGEL).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from logel._validation import as_array
from logel.irl.logel import LOGELResult, WrapsFit, fit

PreconditionerKind = Literal["identity", "diagonal", "adam", "natural"]
PRECONDITIONERS: tuple[PreconditionerKind, ...] = ("identity", "diagonal", "adam", "natural")

NATURAL_DAMPING = 1e-2
"""Default damping :math:`\\lambda` of the ``"natural"`` model: the natural-gradient learner's
(:attr:`logel.learners.zoo.ZooConfig.npg_damping`)."""


@dataclass(frozen=True)
class PreconditionedResult(WrapsFit):
    """Outcome of :func:`fit_preconditioned`.

    Attributes:
        fit: the plain solver's result on :math:`(\\Delta_t, P_tM_t)` for the returned
            preconditioner (its ``weights`` and ``learning_rates`` are the answer).
        preconditioners: ``(m, d)`` the diagonals of :math:`P_t` (of the full matrices, for
            ``"natural"``).
        explained: explained motion :math:`1-L/\\sum_t\\|\\Delta_t\\|^2` of the fitted model.
        objective: ``(n_outer + 1,)`` :math:`L` after each outer iteration.
        n_outer: outer iterations run.
    """

    fit: LOGELResult
    preconditioners: np.ndarray
    explained: float
    objective: np.ndarray
    n_outer: int


def momentum_coefficients(m: int, beta1: float) -> np.ndarray:
    """``(m, m)`` lower-triangular :math:`c_{ts}=(1-\\beta_1)\\beta_1^{t-s}/(1-\\beta_1^{t+1})`
    (``t, s`` 0-based): Adam's bias-corrected first moment is :math:`\\hat m_t=\\sum_sc_{ts}g_s`
    (Kingma & Ba 2015, Alg. 1); each row sums to 1."""
    t = np.arange(m)
    power = np.where(t[:, None] >= t[None, :], beta1 ** np.maximum(t[:, None] - t[None, :], 0),
                     0.0)
    return (1.0 - beta1) * power / (1.0 - beta1 ** (t[:, None] + 1.0))


def adam_model(jacobians: np.ndarray, omega: np.ndarray, beta1: float = 0.9,
               beta2: float = 0.999, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Adam's model of the motion from the observer's gradient estimates :math:`g_s=J_s\\omega`.

    Returns:
        ``(M, P)``: ``(m, d, q)`` momentum Jacobians :math:`M_t=\\sum_{s\\le t}c_{ts}J_s`
        (:func:`momentum_coefficients`) and ``(m, d)`` diagonals
        :math:`P_t=1/(\\sqrt{\\hat v_t}+\\epsilon)`, with
        :math:`\\hat v_t=\\sum_{s\\le t}(1-\\beta_2)\\beta_2^{t-s}g_s^2/(1-\\beta_2^{t+1})`; Adam's
        step is then :math:`\\Delta_t=\\eta P_tM_t\\omega`.
    """
    m = jacobians.shape[0]
    M = np.einsum("ts,sdq->tdq", momentum_coefficients(m, beta1), jacobians)
    g2 = np.einsum("sdq,q->sd", jacobians, omega) ** 2
    t = np.arange(m)
    decay = np.where(t[:, None] >= t[None, :], beta2 ** np.maximum(t[:, None] - t[None, :], 0),
                     0.0)
    v_hat = (1.0 - beta2) * decay @ g2 / (1.0 - beta2 ** (t[:, None] + 1.0))
    return M, 1.0 / (np.sqrt(v_hat) + eps)


def natural_jacobians(jacobians: Any, fishers: Any, damping: float = NATURAL_DAMPING
                      ) -> np.ndarray:
    """The natural-gradient model's Jacobians :math:`(\\hat F_t+\\lambda I)^{-1}J_t`.

    A natural policy-gradient learner steps along :math:`(\\hat F_t+\\lambda I)^{-1}\\hat g_t`
    (Kakade 2001) with :math:`\\hat g_t=J_t\\omega`, so its motion is
    :math:`\\Delta_t=\\alpha_t(\\hat F_t+\\lambda I)^{-1}J_t\\omega`: plain LOGEL with these
    Jacobians.

    Args:
        jacobians: ``(m, d, q)`` Jacobians.
        fishers: ``(m, d, d)`` Fisher matrices of the observed policies
            (:func:`logel.estimators.empirical_fisher`).
        damping: :math:`\\lambda > 0`.

    Returns:
        ``(m, d, q)``.
    """
    J = as_array(jacobians, "jacobians", ndim=3, shape_doc="(m, d, q)")
    F = as_array(fishers, "fishers", ndim=3, shape_doc="(m, d, d)")
    m, d, _ = J.shape
    if F.shape != (m, d, d):
        raise ValueError(f"fishers must be (m, d, d) = {(m, d, d)} to match the jacobians, got "
                         f"{F.shape}")
    damping = float(damping)
    if not np.isfinite(damping) or damping <= 0:
        raise ValueError(f"damping must be finite and > 0, got {damping}")
    return np.linalg.solve(F + damping * np.eye(d), J)


def diagonal_step(deltas: np.ndarray, directions: np.ndarray, alpha: np.ndarray,
                  previous: np.ndarray) -> np.ndarray:
    """The exact :math:`p`-block of the shared diagonal model, normalised to mean 1:

    .. math:: p_k=\\max\\Big\\{0,\\frac{\\sum_t\\alpha_tu_{tk}\\Delta_{tk}}{\\sum_t\\alpha_t^2u_{tk}^2}
        \\Big\\},\\qquad u_t=J_t\\omega,

    (separable 1-D non-negative least squares per coordinate); a coordinate with
    :math:`u_{tk}=0` for every step keeps its ``previous`` value.
    """
    num = np.einsum("t,td,td->d", alpha, directions, deltas)
    den = np.einsum("t,td->d", alpha ** 2, directions ** 2)
    p = np.where(den > 0, np.maximum(num, 0.0) / np.where(den > 0, den, 1.0), previous)
    mean = p.mean()
    return p / mean if mean > 0 else np.ones_like(p)


def _residual(D: np.ndarray, alpha: np.ndarray, U: np.ndarray) -> float:
    r = D - alpha[:, None] * U
    return float(np.sum(r * r))


def fit_preconditioned(deltas: Any, jacobians: Any,
                       preconditioner: PreconditionerKind | Any = "diagonal", *,
                       adam_betas: tuple[float, float] = (0.9, 0.999), adam_eps: float = 1e-8,
                       fishers: Any = None, natural_damping: float = NATURAL_DAMPING,
                       outer_iter: int = 50, outer_tol: float = 1e-6, inner_iter: int = 25,
                       **fit_options: Any) -> PreconditionedResult:
    """:math:`\\omega`, :math:`\\alpha` (and :math:`P`) of the preconditioned model (module
    docstring), by :func:`logel.fit` on preconditioned Jacobians.

    Args:
        deltas: ``(m, d)`` parameter changes (true or cloned).
        jacobians: ``(m, d, q)`` Jacobians (exact or estimated).
        preconditioner: ``"identity"`` (plain LOGEL), ``"diagonal"``, ``"adam"``,
            ``"natural"``, or an array ``(d,)`` / ``(m, d)`` of fixed positive diagonals.
        adam_betas: :math:`(\\beta_1,\\beta_2)` the observer assumes (``"adam"``).
        adam_eps: Adam's :math:`\\epsilon` (``"adam"``).
        fishers: ``(m, d, d)`` Fisher matrices of the observed policies (``"natural"``, which
            needs them).
        natural_damping: the damping :math:`\\lambda` the observer assumes (``"natural"``).
        outer_iter: iterations over :math:`P` (``"diagonal"``, ``"adam"``).
        outer_tol: stop when :math:`L` decreases by less than this fraction (``"diagonal"``), or
            the direction of :math:`\\omega` changes by less than this (``"adam"``).
        inner_iter: iteration cap of the inner :func:`logel.fit` calls of the outer loop, each
            warm-started at the previous learning rates (the last call runs to
            ``fit_options``' own cap and tolerance).
        fit_options: passed to :func:`logel.fit` (``alpha_init``, ``alpha_min``,
            ``null_directions``, ``tol``, ``max_iter``, ``convergence``, ``step_sizes``).

    Returns:
        A :class:`PreconditionedResult`.
    """
    D = as_array(deltas, "deltas", ndim=2, shape_doc="(m, d)")
    J = as_array(jacobians, "jacobians", ndim=3, shape_doc="(m, d, q)")
    m, d, _ = J.shape
    total = float(np.sum(D * D))
    if isinstance(preconditioner, str):
        if preconditioner not in PRECONDITIONERS:
            raise ValueError(f"preconditioner must be one of {PRECONDITIONERS} or an array, "
                             f"got {preconditioner!r}")
        kind = preconditioner
    else:
        P = np.broadcast_to(np.asarray(preconditioner, dtype=float), (m, d)).copy()
        if not np.all(np.isfinite(P)) or (P <= 0).any():
            raise ValueError("a fixed preconditioner must be finite and positive")
        res = fit(D, P[:, :, None] * J, **fit_options)
        return PreconditionedResult(res, P, 1.0 - res.objective[-1] / total,
                                    res.objective[-1:], 0)
    if kind == "natural":
        if fishers is None:
            raise ValueError("preconditioner='natural' needs fishers: the (m, d, d) Fisher "
                             "matrices of the observed policies (logel.estimators.empirical_fisher)")
        res = fit(D, natural_jacobians(J, fishers, natural_damping), **fit_options)
        inverse = np.linalg.inv(np.asarray(fishers, dtype=float)
                                + float(natural_damping) * np.eye(d))
        return PreconditionedResult(res, np.einsum("tii->ti", inverse),
                                    1.0 - res.objective[-1] / total, res.objective[-1:], 0)
    if kind == "identity":
        res = fit(D, J, **fit_options)
        return PreconditionedResult(res, np.ones((m, d)), 1.0 - res.objective[-1] / total,
                                    res.objective[-1:], 0)
    inner = {**fit_options, "max_iter": min(int(fit_options.get("max_iter", 1000)), inner_iter)}
    if kind == "diagonal":
        return _fit_diagonal(D, J, total, outer_iter, outer_tol, inner, fit_options)
    return _fit_adam(D, J, total, adam_betas, adam_eps, outer_iter, outer_tol, inner,
                     fit_options)


def _fit_diagonal(D: np.ndarray, J: np.ndarray, total: float, outer_iter: int,
                  outer_tol: float, inner: dict[str, Any], final: dict[str, Any]
                  ) -> PreconditionedResult:
    m, d, _ = J.shape
    p = np.ones(d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(D, J, **final)
        objective = [res.objective[-1]]
        for _ in range(outer_iter):
            U = np.einsum("tdq,q->td", J, res.weights)
            p = diagonal_step(D, U, res.learning_rates, p)
            res = fit(D, p[None, :, None] * J, **{**inner, "alpha_init": res.learning_rates})
            objective.append(res.objective[-1])
            if objective[-2] - objective[-1] <= outer_tol * max(objective[-2], 1e-300):
                break
        res = fit(D, p[None, :, None] * J, **{**final, "alpha_init": res.learning_rates})
        objective.append(res.objective[-1])
    return PreconditionedResult(res, np.broadcast_to(p, (m, d)).copy(),
                                1.0 - objective[-1] / total, np.asarray(objective),
                                len(objective) - 2)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def _fit_adam(D: np.ndarray, J: np.ndarray, total: float, betas: tuple[float, float],
              eps: float, outer_iter: int, outer_tol: float, inner: dict[str, Any],
              final: dict[str, Any]) -> PreconditionedResult:
    beta1, beta2 = betas
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise ValueError(f"adam_betas must lie in [0, 1), got {betas}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(D, J, **final)  # start: plain LOGEL's direction
        omega = res.weights
        best: tuple[float, np.ndarray, np.ndarray] | None = None
        objective = []
        for _ in range(max(outer_iter, 1)):
            M, P = adam_model(J, omega, beta1, beta2, eps)
            res = fit(D, P[:, :, None] * M, **{**inner, "alpha_init": res.learning_rates})
            objective.append(res.objective[-1])
            if best is None or objective[-1] < best[0]:
                best = (objective[-1], omega, res.learning_rates)
            change = np.linalg.norm(_unit(res.weights) - _unit(omega))
            omega = res.weights
            if change <= outer_tol:
                break
        assert best is not None
        _, omega, alpha = best
        M, P = adam_model(J, omega, beta1, beta2, eps)
        res = fit(D, P[:, :, None] * M, **{**final, "alpha_init": alpha})
        objective.append(res.objective[-1])
    return PreconditionedResult(res, P, 1.0 - objective[-1] / total, np.asarray(objective),
                                len(objective) - 1)


def preconditioned_motion(deltas: Any, jacobians: Any, omega: Any,
                          preconditioner: PreconditionerKind = "identity", *,
                          adam_betas: tuple[float, float] = (0.9, 0.999),
                          adam_eps: float = 1e-8, fishers: Any = None,
                          natural_damping: float = NATURAL_DAMPING, n_iter: int = 100) -> float:
    """Explained motion of a *fixed* :math:`\\omega` under a learner model, with the model's other
    parameters at their best: :math:`1-\\min\\sum_t\\|\\Delta_t-\\alpha_tP_tJ_t\\omega\\|^2/
    \\sum_t\\|\\Delta_t\\|^2` over :math:`\\alpha_t\\ge0` (and, for ``"diagonal"``, the shared
    :math:`p\\ge0`, by ``n_iter`` alternating exact block steps; ``"natural"`` needs
    ``fishers``, as :func:`fit_preconditioned`).

    The statistic of the permutation-style null (:func:`logel.diagnostics.motion_null`): it
    scores a reward direction by how much motion the model can explain *with* it.
    """
    D = as_array(deltas, "deltas", ndim=2, shape_doc="(m, d)")
    J = as_array(jacobians, "jacobians", ndim=3, shape_doc="(m, d, q)")
    w = np.asarray(omega, dtype=float)
    total = float(np.sum(D * D))
    if preconditioner == "adam":
        M, P = adam_model(J, w, *adam_betas, adam_eps)
        U = P * np.einsum("tdq,q->td", M, w)
    elif preconditioner == "natural":
        if fishers is None:
            raise ValueError("preconditioner='natural' needs fishers (m, d, d)")
        U = np.einsum("tdq,q->td", natural_jacobians(J, fishers, natural_damping), w)
    else:
        U = np.einsum("tdq,q->td", J, w)
    alpha = _best_alpha(D, U)
    if preconditioner == "diagonal":
        p = np.ones(D.shape[1])
        for _ in range(n_iter):
            p = diagonal_step(D, U, alpha, p)
            alpha = _best_alpha(D, p * U)
        U = p * U
    elif preconditioner not in ("identity", "adam", "natural"):
        raise ValueError(f"preconditioner must be one of {PRECONDITIONERS}, got "
                         f"{preconditioner!r}")
    return 1.0 - _residual(D, alpha, U) / total


def _best_alpha(D: np.ndarray, U: np.ndarray) -> np.ndarray:
    uu = np.einsum("td,td->t", U, U)
    du = np.einsum("td,td->t", D, U)
    return np.maximum(0.0, np.divide(du, uu, out=np.zeros_like(du), where=uu > 0))


__all__ = ["NATURAL_DAMPING", "PRECONDITIONERS", "PreconditionedResult", "PreconditionerKind",
           "adam_model", "diagonal_step", "fit_preconditioned", "momentum_coefficients",
           "natural_jacobians", "preconditioned_motion"]
