"""Claim checks: statements about an experiment's results, each with a computed verdict.

Each experiment module defines its claims (and their thresholds) next to its configuration and
budgets, as a function of its results and the budget; ``logel reproduce`` reports them and the
book's tables show and assert the same objects. A claim is a :class:`logel.statistics.Claim`
(one concept, one home): a comparison with an explicit threshold and an interval, judged by the
verdict rule -- *holds*, *fails* or *inconclusive*. ``logel reproduce`` fails when a claim
fails; an inconclusive one is reported and does not fail the run.

The builders here add what an experiment needs on top of :mod:`logel.statistics`:

* :func:`count_claim`: "optimal in a proportion of seeds above (below) a threshold", with the
  Wilson interval (:func:`logel.statistics.proportion_claim`);
* :func:`paired`: "A beats B on the same seeds", the exact McNemar test
  (:func:`logel.statistics.paired_claim`), and :func:`paired_equivalent`, "A and B succeed on
  the same seeds" (:func:`logel.statistics.paired_equivalence_claim`);
* :func:`claim`: a plain check that has no interval (e.g. "exact gradients recover omega
  exactly"): it holds or fails.

Claims that need many seeds are *statistical*: at the ``smoke`` budget (2-3 seeds) they are not
tested and come out inconclusive, with the interval [0, 1].
"""

from __future__ import annotations

from typing import Any

from logel.experiments.budgets import Budget
from logel.statistics import (
    FAILS,
    Claim,
    paired_claim,
    paired_equivalence_claim,
    proportion_claim,
)

__all__ = ["Claim", "claim", "count_claim", "failed", "paired", "paired_equivalent"]

NOT_TESTED = "not tested at the smoke budget"
"""Interval kind of a statistical claim at the ``smoke`` budget (interval [0, 1])."""


def _untested(experiment: str, name: str, estimate: float, detail: str) -> Claim:
    return Claim.of(name, estimate, 0.0, 1.0, 0.5, ">", NOT_TESTED, experiment=experiment,
                    detail=f"not tested at smoke ({detail})")


def claim(experiment: str, name: str, ok: bool, detail: str, budget: Budget,
          statistical: bool = True) -> Claim:
    """A check without an interval: it holds if ``ok``, else it fails (estimate 1 or 0 against
    the threshold 1/2); a statistical one is not tested at the smoke budget."""
    if statistical and budget == "smoke":
        return _untested(experiment, name, 0.5, detail)
    x = 1.0 if ok else 0.0
    return Claim.of(name, x, x, x, 0.5, ">", "check (no interval)", experiment=experiment,
                    detail=detail)


def count_claim(experiment: str, name: str, k: int, n: int, threshold: float, budget: Budget,
                claim: str = ">", detail: str = "") -> Claim:
    """``k`` of ``n`` seeds against ``threshold`` (Wilson interval,
    :func:`logel.statistics.proportion_claim`); not tested at the smoke budget."""
    if budget == "smoke":
        return _untested(experiment, name, k / n, f"{k}/{n}" + (f"; {detail}" if detail else ""))
    return proportion_claim(name, k, n, threshold, claim, experiment=experiment, detail=detail)


def paired(experiment: str, name: str, a: Any, b: Any, budget: Budget,
           detail: str = "") -> Claim:
    """"A beats B" on the same seeds (exact McNemar, :func:`logel.statistics.paired_claim`);
    not tested at the smoke budget."""
    if budget == "smoke":
        return _untested(experiment, name, 0.5, detail or "paired")
    return paired_claim(name, a, b, experiment=experiment, detail=detail)


def paired_equivalent(experiment: str, name: str, a: Any, b: Any, budget: Budget,
                      margin: float = 0.1, detail: str = "") -> Claim:
    """"A and B succeed on the same seeds" within ``margin``
    (:func:`logel.statistics.paired_equivalence_claim`); not tested at the smoke budget."""
    if budget == "smoke":
        return _untested(experiment, name, 0.5, detail or "paired")
    return paired_equivalence_claim(name, a, b, margin, experiment=experiment, detail=detail)


def failed(claims: list[Claim]) -> list[Claim]:
    """The claims that fail (inconclusive ones do not)."""
    return [c for c in claims if c.verdict == FAILS]
