"""Compute budgets: ``smoke | book | paper``, passed to the experiments as an argument.

``smoke`` is for quick checks (seconds), ``book`` for the book build and CI (the gridworld at
full paper scale), ``paper`` for the command line only (hours; writes artifacts). Every figure
and table says which budget made it.

Each experiment module defines its own sizes per budget next to its configuration (e.g.
:data:`logel.experiments.gridworld.GRIDWORLD_BUDGETS`); library code takes the budget as an
argument and never reads the environment. The one exception is :func:`notebook_budget`, the
helper a book chapter calls once at its top: ``make book`` and ``make nbval`` select the budget
of the executed notebooks with the ``LOGEL_BUDGET`` environment variable.
"""

from __future__ import annotations

import os
from typing import cast

from logel.budget import BUDGETS, Budget, check_budget  # noqa: F401  (re-exported)

NOTEBOOK_BUDGETS: tuple[Budget, ...] = ("smoke", "book")
"""The budgets a book chapter may run; ``paper`` is reachable from the command line only."""
TUNING_SEEDS = tuple(range(100, 120))
"""Seeds on which our defaults (e.g. the BC regulariser) were chosen; results use other seeds."""


def notebook_budget(default: Budget = "book") -> Budget:
    """The budget of an executed book chapter: ``LOGEL_BUDGET`` (``smoke`` or ``book``).

    The only place in the package that reads the environment for the budget. A chapter calls it
    once, ``budget = notebook_budget()``, and passes ``budget`` on explicitly. ``paper`` is
    refused: paper-scale runs go from the command line (``logel run ...``,
    ``logel reproduce ... --budget paper``), never from the book build.
    """
    value = os.environ.get("LOGEL_BUDGET", default).strip().lower()
    if value not in NOTEBOOK_BUDGETS:
        hint = (" (the paper budget runs from the command line only: logel run / logel "
                "reproduce --budget paper)" if value == "paper" else "")
        raise ValueError(f"LOGEL_BUDGET must be one of {NOTEBOOK_BUDGETS} in a book chapter, "
                         f"got {value!r}{hint}")
    return cast(Budget, value)

