"""Intervals, paired tests and verdicts: the statistics of every results table.

The project's rules (counts over seeds, continuous results over seeds, the verdict rule) in
one module, so that every chapter computes its intervals and verdicts the same way.

* Counts over seeds ("optimal in ``k`` of ``n`` seeds"): :func:`wilson_interval` or
  :func:`clopper_pearson_interval`; two methods on the *same* seeds: :func:`mcnemar_exact`.
* Continuous results over seeds (returns, weight errors, cosines): :func:`mean_ci` (mean and
  t-interval), the interquartile mean :func:`iqm` with a percentile-bootstrap interval
  (:func:`iqm_ci`, or :func:`stratified_iqm_ci` over several tasks), and "A beats B" as the
  probability of improvement with the paired difference (:func:`probability_of_improvement`),
  as recommended by Agarwal et al. (2021).
* Verdicts: a claim is a comparison with an explicit threshold (or an equivalence margin);
  :func:`verdict` and :func:`verdict_equivalent` turn an interval into "holds", "fails" or
  "inconclusive", :class:`Claim` records one claim and :func:`claims_table` displays several.
  :func:`proportion_claim` (a count over seeds against a threshold, Wilson interval) and
  :func:`paired_claim` ("A beats B" on the same seeds, exact McNemar) build the two claims of
  the gridworld tables; :func:`paired_equivalence_claim` states "no difference" on the same
  seeds, and :func:`weakest` joins claims that must all hold. :class:`Claim` is also what ``logel reproduce`` checks
  (:mod:`logel.experiments.claims`): a claim that *fails* fails the run, an *inconclusive* one
  is reported and does not.

Every bootstrap draws from its own ``np.random.default_rng(seed)``: the same ``seed`` gives
the same interval, and no global random state is used.

References:
    * E. B. Wilson (1927). Probable inference, the law of succession, and statistical
      inference. *Journal of the American Statistical Association* 22(158), 209–212.
    * C. J. Clopper and E. S. Pearson (1934). The use of confidence or fiducial limits
      illustrated in the case of the binomial. *Biometrika* 26(4), 404–413.
    * Q. McNemar (1947). Note on the sampling error of the difference between correlated
      proportions or percentages. *Psychometrika* 12(2), 153–157.
    * R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville and M. G. Bellemare (2021). Deep
      reinforcement learning at the edge of the statistical precipice. *NeurIPS 34*
      (the ``rliable`` library).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from scipy import stats

from logel._validation import as_array

HOLDS = "holds"
"""Verdict: the whole interval lies on the claimed side of the threshold (or inside the margin)."""
FAILS = "fails"
"""Verdict: the whole interval lies on the other side (or entirely outside the margin)."""
INCONCLUSIVE = "inconclusive"
"""Verdict: the interval straddles the threshold (or a bound of the margin)."""

VERDICTS = (HOLDS, FAILS, INCONCLUSIVE)
"""The three verdicts, in the order of the verdict rule."""

CLAIM_KINDS = (">", "<", "≈")
"""Claim kinds of :class:`Claim`: greater than, less than, or equivalent within a margin."""


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------

def _check_level(level: Any) -> float:
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise ValueError(f"level must be a number in (0, 1), got {level!r}") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"level must lie in the open interval (0, 1), got {level!r}")
    return value


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be an integer count, got the boolean {value!r}")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    raise ValueError(f"{name} must be an integer count, got {value!r}")


def _check_counts(k: Any, n: Any) -> tuple[int, int]:
    k, n = _check_count(k, "k"), _check_count(n, "n")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"k must satisfy 0 <= k <= n = {n}, got {k}")
    return k, n


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_resamples(n_resamples: Any) -> int:
    if (isinstance(n_resamples, bool | np.bool_)
            or not isinstance(n_resamples, int | np.integer) or n_resamples < 1):
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    return int(n_resamples)


def _check_values(values: Any, name: str, min_size: int = 1) -> np.ndarray:
    x = as_array(values, name, ndim=1, shape_doc="(n,)")
    if x.size < min_size:
        raise ValueError(f"{name} must contain at least {min_size} values, got {x.size}")
    return x


def _check_bound(value: Any, name: str, *, allow_inf: bool) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(v) or (not allow_inf and math.isinf(v)):
        kind = "a number (not NaN)" if allow_inf else "a finite number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return v


def _check_interval(low: Any, high: Any) -> tuple[float, float]:
    lo = _check_bound(low, "low", allow_inf=True)
    hi = _check_bound(high, "high", allow_inf=True)
    if lo > hi:
        raise ValueError(f"low must not exceed high, got low={lo!r} > high={hi!r}")
    return lo, hi


# --------------------------------------------------------------------------------------------
# Means and counts
# --------------------------------------------------------------------------------------------

def mean_ci(values: Any, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student t confidence interval (half-width 0 for one value).

    .. math:: \\bar x \\pm t_{n-1,\\,(1+\\text{level})/2}\\;\\frac{s}{\\sqrt n},
       \\qquad s^2=\\frac{1}{n-1}\\sum_i(x_i-\\bar x)^2 .

    The interval assumes roughly normal values (or a large ``n``); report it beside the
    per-seed values and, for skewed results, beside :func:`iqm_ci`.

    Args:
        values: the ``n`` values (any shape; all entries are pooled). NaN values are not
            rejected: they propagate into a NaN mean and half-width, as they always have.
        level: confidence level in (0, 1).

    Returns:
        ``(mean, half_width)``; the interval is ``mean ± half_width``.

    Raises:
        ValueError: if ``values`` is empty or ``level`` is outside (0, 1).
    """
    level = _check_level(level)
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("values must contain at least one value, got an empty array")
    if x.size < 2:
        return float(x.mean()), 0.0
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(half)


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n`` (Wilson, 1927).

    With :math:`\\hat p=k/n` and :math:`z=\\Phi^{-1}((1+\\text{level})/2)`,

    .. math:: \\frac{k+z^2/2}{n+z^2}\\;\\pm\\;\\frac{z}{n+z^2}
       \\sqrt{\\frac{k(n-k)}{n}+\\frac{z^2}{4}} .

    It stays inside [0, 1] and keeps close to its nominal coverage for small ``n`` and for
    ``k`` near 0 or ``n`` (unlike the normal-approximation interval). Example: 15 of 20 seeds
    gives roughly [0.531, 0.888].

    Args:
        k: number of successes, ``0 <= k <= n``.
        n: number of trials (seeds), ``n >= 1``.
        level: confidence level in (0, 1).

    Returns:
        ``(low, high)``.

    Raises:
        ValueError: if ``k`` or ``n`` is not an integer, ``n < 1``, ``k`` is outside
            ``[0, n]`` or ``level`` is outside (0, 1).
    """
    k, n = _check_counts(k, n)
    level = _check_level(level)
    z = float(stats.norm.ppf(0.5 + level / 2))
    z2 = z * z
    centre = (k + z2 / 2) / (n + z2)
    half = z / (n + z2) * math.sqrt(k * (n - k) / n + z2 / 4)
    low = 0.0 if k == 0 else max(0.0, centre - half)  # exactly 0 and 1 at the ends
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def clopper_pearson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval for a proportion ``k / n`` (Clopper & Pearson, 1934).

    With :math:`\\alpha=1-\\text{level}` and :math:`B(q;a,b)` the ``q``-quantile of the Beta
    distribution,

    .. math:: \\Big[B\\big(\\tfrac\\alpha2;\\,k,\\,n-k+1\\big),\\;
       B\\big(1-\\tfrac\\alpha2;\\,k+1,\\,n-k\\big)\\Big],

    with the lower bound 0 when ``k = 0`` and the upper bound 1 when ``k = n``. It inverts two
    one-sided binomial tests, so its coverage is at least ``level`` (it is conservative, and
    wider than :func:`wilson_interval`); it equals
    ``scipy.stats.binomtest(k, n).proportion_ci(level, method="exact")``.

    Args:
        k: number of successes, ``0 <= k <= n``.
        n: number of trials (seeds), ``n >= 1``.
        level: confidence level in (0, 1).

    Returns:
        ``(low, high)``.

    Raises:
        ValueError: as :func:`wilson_interval`.
    """
    k, n = _check_counts(k, n)
    level = _check_level(level)
    alpha = 1.0 - level
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


@dataclass(frozen=True)
class McNemarResult:
    """Outcome of :func:`mcnemar_exact`.

    Attributes:
        n_pairs: number of paired seeds.
        a_only: discordant seeds where only method A succeeded.
        b_only: discordant seeds where only method B succeeded.
        p_value: exact two-sided p-value (1 when there are no discordant seeds).
    """

    n_pairs: int
    a_only: int
    b_only: int
    p_value: float


def _as_booleans(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (n,), got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must contain at least one value, got an empty array")
    if arr.dtype == bool:
        return arr
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold booleans (or 0/1), got dtype {arr.dtype}") from None
    if np.any(np.isnan(num)):
        raise ValueError(f"{name} contains NaN values")
    if not np.all((num == 0) | (num == 1)):
        raise ValueError(f"{name} must hold booleans (or 0/1), got other values")
    return num == 1


def mcnemar_exact(a: Any, b: Any) -> McNemarResult:
    """Exact McNemar test for two methods evaluated on the same seeds (McNemar, 1947).

    Only the discordant seeds carry information: with :math:`n_A` seeds where only A succeeded
    and :math:`n_B` where only B succeeded, under the null hypothesis (both methods succeed
    equally often) :math:`n_A\\sim\\mathrm{Binomial}(n_A+n_B,\\,1/2)`, and the exact two-sided
    p-value is

    .. math:: p=\\min\\Big(1,\\;2\\sum_{i\\le\\min(n_A,n_B)}\\binom{n_A+n_B}{i}2^{-(n_A+n_B)}\\Big)

    (``scipy.stats.binomtest(n_A, n_A + n_B, 0.5).pvalue``; equivalently a two-sided sign
    test). Example: 0 against 6 discordant seeds gives :math:`p=2\\cdot 2^{-6}=0.03125`.

    Args:
        a: ``(n,)`` booleans (or 0/1), e.g. "method A is optimal in seed i".
        b: ``(n,)`` booleans (or 0/1) for method B on the same seeds, in the same order.

    Returns:
        The discordant counts and the p-value.

    Raises:
        ValueError: if ``a`` or ``b`` is not a non-empty 1-D array of booleans (or 0/1), or
            their lengths differ.
    """
    a_bool, b_bool = _as_booleans(a, "a"), _as_booleans(b, "b")
    if a_bool.shape != b_bool.shape:
        raise ValueError(f"a and b must have the same length (paired seeds), got "
                         f"{a_bool.size} and {b_bool.size}")
    a_only = int(np.sum(a_bool & ~b_bool))
    b_only = int(np.sum(b_bool & ~a_bool))
    n_discordant = a_only + b_only
    p = 1.0 if n_discordant == 0 else float(stats.binomtest(a_only, n_discordant, 0.5).pvalue)
    return McNemarResult(n_pairs=int(a_bool.size), a_only=a_only, b_only=b_only,
                         p_value=min(1.0, p))


# --------------------------------------------------------------------------------------------
# Interquartile mean and bootstrap intervals
# --------------------------------------------------------------------------------------------

class Interval(NamedTuple):
    """A point estimate with its confidence interval; unpacks as ``(estimate, low, high)``."""

    estimate: float
    """The statistic on the observed values."""
    low: float
    """Lower end of the interval."""
    high: float
    """Upper end of the interval."""


def _iqm_along(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return stats.trim_mean(x, 0.25, axis=axis)


def iqm(values: Any) -> float:
    """Interquartile mean: the mean of the middle 50% of the values (Agarwal et al., 2021).

    With the sorted values :math:`x_{(1)}\\le\\dots\\le x_{(n)}` and
    :math:`g=\\lfloor n/4\\rfloor`,

    .. math:: \\mathrm{IQM}(x)=\\frac{1}{n-2g}\\sum_{i=g+1}^{n-g}x_{(i)},

    i.e. ``scipy.stats.trim_mean(x, 0.25)``, as in ``rliable``. Robust to a few outlying seeds,
    and less noisy than the median.

    Args:
        values: ``(n,)`` values (e.g. one return per seed).

    Returns:
        The interquartile mean.

    Raises:
        ValueError: if ``values`` is not a non-empty 1-D array of finite numbers.
    """
    x = _check_values(values, "values")
    return float(_iqm_along(x))


def iqm_ci(values: Any, level: float = 0.95, n_resamples: int = 10_000,
           seed: int = 0) -> Interval:
    """Interquartile mean with a percentile-bootstrap interval (Agarwal et al., 2021).

    Resamples the ``n`` values with replacement ``n_resamples`` times
    (``scipy.stats.bootstrap``, ``method="percentile"``, as ``rliable`` does), computes
    :func:`iqm` of each resample, :math:`\\widehat{\\mathrm{IQM}}^{*}_b`, and reports the
    :math:`\\tfrac{1-\\text{level}}2` and :math:`\\tfrac{1+\\text{level}}2` quantiles of these.
    The percentile method is used rather than BCa because with ten-odd seeds and tied values
    (e.g. several seeds at the same optimal return) BCa's jackknife acceleration is often
    undefined.

    Args:
        values: ``(n,)`` values, ``n >= 2``.
        level: confidence level in (0, 1).
        n_resamples: number of bootstrap resamples (the project uses at least 10,000).
        seed: seed of the bootstrap's own ``np.random.default_rng(seed)``; the same seed gives
            the same interval.

    Returns:
        ``(estimate, low, high)``: :func:`iqm` of ``values`` and the interval.

    Raises:
        ValueError: if ``values`` is not a 1-D array of at least 2 finite numbers, ``level``
            is outside (0, 1), or ``n_resamples`` or ``seed`` is not a valid integer.
    """
    x = _check_values(values, "values", min_size=2)
    level = _check_level(level)
    n_resamples = _check_resamples(n_resamples)
    rng = np.random.default_rng(_check_seed(seed))
    res = stats.bootstrap((x,), _iqm_along, n_resamples=n_resamples, vectorized=True,
                          confidence_level=level, method="percentile", rng=rng)
    ci = res.confidence_interval
    return Interval(float(_iqm_along(x)), float(ci.low), float(ci.high))


def stratified_iqm_ci(scores_by_task: dict[str, Any], level: float = 0.95,
                      n_resamples: int = 10_000, seed: int = 0) -> Interval:
    """IQM over several tasks with a stratified percentile-bootstrap interval.

    The stratified bootstrap of Agarwal et al. (2021) (``rliable``'s
    ``StratifiedBootstrap``): in each resample :math:`b`, the seeds of *each task* are
    resampled with replacement independently (task :math:`j` keeps its :math:`n_j` values), the
    resampled scores of all tasks are pooled and

    .. math:: \\widehat{\\mathrm{IQM}}^{*}_b=\\mathrm{IQM}\\Big(\\bigcup_j
       \\{x^{*}_{j,1},\\dots,x^{*}_{j,n_j}\\}\\Big);

    the interval is the :math:`\\tfrac{1-\\text{level}}2` and :math:`\\tfrac{1+\\text{level}}2`
    quantiles of these (percentile method). ``scipy.stats.bootstrap`` cannot stratify, so the
    resamples are drawn here with one ``np.random.default_rng(seed)``, tasks taken in sorted
    order of their names (the result does not depend on the order of the dictionary).

    The scores must already be on a common scale (e.g. returns normalised by a random and an
    expert score per task): the IQM pools them. Tasks with more seeds weigh more.

    Args:
        scores_by_task: task name to ``(n_j,)`` normalised scores, one per seed; at least one
            task, and at least 2 scores in all.
        level: confidence level in (0, 1).
        n_resamples: number of bootstrap resamples (the project uses at least 10,000).
        seed: seed of the bootstrap's own generator; the same seed gives the same interval.

    Returns:
        ``(estimate, low, high)``: the IQM of all pooled scores and the interval.

    Raises:
        ValueError: if ``scores_by_task`` is not a non-empty dictionary of non-empty 1-D arrays
            of finite numbers (naming the task), holds fewer than 2 scores in all, or ``level``,
            ``n_resamples`` or ``seed`` is invalid.
    """
    if not isinstance(scores_by_task, dict) or not scores_by_task:
        raise ValueError("scores_by_task must be a non-empty dictionary of task name to scores, "
                         f"got {type(scores_by_task).__name__}"
                         + (" (empty)" if isinstance(scores_by_task, dict) else ""))
    names = sorted(scores_by_task, key=str)
    tasks = [_check_values(scores_by_task[name], f"scores_by_task[{name!r}]") for name in names]
    if sum(t.size for t in tasks) < 2:
        raise ValueError("scores_by_task must hold at least 2 scores in all")
    level = _check_level(level)
    n_resamples = _check_resamples(n_resamples)
    rng = np.random.default_rng(_check_seed(seed))
    pooled = np.concatenate(tasks)
    boot = np.empty(n_resamples)
    batch = max(1, 2_000_000 // pooled.size)
    for start in range(0, n_resamples, batch):
        size = min(batch, n_resamples - start)
        resampled = np.concatenate(
            [t[rng.integers(0, t.size, size=(size, t.size))] for t in tasks], axis=1)
        boot[start:start + size] = _iqm_along(resampled, axis=1)
    alpha = 1.0 - level
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return Interval(float(_iqm_along(pooled)), float(low), float(high))


# --------------------------------------------------------------------------------------------
# Comparing two methods
# --------------------------------------------------------------------------------------------

def _poi_along(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """:math:`P(X>Y)+\\tfrac12P(X=Y)` over all pairs, vectorised over leading axes."""
    x = np.moveaxis(x, axis, -1)
    y = np.moveaxis(y, axis, -1)
    diff = x[..., :, None] - y[..., None, :]
    return np.mean(0.5 * (1.0 + np.sign(diff)), axis=(-2, -1))


def _paired_poi(x: np.ndarray, y: np.ndarray, n_resamples: int, level: float,
                rng: np.random.Generator) -> tuple[float, float, float]:
    """Off-diagonal Mann–Whitney estimate and its percentile interval, seeds resampled jointly.

    With :math:`H_{ij}=\\mathbb 1[x_i>y_j]+\\tfrac12\\mathbb 1[x_i=y_j]` and :math:`c_i` the
    number of copies of seed :math:`i` in a resample, the resample's statistic is
    :math:`(c^\\top Hc-\\sum_ic_i^2H_{ii})/(n^2-\\sum_ic_i^2)`: pairs of copies of the same
    seed are left out, as in the estimate. Resamples made of a single seed have no such pair and
    are skipped.
    """
    n = x.size
    H = 0.5 * (1.0 + np.sign(x[:, None] - y[None, :]))
    estimate = float((H.sum() - np.trace(H)) / (n * (n - 1)))
    diag = np.diag(H)
    boot = np.empty(n_resamples)
    batch = max(1, 1_000_000 // n)
    for start in range(0, n_resamples, batch):
        size = min(batch, n_resamples - start)
        idx = rng.integers(0, n, size=(size, n)) + n * np.arange(size)[:, None]
        counts = np.bincount(idx.ravel(), minlength=size * n).reshape(size, n).astype(float)
        sq = counts**2
        num = np.einsum("bi,ij,bj->b", counts, H, counts) - sq @ diag
        den = n * n - sq.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot[start:start + size] = np.where(den > 0, num / np.where(den > 0, den, 1.0),
                                                np.nan)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:  # only possible for tiny n and n_resamples: no information at all
        return estimate, 0.0, 1.0
    alpha = 1.0 - level
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return estimate, float(low), float(high)


@dataclass(frozen=True)
class Comparison:
    """Outcome of :func:`probability_of_improvement`; unpacks as ``(probability, low, high)``.

    Attributes:
        probability: :math:`P(X>Y)+\\tfrac12P(X=Y)` over pairs of values from different seeds
            (0.5: no difference, 1: every value of ``x`` above every value of ``y``).
        low: lower end of its percentile-bootstrap interval.
        high: upper end of its percentile-bootstrap interval.
        paired: True if the values are paired by seed (resampled together).
        mean_difference: mean of ``x - y`` (paired) or difference of the means (unpaired).
        difference_low: lower end of the t-interval of ``mean_difference``.
        difference_high: upper end of the t-interval of ``mean_difference``.
        difference_kind: ``"paired t"`` or ``"Welch t"``.
        level: confidence level of both intervals.
    """

    probability: float
    low: float
    high: float
    paired: bool
    mean_difference: float
    difference_low: float
    difference_high: float
    difference_kind: str
    level: float

    def __iter__(self) -> Iterator[float]:
        """Iterate over ``(probability, low, high)``."""
        return iter((self.probability, self.low, self.high))


def _welch_interval(x: np.ndarray, y: np.ndarray, level: float) -> tuple[float, float]:
    """Difference of means and the half-width of Welch's t-interval."""
    diff = float(x.mean() - y.mean())
    vx = x.var(ddof=1) / x.size if x.size > 1 else 0.0
    vy = y.var(ddof=1) / y.size if y.size > 1 else 0.0
    se2 = vx + vy
    if se2 == 0.0:
        return diff, 0.0
    # Welch–Satterthwaite degrees of freedom (a sample of one value contributes no variance).
    denom = (vx**2 / (x.size - 1) if x.size > 1 else 0.0) + (vy**2 / (y.size - 1) if y.size > 1
                                                             else 0.0)
    dof = se2**2 / denom
    return diff, float(stats.t.ppf(0.5 + level / 2, dof) * math.sqrt(se2))


def probability_of_improvement(x: Any, y: Any, paired: bool = True, level: float = 0.95,
                               n_resamples: int = 10_000, seed: int = 0) -> Comparison:
    """Probability that method X improves on method Y, with the difference of their means.

    The Mann–Whitney form used by Agarwal et al. (2021) (``rliable``), the probability that a
    run of X beats an independent run of Y, :math:`P(X>Y)+\\tfrac12P(X=Y)`, with
    :math:`h(u,v)=\\mathbb 1[u>v]+\\tfrac12\\,\\mathbb 1[u=v]`:

    * unpaired (``paired=False``, as ``rliable``): over all :math:`n_xn_y` pairs,

      .. math:: \\hat P=\\frac{1}{n_xn_y}\\sum_{i=1}^{n_x}\\sum_{j=1}^{n_y}h(x_i,y_j)
         =\\frac{U}{n_xn_y},

      with a percentile-bootstrap interval that resamples ``x`` and ``y`` independently
      (``scipy.stats.bootstrap``, ``method="percentile"``);
    * paired (``paired=True``: ``x[i]`` and ``y[i]`` come from seed ``i``, so they are not
      independent draws): over the pairs of *different* seeds,

      .. math:: \\hat P=\\frac{1}{n(n-1)}\\sum_{i\\ne j}h(x_i,y_j),

      with a percentile-bootstrap interval that resamples the seeds jointly and again leaves
      out pairs of copies of the same seed (``scipy.stats.bootstrap`` cannot, so the resamples
      are drawn here). Keeping the same-seed pairs would count each seed's own comparison
      :math:`x_i` against :math:`y_i` about twice as often in a resample as in the data, and the
      interval would then be shifted away from the estimate.

    The difference is reported too: for paired seeds the mean of :math:`d_i=x_i-y_i` with its
    t-interval (:func:`mean_ci` of ``d``), otherwise :math:`\\bar x-\\bar y` with Welch's
    t-interval.

    Args:
        x: ``(n_x,)`` values of method X (e.g. one final return per seed).
        y: ``(n_y,)`` values of method Y; ``n_y == n_x`` and the same seed order if ``paired``.
        paired: True if ``x[i]`` and ``y[i]`` were obtained with the same seed.
        level: confidence level in (0, 1) of both intervals.
        n_resamples: number of bootstrap resamples (the project uses at least 10,000).
        seed: seed of the bootstrap's own ``np.random.default_rng(seed)``; the same seed gives
            the same interval.

    Returns:
        The probability of improvement with its interval, and the difference with its
        t-interval.

    Raises:
        ValueError: if ``x`` or ``y`` is not a 1-D array of at least 2 finite numbers, their
            lengths differ with ``paired=True``, or ``level``, ``n_resamples`` or ``seed`` is
            invalid.
    """
    xa = _check_values(x, "x", min_size=2)
    ya = _check_values(y, "y", min_size=2)
    if not isinstance(paired, bool | np.bool_):
        raise ValueError(f"paired must be True or False, got {paired!r}")
    paired = bool(paired)
    if paired and xa.size != ya.size:
        raise ValueError(f"x and y must have the same length when paired=True, got {xa.size} "
                         f"and {ya.size}")
    level = _check_level(level)
    n_resamples = _check_resamples(n_resamples)
    rng = np.random.default_rng(_check_seed(seed))
    if paired:
        estimate, low, high = _paired_poi(xa, ya, n_resamples, level, rng)
        diff, half = mean_ci(xa - ya, level)
        kind = "paired t"
    else:
        batch = max(1, 2_000_000 // (xa.size * ya.size))
        res = stats.bootstrap((xa, ya), _poi_along, n_resamples=n_resamples, batch=batch,
                              vectorized=True, paired=False, confidence_level=level,
                              method="percentile", rng=rng)
        estimate = float(_poi_along(xa, ya))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        diff, half = _welch_interval(xa, ya, level)
        kind = "Welch t"
    return Comparison(probability=estimate, low=low, high=high, paired=paired,
                      mean_difference=diff,
                      difference_low=diff - half, difference_high=diff + half,
                      difference_kind=kind, level=level)


def monte_carlo_pvalue(threshold: float, null: Any) -> float:
    r"""One-sided Monte Carlo p-value :math:`(1+\#\{T_r\ge t\})/(R+1)` of a statistic against
    ``R`` draws ``null`` of it under the null hypothesis (random permutations or random
    directions), with ``threshold`` the observed value :math:`t` (a caller may lower it by a
    tolerance so that ties in floating point count). Exact for permutation tests at any ``R``
    (Lehmann & Romano, *Testing Statistical Hypotheses*, Sec. 15.2); never 0.

    Raises:
        ValueError: if ``null`` is empty.
    """
    draws = np.asarray(null, dtype=float).ravel()
    if draws.size == 0:
        raise ValueError("null must hold at least one draw")
    return float((1 + np.sum(draws >= threshold)) / (draws.size + 1))


# --------------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------------

def verdict(low: float, high: float, threshold: float,
            claim: Literal[">", "<"] = ">") -> str:
    """The project's verdict rule for a one-sided claim "quantity > threshold" (or "<").

    With the interval :math:`[l, h]` of the quantity and threshold :math:`t`, for the claim
    ":math:`>t`" (claimed region :math:`(t,\\infty)`):

    * ``"holds"`` if the whole interval is on the claimed side, :math:`l>t`;
    * ``"fails"`` if the whole interval is on the other side, :math:`h\\le t`;
    * ``"inconclusive"`` otherwise (the interval contains :math:`t` and points above it).

    The claim ":math:`<t`" is the mirror image (holds if :math:`h<t`, fails if :math:`l\\ge t`).
    An interval that only touches the threshold is not on the claimed side.

    Args:
        low: lower end of the interval (may be ``-inf``).
        high: upper end of the interval (may be ``inf``), ``high >= low``.
        threshold: the finite threshold stated with the claim.
        claim: ``">"`` or ``"<"``.

    Returns:
        ``"holds"``, ``"fails"`` or ``"inconclusive"``.

    Raises:
        ValueError: if ``low`` or ``high`` is NaN, ``low > high``, ``threshold`` is not finite,
            or ``claim`` is not ``">"`` or ``"<"``.
    """
    lo, hi = _check_interval(low, high)
    t = _check_bound(threshold, "threshold", allow_inf=False)
    if claim == ">":
        return HOLDS if lo > t else FAILS if hi <= t else INCONCLUSIVE
    if claim == "<":
        return HOLDS if hi < t else FAILS if lo >= t else INCONCLUSIVE
    raise ValueError(f"claim must be '>' or '<', got {claim!r}")


def verdict_equivalent(low: float, high: float, margin: float) -> str:
    """The verdict rule for an equivalence claim "A ≈ B within ``margin``" (two one-sided tests).

    With :math:`[l, h]` the interval of the difference A − B and margin :math:`\\delta>0`:

    * ``"holds"`` if :math:`-\\delta\\le l` and :math:`h\\le\\delta` (the interval lies inside
      the equivalence region; at level 0.95 this is TOST at 2.5% per side);
    * ``"fails"`` if the interval lies entirely outside it, :math:`h<-\\delta` or
      :math:`l>\\delta`;
    * ``"inconclusive"`` otherwise.

    Args:
        low: lower end of the interval of the difference.
        high: upper end of the interval of the difference, ``high >= low``.
        margin: the equivalence margin :math:`\\delta`, finite and positive.

    Returns:
        ``"holds"``, ``"fails"`` or ``"inconclusive"``.

    Raises:
        ValueError: if ``low`` or ``high`` is NaN, ``low > high``, or ``margin`` is not a
            finite positive number.
    """
    lo, hi = _check_interval(low, high)
    m = _check_bound(margin, "margin", allow_inf=False)
    if m <= 0:
        raise ValueError(f"margin must be positive, got {margin!r}")
    if -m <= lo and hi <= m:
        return HOLDS
    if hi < -m or lo > m:
        return FAILS
    return INCONCLUSIVE


@dataclass(frozen=True)
class Claim:
    """One claim of a results table, with its computed verdict.

    Build it with :meth:`Claim.of`, which computes the verdict; constructing it directly
    checks that the given verdict is the computed one (a verdict is computed, never typed).

    Attributes:
        text: the claim in words, e.g. "LOGEL finds the optimal policy in most seeds".
        estimate: the point estimate (a proportion, mean, IQM, probability, difference…).
        low: lower end of its interval.
        high: upper end of its interval.
        threshold: the threshold of a ``">"`` or ``"<"`` claim, or the margin of a ``"≈"``
            claim (then ``low`` and ``high`` bound the difference A − B).
        claim: ``">"``, ``"<"`` or ``"≈"``.
        verdict: ``"holds"``, ``"fails"`` or ``"inconclusive"``
            (:func:`~logel.statistics.verdict` or :func:`~logel.statistics.verdict_equivalent`).
        interval_kind: which interval, e.g. ``"Wilson"``, ``"t"`` or ``"bootstrap IQM"``.
        experiment: the experiment that checks it (``logel reproduce``), or ``""``.
        detail: the measured numbers in words (counts, discordant seeds, p-value), or ``""``.
    """

    text: str
    estimate: float
    low: float
    high: float
    threshold: float
    claim: str
    verdict: str
    interval_kind: str
    experiment: str = ""
    detail: str = ""

    @property
    def passed(self) -> bool | None:
        """True if the claim holds, False if it fails, None if inconclusive."""
        return {HOLDS: True, FAILS: False}.get(self.verdict)

    @property
    def name(self) -> str:
        """The claim in words (``text``)."""
        return self.text

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"text must be a non-empty string, got {self.text!r}")
        if not isinstance(self.interval_kind, str) or not self.interval_kind.strip():
            raise ValueError("interval_kind must name the interval (e.g. 'Wilson'), got "
                             f"{self.interval_kind!r}")
        if self.claim not in CLAIM_KINDS:
            raise ValueError(f"claim must be one of {CLAIM_KINDS}, got {self.claim!r}")
        _check_bound(self.estimate, "estimate", allow_inf=False)
        expected = _claim_verdict(self.low, self.high, self.threshold, self.claim)
        if self.verdict != expected:
            raise ValueError(f"verdict must be the computed one, {expected!r}, got "
                             f"{self.verdict!r}; build claims with Claim.of")

    @classmethod
    def of(cls, text: str, estimate: float, low: float, high: float, threshold: float,
           claim: str = ">", interval_kind: str = "t", *, experiment: str = "",
           detail: str = "") -> Claim:
        """A claim with its verdict computed from the interval and the threshold (or margin).

        Args:
            text: the claim in words.
            estimate: the point estimate.
            low: lower end of its interval.
            high: upper end of its interval.
            threshold: the threshold (``">"``, ``"<"``) or the equivalence margin (``"≈"``).
            claim: ``">"``, ``"<"`` or ``"≈"``.
            interval_kind: which interval (``"t"``, ``"Wilson"``, ``"bootstrap IQM"``, …).
            experiment: the experiment that checks it, if any.
            detail: the measured numbers in words, if any.

        Returns:
            The claim.

        Raises:
            ValueError: as :func:`~logel.statistics.verdict` or :func:`~logel.statistics.verdict_equivalent`, or if ``claim`` is
                unknown, ``text`` or ``interval_kind`` is empty, or ``estimate`` is not finite.
        """
        if claim not in CLAIM_KINDS:
            raise ValueError(f"claim must be one of {CLAIM_KINDS}, got {claim!r}")
        return cls(text=text, estimate=float(estimate), low=float(low), high=float(high),
                   threshold=float(threshold), claim=claim,
                   verdict=_claim_verdict(low, high, threshold, claim),
                   interval_kind=interval_kind, experiment=experiment, detail=detail)


def proportion_claim(text: str, k: int, n: int, threshold: float, claim: str = ">", *,
                     level: float = 0.95, experiment: str = "", detail: str = "") -> Claim:
    """"The proportion of seeds with a success is above (or below) ``threshold``": ``k`` of
    ``n`` with its :func:`wilson_interval`, judged by the verdict rule.

    With 20 seeds, 18/20 (Wilson [0.70, 0.97]) holds against a threshold of 0.5 and 12/20
    ([0.39, 0.78]) is inconclusive.

    Args:
        text: the claim in words, threshold included.
        k: seeds with a success.
        n: seeds.
        threshold: the proportion the claim compares with, in [0, 1].
        claim: ``">"`` or ``"<"``.
        level: confidence level of the interval.
        experiment: the experiment that checks it, if any.
        detail: extra words for the detail (the count is always given).

    Returns:
        The claim (estimate ``k / n``).
    """
    if claim not in (">", "<"):
        raise ValueError(f"claim must be '>' or '<', got {claim!r}")
    low, high = wilson_interval(k, n, level)
    words = f"{k}/{n} [{low:.2f}, {high:.2f}]" + (f"; {detail}" if detail else "")
    return Claim.of(text, k / n, low, high, threshold, claim, "Wilson",
                    experiment=experiment, detail=words)


def paired_claim(text: str, a: Any, b: Any, *, level: float = 0.95, experiment: str = "",
                 detail: str = "") -> Claim:
    """"A beats B on the same seeds": the exact McNemar test (:func:`mcnemar_exact`) as a claim.

    Only the discordant seeds count. The estimate is the share of them that A wins,
    :math:`n_A/(n_A+n_B)`, with its Clopper–Pearson interval (:func:`clopper_pearson_interval`),
    against the threshold 1/2: the claim *holds* when the interval lies above 1/2 and *fails*
    when it lies below, which at ``level = 0.95`` is exactly the two-sided exact McNemar test
    rejecting at 5% in A's (or B's) favour; otherwise (including no discordant seed at all) it
    is inconclusive. The detail gives the discordant counts and the p-value.

    Args:
        text: the claim in words ("LOGEL beats LfL on ...").
        a: ``(n,)`` booleans, A's success per seed.
        b: ``(n,)`` booleans, B's success on the same seeds.
        level: confidence level of the interval.
        experiment: the experiment that checks it, if any.
        detail: extra words for the detail.

    Returns:
        The claim.
    """
    test = mcnemar_exact(a, b)
    n_disc = test.a_only + test.b_only
    if n_disc == 0:
        estimate, low, high = 0.5, 0.0, 1.0
    else:
        estimate = test.a_only / n_disc
        low, high = clopper_pearson_interval(test.a_only, n_disc, level)
    words = (f"A only {test.a_only}, B only {test.b_only} of {test.n_pairs} seeds; exact "
             f"McNemar p = {test.p_value:.3g}" + (f"; {detail}" if detail else ""))
    return Claim.of(text, estimate, low, high, 0.5, ">",
                    "Clopper–Pearson, discordant seeds", experiment=experiment, detail=words)


def paired_equivalence_claim(text: str, a: Any, b: Any, margin: float = 0.1, *,
                             level: float = 0.95, experiment: str = "",
                             detail: str = "") -> Claim:
    """"A and B succeed on the same seeds" (no difference) as an equivalence claim.

    Under no difference the discordant seeds split evenly between A and B. The estimate is
    A's share of them minus 1/2, with its Clopper–Pearson interval (as :func:`paired_claim`),
    judged by :func:`verdict_equivalent` with ``margin``: the claim *holds* when the interval
    lies within ``±margin`` and *fails* when it lies entirely outside (one method wins
    clearly more discordant seeds than ``1/2 + margin``). With no discordant seed the interval
    is [-1/2, 1/2]: inconclusive.

    Args:
        text: the claim in words.
        a: ``(n,)`` booleans, A's success per seed.
        b: ``(n,)`` booleans, B's success on the same seeds.
        margin: the equivalence margin on the share, in (0, 1/2).
        level: confidence level of the interval.
        experiment: the experiment that checks it, if any.
        detail: extra words for the detail.

    Returns:
        The claim (a ``"≈"`` claim on the share minus 1/2).
    """
    test = mcnemar_exact(a, b)
    n_disc = test.a_only + test.b_only
    if n_disc == 0:
        estimate, low, high = 0.0, -0.5, 0.5
    else:
        cp = clopper_pearson_interval(test.a_only, n_disc, level)
        estimate, low, high = test.a_only / n_disc - 0.5, cp[0] - 0.5, cp[1] - 0.5
    words = (f"A only {test.a_only}, B only {test.b_only} of {test.n_pairs} seeds; exact "
             f"McNemar p = {test.p_value:.3g}" + (f"; {detail}" if detail else ""))
    return Claim.of(text, estimate, low, high, margin, "≈",
                    "Clopper–Pearson, discordant share − 1/2", experiment=experiment,
                    detail=words)


def weakest(text: str, claims: list[Claim] | tuple[Claim, ...]) -> Claim:
    """A claim that must hold for every part ("for every learner ..."): the part with the
    weakest verdict (fails, then inconclusive, then holds), under the new ``text``. It holds
    only if every part holds and fails as soon as one part fails."""
    claims = list(claims)
    if not claims:
        raise ValueError("weakest needs at least one claim")
    order = {FAILS: 0, INCONCLUSIVE: 1, HOLDS: 2}
    part = min(claims, key=lambda c: order[c.verdict])
    return dataclasses.replace(part, text=text, detail=f"weakest part: {part.text}; "
                               f"{part.detail}".rstrip("; "))


def _claim_verdict(low: Any, high: Any, threshold: Any, claim: str) -> str:
    if claim == "≈":
        return verdict_equivalent(low, high, threshold)
    return verdict(low, high, threshold, claim)  # type: ignore[arg-type]


def _fmt(value: float, digits: int) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.{digits}f}"


def claims_table(claims: list[Claim] | tuple[Claim, ...], digits: int = 3) -> str:
    """A Markdown table of claims, for a chapter to display (e.g. with ``IPython.display``).

    Columns: claim, estimate, 95% interval (with its kind), threshold (``> t``, ``< t`` or
    ``±margin``) and verdict; a last column "measured" with each claim's ``detail`` when any
    claim has one.

    Args:
        claims: the claims, in display order (at least one).
        digits: decimals shown for the numbers.

    Returns:
        The table as a Markdown string (no trailing newline).

    Raises:
        ValueError: if ``claims`` is empty or holds something other than :class:`Claim`, or
            ``digits`` is negative.
    """
    claims = list(claims)
    if not claims:
        raise ValueError("claims must contain at least one Claim, got none")
    for i, c in enumerate(claims):
        if not isinstance(c, Claim):
            raise ValueError(f"claims[{i}] must be a Claim, got {type(c).__name__}")
    if isinstance(digits, bool) or not isinstance(digits, int | np.integer) or digits < 0:
        raise ValueError(f"digits must be a non-negative integer, got {digits!r}")
    details = any(c.detail for c in claims)
    lines = ["| claim | estimate | 95% interval | threshold | verdict |"
             + (" measured |" if details else ""),
             "|---|---|---|---|---|" + ("---|" if details else "")]
    for c in claims:
        text = c.text.replace("|", "\\|").replace("\n", " ")
        interval = f"[{_fmt(c.low, digits)}, {_fmt(c.high, digits)}] ({c.interval_kind})"
        threshold = (f"±{_fmt(c.threshold, digits)}" if c.claim == "≈"
                     else f"{c.claim} {_fmt(c.threshold, digits)}")
        interval = interval.replace("|", "\\|")
        detail = c.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {text} | {_fmt(c.estimate, digits)} | {interval} | {threshold} "
                     f"| {c.verdict} |" + (f" {detail} |" if details else ""))
    return "\n".join(lines)
