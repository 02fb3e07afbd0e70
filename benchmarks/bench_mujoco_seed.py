"""Benchmark: one MuJoCo env-seed (learner, LOGEL, LfL, two observers), stage by stage.

Ours against the previous code, side by side on this machine (``ratio`` = baseline / ours):

* **environment steps** (16 environments, ``--steps`` vector steps, fastest of ``REPEATS``):
  the observers' reward replaced per environment and per step (SB3 ``DummyVecEnv`` with its
  deep copy of the infos, :class:`~logel.envs.mujoco_features.LinearFeatureReward` /
  :class:`~logel.envs.mujoco_features.CallableReward`) against all environments at once
  (:class:`~logel.learners.ppo.ShallowInfoDummyVecEnv` with
  :class:`~logel.envs.mujoco_features.VecLinearFeatureReward` /
  :class:`~logel.envs.mujoco_features.VecCallableReward`); and the learner's plain feature
  environments. Both paths must return the same rewards, bit for bit.
* **learner**, ``--updates`` PPO updates at the paper's sizes (16 x 2000): environments stepped
  by one process against two (:class:`~logel.learners.ppo.SplitVecEnv`); same curve required.
* **observer stage**: the LOGEL and the LfL observer (``--updates`` updates each, paper sizes,
  random recovered rewards) one after the other in this process against side by side in two
  processes (what :func:`logel.experiments.mujoco.run_seed` does with ``parallel=True``, worker
  start-up included); same curves required.

Two-process cases are wall-time ratios and need a second free core: each row records the idle
cores measured just before it (``idle_cores_before``, from ``/proc/stat``); with another program
on one of two cores the two-process layouts lose (lock-step environment processes, or two
processes sharing one core), which is why the learner only splits its environments when two
cores are idle. One-process cases also report CPU time.

Finally the per-stage times of paper-budget seeds: *before* from the committed artifacts
(``artifacts/mujoco/<env>/seed_<k>/timings.json``, median over seeds and the chosen seed), *after*
from a fresh run: ``--paper`` runs one paper-budget seed of each environment with the current
code (about 8 minutes each on 2 free cores) into ``--root`` (default: a temporary directory),
``--after-root DIR`` only reads the timings of such a run made earlier. ``--before-root DIR``
reads *before* from a paper-budget run of the older code made the same way (e.g. from a ``git
worktree`` of it, one after the other on the same quiet machine) instead of the committed
artifacts: a measurement of both sides, not a comparison with runs made under other load.

Writes ``benchmarks/results/mujoco_seed.json`` (:mod:`results_io`) beside the printed table.

Run: ``.venv/bin/python benchmarks/bench_mujoco_seed.py [--steps 400] [--updates 2] [--paper]
[--seed 0] [--root DIR | --after-root DIR]`` (a few minutes without ``--paper``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from logel import artifacts
from logel.envs import mujoco_features as mf
from logel.experiments import mujoco as mj
from logel.learners import ppo
from logel.policies.gaussian_mlp import GaussianMLPPolicy

ENVS = ("Reacher-v5", "Hopper-v5")
STAGES = ("learner", "logel", "lfl", "observer_logel", "observer_lfl")
REPEATS = 3
PARITY = "sb3"
"""Learner of every case and fresh run: SB3's, the learner of the committed artifacts, so that
*before* and *after* run the same computation (``--parity official`` for the paper's learner)."""


def _config(env_id: str) -> Any:
    return mj.experiment_config(env_id, "paper", parity=PARITY)


def _weights(env_id: str) -> np.ndarray:
    return np.random.default_rng(0).normal(size=mf.n_features(env_id))


class _FakeLfL:
    """What :func:`logel.experiments.mujoco.lfl_reward_function` needs: a random reward network."""

    def __init__(self, obs_dim: int, act_dim: int) -> None:
        self.net = GaussianMLPPolicy(obs_dim, act_dim, (64, 64), log_std_init=-0.5, seed=1)

    def reward_network(self) -> GaussianMLPPolicy:
        return self.net


def _lfl_fn(env_id: str) -> Any:
    obs_dim, act_dim = (11, 3) if env_id.startswith("Hopper") else (10, 2)
    rng = np.random.default_rng(1)
    return mj.lfl_reward_function(_FakeLfL(obs_dim, act_dim), rng.normal(size=obs_dim),
                          rng.uniform(0.5, 2.0, size=obs_dim), 10.0)


def _venv(env_id: str, kind: str, side: str, n_envs: int = 16) -> Any:
    from stable_baselines3.common.vec_env import DummyVecEnv

    raw = PARITY == "official"
    if side == "baseline":
        per_env = {"features": None,
                   "logel": lambda e: mf.LinearFeatureReward(e, _weights(env_id)),
                   "lfl": lambda e: mf.CallableReward(e, _lfl_fn(env_id))}[kind]
        return DummyVecEnv([lambda: mf.make_feature_env(env_id, reward=per_env,
                                                        raw_actions=raw)] * n_envs)
    venv = ppo.ShallowInfoDummyVecEnv([lambda: mf.make_feature_env(
        env_id, features=kind != "lfl", raw_actions=raw)] * n_envs)
    if kind == "logel":
        return mf.VecLinearFeatureReward(venv, _weights(env_id))
    if kind == "lfl":
        return mf.VecCallableReward(venv, _lfl_fn(env_id))
    return venv


def _steps(venv: Any, actions: np.ndarray) -> tuple[float, float, np.ndarray]:
    venv.seed(0)
    venv.reset()
    rewards = []
    t, c = time.perf_counter(), time.process_time()
    for a in actions:
        rewards.append(venv.step(a)[1])
    return time.perf_counter() - t, time.process_time() - c, np.array(rewards)


def env_step_rows(n_steps: int) -> list[dict[str, Any]]:
    import results_io

    rows = []
    for env_id in ENVS:
        act_dim = 3 if env_id.startswith("Hopper") else 2
        actions = (0.5 * np.random.default_rng(2).normal(size=(n_steps, 16, act_dim))
                   ).astype(np.float32)
        for kind, label in (("features", "learner: feature envs"),
                            ("logel", "LOGEL observer: w.phi reward"),
                            ("lfl", "LfL observer: log pi_R reward")):
            best: dict[str, tuple[float, float]] = {}
            rewards = {}
            for _ in range(REPEATS):
                for side in ("baseline", "ours"):
                    wall, cpu, rewards[side] = _steps(_venv(env_id, kind, side), actions)
                    old = best.get(side, (np.inf, np.inf))
                    best[side] = (min(old[0], wall), min(old[1], cpu))
            if not np.array_equal(rewards["ours"], rewards["baseline"]):
                raise AssertionError(f"{env_id} {kind}: rewards differ")
            name = f"{env_id} {label}, {n_steps} x 16 steps"
            (t_o, c_o), (t_b, c_b) = best["ours"], best["baseline"]
            print(f"{name:62s} {t_o:7.2f} ({c_o:6.2f}) {t_b:7.2f} ({c_b:6.2f}) "
                  f"{t_b / t_o:7.2f} {c_b / c_o:7.2f}")
            rows.append(results_io.row(name, t_o, t_b, cpu_ours=c_o, cpu_baseline=c_b,
                                       cpu_ratio=c_b / c_o, memory_ratio=None,
                                       identical=True))
    return rows


def learner_rows(n_updates: int) -> list[dict[str, Any]]:
    import results_io

    rows = []
    for env_id in ENVS:
        config = replace(_config(env_id).learner, n_updates=n_updates,
                         seed=0, record=True)
        out = {}
        idle = mj.idle_cores()
        for procs in (1, 2):
            t = time.perf_counter()
            run = ppo.train_ppo(config, env_processes=procs)
            out[procs] = (time.perf_counter() - t, run)
        if not (np.array_equal(out[1][1].curve, out[2][1].curve, equal_nan=True)
                and np.array_equal(out[1][1].trace.states, out[2][1].trace.states)
                and np.array_equal(out[1][1].trace.thetas, out[2][1].trace.thetas)):
            raise AssertionError(f"{env_id}: two-process learner differs")
        name = f"{env_id} learner, {n_updates} updates 16x2000, 2 env processes vs 1"
        t_o, t_b = out[2][0], out[1][0]
        print(f"{name:62s} {t_o:7.2f} {'':8s} {t_b:7.2f} {'':8s} {t_b / t_o:7.2f}")
        rows.append(results_io.row(name, t_o, t_b, memory_ratio=None, identical=True,
                                   idle_cores_before=idle))
    return rows


def _observer_chain(kind: str, env_id: str, config: Any) -> dict[str, Any]:
    """One observer on a random recovered reward (runs in a worker for the parallel case)."""
    torch.set_num_threads(1)
    fn = _lfl_fn(env_id)

    def vec(venv: Any) -> Any:
        if kind == "logel":
            return mf.VecLinearFeatureReward(venv, _weights(env_id))
        return mf.VecCallableReward(venv, fn)

    run = ppo.train_ppo(config, vec_reward=vec)
    return {"curve": run.curve}


def observer_rows(n_updates: int) -> list[dict[str, Any]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import results_io

    rows = []
    for env_id in ENVS:
        config = replace(_config(env_id).observer, n_updates=n_updates,
                         seed=10_000)
        idle = mj.idle_cores()
        t = time.perf_counter()
        seq = [_observer_chain(k, env_id, config) for k in ("logel", "lfl")]
        t_b = time.perf_counter() - t
        t = time.perf_counter()
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_observer_chain, k, env_id, config) for k in ("logel", "lfl")]
            par = [f.result() for f in futures]
        t_o = time.perf_counter() - t
        for a, b in zip(seq, par, strict=True):
            if not np.array_equal(a["curve"], b["curve"], equal_nan=True):
                raise AssertionError(f"{env_id}: parallel observers differ")
        name = f"{env_id} both observers, {n_updates} updates each, 2 processes vs 1"
        print(f"{name:62s} {t_o:7.2f} {'':8s} {t_b:7.2f} {'':8s} {t_b / t_o:7.2f}")
        rows.append(results_io.row(name, t_o, t_b, memory_ratio=None, identical=True,
                                   idle_cores_before=idle))
    return rows


def _timings(directory: Path) -> dict[str, float] | None:
    """``timings.json`` plus the manifest's wall time of the whole seed (``seed_wall``)."""
    path = directory / "timings.json"
    if not path.is_file():
        return None
    out = json.loads(path.read_text())
    out["seed_wall"] = artifacts.read_manifest(directory).get("wall_time_seconds")
    return out


def stage_rows(seed: int, after_root: Path | None,
               before_root: Path | None = None) -> list[dict[str, Any]]:
    """Per-stage seconds: committed artifacts or ``before_root`` (before) and ``after_root``
    (after)."""
    import results_io

    rows = []
    print(f"\n{'paper-budget seed, seconds':34s} " + " ".join(f"{s:>14s}" for s in STAGES)
          + f" {'sum of stages':>13s} {'wall':>7s}")
    print("(stages run side by side after the learner, so 'wall' < 'sum of stages' after)")
    for env_id in ENVS:
        config = _config(env_id)
        committed = mj.output_dir(mj.experiment_config(env_id, "paper", parity="sb3"), 0).parent
        seeds = sorted(committed.glob("seed_*"))
        table = [t for t in (_timings(p) for p in seeds) if t is not None]
        cases = []
        if table and before_root is None:
            med = {s: float(np.median([t[s] for t in table])) for s in (*STAGES, "seed_wall")}
            cases.append((f"{env_id} before, median of {len(table)}", med))
        before = (_timings(committed / f"seed_{seed}") if before_root is None
                  else _timings(mj.output_dir(config, seed, before_root)))
        if before is not None:
            cases.append((f"{env_id} before, seed {seed}", before))
        after = (None if after_root is None
                 else _timings(mj.output_dir(config, seed, after_root)))
        if after is not None:
            cases.append((f"{env_id} after, seed {seed}", after))
        for label, t in cases:
            total = sum(t[s] for s in STAGES)
            print(f"{label:34s} " + " ".join(f"{t[s]:14.0f}" for s in STAGES)
                  + f" {total:13.0f} {t['seed_wall']:7.0f}")
            if all(f"{s}_cpu" in t for s in STAGES):
                cpu = [t[f"{s}_cpu"] for s in STAGES]
                print(f"{'  (CPU seconds)':34s} " + " ".join(f"{v:14.0f}" for v in cpu)
                      + f" {sum(cpu):13.0f}")
        if before is not None and after is not None:
            for s in STAGES:
                rows.append(results_io.row(f"{env_id} seed {seed} stage {s} (paper budget)",
                                           after[s], before[s], memory_ratio=None))
            rows.append(results_io.row(
                f"{env_id} seed {seed} whole seed, wall (paper budget)",
                after["seed_wall"], before["seed_wall"], memory_ratio=None,
                after_timings=after, before_timings=before))
    return rows


def paper_run(seed: int, root: Path) -> None:
    """One paper-budget seed of each environment with the current code, into ``root``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for env_id in ENVS:
        config = _config(env_id)
        t = time.perf_counter()
        mj.run(config, [seed], root=root, force=True)
        print(f"{env_id} seed {seed}: {time.perf_counter() - t:.0f} s wall")


def main() -> None:
    global PARITY
    import results_io

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=400, help="vector steps per env case")
    parser.add_argument("--updates", type=int, default=2,
                        help="PPO updates of the learner and observer cases")
    parser.add_argument("--paper", action="store_true",
                        help="also run one paper-budget seed of each environment")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parity", default=PARITY, choices=("sb3", "official"),
                        help="learner of the cases and of --paper (default sb3: the committed "
                             "artifacts' learner, so before and after compare like with like)")
    parser.add_argument("--root", type=Path, default=None,
                        help="where --paper writes (default: a temporary directory)")
    parser.add_argument("--after-root", type=Path, default=None,
                        help="read the 'after' timings of an earlier --paper run there")
    parser.add_argument("--before-root", type=Path, default=None,
                        help="read the 'before' timings of a paper run of the older code there "
                             "(default: the committed artifacts)")
    parser.add_argument("--runs-note", default=None,
                        help="how the --after-root/--before-root runs were made (e.g. the load "
                             "average at the end of each), stored with the results")
    parser.add_argument("--results-name", default="mujoco_seed",
                        help="write benchmarks/results/<name>.json")
    parser.add_argument("--skip-cases", action="store_true",
                        help="only the per-stage table (with --paper or --after-root)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    PARITY = args.parity

    rows: list[dict[str, Any]] = []
    if not args.skip_cases:
        print("ours / baseline: wall seconds (CPU seconds of this process); ratio = baseline / "
              f"ours; one-process cases are the fastest of {REPEATS} runs.")
        print(f"{'case':62s} {'ours':>16s} {'baseline':>16s} {'ratio':>7s} {'cpu':>7s}")
        rows += env_step_rows(args.steps)
        rows += learner_rows(args.updates)
        rows += observer_rows(args.updates)
    after_root = args.after_root
    with tempfile.TemporaryDirectory() as tmp:
        if args.paper:
            after_root = args.root or Path(tmp)
            paper_run(args.seed, after_root)
        rows += stage_rows(args.seed, after_root, args.before_root)
    path = results_io.write(args.results_name, rows, repeats=REPEATS, steps=args.steps,
                            updates=args.updates, paper_seed=args.seed, parity=PARITY,
                            after_root=None if after_root is None else after_root.name,
                            before_root=(None if args.before_root is None
                                         else args.before_root.name),
                            load_average=list(os.getloadavg()), runs_note=args.runs_note,
                            committed_manifest_version=_committed_version())
    print(f"\nwrote {path}")


def _committed_version() -> str | None:
    d = mj.output_dir(mj.experiment_config("Hopper-v5", "paper", parity="sb3"), 0)
    return mj.stored_version(d) if artifacts.is_complete(d) else None


if __name__ == "__main__":
    main()
