"""``logel reproduce``: rerun every experiment, write its artifacts and figure, check its claims.

Each experiment is a function ``(budget, n_jobs, backend, out_dir, progress) -> Report`` that
runs the package's sweeps through :func:`logel.runner.run_jobs`, writes small result files, a
figure labelled with its budget and a manifest (:mod:`logel.artifacts`, atomic writes) under
``<out_dir>/<experiment>/``, and evaluates its *claims*
(:class:`logel.statistics.Claim`, built by :mod:`logel.experiments.claims`): each a threshold
with an interval and a computed verdict, *holds*, *fails* or *inconclusive*. Claims that need
many seeds are not tested at the ``smoke`` budget (2-3 seeds cannot support them) and come out
inconclusive. The CLI prints a summary table and exits non-zero if any claim *fails*
(:func:`logel.cli.main`); an inconclusive claim is reported and does not fail the run.

Budgets, claims and their thresholds are defined once, in each experiment's module
(:mod:`logel.experiments.gridworld`, :mod:`~logel.experiments.comparison`,
:mod:`~logel.experiments.final_behaviour`, :mod:`~logel.experiments.theory`); the book's hidden
assert cells check the same objects.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from logel import artifacts
from logel.experiments.budgets import Budget
from logel.experiments.claims import Claim, claim
from logel.runner import Backend, run_jobs
from logel.statistics import FAILS, HOLDS, INCONCLUSIVE

__all__ = ["EXPERIMENTS", "Claim", "Report", "reproduce", "summary_table"]


@dataclass(frozen=True)
class Report:
    """What one experiment produced."""

    experiment: str
    budget: str
    seconds: float
    claims: tuple[Claim, ...]
    files: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""


def _figure(path: Path, draw: Callable[[Any], None], budget: Budget, seeds: int | None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from logel.plotting import label_budget

    fig = plt.figure(figsize=(9, 3.4))
    draw(fig)
    label_budget(fig, budget, seeds)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)
    plt.close(fig)
    return path.name


def _finish(out: Path, name: str, budget: Budget, t0: float, claims: list[Claim],
            config: Any, seeds: list[int], note: str = "") -> Report:
    artifacts.save_json(out / "claims.json", [_jsonable(c) for c in claims])
    seconds = time.perf_counter() - t0
    artifacts.write_manifest(out, config=config, seeds=seeds, wall_time_seconds=seconds)
    files = tuple(sorted(p.name for p in out.iterdir() if not p.name.startswith(".")))
    return Report(name, budget, seconds, tuple(claims), files, note)


# --------------------------------------------------------------------- gridworld settings


def _recovery(setting: str, budget: Budget, n_jobs: int, backend: Backend, out: Path,
              progress: bool) -> Report:
    from logel.experiments import gridworld

    t0 = time.perf_counter()
    seeds, cfg = gridworld.budget_setup(setting, budget)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = run_jobs(gridworld.run, [(cfg, s) for s in seeds], n_jobs, backend, progress,
                           setting)
    rows = gridworld.summarise(results)
    ms = list(cfg.observed_steps)
    errors = np.array([[r.outcome(m).weight_error for m in ms] for r in results])
    values = np.array([[r.outcome(m).value for m in ms] for r in results])
    artifacts.save_arrays(out / "results.npz", m=ms, seeds=seeds, weight_error=errors,
                          value=values)
    artifacts.save_json(out / "summary.json", [r.__dict__ for r in rows])

    def draw(fig: Any) -> None:
        from logel.plotting import ci_band

        ax1, ax2 = fig.subplots(1, 2)
        ci_band(ax1, ms, errors)
        ax1.set(xlabel="observed learning steps m", ylabel="weight error (centred)",
                title=f"{setting} setting")
        ci_band(ax2, ms, values)
        ax2.axhline(results[0].optimal_value, ls="--", color="k", lw=0.8)
        ax2.set(xlabel="m", ylabel="V(s0) of the greedy policy")

    _figure(out / "figure.png", draw, budget, len(seeds))
    return _finish(out, setting, budget, t0, gridworld.claims(results, budget),
                   {"setting": setting, "budget": budget}, seeds)


def reproduce_exact(budget: Budget, n_jobs: int, backend: Backend, out: Path,
                    progress: bool = False) -> Report:
    """Exact-gradient setting (book chapter 4)."""
    return _recovery("exact", budget, n_jobs, backend, out, progress)


def reproduce_approximate(budget: Budget, n_jobs: int, backend: Backend, out: Path,
                          progress: bool = False) -> Report:
    """Approximate-gradient setting on the learner's own samples (book chapter 5)."""
    return _recovery("approximate", budget, n_jobs, backend, out, progress)


def reproduce_realistic(budget: Budget, n_jobs: int, backend: Backend, out: Path,
                        progress: bool = False) -> Report:
    """Realistic setting, LOGEL with behavioural cloning (book chapter 6)."""
    return _recovery("realistic", budget, n_jobs, backend, out, progress)


# ---------------------------------------------------------------------- four learners


def reproduce_comparison(budget: Budget, n_jobs: int, backend: Backend, out: Path,
                         progress: bool = False) -> Report:
    """LOGEL against LfL for four learners (book chapter 7)."""
    from logel.experiments import comparison
    from logel.experiments.comparison import LEARNERS

    t0 = time.perf_counter()
    seeds, configs = comparison.budget_setup(budget)
    ms = configs["gpomdp"].observed_steps
    jobs = [(configs[ln], s) for ln in LEARNERS for s in seeds]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = run_jobs(comparison.run_comparison, jobs, n_jobs, backend, progress, "comparison")
    res = {ln: flat[i * len(seeds):(i + 1) * len(seeds)] for i, ln in enumerate(LEARNERS)}
    counts = {ln: {meth: {m: int(sum(r.outcome(meth, m).optimal for r in res[ln]))
                          for m in ms} for meth in ("logel", "lfl")} for ln in LEARNERS}
    values = {f"{ln}_{meth}": np.array([[r.outcome(meth, m).value for m in ms] for r in res[ln]])
              for ln in LEARNERS for meth in ("logel", "lfl")}
    artifacts.save_arrays(out / "values.npz", m=list(ms), seeds=seeds, **values)
    artifacts.save_json(out / "optimal_counts.json", counts)

    def draw(fig: Any) -> None:
        from logel.plotting import ci_band

        axes = fig.subplots(1, len(LEARNERS), sharey=True)
        for ax, ln in zip(axes, LEARNERS, strict=True):
            for meth in ("logel", "lfl"):
                ci_band(ax, list(ms), values[f"{ln}_{meth}"], label=meth)
            ax.set(title=ln, xlabel="m")
        axes[0].set_ylabel("V(s0)")
        axes[0].legend()

    _figure(out / "figure.png", draw, budget, len(seeds))
    return _finish(out, "comparison", budget, t0,
                   comparison.claims(res, budget), {"observed_steps": list(ms)},
                   seeds)


# ------------------------------------------------------------------ final behaviour, theory


def reproduce_final_behaviour(budget: Budget, n_jobs: int, backend: Backend, out: Path,
                              progress: bool = False) -> Report:
    """Is watching the learning worth it? (book chapter 9, first half)."""
    from logel.experiments import final_behaviour
    from logel.experiments.final_behaviour import (
        OBSERVERS,
        summarise,
        sweep_final_behaviour,
        value_matrix,
    )

    t0 = time.perf_counter()
    seeds, configs = final_behaviour.budget_setup(budget)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sweep_final_behaviour(configs, seeds, n_jobs, backend, progress)
    artifacts.save_json(out / "summary.json",
                        {ln: [s.__dict__ for s in summarise(r)] for ln, r in res.items()})
    cfg = next(iter(configs.values()))
    n_max = max(cfg.trajectories)
    pairs = [(m, n_max) for m in cfg.observed_steps]

    def draw(fig: Any) -> None:
        from logel.plotting import ci_band

        axes = fig.subplots(1, len(res), sharey=True)
        for ax, (ln, r) in zip(axes, res.items(), strict=True):
            for meth in (*OBSERVERS, "learner"):
                ci_band(ax, list(cfg.observed_steps), value_matrix(r, meth, pairs), label=meth)
            ax.set(title=ln, xlabel="m (learner stopped after m steps)")
        axes[0].set_ylabel("V(s0)")
        axes[0].legend(fontsize=7)

    _figure(out / "figure.png", draw, budget, len(seeds))
    return _finish(out, "final_behaviour", budget, t0, final_behaviour.claims(res, budget),
                   {"learners": list(configs)}, seeds)


def reproduce_theory(budget: Budget, n_jobs: int, backend: Backend, out: Path,
                     progress: bool = False) -> Report:
    """Finite-sample rates and identifiability (book chapter 9, second half)."""
    from logel.experiments import theory

    t0 = time.perf_counter()
    seeds, cfg = theory.budget_setup(budget)
    results = theory.sweep_rates(cfg, seeds, n_jobs, backend)
    known = np.stack([r.known for r in results])
    bc = np.stack([r.bc for r in results])
    artifacts.save_arrays(out / "rates.npz", n=list(cfg.trajectories),
                          m=list(cfg.observed_steps), known=known, bc=bc, seeds=seeds)
    slopes = theory.rate_slopes(results, n_min=100)
    artifacts.save_json(out / "slopes.json", slopes)

    def draw(fig: Any) -> None:
        ax1, ax2 = fig.subplots(1, 2, sharey=True)
        for ax, arr, title in ((ax1, known, "known theta, alpha"), (ax2, bc, "BC + BCD")):
            for j, m in enumerate(cfg.observed_steps):
                ax.loglog(cfg.trajectories, np.exp(np.log(arr[:, :, j]).mean(axis=0)), "o-",
                          label=f"m={m}")
            ax.set(title=title, xlabel="trajectories per step n")
        ax1.set_ylabel("weight error (geometric mean)")
        ax1.legend()

    _figure(out / "figure.png", draw, budget, len(seeds))
    return _finish(out, "theory", budget, t0, theory.claims(slopes, budget),
                   {"trajectories": list(cfg.trajectories)}, seeds)


# ------------------------------------------------------------------------------- MuJoCo


def reproduce_mujoco(budget: Budget, n_jobs: int, backend: Backend, out: Path,
                     progress: bool = False) -> Report:
    """MuJoCo Hopper at the *smoke* budget only (paper-budget runs are a deliberate, separate
    step: ``logel run mujoco --env Hopper-v5 --seeds 0-9 --budget paper``)."""
    t0 = time.perf_counter()
    try:
        from logel.experiments import mujoco
    except ImportError as err:  # the optional extra is missing
        skipped = Claim.of("smoke run completes", 0.5, 0.0, 1.0, 0.5, ">", "not run",
                           experiment="mujoco", detail=f"skipped: {err}")
        return _finish(out, "mujoco", budget, t0, [skipped], {}, [])
    cfg = mujoco.experiment_config("Hopper-v5", "smoke")
    status = mujoco.run(cfg, [0], root=out, force=True)
    done = status.get(0) == "done" and artifacts.is_complete(mujoco.output_dir(cfg, 0, out))
    done_claim = claim("mujoco", "Hopper-v5 smoke run completes and verifies", done,
                       f"status {status}; budget run: smoke (book/paper MuJoCo runs are not "
                       "launched by reproduce)", budget, statistical=False)
    return _finish(out, "mujoco", budget, t0, [done_claim],
                   {"env": "Hopper-v5", "budget": "smoke"}, [0],
                   note="run at the smoke budget whatever --budget says")


EXPERIMENTS: dict[str, Callable[..., Report]] = {
    "exact": reproduce_exact,
    "approximate": reproduce_approximate,
    "realistic": reproduce_realistic,
    "comparison": reproduce_comparison,
    "final_behaviour": reproduce_final_behaviour,
    "theory": reproduce_theory,
    "mujoco": reproduce_mujoco,
}
"""Every experiment ``logel reproduce`` knows, in the order ``all`` runs them."""


def reproduce(names: list[str], budget: Budget, n_jobs: int = 1, backend: Backend = "loky",
              root: Path | None = None, progress: bool = False,
              log: Callable[[str], None] = print) -> list[Report]:
    """Run the named experiments; results go to ``<root>/reproduce_<budget>/<name>/``."""
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"unknown experiment(s) {unknown}; choose from {list(EXPERIMENTS)}")
    base = (root or artifacts.artifact_root()) / f"reproduce_{budget}"
    reports = []
    for i, name in enumerate(names, 1):
        log(f"[{i}/{len(names)}] {name} (budget {budget}, n_jobs {n_jobs}, {backend}) ...")
        out = base / name
        out.mkdir(parents=True, exist_ok=True)
        rep = EXPERIMENTS[name](budget, n_jobs, backend, out, progress)
        reports.append(replace(rep, files=tuple(str(out / f) for f in rep.files)))
        log(f"      done in {rep.seconds:.1f} s, claims: "
            + ", ".join(_MARKS[c.verdict] for c in rep.claims))
    return reports


def summary_table(reports: list[Report]) -> str:
    """Plain-text table: one row per claim, with its verdict, interval and measured detail."""
    lines = [f"{'experiment':<16s} {'verdict':<12s} {'seconds':>8s}  claim [95% interval vs "
             "threshold] -- measured"]
    for rep in reports:
        for c in rep.claims:
            lines.append(f"{rep.experiment:<16s} {_MARKS[c.verdict]:<12s} {rep.seconds:8.1f}  "
                         f"{c.text} [{c.low:.2f}, {c.high:.2f} {c.claim} {c.threshold:.2f}, "
                         f"{c.interval_kind}] -- {c.detail}")
    n = {v: sum(c.verdict == v for r in reports for c in r.claims)
         for v in (HOLDS, FAILS, INCONCLUSIVE)}
    lines.append(f"{n[HOLDS]} hold, {n[FAILS]} fail, {n[INCONCLUSIVE]} inconclusive")
    return "\n".join(lines)


_MARKS = {HOLDS: "holds", FAILS: "FAILS", INCONCLUSIVE: "inconclusive"}


def _jsonable(c: Claim) -> dict[str, Any]:
    import math

    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in c.__dict__.items()}
