"""The ``logel`` command line.

``logel reproduce <experiment|all> --budget smoke|book|paper --n-jobs N --backend loky|ray``
reruns experiments (:mod:`logel.reproduce`), writes their artifacts and figures under
``artifacts/reproduce_<budget>/`` (or ``--out``), prints a summary table and exits with status 1
if any claim check failed (2 for bad arguments).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from logel.experiments.budgets import BUDGETS


def _parser() -> argparse.ArgumentParser:
    from logel.reproduce import EXPERIMENTS

    parser = argparse.ArgumentParser(prog="logel", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="rerun experiments and check their claims")
    rep.add_argument("experiment", nargs="+", choices=[*EXPERIMENTS, "all"],
                     help="experiment name(s), or 'all'")
    rep.add_argument("--budget", choices=BUDGETS, default="smoke")
    rep.add_argument("--n-jobs", type=int, default=1)
    rep.add_argument("--backend", choices=["loky", "ray"], default="loky")
    rep.add_argument("--out", type=Path, default=None,
                     help="artifact root (default: $LOGEL_ARTIFACTS or <repo>/artifacts)")
    rep.add_argument("--no-progress", action="store_true", help="no per-job progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``logel`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    from logel.reproduce import EXPERIMENTS, reproduce, summary_table

    names = list(EXPERIMENTS) if "all" in args.experiment else list(dict.fromkeys(args.experiment))
    if args.n_jobs < 1:
        print("logel: --n-jobs must be >= 1", file=sys.stderr)
        return 2
    previous = os.environ.get("LOGEL_BUDGET")
    os.environ["LOGEL_BUDGET"] = args.budget  # code that reads the switch sees the same budget
    try:
        reports = reproduce(names, args.budget, args.n_jobs, args.backend, args.out,
                            progress=not args.no_progress)
    finally:
        if previous is None:
            os.environ.pop("LOGEL_BUDGET", None)
        else:
            os.environ["LOGEL_BUDGET"] = previous
    print()
    print(summary_table(reports))
    return 1 if any(c.passed is False for r in reports for c in r.claims) else 0


if __name__ == "__main__":
    sys.exit(main())
