"""The chapter helpers of logel.experiments.comparison_figures reproduce run_comparison; the
table helpers of logel.plotting."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from logel.experiments.comparison import (  # noqa: E402
    ComparisonConfig,
    learner_parameters,
    run_comparison,
)
from logel.experiments.comparison_figures import (  # noqa: E402
    observe_variant,
    optimal_counts,
    plot_values,
    sweep_configs,
    sweep_variants,
    value_matrix,
)
from logel.experiments.gridworld import RecoveryConfig  # noqa: E402
from logel.plotting import count_cell, markdown_table, value_cell  # noqa: E402


@pytest.mark.parametrize("learner", ["gpomdp", "spi"])
def test_observe_variant_equals_run_comparison(learner: str) -> None:
    cfg = ComparisonConfig(learner=learner, observed_steps=(2, 3))
    grid, trace, thetas = learner_parameters(cfg, 1)
    assert thetas.shape == (4, 75)
    assert observe_variant(cfg, 1, grid, trace).outcomes == run_comparison(cfg, 1).outcomes


def test_learner_parameters_are_the_policies() -> None:
    cfg = ComparisonConfig(learner="svi", observed_steps=(2,))
    _, _, thetas = learner_parameters(cfg, 0)
    # SVI's first backup gives Q_1(s, a) = r(s): the policy stays uniform
    np.testing.assert_allclose(thetas[:2], 0.0, atol=1e-12)
    assert np.abs(thetas[2]).max() > 0


def test_sweeps_and_tables() -> None:
    base = ComparisonConfig(learner="gpomdp", observed_steps=(2, 3), methods=("logel",))
    free = ComparisonConfig(learner="gpomdp", observed_steps=(2, 3), methods=("logel",),
                            logel=RecoveryConfig(setting="realistic",
                                                 fix_constant_direction=False))
    sw = sweep_variants({"free": free}, [0, 1], alignment=True, base=base)
    ref = [run_comparison(free, s) for s in (0, 1)]
    assert [r.outcomes for r in sw.results["free"]] == [r.outcomes for r in ref]
    assert sw.alignment is not None and len(sw.alignment) == 2
    # the G(PO)MDP learner's true steps are exactly along its gradient estimate
    np.testing.assert_allclose(sw.alignment[0].true, 1.0, atol=1e-9)
    assert set(sw.alignment[0].oracle_values) == {2, 3}
    out = sweep_configs({"base": base}, [0, 1])
    assert [r.outcomes for r in out["base"]] == [run_comparison(base, s).outcomes for s in (0, 1)]
    assert value_matrix(out["base"], "logel").shape == (2, 2)
    counts = optimal_counts(out["base"], "logel")
    assert set(counts) == {2, 3} and all(0 <= c <= 2 for c in counts.values())
    assert count_cell(out["base"], "logel", 2, interval=False) == f"{counts[2]}/2"
    assert count_cell(out["base"], "logel", 2).startswith(f"{counts[2]}/2 [")
    assert " ± " in value_cell(out["base"], "logel", 2)
    assert markdown_table(["a", "b"], [[1, 2]]).splitlines()[1] == "|---|---|"
    fig, ax = plt.subplots()
    plot_values(ax, out["base"], "logel")
    plt.close(fig)
    with pytest.raises(ValueError):
        sweep_variants({"spi": ComparisonConfig(learner="spi", observed_steps=(2, 3))}, [0],
                       base=base)
