"""E1: the G(PO)MDP learner follows the premise exactly, and LOGEL recovers its reward."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("stable_baselines3")

from logel import artifacts  # noqa: E402
from logel.experiments import mujoco_controls as mc  # noqa: E402
from logel.experiments.mujoco_controls import pg_config  # noqa: E402
from logel.irl.neural import GaussianMLPClass  # noqa: E402
from logel.irl.observer import step_jacobians  # noqa: E402
from logel.learners.policy_gradient import (  # noqa: E402
    least_squares_weights,
    train_policy_gradient,
)

pytestmark = pytest.mark.mujoco


@pytest.fixture(scope="module")
def hopper_run():
    return train_policy_gradient(pg_config("smoke", env_id="Hopper-v5",
                                           weights=(125.0, 1.0, -1e-3), seed=3))


def test_each_update_is_a_normalised_gradient_step(hopper_run):
    trace, cfg = hopper_run.trace, hopper_run.config
    policy_class = GaussianMLPClass.of_trace(trace)
    for t in range(trace.n_policies - 1):
        policy = policy_class.true_policy(trace, t)
        jac = step_jacobians(policy_class, [policy], trace.states[t:t + 1],
                             trace.actions[t:t + 1], trace.features[t:t + 1], trace.gamma,
                             cfg.baseline_eps, episode_starts=trace.episode_starts[t:t + 1])[0]
        grad = jac @ hopper_run.weights
        delta = trace.thetas[t + 1] - trace.thetas[t]
        np.testing.assert_allclose(trace.learning_rates[t], cfg.step_length
                                   / np.linalg.norm(grad), rtol=1e-10)
        # theta is stored in float32: the step is exact up to that rounding
        np.testing.assert_allclose(delta, trace.learning_rates[t] * grad, rtol=0,
                                   atol=1e-6 * np.abs(trace.thetas[t + 1]).max())
        assert abs(np.linalg.norm(delta) - cfg.step_length) < 1e-4


def test_learner_is_deterministic_and_validates(hopper_run):
    again = train_policy_gradient(hopper_run.config)
    np.testing.assert_array_equal(again.trace.thetas, hopper_run.trace.thetas)
    np.testing.assert_array_equal(again.trace.states, hopper_run.trace.states)
    with pytest.raises(ValueError, match="step_length"):
        train_policy_gradient(replace(hopper_run.config, step_length=0.0))
    with pytest.raises(ValueError, match="weights must have 3"):
        train_policy_gradient(replace(hopper_run.config, weights=(1.0, 2.0)))


def test_least_squares_weights_recover_a_linear_reward():
    rng = np.random.default_rng(0)
    phi = rng.normal(size=(4, 50, 3))
    np.testing.assert_allclose(least_squares_weights(phi, phi @ [2.0, -1.0, 0.5] + 3.0),
                               [2.0, -1.0, 0.5], atol=1e-10)


def test_positive_control_smoke_run_recovers_the_reward(tmp_path):
    config = mc.experiment_config("Reacher-v5", "smoke")
    status = mc.run(config, [0], root=tmp_path)
    assert status == {0: "done"}
    out = mc.output_dir(config, 0, tmp_path)
    assert artifacts.is_complete(out)
    res = mc.load_results("Reacher-v5", "smoke", root=tmp_path)[0]
    true = res["observers"]["true"]
    # same samples, same estimator: the learner's omega up to scale, all motion explained
    assert true["cosine"] > 1 - 1e-6 and true["cosine_standardised"] > 1 - 1e-6
    assert true["explained_motion_fit"] > 1 - 1e-6
    assert res["observers"]["bc"]["cosine"] <= 1.0
    assert mc.run(config, [0], root=tmp_path) == {0: "skipped"}
    mc.run(config, [1], root=tmp_path)
    both = mc.load_results("Reacher-v5", "smoke", root=tmp_path)
    true_claim, _ = mc.claims(both, "Reacher-v5")
    assert true_claim.verdict == "holds" and true_claim.low > mc.CLAIM_THRESHOLDS["true"]
    with pytest.raises(RuntimeError, match="different configuration"):
        mc.run(replace(config, logel=replace(config.logel, baseline_eps=1e-3)), [0],
               root=tmp_path)


def test_finite_difference_check_is_deterministic(hopper_run):
    from logel.experiments.mujoco_checks import check_config, finite_difference_check

    config = check_config("smoke")
    first = finite_difference_check(hopper_run.trace, hopper_run.weights, config,
                                    omega_reference=hopper_run.weights)
    (step,) = first["steps"]
    assert set(step["slopes"]) == {"recovered", "reference", "learner_step"}
    assert len(step["random_slopes"]) == config.n_random
    assert np.isfinite(list(step["slopes"].values())).all()
    # omega_reference = omega: the same direction, the same common random numbers
    assert step["slopes"]["recovered"] == step["slopes"]["reference"]
    again = finite_difference_check(hopper_run.trace, hopper_run.weights, config)
    assert again["steps"][0]["slopes"]["recovered"] == step["slopes"]["recovered"]
    assert again["steps"][0]["random_slopes"] == step["random_slopes"]


def test_published_lfl_runs_on_a_kept_trace(tmp_path):
    from logel.experiments import mujoco as mj
    from logel.experiments import mujoco_published_lfl as e7

    config = mj.experiment_config("Hopper-v5", "smoke")
    traces = tmp_path / "traces"
    mj.run(config, [0], root=tmp_path, trace_dir=traces)
    assert e7.run(config, [0, 1], traces, root=tmp_path) == {0: "done", 1: "missing trace"}
    res = e7.load_results(config, root=tmp_path)[0]
    assert res["config"]["lfl"]["aliasing_bug"] is True
    assert res["manifest"]["observer_seed"] == 10_000
    # the bug: every per-step policy is the last one, so every KL target is exactly 0
    assert np.all(res["lfl"]["kl_targets_mean"] == 0)
    assert res["observer_lfl"]["curve"].shape == (config.observer.n_updates,)
    assert "episode_length" in res["observer_lfl"]
    main = mj.load_results("Hopper-v5", "smoke", tmp_path, parity=config.learner.parity)[0]
    assert not np.all(main["lfl"]["kl_targets_mean"] == 0)
    # E6 on the same kept trace: the paper's learner's trace, weights and environments
    from logel.experiments import mujoco_checks as e6

    seen = []
    real_make = e6.make_vec_env

    def spy(cfg, *args, **kwargs):
        seen.append((cfg.parity, cfg.raw_control_used()))
        return real_make(cfg, *args, **kwargs)

    e6.make_vec_env = spy
    try:
        assert e6.run("Hopper-v5", [0, 1], traces, "smoke", root=tmp_path, weights_root=tmp_path,
                      parity="official") == {0: "done", 1: "missing"}
    finally:
        e6.make_vec_env = real_make
    assert seen and set(seen) == {("official", True)}
    out = e6.output_dir("Hopper-v5", "smoke", 0, tmp_path, "official")
    assert out.parent.parent.name == "mujoco_checks_official_smoke"
    assert artifacts.is_complete(out)
    checked = e6.load_results("Hopper-v5", "smoke", tmp_path, "official")[0]
    np.testing.assert_allclose(checked["recovered_weights"], main["logel"]["weights"])
    assert e6.run("Hopper-v5", [0], traces, "smoke", root=tmp_path, weights_root=tmp_path,
                  parity="official") == {0: "skipped"}
