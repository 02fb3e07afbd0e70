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

``--stages`` limits the comparison to some stages. ``--profile STAGE`` instead runs one stage of
this tree under ``cProfile`` in this process (one thread) and prints where its time goes: the
rollout collection and its parts (policy forward, environment step, ``VecNormalize``, MuJoCo),
SB3's training epochs and their parts, then the functions with the most own time.

Run: ``.venv/bin/python benchmarks/bench_env_seed.py [--updates 2] [--repeats 1]
[--lfl-fraction 0.03] [--base ce0535c] [--envs Hopper-v5 Reacher-v5] [--stages ...]`` (about 10
minutes per environment on a shared 2-core machine), or ``... --profile observer_logel
--updates 1 --envs Hopper-v5``. ``--learner-layout`` times the pipelined learner (LfL's cloning
beside it) with its simulators in one or two threads or two processes (:func:`learner_layout`).
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
        # shares of LfL's stages in the paper's structure (10 observed policies, 9 pairs) from
        # this trace's (its policies and pairs): cloning scales with the policies, the KL and
        # shaping fits with the pairs, the reward fit with neither
        n_steps = len(res.steps)
        scale = {"bc": 10 / n_steps, "kl": 9 / (n_steps - 1), "reward_init": 1.0,
                 "shaping": 9 / (n_steps - 1)}
        paper = {k: v * scale.get(k, 1.0) for k, v in res.seconds.items()}
        total = sum(paper.values())
        return {"seconds": seconds, "cpu": cpu, "digest": out,
                "cloning_share": paper["bc"] / total,
                "reward_init_share": paper.get("reward_init", 0.0) / total}
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


PROFILE_SECTIONS = (
    ("rollouts (collect_rollouts)", "collect_rollouts"),
    ("  policy forward", ("forward", "policies.py")),
    ("  policy forward (lean)", ("forward", "ppo.py")),
    ("  environment step (VecEnv.step)", ("step", "base_vec_env.py")),
    ("    VecNormalize.step_wait", ("step_wait", "vec_normalize.py")),
    ("    batched feature step", ("step", "mujoco_features.py")),
    ("    MuJoCo mj_step", "mj_step"),
    ("  callback on_step", ("on_step", "callbacks.py")),
    ("  rollout buffer add", ("add", "buffers.py")),
    ("training epochs (PPO.train)", ("train", "ppo/ppo.py")),
    ("  evaluate_actions", "evaluate_actions"),
    ("  backward", "backward"),
    ("  Adam step", ("step", "adam.py")),
    ("  clip_grad_norm_", "clip_grad_norm_"),
    ("  rollout buffer get", ("get", "buffers.py")),
)
"""Sections of ``--profile``: a label and a function name (or name and file suffix)."""


def profile(stage: str, env_id: str, updates: int, lfl_fraction: float) -> None:
    """Run one stage of this tree under ``cProfile`` and print where its time goes."""
    import cProfile
    import pstats

    import torch

    # imports the stage does before its clock starts (torch._dynamo with the first optimiser)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    with tempfile.TemporaryDirectory() as tmp:
        trace_file = str(Path(tmp) / "trace.npz")
        if stage in ("lfl", "logel"):
            worker("learner", env_id, 2, lfl_fraction, trace_file)
        prof = cProfile.Profile()
        prof.enable()
        out = worker(stage, env_id, updates, lfl_fraction, trace_file)
        prof.disable()
    stats = pstats.Stats(prof)
    entries: Any = stats.stats  # type: ignore[attr-defined]

    def cumulative(key: str | tuple[str, str]) -> float:
        name, suffix = (key, "") if isinstance(key, str) else key
        return sum(v[3] for (file, _, func), v in entries.items()
                   if func == name and file.endswith(suffix))

    total = cumulative("collect_rollouts") + cumulative(("train", "ppo/ppo.py"))
    print(f"{env_id} {stage}, {updates} update(s): {out['seconds']:.2f} s wall, "
          f"{out['cpu']:.2f} s CPU (profiled, so slower; shares of rollouts + training)")
    for label, key in PROFILE_SECTIONS:
        cum = cumulative(key)
        if cum:
            print(f"  {label:44s} {cum:8.2f} s {100 * cum / max(total, 1e-9):5.1f} %")
    print("  own time, top 25:")
    rows = sorted(entries.items(), key=lambda kv: -kv[1][2])[:25]
    for (file, line, func), v in rows:
        where = f"{Path(file).name}:{line}({func})"
        print(f"    {where[:70]:70s} {v[2]:7.2f} s {v[1]:9d} calls")


def learner_layout(env_id: str, updates: int, repeats: int) -> dict[str, Any]:
    """The learner of the pipelined layout while LfL's process clones the observed policies
    beside it (:class:`~logel.experiments.mujoco.LfLPipeline`; the second half of the updates
    observed, as the paper's last 10 of 20): its simulators in one thread, in two threads
    (``physics_threads=2``) or its environments in two processes
    (:class:`~logel.learners.ppo.SplitVecEnv`). A two-process measurement of this tree: run it
    on two otherwise idle cores. Returns the best wall seconds per layout."""
    from dataclasses import replace

    from logel.experiments import mujoco as mj
    from logel.learners.ppo import train_ppo

    config = mj.experiment_config(env_id, "paper", parity="official")
    config = replace(config, learner=replace(config.learner, n_updates=updates),
                     lfl=replace(config.lfl, steps=tuple(range(updates // 2, updates))))
    layouts = {"one thread": {}, "two physics threads": {"physics_threads": 2},
               "two env processes": {"env_processes": 2}}
    best: dict[str, float] = {}
    digests: set[str] = set()
    for _ in range(repeats):
        for name, layout in layouts.items():
            pipeline = mj.LfLPipeline(config, 1)
            try:
                time.sleep(5.0)  # the LfL process imports torch before the learner starts
                t = time.perf_counter()
                run = train_ppo(replace(config.learner, seed=1, record=True),
                                on_record=pipeline.send_step, train_last=False, **layout)
                seconds = time.perf_counter() - t
            finally:
                pipeline.close()
            assert run.trace is not None
            digests.add(_digest(run.curve, run.trace.states, run.trace.actions,
                                run.trace.thetas))
            best[name] = min(seconds, best.get(name, float("inf")))
            print(f"{env_id} learner, {updates} updates beside LfL's cloning, {name}: "
                  f"{seconds:.1f} s", flush=True)
    if len(digests) != 1:
        raise AssertionError("the layouts' learners differ")
    for name in list(layouts)[1:]:
        print(f"  ratio one thread / {name}: {best['one thread'] / best[name]:.2f}")
    return best


def seed_estimate(times: dict[str, float], ratios: dict[str, float],
                  reward_init_share: float, split_ratio: float = 1.0) -> dict[str, float]:
    """The wall time of a paper-budget env-seed after the speed-ups, from one measured before
    (``times``: the stages' wall seconds of ``timings.json`` at the base commit, with
    ``lfl_cloned_during_learner``) and the stages' CPU ratios, in the pipelined layout: the
    learner (``split_ratio``: its speed-up with its environments in two processes,
    :func:`learner_layout`), then the longer of the LOGEL chain (LOGEL, LfL's reward fit, the
    LOGEL observer) and the LfL chain (the rest of LfL, the LfL observer). An extrapolation,
    not a measurement: the final training that the learner and the observers now skip is not
    counted (it makes the estimate a little high)."""
    lfl = times["lfl"] / ratios["lfl"]
    cloned = times["lfl_cloned_during_learner"] / ratios["lfl"]
    reward_init = reward_init_share * lfl
    learner = times["learner"] / ratios["learner"] / split_ratio
    chain_logel = (times["logel"] / ratios["logel"] + reward_init
                   + times["observer_logel"] / ratios["observer_logel"])
    chain_lfl = lfl - cloned - reward_init + times["observer_lfl"] / ratios["observer_lfl"]
    before = times["learner"] + max(times["logel"] + times["observer_logel"],
                                    times["lfl"] - times["lfl_cloned_during_learner"]
                                    + times["observer_lfl"])
    return {"before": before, "learner": learner, "lfl_reward_init": reward_init,
            "chain_logel": chain_logel, "chain_lfl": chain_lfl,
            "total": learner + max(chain_logel, chain_lfl)}


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
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--profile", choices=STAGES)
    parser.add_argument("--seed-times", nargs="+", metavar="STAGE=SECONDS", default=[],
                        help="wall seconds of a paper-budget env-seed at --base (learner, "
                             "logel, lfl, lfl_cloned_during_learner, observer_logel, "
                             "observer_lfl): prints the estimate of seed_estimate")
    parser.add_argument("--split-ratio", type=float, default=1.0,
                        help="the learner's speed-up in two env processes (--learner-layout)")
    parser.add_argument("--learner-layout", action="store_true",
                        help="the pipelined learner with one or two env processes (this tree)")
    parser.add_argument("--worker", choices=STAGES)
    parser.add_argument("--trace-file")
    args = parser.parse_args()
    if args.learner_layout:
        learner_layout(args.envs[0], args.updates, args.repeats)
        return 0
    if args.profile:
        profile(args.profile, args.envs[0], args.updates, args.lfl_fraction)
        return 0
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
                cloning_share = reward_init_share = 0.0
                for stage in [s for s in STAGES if s in args.stages]:
                    if stage in ("lfl", "logel") and "learner" not in args.stages:
                        raise SystemExit("the lfl and logel stages need the learner stage")
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
                    reward_init_share = new.get("reward_init_share", reward_init_share)
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
                seed_times = {k: float(v) for k, v in (t.split("=") for t in args.seed_times)}
                if seed_times and all(s in ratios for s in STAGES):
                    est = seed_estimate(seed_times, ratios, reward_init_share, args.split_ratio)
                    estimates[f"{env_id} measured seed"] = {"before": seed_times,
                                                            "split_ratio": args.split_ratio,
                                                            "estimate": est}
                    print(f"  {env_id} paper-budget env-seed, wall: {est['before']:.0f} s -> "
                          f"{est['total']:.0f} s (learner {est['learner']:.0f} s, then LOGEL "
                          f"chain {est['chain_logel']:.0f} s | LfL chain {est['chain_lfl']:.0f}"
                          f" s; LfL's reward fit {est['lfl_reward_init']:.0f} s in the LOGEL "
                          "chain)")
                before = _artifact_cpu(env_id)
                if before and all(s in ratios for s in before):
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
