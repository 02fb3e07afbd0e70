"""The three compute budgets, ``smoke | book | paper`` (the bottom layer: no logel imports).

What each budget means for an experiment is defined next to that experiment
(:mod:`logel.experiments.budgets` explains the scheme); this module only names them, so that
low-level helpers such as :func:`logel.plotting.label_budget` can take a budget without
importing the experiments.
"""

from __future__ import annotations

from typing import Literal, cast

Budget = Literal["smoke", "book", "paper"]
BUDGETS: tuple[Budget, ...] = ("smoke", "book", "paper")


def check_budget(budget: str) -> Budget:
    """``budget`` if it names a budget, else a ``ValueError`` naming the choices."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
    return cast(Budget, budget)
