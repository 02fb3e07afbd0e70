"""Experiments, one module per concept: its config dataclass, its budgets, ``run(config, seed)``,
its claims and its ``logel run`` command. Budgets are passed as arguments
(:mod:`logel.experiments.budgets`); a book chapter reads its budget once with
:func:`notebook_budget`."""

from logel.experiments.budgets import (
    BUDGETS,
    TUNING_SEEDS,
    Budget,
    check_budget,
    notebook_budget,
)

__all__ = ["BUDGETS", "TUNING_SEEDS", "Budget", "check_budget", "notebook_budget"]
