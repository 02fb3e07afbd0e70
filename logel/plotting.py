"""Figure helpers shared by every chapter: mean ± 95% CI bands and the budget label."""

from __future__ import annotations

from typing import Any

import numpy as np

from logel.evaluation import mean_ci
from logel.experiments.budgets import Budget, current_budget


def ci_band(ax: Any, x: Any, samples: Any, label: str | None = None, **kwargs: Any) -> Any:
    """Plot the mean of ``samples`` (shape ``(n_seeds, len(x))``) with a t-based 95% CI band."""
    samples = np.asarray(samples, dtype=float)
    stats = np.array([mean_ci(samples[:, j]) for j in range(samples.shape[1])])
    (line,) = ax.plot(x, stats[:, 0], marker="o", label=label, **kwargs)
    ax.fill_between(x, stats[:, 0] - stats[:, 1], stats[:, 0] + stats[:, 1],
                    color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def label_budget(fig: Any, budget: Budget | None = None, seeds: int | None = None) -> None:
    """Stamp the compute budget (and number of seeds) in the figure's lower-right corner."""
    budget = budget or current_budget()
    text = f"budget: {budget}" + (f", {seeds} seeds" if seeds is not None else "")
    fig.text(0.995, 0.005, text, ha="right", va="bottom", fontsize=8, color="0.35")
