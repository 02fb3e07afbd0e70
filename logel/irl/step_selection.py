"""Which observed steps show that the learner moved? A held-out likelihood test (book ch. 6).

LOGEL models every observed step :math:`\\hat\\theta_t\\to\\hat\\theta_{t+1}` as a gradient step.
After a learner converges its policy no longer changes, but the cloned parameters can keep
drifting (the cloning of a nearly deterministic policy pushes its logits outwards), so the size
of :math:`\\hat\\Delta_t` says nothing about whether the learner moved. This module decides it in
*policy* space, from the observer's trajectories only, one step at a time.

For the step ``t`` (batches :math:`\\mathcal D_t` and :math:`\\mathcal D_{t+1}`), each batch's
trajectories are split at random into a training half and a held-out half. A policy is cloned
on each training half alone (:func:`logel.irl.bc.clone_counts`: maximum a-posteriori under a
Gaussian prior at the uniform policy), and each held-out trajectory :math:`\\tau` gets the score

.. math:: r(\\tau)=\\log\\hat\\pi_{t+1}(\\tau)-\\log\\hat\\pi_t(\\tau)
          =\\sum_{s,a}c_\\tau(s,a)\\,[\\log\\hat\\pi_{t+1}(a|s)-\\log\\hat\\pi_t(a|s)],

the per-trajectory log-likelihood ratio of the two cloned policies (the dynamics cancel). The
statistic is the difference of the mean scores of the held-out trajectories of the two batches,
:math:`D_t=\\bar r_{t+1}-\\bar r_t` (:func:`held_out_statistic`): large when each batch is explained
better by its own policy. Under "the learner's policies :math:`\\pi_t` and :math:`\\pi_{t+1}` are
equal" the held-out trajectories of both batches are draws from one policy, independent of the
training halves, so conditionally on the two cloned policies their batch labels are exchangeable:
the one-sided permutation p-value of :math:`D_t` is exact at any number of trajectories
(:func:`held_out_pvalue`; Lehmann & Romano, *Testing Statistical Hypotheses*, Sec. 15.2; a
classifier two-sample test with the likelihood ratio as the classifier).

:func:`moving_steps_mask` keeps the steps whose test rejects at the level; if none does, the
test has seen no motion at all and has no ground to drop any step, so every step is kept. The
test of step ``t`` uses only the batches ``t`` and ``t + 1`` and its own random stream, so a
step kept after ``m`` observed steps is kept after any larger ``m``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from logel._validation import as_array, choice, integer, real
from logel.irl.bc import BCConfig, clone_counts
from logel.policies.boltzmann import BoltzmannPolicy
from logel.statistics import monte_carlo_pvalue

__all__ = ["CORRECTIONS", "held_out_pvalue", "held_out_statistic", "holm_adjusted",
           "moving_steps_mask", "step_pvalues"]

HELD_OUT_BC = BCConfig(method="proximal", proximal_weight=1.0)
"""The cloning of the test's policies: one proximal step from the uniform policy, weight 1 (a
standard-normal prior on the logits), on each training half alone."""


def _batch(counts: np.ndarray, name: str) -> np.ndarray:
    c = as_array(counts, name, ndim=3, shape_doc="(N, S, A)")
    if c.shape[0] < 2 or c.shape[2] < 2:
        raise ValueError(f"{name} must hold at least 2 trajectories and 2 actions, shape "
                         f"(N, S, A); got {c.shape}")
    if (c < 0).any():
        raise ValueError(f"{name} must be non-negative visit counts")
    return c


def held_out_statistic(scores_before: np.ndarray, scores_after: np.ndarray) -> float:
    """:math:`D=\\bar r_{t+1}-\\bar r_t`: the mean score of the held-out trajectories of batch
    ``t + 1`` minus that of batch ``t``, each score :math:`r(\\tau)` the log-likelihood ratio
    :math:`\\log\\hat\\pi_{t+1}(\\tau)-\\log\\hat\\pi_t(\\tau)` (book ch. 6,
    eq. ``eq:realistic-heldout-statistic``)."""
    return float(np.mean(scores_after) - np.mean(scores_before))


def held_out_pvalue(counts_before: np.ndarray, counts_after: np.ndarray,
                    rng: np.random.Generator, n_permutations: int = 999,
                    bc: BCConfig = HELD_OUT_BC) -> float:
    """Exact permutation p-value of "the learner's policy did not change in this step".

    Each batch's trajectories are split at random (``rng``) into a training half (the first
    :math:`\\lfloor N/2\\rfloor` of a permutation) and a held-out half; a policy is cloned on each
    training half (:func:`logel.irl.bc.clone_counts` with ``bc``), and the statistic
    :func:`held_out_statistic` of the held-out trajectories' scores is compared with its value
    under ``n_permutations`` random reassignments of the held-out trajectories to the two
    batches (book ch. 6, algorithm ``alg:realistic-heldout``).

    Args:
        counts_before: ``(N, S, A)`` state-action counts of each trajectory of batch ``t``.
        counts_after: ``(N', S, A)`` the same of batch ``t + 1``.
        rng: draws the split and the permutations.
        n_permutations: random reassignments ``R``.
        bc: the cloning of the two policies.

    Returns:
        :math:`(1+\\#\\{D_r\\ge D\\})/(R+1)` in ``(0, 1]``; 1 when the two cloned policies are equal.

    Raises:
        ValueError: for counts not of shape ``(N, S, A)`` with ``N >= 2``, negative or
            non-finite counts, or batches of different ``(S, A)``.
    """
    before = _batch(counts_before, "counts_before")
    after = _batch(counts_after, "counts_after")
    if before.shape[1:] != after.shape[1:]:
        raise ValueError(f"counts_before and counts_after must have the same (S, A); got "
                         f"{before.shape[1:]} and {after.shape[1:]}")
    n_permutations = integer(n_permutations, "n_permutations", low=1)
    n_states, n_actions = before.shape[1:]
    policy = BoltzmannPolicy(n_states, n_actions)
    log_pi, held = [], []
    for batch in (before, after):
        order = rng.permutation(batch.shape[0])
        train, test = order[: batch.shape[0] // 2], order[batch.shape[0] // 2:]
        log_pi.append(policy.log_probabilities(clone_counts(policy, batch[train].sum(axis=0),
                                                            config=bc)))
        held.append(batch[test].reshape(len(test), -1))
    ratio = (log_pi[1] - log_pi[0]).ravel()
    scores = [h @ ratio for h in held]
    observed = held_out_statistic(*scores)
    pooled = np.concatenate(scores)
    n_before = len(scores[0])
    perms = np.stack([rng.permutation(pooled.size) for _ in range(n_permutations)])
    shuffled = pooled[perms]
    permuted = shuffled[:, n_before:].mean(axis=1) - shuffled[:, :n_before].mean(axis=1)
    tol = 1e-12 * max(1.0, float(np.abs(pooled).max(initial=0.0)))
    return monte_carlo_pvalue(observed - tol, permuted)


def step_pvalues(counts: np.ndarray, m: int, rng_for: Callable[[int], np.random.Generator],
                 n_permutations: int = 999, bc: BCConfig = HELD_OUT_BC) -> np.ndarray:
    """:func:`held_out_pvalue` of each of the first ``m`` steps.

    Args:
        counts: ``(K, N, S, A)`` per-trajectory counts of ``K >= m + 1`` batches.
        m: observed steps (batches ``0..m``).
        rng_for: the generator of the test of step ``t``, ``rng_for(t)`` (one stream each).
        n_permutations: permutations per test.
        bc: the cloning of the test's policies.

    Returns:
        ``(m,)`` p-values; entry ``t`` uses only batches ``t`` and ``t + 1`` and ``rng_for(t)``.
    """
    c = as_array(counts, "counts", ndim=4, shape_doc="(K, N, S, A)")
    m = integer(m, "m", low=1)
    if c.shape[0] < m + 1:
        raise ValueError(f"counts has {c.shape[0]} batches, need m + 1 = {m + 1}")
    return np.array([held_out_pvalue(c[t], c[t + 1], rng_for(t), n_permutations, bc)
                     for t in range(m)])


def holm_adjusted(pvalues: np.ndarray) -> np.ndarray:
    r"""Holm's step-down adjusted p-values (Holm, 1979): with :math:`p_{(1)}\le\dots\le p_{(m)}`,
    :math:`\tilde p_{(i)}=\max_{j\le i}\min\big(1,(m-j+1)\,p_{(j)}\big)`; rejecting
    :math:`\tilde p_t\le a` keeps the family-wise error at ``a`` under any dependence."""
    p = as_array(pvalues, "pvalues", ndim=1, shape_doc="(m,)")
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


Correction = Literal["none", "holm"]
CORRECTIONS: tuple[Correction, ...] = ("none", "holm")
"""How :func:`moving_steps_mask` reads the ``m`` tests: each at its own level, or as a family
(Holm)."""


def moving_steps_mask(pvalues: np.ndarray, level: float = 0.05,
                      correction: Correction = "none") -> np.ndarray:
    """The steps the fit uses: those whose held-out test rejects at ``level``, or every step if
    none does (the test has seen no motion, so it has no ground to drop a step).

    With ``correction="holm"`` a step is kept when its Holm-adjusted p-value
    (:func:`holm_adjusted`) is at most ``level``: the family-wise error is then at most
    ``level``, so a learner none of whose steps the test can resolve keeps every step with
    probability at least ``1 - level`` (book ch. 6, ``sec:realistic-heldout-steps``).

    Args:
        pvalues: ``(m,)`` :func:`step_pvalues`.
        level: the level of each step's test (``"none"``) or of the family (``"holm"``).
        correction: ``"none"`` or ``"holm"``.

    Returns:
        ``(m,)`` booleans, at least one True.
    """
    p = as_array(pvalues, "pvalues", ndim=1, shape_doc="(m,)")
    if (p <= 0).any() or (p > 1).any():
        raise ValueError("pvalues must lie in (0, 1]")
    level = real(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    choice(correction, "correction", CORRECTIONS)
    keep = (holm_adjusted(p) if correction == "holm" else p) <= level
    return keep if keep.any() else np.ones_like(keep)
