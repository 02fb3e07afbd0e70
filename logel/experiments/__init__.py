"""Experiments: config dataclasses, ``run(config, seed)`` entry points, sweeps and budgets."""

from logel.experiments.budgets import (
    BUDGETS,
    GRIDWORLD_BUDGETS,
    TUNING_SEEDS,
    Budget,
    current_budget,
)

__all__ = ["BUDGETS", "GRIDWORLD_BUDGETS", "TUNING_SEEDS", "Budget", "current_budget"]
