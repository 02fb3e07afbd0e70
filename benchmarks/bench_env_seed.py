"""Benchmark: one MuJoCo env-seed stage by stage, this tree against an older commit.

Issue "MuJoCo at the speed limit", item 2 (a faster env-seed). Each stage of a paper-budget
env-seed (PPO learner, LOGEL, LfL, the LOGEL and the LfL observer) runs at the paper's sizes
per update but for fewer updates and epochs, once with the code of ``--base`` (default
``ce0535c``, the commit before item 2, checked out in a temporary ``git worktree``) and once with
this tree, side by side on the same machine: each measurement is a fresh subprocess whose
``PYTHONPATH`` points at one of the two trees, old and new alternating, and the fastest of
``--repeats`` is kept. Both must produce the same numbers (a SHA-256 of every output is
compared), so the ratio is the speed-up of the same computation.

Stages (one process, one torch and one BLAS thread, as one worker of ``run_seed``):

* ``learner``: ``--updates`` PPO updates of 16 x 2000 steps with the trace recorded;
* ``observer_logel`` / ``observer_lfl``: ``--updates`` observer updates on a random
  :math:`\\hat\\omega^\\top\\phi` / on a random LfL reward network;
* ``lfl``: continuous LfL on the learner's trace with every epoch count times ``--lfl-fraction``;
* ``logel``: neural LOGEL at the smoke budget's sizes on the learner's trace.

``ratio`` is old / new wall time, ``cpu_ratio`` old / new CPU time (steadier on a shared
machine; the load average is recorded). The estimated paper-budget times divide the committed
artifacts' per-stage CPU times (``artifacts/mujoco_official/<env>/seed_<k>/timings.json``) by
the CPU ratios: an extrapolation, not a measurement. The env-seed's wall time on two free cores
is then modelled from the layout: before, the learner, then the longer of the two chains
(LOGEL + its observer, LfL + its observer); after, LfL's cloning (its measured share of LfL's
time) runs beside the learner (:class:`logel.experiments.mujoco.LfLPipeline`), so the second
chain starts with the rest of LfL.

Writes ``benchmarks/results/env_seed.json`` (:mod:`results_io`) beside the printed table.

Run: ``.venv/bin/python benchmarks/bench_env_seed.py [--updates 2] [--repeats 1]
[--lfl-fraction 0.03] [--base ce0535c] [--envs Hopper-v5 Reacher-v5]`` (about 10 minutes per
environment on a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("learner", "logel", "lfl", "observer_logel", "observer_lfl")
ARTIFACT_SEEDS = {"Reacher-v5": 7, "Hopper-v5": 4}
"""The committed paper-budget seeds whose timings are extrapolated (``mujoco_official``)."""


def _digest(*arrays: Any) -> str:
    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
        h.update(a.tobytes() + str(a.shape).encode())
    return h.hexdigest()[:24]


def worker(stage: str, env_id: str, updates: int, lfl_fraction: float, trace_file: str) -> dict:
    """One stage in this process (imports ``logel`` from ``PYTHONPATH``); prints JSON."""
    from dataclasses import replace

    import numpy as np
    import torch

    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    from logel.envs import mujoco_features as mf
    from logel.experiments import mujoco as mj
    from logel.learners.ppo import train_ppo
    from logel.traces import LearnerTrace

    config = mj.experiment_config(env_id, "paper", parity="official")
    # the first optimiser imports torch._dynamo (seconds, once per process): not a stage's work
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    t, c = time.perf_counter(), time.process_time()
    if stage == "learner":
        run = train_ppo(replace(config.learner, n_updates=updates, seed=1, record=True))
        assert run.trace is not None
        tr = run.trace
        out = _digest(run.curve, tr.states, tr.actions, tr.features, tr.rewards, tr.thetas)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        run.trace.save(trace_file)
    elif stage in ("observer_logel", "observer_lfl"):
        observer = replace(config.observer, n_updates=updates, seed=10_001)
        rng = np.random.default_rng(0)
        if stage == "observer_logel":
            w = rng.normal(size=mf.n_features(env_id))
            run = train_ppo(observer, vec_reward=lambda v: mf.VecLinearFeatureReward(v, w))
        else:
            from logel.irl.lfl_continuous import LfLContinuousResult
            from logel.policies.gaussian_mlp import GaussianMLPPolicy, get_flat_parameters

            obs_dim, act_dim = (11, 3) if env_id.startswith("Hopper") else (10, 2)
            net = GaussianMLPPolicy(obs_dim, act_dim, (64, 64), log_std_init=-0.5, seed=1)
            fake = LfLContinuousResult(get_flat_parameters(net), obs_dim, act_dim, (64, 64),
                                       (0, 1), np.zeros(1), np.zeros(1), np.zeros(1), {})
            fn = mj.lfl_reward_function(fake, rng.normal(size=obs_dim),
                                        rng.uniform(0.5, 2.0, size=obs_dim), 10.0)
            run = train_ppo(observer, features=False,
                            vec_reward=lambda v: mf.VecCallableReward(v, fn))
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        stats = [run.episode_stats[k] for k in sorted(run.episode_stats)]
        out = _digest(run.curve, *stats)
    elif stage == "lfl":
        from logel.irl.lfl_continuous import lfl_continuous

        trace = LearnerTrace.load(trace_file)
        t, c = time.perf_counter(), time.process_time()
        cfg = replace(config.lfl, seed=1)
        f = lfl_fraction
        cfg = replace(cfg, bc=replace(cfg.bc, iterations=max(1, round(cfg.bc.iterations * f))),
                      kl_epochs=max(1, round(cfg.kl_epochs * f)),
                      reward_init_epochs=max(1, round(cfg.reward_init_epochs * f)),
                      shaping_epochs=max(1, round(cfg.shaping_epochs * f)))
        res = lfl_continuous(trace, cfg)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        out = _digest(res.reward_parameters, res.kl_loss, res.fit_loss)
        # the share of LfL's time spent cloning: the part that overlaps the learner
        return {"seconds": seconds, "cpu": cpu, "digest": out,
                "cloning_share": res.seconds["bc"] / sum(res.seconds.values())}
    elif stage == "logel":
        from logel.irl.neural import neural_logel

        trace = LearnerTrace.load(trace_file)
        t, c = time.perf_counter(), time.process_time()
        res = neural_logel(trace, replace(mj.logel_config("smoke"), seed=1))
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        out = _digest(res.weights)
    else:
        raise ValueError(f"unknown stage {stage!r}")
    return {"seconds": seconds, "cpu": cpu, "digest": out}


def _run(tree: Path, stage: str, env_id: str, args: Any, trace_file: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", stage, "--envs", env_id,
           "--updates", str(args.updates), "--lfl-fraction", str(args.lfl_fraction),
           "--trace-file", trace_file]
    done = subprocess.run(cmd, env=env, cwd=tempfile.gettempdir(), capture_output=True,
                          text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{stage} {env_id} in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _artifact_cpu(env_id: str) -> dict[str, float] | None:
    path = (ROOT / "artifacts" / "mujoco_official" / env_id / f"seed_{ARTIFACT_SEEDS[env_id]}"
            / "timings.json")
    if not path.is_file():
        return None
    timings = json.loads(path.read_text())
    return {s: float(timings[f"{s}_cpu"]) for s in STAGES if f"{s}_cpu" in timings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--lfl-fraction", type=float, default=0.03)
    parser.add_argument("--base", default="ce0535c")
    parser.add_argument("--envs", nargs="+", default=["Hopper-v5", "Reacher-v5"])
    parser.add_argument("--worker", choices=STAGES)
    parser.add_argument("--trace-file")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.envs[0], args.updates, args.lfl_fraction,
                                args.trace_file)))
        return 0

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import results_io

    rows: list[dict[str, Any]] = []
    estimates: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            print(f"{'case':58s} {'new s':>7s} {'(cpu)':>7s} {'old s':>7s} {'(cpu)':>7s} "
                  f"{'ratio':>6s} {'cpu':>6s}")
            for env_id in args.envs:
                traces = {side: str(Path(tmp) / f"{env_id}_{side}.npz")
                          for side in ("old", "new")}
                ratios: dict[str, float] = {}
                cloning_share = 0.0
                for stage in STAGES:
                    best: dict[str, dict] = {}
                    for _ in range(args.repeats):
                        for side, tree in (("old", base), ("new", ROOT)):
                            r = _run(tree, stage, env_id, args, traces[side])
                            prev = best.get(side)
                            best[side] = r if prev is None else {
                                **r, "seconds": min(r["seconds"], prev["seconds"]),
                                "cpu": min(r["cpu"], prev["cpu"])}
                    old, new = best["old"], best["new"]
                    cloning_share = new.get("cloning_share", cloning_share)
                    if old["digest"] != new["digest"]:
                        raise AssertionError(f"{env_id} {stage}: outputs differ")
                    size = {"learner": f"{args.updates} updates 16x2000",
                            "observer_logel": f"{args.updates} updates 16x2000",
                            "observer_lfl": f"{args.updates} updates 16x2000",
                            "lfl": f"epochs x {args.lfl_fraction}",
                            "logel": "smoke sizes"}[stage]
                    name = f"{env_id} {stage}, {size}"
                    ratios[stage] = old["cpu"] / new["cpu"]
                    print(f"{name:58s} {new['seconds']:7.1f} {new['cpu']:7.1f} "
                          f"{old['seconds']:7.1f} {old['cpu']:7.1f} "
                          f"{old['seconds'] / new['seconds']:6.2f} {ratios[stage]:6.2f}",
                          flush=True)
                    rows.append(results_io.row(name, new["seconds"], old["seconds"],
                                               cpu_ours=new["cpu"], cpu_baseline=old["cpu"],
                                               cpu_ratio=ratios[stage], memory_ratio=None,
                                               identical=True, stage=stage, env=env_id))
                before = _artifact_cpu(env_id)
                if before:
                    after = {s: before[s] / ratios[s] for s in before}
                    old_wall = before["learner"] + max(
                        before["logel"] + before["observer_logel"],
                        before["lfl"] + before["observer_lfl"])
                    cloning = cloning_share * after["lfl"]
                    new_wall = max(after["learner"], cloning) + max(
                        after["logel"] + after["observer_logel"],
                        after["lfl"] - cloning + after["observer_lfl"])
                    estimates[env_id] = {
                        "seed": ARTIFACT_SEEDS[env_id], "before_cpu": before,
                        "after_cpu_estimate": after, "lfl_cloning_share": cloning_share,
                        "two_free_cores_wall_before": old_wall,
                        "two_free_cores_wall_after_estimate": new_wall}
                    print(f"  {env_id} seed {ARTIFACT_SEEDS[env_id]} paper budget, CPU s per "
                          "stage, artifact -> extrapolated: "
                          + ", ".join(f"{s} {before[s]:.0f} -> {after[s]:.0f}" for s in before))
                    print(f"  on two free cores: {old_wall:.0f} s -> {new_wall:.0f} s (learner, "
                          f"then the longer chain; LfL's cloning ({cloning_share:.0%}) beside "
                          "the learner)")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT,
                           check=False, capture_output=True)
    path = results_io.write("env_seed", rows, base=args.base, updates=args.updates,
                            lfl_fraction=args.lfl_fraction,
                            paper_budget_extrapolation=estimates)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
