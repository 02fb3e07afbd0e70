"""Benchmark: the four-learner comparison (book budget), serial against ``n_jobs`` processes.

The whole figure set of the chapter "Gridworld: learning from four learners": 4 learners x
(LOGEL + LfL) x m = 2..15 x 20 seeds, run once with ``n_jobs=1`` and once with ``n_jobs=2``
(``sweep_comparison``). The script prints both wall times and the speed-up, and checks that the
two runs give identical results (every value, optimality flag and weight error).

BLAS threads are pinned to one per process *before* numpy is imported. joblib's worker processes
do this by themselves; without it the serial run would use a multi-threaded OpenBLAS in the
main process, which on a shared 2-core machine can be many times slower (we measured up to 10x)
and would make the comparison meaningless.

Run: ``.venv/bin/python benchmarks/bench_comparison.py [--n-jobs 2] [--seeds 20] [--quick]``
(``--quick``: 3 seeds, m in {2, 5}).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

from logel.experiments.comparison import (  # noqa: E402
    LEARNERS,
    ComparisonConfig,
    ComparisonResult,
    sweep_comparison,
)


def run_all(seeds: list[int], steps: tuple[int, ...], n_jobs: int
            ) -> tuple[float, dict[str, list[ComparisonResult]], dict[str, float]]:
    """Every learner's sweep; total wall time, results and per-learner wall times."""
    results, per_learner = {}, {}
    t_start = time.perf_counter()
    for learner in LEARNERS:
        t0 = time.perf_counter()
        results[learner] = sweep_comparison(ComparisonConfig(learner=learner,
                                                             observed_steps=steps),
                                            seeds, n_jobs=n_jobs)
        per_learner[learner] = time.perf_counter() - t0
    return time.perf_counter() - t_start, results, per_learner


def identical(a: dict[str, list[ComparisonResult]], b: dict[str, list[ComparisonResult]]) -> bool:
    """Same seeds, same outcomes (exact float equality) and same learner returns."""
    for learner in a:
        for ra, rb in zip(a[learner], b[learner], strict=True):
            if ra.seed != rb.seed or ra.outcomes != rb.outcomes \
                    or not (ra.learner_returns == rb.learner_returns).all():
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 seeds, m in {2, 5}")
    args = parser.parse_args()
    seeds = list(range(3 if args.quick else args.seeds))
    steps = (2, 5) if args.quick else tuple(range(2, 16))
    n_runs = len(LEARNERS) * len(seeds)
    m_text = f"{steps[0]}..{steps[-1]}" if len(steps) > 2 else ", ".join(map(str, steps))
    print(f"{len(LEARNERS)} learners x 2 methods x m = {m_text} "
          f"({len(steps)} values) x {len(seeds)} seeds = {n_runs} learner runs; "
          f"cpu_count = {os.cpu_count()}")
    t_par, res_par, per_par = run_all(seeds, steps, args.n_jobs)
    t_ser, res_ser, per_ser = run_all(seeds, steps, 1)
    print(f"{'learner':12s} {'serial s':>9s} {f'n_jobs={args.n_jobs} s':>11s} {'speed-up':>9s}")
    for learner in LEARNERS:
        print(f"{learner:12s} {per_ser[learner]:9.1f} {per_par[learner]:11.1f} "
              f"{per_ser[learner] / per_par[learner]:8.2f}x")
    print(f"{'total':12s} {t_ser:9.1f} {t_par:11.1f} {t_ser / t_par:8.2f}x")
    same = identical(res_ser, res_par)
    print(f"serial and n_jobs={args.n_jobs} results identical: {same}")
    import results_io

    rows = [results_io.row(learner, per_par[learner], per_ser[learner], n_jobs=args.n_jobs)
            for learner in LEARNERS]
    rows.append(results_io.row("total", t_par, t_ser, n_jobs=args.n_jobs))
    path = results_io.write("comparison", rows, ours=f"n_jobs={args.n_jobs}", baseline="serial",
                            seeds=len(seeds), steps=list(steps), identical=same)
    print(f"wrote {path}")
    if not same:
        raise SystemExit("results differ between serial and parallel runs")


if __name__ == "__main__":
    main()
