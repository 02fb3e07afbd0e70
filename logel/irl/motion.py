"""Has the learner stopped? An exact permutation test on the observed trajectories (book ch. 6).

LOGEL's model is that every observed step is a gradient step. A learner that has converged
(soft policy iteration after a few updates, soft value iteration late in its run) keeps
producing batches of trajectories, but its policy no longer changes, and the cloned
:math:`\\hat\\Delta_t` of those steps carry no information about the reward: they are cloning noise
plus the drift of the smoothed cloning along the chain of policies. This module decides, from the
trajectories alone and before any cloning, from which step on the observed policies are
indistinguishable from one fixed policy.

The hypothesis :math:`H_k`: "the policies :math:`\\pi_k,\\dots,\\pi_m` are equal" (the learner
stopped at policy ``k``). Under :math:`H_k` the trajectories of batches ``k..m`` are exchangeable,
so reassigning them at random to the batches leaves the distribution of any statistic unchanged:
the permutation test is exact at any sample size (Lehmann & Romano, *Testing Statistical
Hypotheses*, Sec. 15.2). The statistic is the likelihood ratio of a tabular policy per batch
against one policy for all (:func:`homogeneity_statistic`). The hypotheses are nested
(:math:`H_k\\Rightarrow H_{k+1}`) and are tested in the order ``k = 0, 1, ...``, stopping at the first
one not rejected: a fixed-sequence procedure, which keeps the family-wise error at the level of
each test (:func:`moving_steps`). Steps are dropped only after the test has seen the learner
move: a learner whose motion the test cannot detect at all keeps every step.

Two statistics are available (``statistic=``). ``"homogeneity"`` compares every batch with every
other one; its degrees of freedom grow with the number of batches, so a learner that changes
its policy a little at every step (a gradient learner late in its run) hides in them.
``"changepoint"`` is the likelihood ratio against the alternative of one change point: the
policies ``k..j-1`` are one policy and ``j..m`` another, maximised over ``j``
(:func:`changepoint_statistic`). Pooling the batches on either side adds up a slow monotone
drift over the whole window, and the split at ``j = k + 1`` still catches one abrupt change at
the start; the permutation test is exact for it as for any statistic.

Not rejecting :math:`H_k` is evidence that the learner stopped only if the test can see this
learner's steps at all. ``last_step_rng`` makes that a condition: the stop at ``k`` is accepted
only if the two-batch test resolves the learner's last step before it (batches ``k - 1`` and
``k``); a learner whose single steps the test cannot resolve keeps every step, as one whose
motion it never detected does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy.special import xlogy

from logel._validation import choice, integer, real
from logel.statistics import monte_carlo_pvalue

Statistic = Literal["homogeneity", "changepoint"]
STATISTICS: tuple[Statistic, ...] = ("homogeneity", "changepoint")
"""The statistics of the stopped-learner test: :func:`homogeneity_statistic` (every batch its own
policy) and :func:`changepoint_statistic` (one change point)."""


def trajectory_counts(states: np.ndarray, actions: np.ndarray, n_states: int, n_actions: int
                      ) -> np.ndarray:
    """Per-trajectory state-action visit counts.

    Args:
        states: integer ``(K, N, T)`` states of ``N`` trajectories of each of ``K`` policies.
        actions: integer ``(K, N, T)`` actions.
        n_states: number of states ``S``.
        n_actions: number of actions ``A``.

    Returns:
        ``(K, N, S * A)`` counts, entry ``s * A + a``.
    """
    states = np.asarray(states)
    actions = np.asarray(actions)
    if states.shape != actions.shape or states.ndim != 3:
        raise ValueError(f"states and actions must both have shape (K, N, T); got "
                         f"{states.shape} and {actions.shape}")
    integer(n_states, "n_states", low=1)
    integer(n_actions, "n_actions", low=1)
    k, n, _ = states.shape
    cells = states.astype(np.int64) * n_actions + actions.astype(np.int64)
    rows = np.arange(k * n).reshape(k, n, 1) * (n_states * n_actions)
    flat = np.bincount((cells + rows).ravel(), minlength=k * n * n_states * n_actions)
    return flat.reshape(k, n, n_states * n_actions).astype(float)


def homogeneity_statistic(counts: np.ndarray, n_actions: int) -> np.ndarray:
    """Likelihood-ratio statistic of "one tabular policy per batch" against "one for all".

    :math:`G=2\\sum_{k,s,a}C_k(s,a)\\log\\frac{C_k(s,a)\\,C(s)}{C_k(s)\\,C(s,a)}`, with
    :math:`C(\\cdot)=\\sum_kC_k(\\cdot)`: the G-test of homogeneity of the action distributions
    across the batches, state by state (zero counts contribute zero).

    Args:
        counts: ``(..., K, S * A)`` state-action counts of ``K`` batches.
        n_actions: ``A``.

    Returns:
        ``(...)`` the statistic, :math:`\\ge 0`.
    """
    c = np.asarray(counts, dtype=float)
    c = c.reshape(*c.shape[:-1], -1, n_actions)          # (..., K, S, A)
    c_s = c.sum(axis=-1, keepdims=True)                    # (..., K, S, 1)
    pooled = c.sum(axis=-3, keepdims=True)                 # (..., 1, S, A)
    pooled_s = pooled.sum(axis=-1, keepdims=True)          # (..., 1, S, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (c * pooled_s) / (c_s * pooled)
    return 2.0 * np.sum(xlogy(c, np.where(c > 0, ratio, 1.0)), axis=(-3, -2, -1))


def changepoint_statistic(counts: np.ndarray, n_actions: int) -> np.ndarray:
    """Likelihood-ratio statistic of "one policy for all batches" against "one change point".

    :math:`G^{\\mathrm{cp}}=\\max_{1\\le j<K} G(C_{<j}, C_{\\ge j})`: the
    :func:`homogeneity_statistic` of the two pooled groups of batches ``0..j-1`` and ``j..K-1``,
    maximised over the split ``j`` (the generalised likelihood ratio of a piecewise-constant
    policy with one break at an unknown batch). With ``K = 2`` it equals
    :func:`homogeneity_statistic`.

    Args:
        counts: ``(..., K, S * A)`` state-action counts of ``K >= 2`` batches, in order.
        n_actions: ``A``.

    Returns:
        ``(...)`` the statistic, :math:`\\ge 0`.
    """
    c = np.asarray(counts, dtype=float)
    if c.ndim < 2 or c.shape[-2] < 2:
        raise ValueError(f"counts must have shape (..., K, S * A) with K >= 2; got {c.shape}")
    before = np.cumsum(c, axis=-2)[..., :-1, :]              # (..., K-1, cells): batches < j
    after = c.sum(axis=-2, keepdims=True) - before            # batches >= j
    return homogeneity_statistic(np.stack([before, after], axis=-2), n_actions).max(axis=-1)


def stopped_pvalue(counts: np.ndarray, n_actions: int, rng: np.random.Generator,
                   n_permutations: int = 199, statistic: Statistic = "homogeneity") -> float:
    """Exact permutation p-value of "the ``K`` batches come from one policy".

    Args:
        counts: ``(K, N, S * A)`` per-trajectory counts (:func:`trajectory_counts`), the rows of
            each batch exchangeable under the hypothesis.
        n_actions: ``A``.
        rng: draws the permutations.
        n_permutations: random reassignments of the pooled trajectories to the batches.
        statistic: ``"homogeneity"`` (:func:`homogeneity_statistic`) or ``"changepoint"``
            (:func:`changepoint_statistic`).

    Returns:
        :math:`(1+\\#\\{G_r\\ge G\\})/(R+1)`, with the statistic ``G`` of the observed batches and
        ``G_r`` of the ``R`` permuted ones.

    Raises:
        ValueError: for fewer than 2 batches, counts not of shape ``(K, N, S * A)``, or an
            unknown ``statistic``.
    """
    integer(n_permutations, "n_permutations", low=1)
    choice(statistic, "statistic", STATISTICS)
    stat = homogeneity_statistic if statistic == "homogeneity" else changepoint_statistic
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 3:
        raise ValueError(f"counts must have shape (K, N, S * A); got {counts.shape}")
    k, n, cells = counts.shape
    if k < 2:
        raise ValueError(f"counts must hold at least 2 batches; got {k}")
    observed = stat(counts.sum(axis=1), n_actions)
    pooled = counts.reshape(k * n, cells)
    labels = np.repeat(np.arange(k), n)
    perms = np.stack([rng.permutation(labels) for _ in range(n_permutations)])  # (R, kn)
    onehot = (perms[:, None, :] == np.arange(k)[None, :, None]).astype(float)   # (R, K, kn)
    permuted = stat(onehot @ pooled, n_actions)
    return monte_carlo_pvalue(observed * (1 - 1e-12), permuted)


def moving_steps(counts: np.ndarray, n_actions: int, m: int,
                 rng_for: Callable[[int], np.random.Generator], level: float = 0.05,
                 n_permutations: int = 199, statistic: Statistic = "homogeneity",
                 last_step_rng: Callable[[int], np.random.Generator] | None = None) -> int:
    """How many of the first ``m`` observed steps come before the learner stops.

    Tests :math:`H_k` ("policies ``k..m`` are equal", :func:`stopped_pvalue` on batches ``k..m``)
    for ``k = 0, 1, ..., m - 1`` and stops at the first ``k`` not rejected at ``level``: the
    learner was seen to move before batch ``k`` and not after, so steps ``k..m-1`` are dropped.
    If even :math:`H_0` is not rejected, the test has not detected any motion of the learner (a
    slow learner, or too few trajectories for the test to see it): it then has no ground to
    tell moving steps from stopped ones, and every step is kept.

    Args:
        counts: ``(K, N, S * A)`` per-trajectory counts of ``K >= m + 1`` batches.
        n_actions: ``A``.
        m: observed steps (batches ``0..m``).
        rng_for: the generator of the test of :math:`H_k`, ``rng_for(k)`` (one stream each).
        level: the level of each test (and of the family, by the fixed sequence).
        n_permutations: permutations per test.
        statistic: the test's statistic (:func:`stopped_pvalue`).
        last_step_rng: if given, a stop found at ``k >= 1`` is accepted only if the test
            resolves the learner's last step before it: the two-batch test of batches ``k - 1``
            and ``k`` (drawing from ``last_step_rng(k)``) rejects at ``level``. Otherwise the
            learner moves in steps too small for the test to see one at a time, not seeing
            its motion after ``k`` is no evidence that it stopped, and every step is kept.

    Returns:
        The number of steps kept, in ``1..m``: the first ``k`` not rejected, or ``m`` if that
        is ``k = 0``, if every hypothesis is rejected, or (with ``last_step_rng``) if the last
        step before ``k`` is not resolved.
    """
    integer(m, "m", low=1)
    real(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    if counts.shape[0] < m + 1:
        raise ValueError(f"counts has {counts.shape[0]} batches, need m + 1 = {m + 1}")
    for k in range(m):
        p = stopped_pvalue(counts[k: m + 1], n_actions, rng_for(k), n_permutations, statistic)
        if p > level:
            if k == 0:
                return m
            if last_step_rng is not None and stopped_pvalue(
                    counts[k - 1: k + 1], n_actions, last_step_rng(k), n_permutations,
                    statistic) > level:
                return m
            return k
    return m
