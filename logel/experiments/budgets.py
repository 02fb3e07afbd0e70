"""One switch for compute: ``LOGEL_BUDGET = smoke | book | paper``.

``smoke`` is for quick checks (seconds), ``book`` for the book build and CI (the gridworld at
full paper scale), ``paper`` for the command line only (hours; writes artifacts). Every figure
and table says which budget made it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, cast

Budget = Literal["smoke", "book", "paper"]
BUDGETS: tuple[Budget, ...] = ("smoke", "book", "paper")
TUNING_SEEDS = tuple(range(100, 120))
"""Seeds on which our defaults (e.g. the BC regulariser) were chosen; results use other seeds."""


def current_budget(default: Budget = "book") -> Budget:
    """The budget named by the ``LOGEL_BUDGET`` environment variable (``default`` if unset)."""
    value = os.environ.get("LOGEL_BUDGET", default).strip().lower()
    if value not in BUDGETS:
        raise ValueError(f"LOGEL_BUDGET must be one of {BUDGETS}, got {value!r}")
    return cast(Budget, value)


@dataclass(frozen=True)
class GridworldBudget:
    """Sizes of the gridworld recovery experiments at one budget."""

    seeds: tuple[int, ...]
    """Independent learner runs (the paper's figures average 20 runs, spec Sec. 5.3)."""
    observed_steps: tuple[int, ...]
    """Numbers of observed learning steps ``m``."""


GRIDWORLD_BUDGETS: dict[Budget, GridworldBudget] = {
    "smoke": GridworldBudget(seeds=(0, 1, 2), observed_steps=(5, 15)),
    "book": GridworldBudget(seeds=tuple(range(20)), observed_steps=(5, 10, 15)),
    "paper": GridworldBudget(seeds=tuple(range(100)), observed_steps=(5, 10, 15)),
}
