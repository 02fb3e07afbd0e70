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

**Two input layouts, one computation.** :func:`gpomdp_jacobian` takes either padded
``(N, T, d)`` arrays (the gridworld) or, with a :class:`TrajectoryLayout`, compact per-sample
scores ``(n, d)`` of trajectories of unequal length (MuJoCo episodes). In the compact layout the
samples are grouped by time step :math:`t`, the trajectories of each group ordered by
decreasing length, so that the trajectories alive at :math:`t` are a prefix of those alive at
:math:`t-1`: the cumulative scores are then a running sum over contiguous slices, and every sum
over :math:`i` at fixed :math:`t` is one matrix product over a contiguous slice, with no padding.
The scores may also come as a :class:`ScoreSource` that produces blocks of columns on demand
(e.g. :class:`logel.policies.gaussian_mlp.LayerScores`, whose columns are outer products
:math:`\\delta x^\\top` per linear layer), so that the :math:`(n, d)` matrix is never held whole.

**Folded baseline (compact layout).** The baseline term is a sum over samples as well:
:math:`(\\sum_iG_{i,t,k})\\,b_{t,k,j}=\\sum_iw_{t,k}G_{i,t,k}^2F_{i,t,j}` with
:math:`w_{t,k}=\\sum_iG_{i,t,k}/(\\sum_iG_{i,t,k}^2+N\\epsilon_b)`, so

.. math::
    \\widehat{\\nabla\\psi}_{k,j}=\\frac1N\\sum_{i,t}M_{i,t,k}F_{i,t,j},\\qquad
    M_{i,t,k}=G_{i,t,k}\\,(1-w_{t,k}G_{i,t,k}),

one matrix product of the folded scores :math:`M` with :math:`F` over all samples instead of two
products with :math:`[F, 1]` per time step. The compact path streams over time steps within a
block of columns (two cache-sized buffers of cumulative scores, two column sums per step to fold
them) and contracts chunks of rows of :math:`M` with :math:`F`, so it never allocates more than
a few tens of MB. The padded path keeps the per-step form (``_gpomdp_steps``); both layouts give
the same estimate to rounding (padding rows have zero cumulative score and add nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from logel._validation import as_array, bool_array, finite_result, power_of_two_scale, real


def _check_discount(gamma: Any, baseline_eps: Any) -> tuple[float, float]:
    # baseline_eps = inf switches the baseline off (b = num / inf = 0)
    return (real(gamma, "gamma", low=0.0, high=1.0),
            real(baseline_eps, "baseline_eps", low=0.0, allow_inf=True))


def _normalise(g: np.ndarray, phi: np.ndarray, baseline_eps: float
               ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Scores and features divided by powers of two near their largest entries, the baseline's
    :math:`\\epsilon_b` in the units of the scaled squared scores, and the factor that maps an
    estimate of the scaled inputs back (scale-free computation, issue 17).

    The estimators are linear in the features and, up to :math:`\\epsilon_b` (in squared-score
    units), in the scores, so the estimate is unchanged; but squares of scores near 1e200 or
    1e-200 no longer overflow or underflow. Powers of two keep every digit of well-scaled inputs.
    """
    sg, sf = power_of_two_scale(g), power_of_two_scale(phi)
    with np.errstate(over="ignore", under="ignore"):
        eps = baseline_eps / sg / sg
    return g / sg, phi / sf, float(eps), sg * sf


def _rescale(estimate: np.ndarray, factor: float, what: str) -> np.ndarray:
    with np.errstate(over="ignore"):
        out = estimate * factor
    return finite_result(out, what, ": the scores and features are too large together")


def _prepare(scores: Any, features: Any, gamma: float, baseline_eps: float,
             mask: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    g = as_array(scores, "scores", ndim=3, shape_doc="(N, T, d)")
    phi = as_array(features, "features", ndim=3, shape_doc="(N, T, q)")
    valid = None
    if mask is not None:
        valid = bool_array(mask, "mask", shape=g.shape[:2], shape_doc=f"(N, T) = {g.shape[:2]}")
    if phi.shape[:2] != g.shape[:2]:
        raise ValueError(f"features must have shape (N, T, q) = ({g.shape[0]}, {g.shape[1]}, q) "
                         f"to match scores {g.shape}, got {phi.shape}")
    _check_discount(gamma, baseline_eps)
    return g, phi, valid


def trajectory_index(episode_starts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Split rows of consecutive steps at episode starts into left-aligned trajectories.

    Args:
        episode_starts: ``(N, T)`` booleans, True where a step is the first of an episode; each
            row also starts a trajectory at ``t = 0`` (an episode cut by the rollout start).

    Returns:
        ``index`` ``(n_traj, T_max)`` int64 into the row-major flattened ``(N * T)`` samples
        (0 on padding) and ``mask`` ``(n_traj, T_max)`` bool, False on padding.
    """
    starts = np.asarray(episode_starts, dtype=bool)
    if starts.ndim != 2:
        raise ValueError(f"episode_starts must be (N, T), got {starts.shape}")
    N, T = starts.shape
    cut = starts.copy()
    cut[:, 0] = True
    rows, cols = np.nonzero(cut)
    begins = rows * T + cols
    ends = np.append(begins[1:], N * T)
    ends = np.minimum(ends, (rows + 1) * T)  # a trajectory never crosses into the next row
    lengths = ends - begins
    t_max = int(lengths.max())
    offsets = np.arange(t_max)
    mask = offsets[None, :] < lengths[:, None]
    index = np.where(mask, begins[:, None] + offsets[None, :], 0)
    return index.astype(np.int64), mask


@dataclass(frozen=True)
class TrajectoryLayout:
    """Compact layout of trajectories of unequal length, grouped by time step.

    Attributes:
        order: ``(n_valid,)`` flat sample index of every valid step, time step by time step;
            within a step the trajectories are ordered by decreasing length (ties by their
            position), so group ``t`` is a prefix of group ``t - 1``.
        offsets: ``(T_max + 1,)`` start of each time step's group in ``order``.
        n_trajectories: ``N``, the number of trajectories (the estimator's mean is over them).
    """

    order: np.ndarray
    offsets: np.ndarray
    n_trajectories: int

    @classmethod
    def from_index(cls, index: Any, mask: Any) -> TrajectoryLayout:
        """From a padded ``(N, T_max)`` sample index and its validity mask (each row's valid
        steps a prefix, as :func:`trajectory_index` makes them)."""
        idx = np.asarray(index)
        valid = np.asarray(mask, dtype=bool)
        if idx.ndim != 2 or valid.shape != idx.shape:
            raise ValueError(f"index and mask must be (N, T_max) arrays of one shape, got "
                             f"{idx.shape} and {valid.shape}")
        lengths = valid.sum(axis=1)
        if not np.array_equal(valid, np.arange(idx.shape[1])[None, :] < lengths[:, None]):
            raise ValueError("mask must mark a prefix of each row (left-aligned trajectories)")
        if idx.shape[0] == 0 or lengths.min() < 1:
            raise ValueError("every trajectory needs at least one valid step")
        by_length = np.argsort(-lengths, kind="stable")
        order = idx[by_length].T[valid[by_length].T]  # time-major: t outer, trajectory inner
        counts = valid.sum(axis=0)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        return cls(order.astype(np.int64), offsets.astype(np.int64), int(idx.shape[0]))

    @classmethod
    def from_episode_starts(cls, episode_starts: Any) -> TrajectoryLayout:
        """From ``(N, T)`` rows of consecutive steps split at their episode starts
        (:func:`trajectory_index`)."""
        return cls.from_index(*trajectory_index(episode_starts))

    @property
    def n_valid(self) -> int:
        """Number of valid steps (rows of the compact arrays)."""
        return int(self.offsets[-1])

    def time_steps(self) -> np.ndarray:
        """``(n_valid,)`` time step :math:`t` of every row of the compact layout."""
        return np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))


@runtime_checkable
class ScoreSource(Protocol):
    """Per-sample scores ``(n, d)`` produced a block of columns and rows at a time."""

    n_samples: int
    n_parameters: int

    def column_slices(self, max_width: int) -> list[slice]:
        """A partition of the ``d`` columns into contiguous slices of at most ``max_width``
        columns (or one indivisible unit of the source, e.g. one row of a weight matrix)."""
        ...

    def columns(self, rows: np.ndarray, cols: slice, out: np.ndarray) -> np.ndarray:
        """Write the float64 scores of samples ``rows`` and columns ``cols`` (one of
        :meth:`column_slices`) into the C-contiguous ``out`` ``(len(rows), width)``; return it."""
        ...


@runtime_checkable
class CumulativeScoreSource(ScoreSource, Protocol):
    """A :class:`ScoreSource` that also adds a block of scores to a running sum in one pass
    (e.g. a fused multiply-add of the factors :math:`\\delta x^\\top`)."""

    def accumulate(self, rows: np.ndarray, cols: slice, previous: np.ndarray,
                   out: np.ndarray) -> np.ndarray:
        """Write ``previous`` ``(len(rows), width)`` plus the scores of samples ``rows`` and
        columns ``cols`` into ``out`` (as :meth:`ScoreSource.columns`, then
        ``out += previous``)."""
        ...


class DenseScores:
    """A :class:`ScoreSource` over an ``(n, d)`` array of per-sample scores (any float dtype)."""

    def __init__(self, scores: Any) -> None:
        self.scores = as_array(scores, "scores", ndim=2, shape_doc="(n, d)")
        self.n_samples, self.n_parameters = self.scores.shape

    def column_slices(self, max_width: int) -> list[slice]:
        width = max(1, int(max_width))
        return [slice(s, min(self.n_parameters, s + width))
                for s in range(0, self.n_parameters, width)]

    def columns(self, rows: np.ndarray, cols: slice, out: np.ndarray) -> np.ndarray:
        out[...] = self.scores[rows, cols]
        return out


def gpomdp_jacobian(scores: Any, features: Any, gamma: float,
                    baseline_eps: float = 1e-3, mask: Any = None, *,
                    layout: TrajectoryLayout | None = None,
                    block_bytes: float = 4e6) -> np.ndarray:
    """G(PO)MDP estimate of the feature-expectation Jacobian, with baseline (paper Sec. 3.1).

    Args:
        scores: ``(N, T, d)`` per-step scores :math:`\\nabla_\\theta\\log\\pi(a_t|s_t)`; with
            ``layout``, ``(n, d)`` per-sample scores or a
            :class:`~logel.estimators.ScoreSource`.
        features: ``(N, T, q)`` per-step undiscounted features :math:`\\phi_t`; with
            ``layout``, ``(n, q)`` per-sample features.
        gamma: discount factor; step ``t`` of each trajectory is weighted by ``gamma**t``.
        baseline_eps: :math:`\\epsilon_b` in the baseline's denominator (official: 1e-3 on the
            gridworld, 1e-4 on MuJoCo).
        mask: optional ``(N, T)`` booleans, False on the padding after a trajectory ended
            (trajectories of unequal length, left-aligned); padded steps contribute nothing.
            Not used with ``layout``.
        layout: the trajectories of compact ``(n, ...)`` samples
            (:class:`~logel.estimators.TrajectoryLayout`).
        block_bytes: with ``layout``, the size of each of the float64 buffers that hold one
            time step's cumulative scores for a block of columns (small enough to stay in cache;
            the folded baseline's chunk of rows is about four times that); the estimate is the
            same for any value up to rounding.

    Returns:
        ``(d, q)`` estimate of :math:`\\nabla_\\theta\\psi(\\theta)`.
    """
    if layout is not None:
        if mask is not None:
            raise ValueError("pass either mask (padded arrays) or layout (compact samples)")
        return _gpomdp_compact(scores, features, layout, gamma, baseline_eps, block_bytes)
    G, F, N, eps, factor = _time_major(scores, features, gamma, baseline_eps, mask)
    F1 = _with_ones(F.reshape(-1, F.shape[-1])).reshape(*F.shape[:2], -1)
    return _rescale(_gpomdp_steps(zip(G, F1, strict=True), N, eps), factor,
                    "the G(PO)MDP estimate")


def _with_ones(F: np.ndarray) -> np.ndarray:
    """``[F, 1]``: the extra column turns sums over samples into the last row of a product."""
    return np.concatenate([F, np.ones((F.shape[0], 1))], axis=1)


def _step_terms(G: np.ndarray, F1: np.ndarray, N: int, baseline_eps: float,
                work: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One time step's ``(d, q)`` raw term :math:`\\sum_iG_{i,t}F_{i,t}^\\top`, ``(d,)``
    :math:`\\sum_iG_{i,t}` and ``(d, q)`` baseline :math:`b_t`, from its cumulative scores
    ``G`` ``(n_t, d)`` and ``F1 = [F, 1]`` ``(n_t, q + 1)`` (module docstring)."""
    A = F1.T @ G  # (q + 1, d): sum_i F G^T and sum_i G
    B = F1.T @ np.multiply(G, G, out=work)  # sum_i F G^2 and sum_i G^2
    denominator = B[-1][:, None] + N * baseline_eps
    # a column whose cumulative scores are all zero (possible with baseline_eps = 0) has no
    # baseline to estimate and contributes nothing: 0, not 0 / 0
    safe = np.where(denominator > 0, denominator, 1.0)
    return A[:-1].T, A[-1], np.where(denominator > 0, B[:-1].T / safe, 0.0)


def _gpomdp_steps(steps: Iterable[tuple[np.ndarray, np.ndarray]], N: int,
                  baseline_eps: float, work: np.ndarray | None = None) -> np.ndarray:
    """The estimate from ``(G_t, [F_t, 1])`` of every time step ``t``, over ``N`` trajectories:
    :math:`\\frac1N\\sum_t\\big(\\sum_iG_{i,t}F_{i,t}^\\top-(\\sum_iG_{i,t})\\odot b_t\\big)`."""
    total: np.ndarray | None = None
    for G, F1 in steps:
        scratch = None if work is None else work[:G.size].reshape(G.shape)
        raw, sum_g, baseline = _step_terms(G, F1, N, baseline_eps, scratch)
        term = raw - sum_g[:, None] * baseline
        total = term if total is None else total + term
    if total is None:
        raise ValueError("no time steps")
    return total / N


FOLD_MIN_FEATURES = 6
"""With at least this many features the compact layout folds the baseline into the scores (one
product with :math:`F` over all samples); with fewer, two products with :math:`[F, 1]` per time
step are cheaper. A speed choice only: both give the estimate to rounding."""


def _fold_baseline(G: np.ndarray, n_eps: float, ones: np.ndarray, out: np.ndarray,
                   work: np.ndarray) -> np.ndarray:
    """One time step's cumulative scores with the baseline folded in (module docstring, "folded
    baseline"): :math:`M_{i,t,k}=G_{i,t,k}(1-w_{t,k}G_{i,t,k})` with
    :math:`w_{t,k}=\\sum_iG_{i,t,k}/(\\sum_iG_{i,t,k}^2+N\\epsilon_b)`, so that
    :math:`\\sum_iM_{i,t}F_{i,t}^\\top=\\sum_iG_{i,t}F_{i,t}^\\top-(\\sum_iG_{i,t})\\odot b_t`
    (paper Sec. 3.1; :math:`b_t` the component-wise baseline).

    Args:
        G: ``(n_t, w)`` cumulative scores :math:`G_{i,t}` of the trajectories alive at ``t``.
        n_eps: :math:`N\\epsilon_b` (``inf`` turns the baseline off: :math:`M=G`).
        ones: ``(n_t,)`` ones (the column sums are products with it).
        out: ``(n_t, w)`` array that receives :math:`M` (not ``G`` itself).
        work: ``(n_t, w)`` scratch array.

    Returns:
        ``out``. A column whose scores are all zero (possible with :math:`\\epsilon_b=0`) has
        weight 0, not 0 / 0.
    """
    squares = np.multiply(G, G, out=work)
    denominator = ones @ squares + n_eps
    positive = denominator > 0
    weight = np.where(positive, ones @ G, 0.0) / np.where(positive, denominator, 1.0)
    squares *= weight
    return np.subtract(G, squares, out=out)


def _gpomdp_compact(scores: Any, features: Any, layout: TrajectoryLayout, gamma: float,
                    baseline_eps: float, block_bytes: float) -> np.ndarray:
    """:func:`gpomdp_jacobian` on compact samples, streamed over blocks of columns and, within
    a block, over time steps (two buffers: the step's cumulative scores and the previous)."""
    if not isinstance(layout, TrajectoryLayout):
        raise TypeError(f"layout must be a TrajectoryLayout, got {type(layout).__name__}")
    source = scores if isinstance(scores, ScoreSource) else DenseScores(scores)
    phi = as_array(features, "features", ndim=2, shape_doc="(n, q)")
    if phi.shape[0] != source.n_samples:
        raise ValueError(f"features must have {source.n_samples} rows to match scores, got "
                         f"{phi.shape[0]}")
    gamma, baseline_eps = _check_discount(gamma, baseline_eps)
    block_bytes = real(block_bytes, "block_bytes", low=0.0, low_open=True)
    factor = 1.0
    if isinstance(source, DenseScores):  # scale-free, as the padded layout (_normalise)
        scaled, phi, baseline_eps, factor = _normalise(source.scores, phi, baseline_eps)
        source = DenseScores(scaled)
    order, offsets = layout.order, layout.offsets
    if order.size and (order.min() < 0 or order.max() >= source.n_samples):
        raise ValueError(f"layout indexes samples outside 0..{source.n_samples - 1}")
    F = np.asarray(phi[order], dtype=np.float64) * (gamma ** layout.time_steps())[:, None]
    groups = [slice(int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    widest = max(g.stop - g.start for g in groups)
    max_width = int(max(1, block_bytes // (8 * widest)))
    slices = source.column_slices(max_width)
    width = max(c.stop - c.start for c in slices)
    buffers = (np.empty(widest * width), np.empty(widest * width))
    fused = isinstance(source, CumulativeScoreSource)

    def cumulative(cols: slice) -> Iterator[tuple[slice, np.ndarray]]:
        """Each time step's rows and cumulative scores ``(n_t, width)`` of columns ``cols``."""
        w, previous = cols.stop - cols.start, None
        for t, rows in enumerate(groups):
            n_t = rows.stop - rows.start
            G = buffers[t % 2][:n_t * w].reshape(n_t, w)
            # the trajectories alive at t are the first ones alive at t - 1 (TrajectoryLayout)
            if previous is None:
                source.columns(order[rows], cols, G)
            elif fused:
                source.accumulate(order[rows], cols, previous[:n_t], G)
            else:
                source.columns(order[rows], cols, G)
                G += previous[:n_t]
            yield rows, G
            previous = G

    out = np.zeros((source.n_parameters, phi.shape[1]))
    if phi.shape[1] < FOLD_MIN_FEATURES:  # two thin products with [F, 1] per step
        F1, work = _with_ones(F), np.empty(widest * width)
        for cols in slices:
            out[cols] = _gpomdp_steps(((G, F1[rows]) for rows, G in cumulative(cols)),
                                      layout.n_trajectories, baseline_eps, work)
        return _rescale(out, factor, "the G(PO)MDP estimate")
    # folded baseline: chunks of rows of M (at least one time step, about 4 buffers' worth)
    chunk = max(widest, int(4 * block_bytes // (8 * width)))
    folded, squares, ones = np.empty(chunk * width), np.empty(widest * width), np.ones(widest)
    n_eps = layout.n_trajectories * baseline_eps
    for cols in slices:
        w, first, filled = cols.stop - cols.start, 0, 0
        for rows, G in cumulative(cols):
            n_t = rows.stop - rows.start
            if filled + n_t > chunk:
                out[cols] += (F[first:first + filled].T @ folded[:filled * w].reshape(filled, w)).T
                first, filled = first + filled, 0
            _fold_baseline(G, n_eps, ones[:n_t], folded[filled * w:(filled + n_t) * w].reshape(
                n_t, w), squares[:n_t * w].reshape(n_t, w))
            filled += n_t
        out[cols] += (F[first:first + filled].T @ folded[:filled * w].reshape(filled, w)).T
    out /= layout.n_trajectories
    return _rescale(out, factor, "the G(PO)MDP estimate")


def _time_major(scores: Any, features: Any, gamma: float, baseline_eps: float,
                mask: Any) -> tuple[np.ndarray, np.ndarray, int, float, float]:
    """Validated time-major cumulative scores ``G`` (T, N, d) (zero on padding) and discounted
    features ``F`` (T, N, q) of G(PO)MDP, both normalised (:func:`_normalise`), ``N``, the
    normalised :math:`\\epsilon_b` and the factor that maps the estimate back."""
    g, phi, valid = _prepare(scores, features, gamma, baseline_eps, mask)
    gamma, baseline_eps = _check_discount(gamma, baseline_eps)
    g, phi, eps, factor = _normalise(g, phi, baseline_eps)
    N, T, _ = g.shape
    # time-major (T, N, d) float64 copy, made in one pass and summed in place: G[t] is the
    # cumulative score of step t, and every per-step product below is one contiguous BLAS call
    G = np.array(g.transpose(1, 0, 2), dtype=np.float64)
    np.cumsum(G, axis=0, out=G)
    if valid is not None:
        G *= valid.T[:, :, None]
    F = phi.transpose(1, 0, 2) * (gamma ** np.arange(T))[:, None, None]  # (T, N, q)
    return G, F, N, eps, factor


def _trajectory_terms(scores: Any, features: Any, gamma: float, baseline_eps: float,
                      mask: Any) -> tuple[np.ndarray, float]:
    """``(N, d, q)`` per-trajectory terms :math:`X_i` of the normalised inputs, whose mean is
    :func:`gpomdp_jacobian` divided by the returned factor."""
    G, F, N, baseline_eps, factor = _time_major(scores, features, gamma, baseline_eps, mask)
    if N < 2:
        raise ValueError(f"a standard error needs N >= 2 trajectories, got {N}")
    terms = np.einsum("tnk,tnj->nkj", G, F)  # (N, d, q)
    for G_t, F_t in zip(G, F, strict=True):
        baseline = _step_terms(G_t, _with_ones(F_t), N, baseline_eps)[2]
        terms -= G_t[:, :, None] * baseline[None]
    return terms, factor


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
    terms, factor = _trajectory_terms(scores, features, gamma, baseline_eps, mask)
    return _rescale(terms.std(axis=0, ddof=1) / np.sqrt(terms.shape[0]), factor,
                    "the standard error")


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
    terms, factor = _trajectory_terms(scores, features, gamma, baseline_eps, mask)
    N = terms.shape[0]
    centred = terms - terms.mean(axis=0)
    cov = np.einsum("nki,nkj->kij", centred, centred) / ((N - 1) * N)
    return _rescale(_rescale(cov, factor, "the covariance"), factor, "the covariance")


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
    gamma, baseline_eps = _check_discount(gamma, baseline_eps)
    g, phi, eps, factor = _normalise(g, phi, baseline_eps)
    N, T, _ = g.shape
    G = g.sum(axis=1)  # (N, d)
    R = np.einsum("ntj,t->nj", phi, gamma ** np.arange(T))  # (N, q)
    G2 = G * G
    denominator = G2.sum(axis=0)[:, None] + N * eps
    baseline = np.where(denominator > 0, (G2.T @ R) / np.where(denominator > 0, denominator, 1.0),
                        0.0)  # (d, q)
    return _rescale((G.T @ R - G.sum(axis=0)[:, None] * baseline) / N, factor,
                    "the REINFORCE estimate")


def empirical_fisher(scores: Any) -> np.ndarray:
    """Empirical Fisher information of a policy from its per-sample scores.

    :math:`\\hat F=\\frac1{NT}\\sum_{i,l}g_{i,l}\\,g_{i,l}^\\top`, the mean outer product of the
    scores :math:`g_{i,l}=\\nabla_\\theta\\log\\pi_\\theta(a_{i,l}|s_{i,l})` over every sample
    (Kakade 2001). The natural policy gradient learner (:mod:`logel.learners.zoo`, ``"npg"``)
    preconditions its step with it, and the observer's model of that learner
    (:func:`logel.irl.preconditioned.natural_jacobians`) uses the same estimate at the observed
    policies.

    Args:
        scores: ``(N, T, d)`` per-step scores (or ``(n, d)``: one row per sample).

    Returns:
        ``(d, d)`` symmetric positive semi-definite matrix.
    """
    g = np.asarray(scores, dtype=np.float64)
    if g.ndim < 2 or g.shape[-1] == 0 or g.size == 0:
        raise ValueError(f"scores must be (N, T, d) or (n, d) with samples, got shape {g.shape}")
    flat = g.reshape(-1, g.shape[-1])
    if not np.all(np.isfinite(flat)):
        raise ValueError("scores must be finite")
    return flat.T @ flat / flat.shape[0]
