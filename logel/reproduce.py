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

__all__ = ["EXPERIMENTS", "OFFICIAL", "Claim", "OfficialResult", "Report", "claims_markdown",
           "load_rows", "merge_rows", "official_result", "publish_summary", "readme_block",
           "replace_readme_block", "reproduce", "summarise", "summary_figure", "summary_rows",
           "summary_table", "write_summary"]


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


def reproduce_mujoco_official(budget: Budget, n_jobs: int, backend: Backend, out: Path,
                              progress: bool = False) -> Report:
    """The MuJoCo verdicts of chapter 8 from the committed paper-budget runs of the paper's
    learner (``parity="official"``), each seed verified against its manifest on load; nothing is
    run (those runs take CPU hours: ``logel run mujoco --env E --seeds 0-9 --budget paper``).
    The claims are :func:`logel.experiments.mujoco_figures.observer_claims`, whatever
    ``budget`` says: the rows are labelled with the artifacts' own budget and seeds."""
    t0 = time.perf_counter()
    try:
        from logel.experiments import mujoco
        from logel.experiments import mujoco_figures as mjf
    except ImportError as err:  # the optional extra is missing
        skipped = Claim.of("committed runs load", 0.5, 0.0, 1.0, 0.5, ">", "not run",
                           experiment="mujoco_official", detail=f"skipped: {err}")
        return _finish(out, "mujoco_official", budget, t0, [skipped], {}, [])
    claims: list[Claim] = []
    seeds: dict[str, list[int]] = {}
    for env in ("Reacher-v5", "Hopper-v5"):
        results = mujoco.load_results(env, "paper", parity="official")
        seeds[env] = sorted(results)
        for c in mjf.observer_claims(results, env).values():
            text = c.text.replace(f"{env}:", f"{env} ({len(results)} seeds):", 1)
            claims.append(replace(c, text=text, experiment="mujoco_official"))
    return _finish(out, "mujoco_official", "paper", t0, claims,
                   {"parity": "official", "budget": "paper", "seeds": seeds}, [],
                   note="loaded from the committed paper-budget artifacts (seeds per "
                        "environment: " + ", ".join(f"{e} {len(v)}" for e, v in seeds.items())
                        + ")")


def reproduce_beyond_gradient(budget: Budget, n_jobs: int, backend: Backend, out: Path,
                              progress: bool = False) -> Report:
    """Chapter 10's verdicts (learners that are not plain gradient ascent): recomputed by
    :func:`logel.experiments.beyond_gradient.claims` from the committed paper-budget artifact
    (verified on load; regenerated by ``logel run beyond_gradient --budget paper``), whatever
    ``budget`` says: the rows are labelled with the artifact's budget and seeds."""
    from logel.experiments import beyond_gradient as bg

    t0 = time.perf_counter()
    results, _ = bg.load_results("paper")
    seeds = sorted({r.seed for runs in results.values() for r in runs})
    claims = [replace(c, experiment="beyond_gradient") for c in bg.claims(results, "paper")]
    return _finish(out, "beyond_gradient", "paper", t0, claims,
                   {"budget": "paper", "learners": list(results)}, seeds,
                   note="loaded from the committed paper-budget artifact")


EXPERIMENTS: dict[str, Callable[..., Report]] = {
    "exact": reproduce_exact,
    "approximate": reproduce_approximate,
    "realistic": reproduce_realistic,
    "comparison": reproduce_comparison,
    "final_behaviour": reproduce_final_behaviour,
    "theory": reproduce_theory,
    "mujoco": reproduce_mujoco,
    "mujoco_official": reproduce_mujoco_official,
    "beyond_gradient": reproduce_beyond_gradient,
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


# ------------------------------------------------------------------- results at a glance
#
# `logel reproduce` ends with a summary of every claim it checked: a figure (one row per
# claim: our estimate with its interval, the official code's result where it was measured, the
# verdict) and a Markdown table. Both are rendered from one JSON file of rows, so the published
# copies (book/results/, the README block) are regenerated by the command, never typed.

SUMMARY_JSON = "summary.json"
"""The rows of a summary (every claim with its experiment, budget and seeds)."""
SUMMARY_MARKDOWN = "claims.md"
"""The claims table (Markdown) rendered from :data:`SUMMARY_JSON`."""
SUMMARY_FIGURE = "summary.png"
"""The summary figure rendered from :data:`SUMMARY_JSON`."""
PUBLISHED_DIR = Path("book") / "results"
"""Where :func:`publish_summary` keeps the published summary (relative to the repository)."""
README_START = "<!-- results: generated by `logel reproduce`, do not edit by hand -->"
README_END = "<!-- end of results -->"
PUBLISHED_BUDGETS = ("book", "paper")
"""Budgets whose results ``logel reproduce`` publishes (smoke runs test too few seeds)."""


@dataclass(frozen=True)
class OfficialResult:
    """The official code's result for one claim, re-run (spec: "The official code, re-run").

    Attributes:
        text: the result in words (with its settings: seeds, m or k, BC design).
        estimate: the value on the claim's scale (e.g. a proportion of optimal seeds), if it
            has one; ``None`` when only the words compare (other seeds, another parameter).
        low: lower end of its 95% interval (Wilson for counts).
        high: upper end of its 95% interval.
    """

    text: str
    estimate: float | None = None
    low: float | None = None
    high: float | None = None

    @classmethod
    def count(cls, k: int, n: int, text: str) -> OfficialResult:
        """``k`` of ``n`` seeds, with the Wilson interval."""
        from logel.statistics import wilson_interval

        low, high = wilson_interval(k, n)
        return cls(text, k / n, low, high)


OFFICIAL: tuple[tuple[str, str, OfficialResult], ...] = (
    ("approximate", r"^learner's own samples",
     OfficialResult("omega = [0, -5, -1, -3, 7] exactly at every m, optimal (its default "
                    "observer reuses the learner's samples and theta: an oracle)", 1.0, 1.0, 1.0)),
    ("realistic", r"^more observed steps help",
     OfficialResult("optimal in 10 / 15 / 15 of 20 seeds at m = 5 / 10 / 15 (its BC: 3 Adam "
                    "steps)")),
    ("comparison", r"^LOGEL recovers an optimal reward on G\(PO\)MDP",
     OfficialResult.count(15, 20, "15/20 optimal at m = 15 (BC: 3 Adam steps)")),
    ("comparison", r"^LOGEL recovers an optimal reward on SPI",
     OfficialResult.count(16, 20, "16/20 optimal at m = 15")),
    ("comparison", r"^LOGEL recovers an optimal reward on Q-learning",
     OfficialResult.count(18, 20, "18/20 optimal at m = 15")),
    ("comparison", r"^LOGEL recovers an optimal reward on SVI",
     OfficialResult.count(20, 20, "20/20 optimal at m = 15")),
    ("comparison", r"^LfL recovers an optimal reward on SPI",
     OfficialResult("LfL on SPI data: 9/20 (k = 4), 20/20 (k = 6), 10/10 (k >= 8)")),
    ("comparison", r"^LfL fails on G\(PO\)MDP",
     OfficialResult.count(0, 10, "0/10 optimal at k = 6 and at k = 12")),
    ("comparison", r"^LOGEL beats LfL on G\(PO\)MDP",
     OfficialResult("LOGEL 15/20 (m = 15), LfL 0/10 (k = 6, 12): unpaired, other seeds")),
    ("comparison", r"^LfL beats LOGEL on SPI",
     OfficialResult("LfL 20/20 (k = 6), LOGEL 16/20 (m = 15): unpaired, other seeds")),
    ("comparison", r"^more observed steps help LOGEL on G\(PO\)MDP",
     OfficialResult("10/20 (m = 5), 15/20 (m = 15): unpaired counts")),
    ("comparison", r"^more observed steps help LOGEL on Q-learning",
     OfficialResult("13/20 (m = 5), 18/20 (m = 15): unpaired counts")),
    ("comparison", r"^LOGEL gets worse with m on SPI",
     OfficialResult("16 / 18 / 16 of 20 at m = 5 / 10 / 15: unpaired counts")),
    ("comparison", r"^LOGEL gets worse with m on SVI",
     OfficialResult("20 / 19 / 20 of 20 at m = 5 / 10 / 15: unpaired counts")),
)
"""The official code's results, matched to claims by experiment and a pattern of the claim's
text; a claim that matches none was not measured on the official code."""


def official_result(experiment: str, text: str) -> OfficialResult | None:
    """The official code's result for a claim, or ``None`` (not measured)."""
    import re

    for exp, pattern, result in OFFICIAL:
        if exp == experiment and re.search(pattern, text):
            return result
    return None


def summary_rows(reports: list[Report]) -> list[dict[str, Any]]:
    """One row per claim of ``reports``: the claim's fields, its budget and seeds (from the
    experiment's manifest) and the official code's result."""
    rows = []
    for rep in reports:
        budget, seeds = _manifest_budget_seeds(rep)
        for c in rep.claims:
            rows.append(_row(c, rep.experiment, budget, seeds))
    return rows


def _manifest_budget_seeds(rep: Report) -> tuple[str, int | None]:
    """The budget the experiment ran at (its manifest's config may override the requested one:
    MuJoCo runs at smoke) and its number of seeds."""
    manifests = [Path(f) for f in rep.files if Path(f).name == artifacts.MANIFEST]
    if not manifests:
        return rep.budget, None
    try:
        manifest = artifacts.read_manifest(manifests[0].parent)
    except artifacts.ArtifactError:
        return rep.budget, None
    config = manifest.get("config")
    budget = config.get("budget", rep.budget) if isinstance(config, dict) else rep.budget
    return str(budget), len(manifest.get("seeds", [])) or None  # none listed: rows say their own


def _row(c: Claim, experiment: str, budget: str, seeds: int | None) -> dict[str, Any]:
    off = official_result(experiment, c.text)
    row = {**_jsonable(c), "experiment": experiment, "budget": budget, "seeds": seeds,
           "official": off.text if off else "", "official_estimate": None,
           "official_low": None, "official_high": None}
    if off is not None and off.estimate is not None:
        row.update(official_estimate=off.estimate, official_low=off.low, official_high=off.high)
    return row


def _claim_of(row: dict[str, Any]) -> Claim:
    """The row's claim, its verdict checked against the computed one (raises if typed)."""
    fields = {k: row[k] for k in ("text", "estimate", "low", "high", "threshold", "claim",
                                  "verdict", "interval_kind", "experiment", "detail")}
    for k in ("low", "high"):
        if fields[k] is None:
            fields[k] = float("nan")
    return Claim(**fields)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _number(x: float) -> str:
    return "nan" if x != x else f"{x:.2f}"


def claims_markdown(rows: list[dict[str, Any]]) -> str:
    """The claims table: one row per claim, our estimate with its 95% interval against the
    threshold, the official code's result, the computed verdict, the budget and seeds."""
    from logel.plotting import markdown_table

    if not rows:
        return ("*No results yet: run* `logel reproduce all --budget book` *to fill this "
                "table.*")
    body = []
    for row in rows:
        c = _claim_of(row)
        if c.interval_kind.startswith("check"):
            ours = f"{'yes' if c.estimate > c.threshold else 'no'} (a check, no interval)"
        else:
            ours = (f"{_number(c.estimate)} [{_number(c.low)}, {_number(c.high)}] "
                    f"{c.claim} {_number(c.threshold)} ({c.interval_kind})")
        n_seeds = row.get("seeds")
        seeds = "" if n_seeds is None else f", {n_seeds} seed{'' if n_seeds == 1 else 's'}"
        body.append([row["experiment"], _cell(c.text), _cell(ours),
                     _cell(row.get("official") or "not measured"), f"**{c.verdict}**",
                     f"{row['budget']}{seeds}"])
    n = {v: sum(r["verdict"] == v for r in rows) for v in (HOLDS, FAILS, INCONCLUSIVE)}
    table = markdown_table(["experiment", "claim", "ours: estimate [95% interval] vs threshold",
                            "official code (re-run)", "verdict", "budget"], body)
    return (f"{table}\n\n{n[HOLDS]} hold, {n[FAILS]} fail, {n[INCONCLUSIVE]} inconclusive "
            f"(verdicts computed by `logel.statistics.Claim`; regenerated by `logel "
            f"reproduce`).")


_VERDICT_COLOURS = {HOLDS: "tab:green", FAILS: "tab:red", INCONCLUSIVE: "0.5"}


def on_proportion_scale(row: dict[str, Any]) -> bool:
    """True if the row's claim is judged on a proportion or a difference of proportions (all
    its finite numbers, and the official code's, within [-1, 1]): those rows share one axis in
    :func:`summary_figure`; the others (returns, distances) are drawn each on its own scale."""
    keys = ("estimate", "low", "high", "threshold", "official_estimate", "official_low",
            "official_high")
    values = [row.get(k) for k in keys]
    return all(abs(float(v)) <= 1.0 for v in values if v is not None and np.isfinite(float(v)))


def relative_to_threshold(row: dict[str, Any]) -> tuple[float, float, float]:
    """``(estimate, low, high)`` of a row not on the proportion scale, drawn relative to its
    threshold: shifted so the threshold is 0, signed so that the claimed side is positive, and
    divided by the largest finite distance of the three from the threshold (so they lie in
    [-1, 1]; an unbounded end is drawn at ±1.1)."""
    sign = -1.0 if row["claim"] == "<" else 1.0
    raw = [sign * (float(row[k]) - float(row["threshold"])) for k in ("estimate", "low", "high")]
    finite = [abs(v) for v in raw if np.isfinite(v)]
    scale = max(finite) if finite and max(finite) > 0 else 1.0
    est, a, b = (float(np.clip(v / scale, -1.1, 1.1)) for v in raw)
    return est, min(a, b), max(a, b)


def _draw_rows(ax: Any, rows: list[dict[str, Any]], scaled: bool) -> None:
    import textwrap

    n = max(len(rows), 1)
    for i, row in enumerate(rows):
        c = _claim_of(row)
        y = n - 1 - i
        colour = _VERDICT_COLOURS[c.verdict]
        est, low, high = relative_to_threshold(row) if scaled else (c.estimate, c.low, c.high)
        ax.plot([low, high], [y, y], color=colour, lw=3, solid_capstyle="butt")
        ax.plot([est], [y], "o", color=colour, ms=5)
        ticks = ([0.0] if scaled else [-c.threshold, c.threshold] if c.claim == "≈"
                 else [c.threshold])
        for t in ticks:
            ax.plot([t, t], [y - 0.3, y + 0.3], color="k", lw=1)
        if not scaled and row.get("official_estimate") is not None:
            yo = y - 0.22
            ax.plot([row["official_low"], row["official_high"]], [yo, yo], color="tab:blue",
                    lw=1.2, ls="--")
            ax.plot([row["official_estimate"]], [yo], "D", mfc="white", mec="tab:blue", ms=5)
        verdict_text = c.verdict
        if scaled:
            verdict_text += f"  [{_number(c.low)}, {_number(c.high)}] {c.claim} {_number(c.threshold)}"
        ax.text(1.02, y, verdict_text, transform=ax.get_yaxis_transform(), va="center",
                color=colour, fontsize=7, fontweight="bold")
    labels = ["\n".join(textwrap.wrap(f"[{r['experiment']}] {r['text']}", 70)) for r in rows]
    ax.set_yticks(range(n - 1, n - 1 - len(rows), -1), labels, fontsize=7)
    ax.set_ylim(-0.8, n - 0.2)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    if scaled:
        ax.set_xlim(-1.15, 1.15)
        return
    lows = [0.0] + [min(r["low"], -r["threshold"] if r["claim"] == "≈" else r["low"])
                    for r in rows if r.get("low") is not None]
    lows += [r["official_low"] for r in rows if r.get("official_low") is not None]
    ax.set_xlim(max(min(lows), -1.0) - 0.05, 1.08)


def summary_figure(rows: list[dict[str, Any]], path: Path) -> Path:
    """The summary figure: one row per claim, our estimate and 95% interval (coloured by the
    verdict), the threshold (or the equivalence margin), the official code's result where it
    is on the claim's scale, and the verdict in words. Claims on proportions share the upper
    axis; claims on other scales (returns, distances) are drawn below, each relative to its
    threshold (:func:`relative_to_threshold`), with their interval in numbers. Written
    atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [[r for r in rows if on_proportion_scale(r)],
              [r for r in rows if not on_proportion_scale(r)]]
    groups = [g for g in groups if g] or [[]]
    heights = [max(len(g), 1) for g in groups]
    fig, axes = plt.subplots(len(groups), 1, figsize=(11, 1.4 + 0.42 * sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    budgets = sorted({f"{r['budget']}" for r in rows})
    for ax, group in zip(axes[:, 0], groups, strict=True):
        scaled = bool(group) and not on_proportion_scale(group[0])
        _draw_rows(ax, group, scaled)
        ax.set_xlabel(
            "relative to the threshold (0), the claimed side positive, each row scaled to its "
            "interval; the interval in numbers at the right" if scaled else
            "estimate with its 95% interval (proportion of seeds; share of discordant seeds "
            "won; difference for '≈'); black tick: threshold", fontsize=8)
    axes[-1, 0].set_xlabel(axes[-1, 0].get_xlabel()
                           + f"\nbudget: {', '.join(budgets) or '-'}; generated by logel "
                             "reproduce", fontsize=8)
    handles = [plt.Line2D([], [], color=_VERDICT_COLOURS[v], lw=3, marker="o", label=f"ours: {v}")
               for v in (HOLDS, FAILS, INCONCLUSIVE)]
    handles.append(plt.Line2D([], [], color="tab:blue", ls="--", marker="D", mfc="white",
                              label="official code (re-run)"))
    axes[0, 0].legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4,
                      fontsize=7, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100, bbox_inches="tight", metadata={"Software": None})
    tmp.replace(path)
    plt.close(fig)
    return path


def write_summary(rows: list[dict[str, Any]], directory: Path) -> list[Path]:
    """Write :data:`SUMMARY_JSON`, :data:`SUMMARY_MARKDOWN` and :data:`SUMMARY_FIGURE` into
    ``directory``; returns their paths."""
    directory = Path(directory)
    return [artifacts.save_json(directory / SUMMARY_JSON, rows),
            artifacts.atomic_write_text(directory / SUMMARY_MARKDOWN, claims_markdown(rows) + "\n"),
            summary_figure(rows, directory / SUMMARY_FIGURE)]


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a :data:`SUMMARY_JSON` file (empty if there is none); every verdict is
    checked against the computed one."""
    import json

    path = Path(path)
    if not path.is_file():
        return []
    rows = json.loads(path.read_text(encoding="utf-8"))
    for row in rows:
        _claim_of(row)
    return rows


def merge_rows(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``old`` with every experiment that ``new`` covers replaced by ``new``'s rows, ordered
    as :data:`EXPERIMENTS` (unknown experiments last, in their order)."""
    rerun = {r["experiment"] for r in new}
    rows = [r for r in old if r["experiment"] not in rerun] + list(new)
    order = {name: i for i, name in enumerate(EXPERIMENTS)}
    return sorted(rows, key=lambda r: order.get(r["experiment"], len(order)))


def readme_block(rows: list[dict[str, Any]]) -> str:
    """The README's results block (between :data:`README_START` and :data:`README_END`)."""
    figure = (PUBLISHED_DIR / SUMMARY_FIGURE).as_posix()
    return "\n".join([README_START, "", f"![Every claim at a glance]({figure})", "",
                      claims_markdown(rows), "", README_END])


def replace_readme_block(readme: str, rows: list[dict[str, Any]]) -> str:
    """``readme`` with its results block regenerated from ``rows``.

    Raises:
        ValueError: the README has no results block (both markers, in order).
    """
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError("README.md has no results block: add the two marker lines "
                         f"{README_START!r} and {README_END!r}")
    return readme[:start] + readme_block(rows) + readme[end + len(README_END):]


def publish_summary(rows: list[dict[str, Any]], root: Path | None = None) -> list[Path]:
    """Merge ``rows`` into the published summary (:data:`PUBLISHED_DIR`), re-render its table
    and figure, and regenerate the README's results block. ``root`` is the repository
    (default: :func:`logel.artifacts.repository_root`). Returns the written paths."""
    root = Path(root) if root is not None else artifacts.repository_root()
    directory = root / PUBLISHED_DIR
    merged = merge_rows(load_rows(directory / SUMMARY_JSON), rows)
    written = write_summary(merged, directory)
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = replace_readme_block(text, merged)
    if new != text:
        artifacts.atomic_write_text(readme, new)
        written.append(readme)
    return written


def summarise(reports: list[Report], budget: Budget, root: Path | None = None,
              publish: bool = True, log: Callable[[str], None] = print) -> list[Path]:
    """The end of ``logel reproduce``: write the summary of ``reports`` (table, figure, rows)
    under ``<root>/reproduce_<budget>/`` and, at a budget of :data:`PUBLISHED_BUDGETS` and with
    ``publish``, merge it into the published summary and the README (:func:`publish_summary`).

    Returns:
        The written paths.
    """
    rows = summary_rows(reports)
    base = (root or artifacts.artifact_root()) / f"reproduce_{budget}"
    written = write_summary(rows, base)
    log(f"summary: {base / SUMMARY_FIGURE}, {base / SUMMARY_MARKDOWN}")
    if publish and budget in PUBLISHED_BUDGETS:
        repo = artifacts.repository_root()
        if (repo / "README.md").is_file() and (repo / "book").is_dir():
            written += publish_summary(rows)
            log(f"published: {repo / PUBLISHED_DIR} and the README's results block")
        else:
            log("not a repository checkout: nothing published")
    return written
