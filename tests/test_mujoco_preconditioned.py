"""The preconditioned observer on MuJoCo traces (logel.experiments.mujoco_preconditioned), on
smoke-size synthetic inputs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from logel import fit
from logel.experiments import mujoco_preconditioned as mp
from logel.experiments.mujoco import experiment_config, trace_name
from logel.irl.preconditioned import adam_model
from logel.traces import LearnerTrace

OPTIONS = {"alpha_min": 1e-6, "tol": 1e-8, "max_iter": 200, "convergence": "direction"}


def _arrays(rng: np.random.Generator, m: int = 6, d: int = 15, q: int = 3
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    J = rng.standard_normal((m, d, q))
    w = np.array([1.0, -0.5, 0.25])
    D = 0.2 * np.einsum("tdq,q->td", J, w) + 0.05 * rng.standard_normal((m, d))
    return D, J, w


def _analyse(D: np.ndarray, J: np.ndarray, w: np.ndarray, betas=(0.0, 0.7), seed: int = 0):
    return mp.analyse(D, J, w, np.ones(3), alpha_init=np.full(len(D), 0.5),
                      fit_options=OPTIONS, betas=betas, rng_key=(seed, "test"),
                      n_directions=20, outer_iter=10)


def test_update_betas_and_adam_steps() -> None:
    paper = {"n_epochs": 10, "n_envs": 16, "n_steps": 2000, "batch_size": 1000}
    assert mp.adam_steps_per_update(paper) == 320
    b1, b2 = mp.update_betas((0.9, 0.999), 320)
    assert b1 == pytest.approx(0.9 ** 320) and b2 == pytest.approx(0.999 ** 320)
    assert mp.update_betas((0.5, 0.9), 1) == (0.5, 0.9)
    with pytest.raises(ValueError, match="adam_steps"):
        mp.update_betas((0.9, 0.999), 0)
    with pytest.raises(ValueError, match="betas"):
        mp.update_betas((0.9, 1.5), 3)
    with pytest.raises(ValueError, match="batch_size"):
        mp.adam_steps_per_update({"n_epochs": 10, "n_envs": 16, "n_steps": 2000})


def test_plain_model_is_logel_fit(rng: np.random.Generator) -> None:
    D, J, w = _arrays(rng)
    out = _analyse(D, J, w)
    assert set(out) == set(mp.MODELS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = fit(D, J, alpha_init=np.full(len(D), 0.5), **OPTIONS)
    np.testing.assert_array_equal(out["plain"]["weights"], plain.weights)
    np.testing.assert_array_equal(out["plain"]["learning_rates"], plain.learning_rates)
    # the plain learner's own reward direction stands out from random directions
    assert out["plain"]["cosine_reference"] > 0.95
    assert out["plain"]["explained_motion_reference"] > out["plain"]["null_q95"]
    assert out["diagonal"]["explained_motion_fit"] >= out["plain"]["explained_motion_fit"] - 1e-9


def test_adam_model_fits_a_per_update_adam_learner(rng: np.random.Generator) -> None:
    m, d = 8, 20
    J = rng.standard_normal((m, d, 3)) * rng.uniform(0.1, 5.0, size=(1, d, 1))
    w = np.array([1.0, -0.5, 0.25])
    betas = (0.0, 0.7)
    M, P = adam_model(J, w, *betas)
    D = 0.01 * P * np.einsum("tdq,q->td", M, w)
    out = _analyse(D, J, w, betas)
    assert out["adam"]["explained_motion_reference"] == pytest.approx(1.0, abs=1e-9)
    assert out["adam"]["cosine_reference"] > out["plain"]["cosine_reference"]


def test_analyse_is_deterministic(rng: np.random.Generator) -> None:
    D, J, w = _arrays(rng)
    a, b = _analyse(D, J, w, seed=3), _analyse(D, J, w, seed=3)
    for model in mp.MODELS:  # timings differ; everything else is equal
        a[model].pop("seconds"), b[model].pop("seconds")
    assert a == b
    c = _analyse(D, J, w, seed=4)
    assert c["plain"]["null_median"] != a["plain"]["null_median"]  # another stream
    assert c["plain"]["weights"] == a["plain"]["weights"]


def test_bad_input_is_named(rng: np.random.Generator) -> None:
    D, J, w = _arrays(rng)
    with pytest.raises(ValueError, match="jacobians"):
        _analyse(D, J[:, :-1], w)
    with pytest.raises(ValueError, match="deltas"):
        _analyse(D[0], J, w)
    with pytest.raises(ValueError, match="omega_ref"):
        _analyse(D, J, w[:2])
    with pytest.raises(ValueError, match="PreconditionedMujocoConfig.observer"):
        mp.PreconditionedMujocoConfig(observer="cloned")
    with pytest.raises(ValueError, match="PreconditionedMujocoConfig.n_directions"):
        mp.PreconditionedMujocoConfig(n_directions=0)
    with pytest.raises(ValueError, match="PreconditionedMujocoConfig.learner_betas"):
        mp.PreconditionedMujocoConfig(learner_betas=(0.9,))


def _synthetic_trace(seed: int) -> LearnerTrace:
    """A tiny Hopper-like trace of the paper's learner (trunk 8 wide, 3 features)."""
    torch = pytest.importorskip("torch")  # noqa: F841
    from logel.irl.neural import trunk_size

    rng = np.random.default_rng(seed)
    K, N, T, obs_dim, act_dim, q = 4, 2, 20, 3, 2, 3
    starts = np.zeros((K, N, T), dtype=bool)
    starts[:, :, ::10] = True
    d = trunk_size(obs_dim, (8,))
    thetas = np.cumsum(0.05 * rng.standard_normal((K, d)), axis=0)
    heads = [rng.standard_normal(act_dim * 8 + 2 * act_dim).tolist() for _ in range(K)]
    meta = {"env_id": "Hopper-v5", "hidden": [8], "obs_dim": obs_dim, "act_dim": act_dim,
            "actor_heads": heads,
            "config": {"n_epochs": 2, "n_envs": N, "n_steps": T, "batch_size": 10}}
    return LearnerTrace(rng.normal(size=(K, N, T, obs_dim)),
                        rng.normal(size=(K, N, T, act_dim)), rng.normal(size=(K, N, T, q)),
                        0.99, thetas=thetas, episode_starts=starts, metadata=meta)


def test_smoke_run_writes_verified_artifacts(tmp_path: Path) -> None:
    trace_dir = tmp_path / "traces"
    trace_dir.mkdir()
    trace_cfg = experiment_config("Hopper-v5", "smoke", parity="official")
    for seed in (0, 1):
        _synthetic_trace(seed).save(trace_dir / trace_name(trace_cfg, seed))
    root = tmp_path / "artifacts"
    for observer in mp.OBSERVERS:
        cfg = mp.experiment_settings("Hopper-v5", "smoke", observer=observer, n_directions=5,
                                     outer_iter=3)
        assert mp.run(cfg, [0, 1, 2], trace_dir, root) == {0: "done", 1: "done",
                                                          2: "missing trace"}
        assert mp.run(cfg, [0], trace_dir, root) == {0: "skipped"}
        with pytest.raises(RuntimeError, match="different configuration"):
            mp.run(mp.experiment_settings("Hopper-v5", "smoke", observer=observer,
                                          n_directions=6, outer_iter=3), [0], trace_dir, root)
    results = mp.load_results("Hopper-v5", "smoke", root)
    assert sorted(results) == [0, 1]
    r = results[0]
    assert r["adam_steps_per_update"] == 2 * 4 and set(r["observers"]) == {"true", "bc"}
    for observer in mp.OBSERVERS:
        obs = r["observers"][observer]
        assert obs["plain_equals_observer"] and obs["cosine_to_main_run"] is None
        assert obs["reference_weights"] == [125.0, 1.0, -1e-3]
    claims = mp.claims(results, "Hopper-v5")
    assert len(claims) == 2 * 2 + 3
    assert all(c.verdict in ("holds", "fails", "inconclusive") for c in claims)
    # the same seed gives the same numbers (the timings aside)
    again = mp.run_trace(_synthetic_trace(0), mp.experiment_settings(
        "Hopper-v5", "smoke", observer="true", n_directions=5, outer_iter=3), 0, root)
    for model, v in again["observers"]["true"]["models"].items():
        stored = dict(r["observers"]["true"]["models"][model])
        stored.pop("seconds"), v.pop("seconds")
        assert v == stored


def test_committed_artifacts_match_the_current_configuration() -> None:
    """Every committed paper-budget folder verifies and was written with today's
    configuration (a change of defaults must come with new artifacts)."""
    from logel import artifacts

    checked = 0
    for env in ("Reacher-v5", "Hopper-v5"):
        configs = [mp.experiment_settings(env, "paper", observer=o)
                   for o in mp.available_observers(env)]
        configs += [mp.experiment_settings(env, "paper", rung=r) for r in mp.available_rungs(env)]
        for cfg in configs:
            base = mp.output_dir(cfg, 0).parent
            for seed, folder in artifacts.seed_folders(base).items():
                manifest = artifacts.verify(folder)
                assert manifest["config"] == mp.config_dict(cfg, seed), folder
                if cfg.rung is not None:  # the rung's provenance: one optimizer step per update
                    assert manifest["rung"] == mp.LADDER_RUNGS[cfg.rung], folder
                    assert manifest["adam_steps_per_update"] == 1, folder
                checked += 1
    if not checked:
        pytest.skip("no committed mujoco_preconditioned artifacts")


def test_ladder_rungs_adam_steps_per_update() -> None:
    """The full-batch one-epoch rungs make one optimizer step per update: the Adam model's
    betas per update are the learner's own; the minibatch and epoch rungs make more."""
    from dataclasses import asdict

    steps = {}
    for rung in mp.LADDER_RUNGS:
        cfg = mp.experiment_settings("Reacher-v5", "paper", rung=rung)
        steps[rung] = mp.adam_steps_per_update(asdict(mp.rung_learner(cfg, 0)))
    assert steps["adam"] == steps["sgd-full-batch-1-epoch"] == 1
    assert steps["32-minibatches"] == 32 and steps["10-epochs"] == steps["clipping"] == 320
    assert mp.update_betas((0.9, 0.999), steps["adam"]) == (0.9, 0.999)


def _rung_trace(seed: int, rung: str, budget: str = "smoke") -> LearnerTrace:
    """A synthetic trace that records ``rung``'s learner configuration (as the ladder's)."""
    from dataclasses import asdict

    from logel import artifacts

    trace = _synthetic_trace(seed)
    cfg = mp.experiment_settings("Hopper-v5", budget, rung=rung)
    learner = artifacts.jsonable(asdict(mp.rung_learner(cfg, seed)))
    return LearnerTrace(trace.states, trace.actions, trace.features, trace.gamma,
                        thetas=trace.thetas, episode_starts=trace.episode_starts,
                        metadata={**trace.metadata, "config": learner})


def test_rung_source_writes_its_own_verified_folder(tmp_path: Path) -> None:
    from logel import artifacts

    trace_dir = tmp_path / "traces"
    trace_dir.mkdir()
    cfg = mp.experiment_settings("Hopper-v5", "smoke", rung="adam", n_directions=5,
                                 outer_iter=3)
    for seed in (0, 1):
        _rung_trace(seed, "adam").save(mp.trace_path(cfg, seed, trace_dir))
    root = tmp_path / "artifacts"
    assert mp.run(cfg, [0, 1, 2], trace_dir, root) == {0: "done", 1: "done",
                                                      2: "missing trace"}
    out = mp.output_dir(cfg, 0, root)
    assert out.parts[-4:] == ("Hopper-v5", "ladder_adam", "true_theta", "seed_0")
    assert "--rung adam" in (out.parent.parent / "README.md").read_text()
    manifest = artifacts.verify(out)
    assert manifest["config"] == mp.config_dict(cfg, 0) and manifest["config"]["rung"] == "adam"
    assert manifest["rung"] == "+ Adam" and manifest["adam_steps_per_update"] == 1
    assert manifest["trace_sha256"] == artifacts.sha256_file(mp.trace_path(cfg, 0, trace_dir))
    assert manifest["trace"] == "Hopper-v5_smoke_ladder-adam_seed0.npz"
    assert str(tmp_path) not in json.dumps(manifest)
    # the main run's folders are untouched, and its configuration has no rung
    assert mp.available_observers("Hopper-v5", "smoke", root) == ()
    assert mp.available_rungs("Hopper-v5", "smoke", root) == ("adam",)
    assert "rung" not in mp.config_dict(mp.experiment_settings("Hopper-v5", "smoke"), 0)
    results = mp.load_results("Hopper-v5", "smoke", root, observers=("true",), rung="adam")
    assert sorted(results) == [0, 1]
    assert results[0]["update_betas"] == [0.9, 0.999] and results[0]["rung"] == "+ Adam"
    claims = mp.rung_claims(results, "Hopper-v5", "adam")
    assert len(claims) == 3 and all("'+ Adam'" in c.text for c in claims)
    assert all(c.verdict in ("holds", "fails", "inconclusive") for c in claims)
    # resumable, and a different configuration is refused
    assert mp.run(cfg, [0], trace_dir, root) == {0: "skipped"}
    with pytest.raises(RuntimeError, match="different configuration"):
        mp.run(mp.experiment_settings("Hopper-v5", "smoke", rung="adam", n_directions=6,
                                      outer_iter=3), [0], trace_dir, root)


def test_rung_source_refuses_another_learner_and_names_the_argument(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace_dir = tmp_path / "traces"
    trace_dir.mkdir()
    cfg = mp.experiment_settings("Hopper-v5", "smoke", rung="adam", n_directions=5,
                                 outer_iter=3)
    # the SGD rung's trace under the '+ Adam' rung's name
    _rung_trace(0, "sgd-full-batch-1-epoch").save(mp.trace_path(cfg, 0, trace_dir))
    with pytest.raises(ValueError, match="not the '\\+ Adam' rung's"):
        mp.run(cfg, [0], trace_dir, tmp_path / "artifacts")
    with pytest.raises(ValueError, match="PreconditionedMujocoConfig.rung"):
        mp.PreconditionedMujocoConfig(rung="sgd")
    with pytest.raises(ValueError, match="PreconditionedMujocoConfig.rung: .*true theta"):
        mp.PreconditionedMujocoConfig(rung="adam", observer="bc")
    with pytest.raises(ValueError, match="rung"):
        mp.rung_claims({}, "Hopper-v5", "ppo")
    with pytest.raises(SystemExit) as err:
        mp.main(["--rung", "adam", "--observer", "bc", "--trace-dir", str(trace_dir)])
    assert err.value.code == 2
    assert "logel: error: --rung: " in capsys.readouterr().err
