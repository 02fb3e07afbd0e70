"""Checks a practitioner runs on their own data before trusting LOGEL's weights.

:func:`logel.identifiability` (rank and conditioning of the stacked Jacobians) answers "could
*exact* Jacobians determine :math:`\\omega`?". With *estimated* Jacobians that is not enough: a
learner that barely moves leaves the Jacobians of all its steps nearly equal, and estimation
noise then makes the stacked estimate look full-rank and well conditioned while the weights it
yields are noise. :func:`split_half_agreement` catches this from the data alone: estimate the
Jacobians on two disjoint halves of each step's trajectories, solve twice, and compare the two
weight vectors (after removing the fixed directions). Two halves of informative data agree;
noise does not. It raises :class:`logel.IdentifiabilityWarning` below :data:`MIN_AGREEMENT`.

:func:`constant_direction_unidentifiable` decides, from the features alone, whether the
all-ones direction of :math:`\\omega` can be identified at all (it cannot when every feature
vector has the same sum, e.g. features that partition the states).

How far is a learner from LOGEL's model at all? :func:`explained_motion` is the fraction of the
parameter motion :math:`\\sum_t\\|\\Delta_t\\|^2` that :math:`\\Delta_t\\approx\\alpha_t\\nabla\\psi_t
\\omega` explains with the best :math:`\\alpha_t\\ge0` (:func:`best_learning_rates`);
:func:`alignment` adds the per-step cosines :math:`\\cos(\\Delta_t,\\nabla\\psi_t\\omega)`, for any
trace with :math:`\\theta_t` and exact or estimated Jacobians; :func:`motion_null` compares the
explained motion of a reward direction under a learner model (plain or preconditioned,
:mod:`logel.irl.preconditioned`) with that of random directions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from logel._validation import as_array
from logel.irl.logel import IdentifiabilityWarning, fit, solve_weights
from logel.irl.preconditioned import PreconditionerKind, preconditioned_motion
from logel.statistics import monte_carlo_pvalue

MIN_AGREEMENT = 0.9
"""Cosine between the two halves' weights below which :func:`split_half_agreement` warns."""


@dataclass(frozen=True)
class SplitHalf:
    """Outcome of :func:`split_half_agreement`.

    Attributes:
        weights: ``(2, q)`` the weights recovered from each half.
        cosine: cosine between them after projecting out ``null_directions`` (1: agree).
        stable: ``cosine >= MIN_AGREEMENT``.
    """

    weights: np.ndarray
    cosine: float
    stable: bool


def _project_out(v: np.ndarray, null_directions: Any) -> np.ndarray:
    if null_directions is None:
        return v
    N = np.atleast_2d(np.asarray(null_directions, dtype=float))
    Q, _ = np.linalg.qr(N.T)
    return v - Q @ (Q.T @ v)


def split_half_agreement(deltas: Any, jacobians_a: Any, jacobians_b: Any,
                         learning_rates: Any = None, *, null_directions: Any = None,
                         warn: bool = True, **fit_options: Any) -> SplitHalf:
    """Agreement of the weights recovered from two disjoint halves of the data.

    Args:
        deltas: ``(m, d)`` parameter changes (true or cloned).
        jacobians_a: ``(m, d, q)`` Jacobians estimated on the first half of each step's
            trajectories.
        jacobians_b: ``(m, d, q)`` the same on the second half.
        learning_rates: ``(m,)`` known learning rates (closed form), or None (block-coordinate
            descent, :func:`logel.fit`, with ``fit_options``).
        null_directions: directions of :math:`\\omega` fixed to zero (as in ``fit``).
        warn: raise an :class:`~logel.IdentifiabilityWarning` when the halves disagree.

    Returns:
        A :class:`SplitHalf`.
    """
    Ja = as_array(jacobians_a, "jacobians_a", ndim=3, shape_doc="(m, d, q)")
    Jb = as_array(jacobians_b, "jacobians_b", ndim=3, shape_doc="(m, d, q)")
    if Ja.shape != Jb.shape:
        raise ValueError(f"jacobians_a {Ja.shape} and jacobians_b {Jb.shape} must match")
    weights = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for J in (Ja, Jb):
            if learning_rates is None:
                w = fit(deltas, J, null_directions=null_directions, **fit_options).weights
            else:
                w = solve_weights(deltas, J, learning_rates, null_directions=null_directions)
            weights.append(_project_out(w, null_directions))
    a, b = weights
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    cosine = float(a @ b / denom) if denom > 0 else 0.0
    stable = cosine >= MIN_AGREEMENT
    if warn and not stable:
        warnings.warn(f"Weights are not stable across two halves of the data (cosine "
                      f"{cosine:.2f} < {MIN_AGREEMENT}): the learner may barely move or the "
                      "Jacobian estimates are too noisy; observe more steps or more "
                      "trajectories", IdentifiabilityWarning, stacklevel=2)
    return SplitHalf(np.stack(weights), cosine, stable)


def constant_direction_unidentifiable(features: Any, atol: float = 1e-9) -> bool:
    """Whether the all-ones direction of :math:`\\omega` is unidentifiable from these features.

    If every feature vector sums to the same constant :math:`c` (e.g. one-hot colours that
    partition the states: :math:`c=1`), then :math:`\\psi(\\theta)^\\top\\mathbf 1=
    c\\sum_t\\gamma^t` for every policy, so :math:`\\nabla\\psi(\\theta)\\,\\mathbf 1=0`: adding a
    constant to the reward changes no gradient, and no observer can recover that direction. The
    principled choice is then to fix it (``fix_constant_direction=True``); otherwise the
    direction carries information and is left free.

    Args:
        features: ``(..., q)`` feature vectors the learner saw (e.g. a trace's ``features``).
        atol: tolerance on the spread of the row sums.

    Returns:
        True if all row sums agree within ``atol``.
    """
    phi = np.asarray(features, dtype=float)
    if phi.ndim < 1 or phi.size == 0:
        raise ValueError(f"features must be a non-empty array (..., q), got shape {phi.shape}")
    sums = phi.reshape(-1, phi.shape[-1]).sum(axis=1)
    return bool(np.ptp(sums) <= atol)


def best_learning_rates(deltas: np.ndarray, jacobians: np.ndarray, omega: np.ndarray,
                        alpha_min: float = 0.0) -> np.ndarray:
    """:math:`\\alpha_t=\\max(\\alpha_{min},\\Delta_t^\\top J_t\\omega/\\|J_t\\omega\\|^2)`, ``(m,)``.

    The learning-rate step of block-coordinate descent for a fixed :math:`\\omega`; a step with
    :math:`J_t\\omega=0` gets ``alpha_min``.
    """
    u = np.einsum("tdq,q->td", jacobians, omega)
    uu = np.einsum("td,td->t", u, u)
    du = np.einsum("td,td->t", deltas, u)
    return np.maximum(alpha_min, np.divide(du, uu, out=np.zeros_like(du), where=uu > 0))


def explained_motion(deltas: np.ndarray, jacobians: np.ndarray, omega: np.ndarray,
                     learning_rates: np.ndarray | None = None) -> float:
    """:math:`1-\\sum_t\\|\\Delta_t-\\alpha_t J_t\\omega\\|^2/\\sum_t\\|\\Delta_t\\|^2`.

    Args:
        deltas: ``(m, d)`` parameter changes.
        jacobians: ``(m, d, q)``.
        omega: ``(q,)`` weights.
        learning_rates: ``(m,)``; None = :func:`best_learning_rates` (non-negative).
    """
    alpha = (best_learning_rates(deltas, jacobians, omega) if learning_rates is None
             else np.asarray(learning_rates))
    resid = deltas - alpha[:, None] * np.einsum("tdq,q->td", jacobians, omega)
    return float(1.0 - np.sum(resid ** 2) / np.sum(deltas ** 2))


@dataclass(frozen=True)
class Alignment:
    """How far a learner's steps are from plain gradient steps for ``omega`` (:func:`alignment`).

    Attributes:
        explained: fraction of :math:`\\sum_t\\|\\Delta_t\\|^2` explained by
            :math:`\\alpha_t\\nabla\\psi_t\\omega` with the best :math:`\\alpha_t\\ge0`
            (1: LOGEL's model holds exactly; a random ``q``-dimensional subspace of
            :math:`\\mathbb R^d` explains about ``q / d``).
        cosines: ``(m,)`` :math:`\\cos(\\Delta_t,\\nabla\\psi_t\\omega)` per step.
        learning_rates: ``(m,)`` the best :math:`\\alpha_t\\ge0`.
    """

    explained: float
    cosines: np.ndarray
    learning_rates: np.ndarray

    @property
    def mean_cosine(self) -> float:
        """Mean of the per-step cosines."""
        return float(np.mean(self.cosines))


def alignment(deltas: Any, jacobians: Any, omega: Any) -> Alignment:
    """Explained motion and per-step cosines of a trace's steps for reward weights ``omega``.

    With the best :math:`\\alpha_t\\ge0` step ``t`` keeps the residual
    :math:`\\|\\Delta_t\\|^2(1-\\max(0,\\cos_t)^2)`, so the explained motion is the
    motion-weighted mean :math:`\\sum_t\\|\\Delta_t\\|^2\\max(0,\\cos_t)^2/\\sum_t\\|\\Delta_t\\|^2`
    (equal to :func:`explained_motion` with its default learning rates).

    Args:
        deltas: ``(m, d)`` parameter changes :math:`\\theta_{t+1}-\\theta_t` (true or cloned).
        jacobians: ``(m, d, q)`` Jacobians at :math:`\\theta_t`, exact
            (:func:`logel.tabular.feature_expectations_jacobian`) or estimated.
        omega: ``(q,)`` reward weights (e.g. the learner's true ones).

    Returns:
        An :class:`Alignment`.
    """
    D = as_array(deltas, "deltas", ndim=2, shape_doc="(m, d)")
    J = as_array(jacobians, "jacobians", ndim=3, shape_doc="(m, d, q)")
    w = np.asarray(omega, dtype=float)
    u = np.einsum("tdq,q->td", J, w)
    norms = np.linalg.norm(D, axis=1) * np.linalg.norm(u, axis=1)
    cos = np.divide(np.einsum("td,td->t", D, u), norms, out=np.zeros(len(D)), where=norms > 0)
    return Alignment(explained_motion(D, J, w), cos, best_learning_rates(D, J, w))


@dataclass(frozen=True)
class MotionNull:
    """A reward direction's explained motion against random directions (:func:`motion_null`).

    Attributes:
        explained: the explained motion of ``omega`` under the learner model.
        null: ``(n_directions,)`` the same for random directions.
        p_value: :math:`(1+\\#\\{\\text{null}\\ge\\text{explained}\\})/(1+n)`, the
            permutation-style p-value of "``omega`` explains more than a random direction".
    """

    explained: float
    null: np.ndarray
    p_value: float

    @property
    def excess(self) -> float:
        """``explained`` minus the null's median."""
        return float(self.explained - np.median(self.null))


def random_directions(q: int, n: int, rng: np.random.Generator,
                      null_directions: Any = None) -> np.ndarray:
    """``(n, q)`` unit directions uniform on the sphere of the free directions (Gaussian draws,
    projected orthogonally to ``null_directions``, normalised)."""
    z = rng.standard_normal((n, q))
    z = np.stack([_project_out(v, null_directions) for v in z])
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def motion_null(deltas: Any, jacobians: Any, omega: Any, rng: np.random.Generator, *,
                n_directions: int = 200, preconditioner: PreconditionerKind = "identity",
                null_directions: Any = None, **model_options: Any) -> MotionNull:
    """Does ``omega`` explain more motion than a random reward direction, under a learner model?

    The explained motion of :func:`logel.irl.preconditioned.preconditioned_motion` (the model's
    other parameters at their best for each direction) of ``omega`` and of ``n_directions``
    random directions (:func:`random_directions`, orthogonal to ``null_directions``). A model
    flexible enough to explain motion with *any* direction (a free diagonal per coordinate)
    shows it here: the null comes close to ``omega``'s value.

    Args:
        deltas: ``(m, d)`` parameter changes.
        jacobians: ``(m, d, q)`` Jacobians.
        omega: ``(q,)`` the direction tested (e.g. the recovered or the true weights).
        rng: draws the random directions (e.g. :func:`logel.streams.cell_rng`).
        n_directions: number of random directions.
        preconditioner: the learner model (``"identity"``: plain LOGEL).
        null_directions: directions of :math:`\\omega` the random draws avoid.
        model_options: passed to ``preconditioned_motion``.

    Returns:
        A :class:`MotionNull`.
    """
    J = as_array(jacobians, "jacobians", ndim=3, shape_doc="(m, d, q)")
    value = preconditioned_motion(deltas, J, omega, preconditioner, **model_options)
    dirs = random_directions(J.shape[2], n_directions, rng, null_directions)
    null = np.array([preconditioned_motion(deltas, J, v, preconditioner, **model_options)
                     for v in dirs])
    return MotionNull(value, null, monte_carlo_pvalue(value, null))
