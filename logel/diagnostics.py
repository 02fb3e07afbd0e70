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
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from logel._validation import as_array
from logel.irl.logel import IdentifiabilityWarning, fit, solve_weights

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
