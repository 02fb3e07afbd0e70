"""How results are shown, for every chapter: figures (mean ± 95% CI bands, the budget label) and
tables (a markdown table and the formatted numbers in its cells)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from logel.budget import Budget
from logel.statistics import mean_ci, wilson_interval

# ------------------------------------------------------------------------------------ figures


def ci_band(ax: Any, x: Any, samples: Any, label: str | None = None, **kwargs: Any) -> Any:
    """Plot the mean of ``samples`` (shape ``(n_seeds, len(x))``) with a t-based 95% CI band."""
    samples = np.asarray(samples, dtype=float)
    stats = np.array([mean_ci(samples[:, j]) for j in range(samples.shape[1])])
    (line,) = ax.plot(x, stats[:, 0], marker="o", label=label, **kwargs)
    ax.fill_between(x, stats[:, 0] - stats[:, 1], stats[:, 0] + stats[:, 1],
                    color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def label_budget(fig: Any, budget: Budget, seeds: int | None = None) -> None:
    """Stamp the compute budget (and number of seeds) in the figure's lower-right corner."""
    text = f"budget: {budget}" + (f", {seeds} seeds" if seeds is not None else "")
    fig.text(0.995, 0.005, text, ha="right", va="bottom", fontsize=8, color="0.35")


# ------------------------------------------------------------------------------------- tables


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub/MyST markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def fixed(x: float, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals."""
    return f"{x:.{digits}f}"


def plus_minus(stat: tuple[float, float], digits: int = 2) -> str:
    """``"mean ± half"`` of a pair such as :func:`logel.statistics.mean_ci`'s."""
    mean, half = stat
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


class MethodResults(Protocol):
    """A result with one outcome per observer and number of observed steps, such as
    ``logel.experiments.comparison.ComparisonResult``."""

    def outcome(self, method: Any, m: int) -> Any:
        """The outcome (with ``value`` and ``optimal``) of ``method`` after ``m`` steps."""
        ...


def count_interval(k: int, n: int, interval: bool = True) -> str:
    """``"k/n [low, high]"``: a count over seeds with its 95% Wilson interval
    (:func:`logel.statistics.wilson_interval`) on the proportion; ``"k/n"`` without."""
    if not interval:
        return f"{k}/{n}"
    low, high = wilson_interval(k, n)
    return f"{k}/{n} [{low:.2f}, {high:.2f}]"


def count_cell(results: Sequence[MethodResults], method: Any, m: int,
               interval: bool = True) -> str:
    """``"k/n [low, high]"``: the number of seeds whose ``method`` attains the optimum at ``m``,
    with its 95% Wilson interval (:func:`count_interval`)."""
    k = sum(bool(r.outcome(method, m).optimal) for r in results)
    return count_interval(k, len(results), interval)


def value_cell(results: Sequence[MethodResults], method: Any, m: int, digits: int = 2) -> str:
    """``"mean ± ci"`` over seeds of the value of ``method`` at ``m``."""
    return plus_minus(mean_ci([r.outcome(method, m).value for r in results]), digits)
