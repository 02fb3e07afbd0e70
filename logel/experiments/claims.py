"""Claim checks: statements about an experiment's results that pass or fail with the numbers.

Each experiment module defines its claims (and their thresholds) next to its configuration and
budgets, as a function of its results and the budget; ``logel reproduce`` reports them and the
book's hidden assert cells check the same objects. Claims that need many seeds are *statistical*
and skipped at the ``smoke`` budget (2-3 seeds cannot support them).
"""

from __future__ import annotations

from dataclasses import dataclass

from logel.experiments.budgets import Budget


@dataclass(frozen=True)
class Claim:
    """One checked statement: ``passed`` is None when the budget is too small to test it."""

    experiment: str
    name: str
    passed: bool | None
    detail: str


def claim(experiment: str, name: str, ok: bool, detail: str, budget: Budget,
          statistical: bool = True) -> Claim:
    """A :class:`Claim`; a statistical one is skipped (``passed=None``) at the smoke budget."""
    if statistical and budget == "smoke":
        return Claim(experiment, name, None, f"skipped at smoke budget ({detail})")
    return Claim(experiment, name, bool(ok), detail)


def failed(claims: list[Claim]) -> list[Claim]:
    """The claims that failed (skipped ones do not fail)."""
    return [c for c in claims if c.passed is False]
