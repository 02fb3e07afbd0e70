"""Final-behaviour baselines, theory experiments, the split-half diagnostic and the runner."""

import warnings

import numpy as np
import pytest

from logel import IdentifiabilityWarning
from logel.diagnostics import split_half_agreement
from logel.evaluation import attains_optimum
from logel.experiments.comparison import run_comparison
from logel.experiments.final_behaviour import (
    FinalBehaviourConfig,
    format_summary,
    run_final_behaviour,
    summarise,
    sweep_final_behaviour,
)
from logel.experiments.theory import (
    IdentifiabilityCases,
    IdentifiabilityConfig,
    RatesConfig,
    identifiability_curve,
    loglog_slope,
    run_rates,
)
from logel.policies import SharedLogitPolicy
from logel.runner import ray_available, run_jobs

SMALL = FinalBehaviourConfig(observed_steps=(2, 4), trajectories=(10, 20), n_sweep_m=3,
                             n_learner_trajectories=20)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdentifiabilityWarning)
        yield


@pytest.mark.parametrize("learner", ["gpomdp", "spi"])
def test_final_behaviour_reuses_the_comparison_run(learner):
    """LOGEL's outcomes equal run_comparison's on the same learner run and seed."""
    cfg = FinalBehaviourConfig(learner=learner, observed_steps=(2, 4), trajectories=(20,),
                               n_sweep_m=4, n_learner_trajectories=20)
    res = run_final_behaviour(cfg, 3)
    ref = run_comparison(cfg.comparison_config(), 3)
    for m in (2, 4):
        assert res.outcome("logel", m, 20).value == ref.outcome("logel", m).value
    methods = {o.method for o in res.outcomes}
    assert methods == {"logel", "mce", "bc", "bc_greedy", "learner"}
    assert res.learner_values.shape == (5,)
    # the learner's own final policy is scored at its final step
    assert res.outcome("learner", 4, 20).value == res.learner_values[4]
    for o in res.outcomes:
        assert o.value <= res.optimal_value + 1e-9
        assert o.optimal == attains_optimum(o.value, res.optimal_value)


def test_final_behaviour_grid_and_determinism():
    a = sweep_final_behaviour({"x": SMALL}, [0, 1], n_jobs=1)["x"]
    b = sweep_final_behaviour({"x": SMALL}, [0, 1], n_jobs=2)["x"]
    pairs = {(o.method, o.m, o.n) for o in a[0].outcomes}
    # m sweep at n = 20, n sweep at m = 3
    assert {(m, n) for _, m, n in pairs} == {(2, 20), (4, 20), (3, 10), (3, 20)}
    for ra, rb in zip(a, b, strict=True):
        assert ra.outcomes == rb.outcomes
    assert "mce" in format_summary(a) and len(summarise(a)) == len(pairs)


def test_final_behaviour_config_validation():
    with pytest.raises(ValueError, match="trajectories"):
        FinalBehaviourConfig(trajectories=(60,), n_learner_trajectories=50)
    with pytest.raises(ValueError, match="learner"):
        FinalBehaviourConfig(learner="sarsa")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="observed_steps"):
        FinalBehaviourConfig(observed_steps=(0,))
    with pytest.raises(ValueError, match="policy_class"):
        IdentifiabilityConfig("tabular")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_trajectories"):
        IdentifiabilityConfig(n_trajectories=1)
    with pytest.raises(ValueError, match="observed_steps"):
        RatesConfig(observed_steps=(20,), n_updates=15)


def test_identifiability_warning_fires_exactly_when_recovery_fails():
    """With exact Jacobians: the warning fires iff the closed form misses omega -- one step
    of a d = 3 class (m d < q), or a learner that does not move -- for step sizes down to
    1e-5; the d = 75 class is identified from the first step."""
    for cfg in IdentifiabilityCases().cases.values():
        curve = identifiability_curve(cfg, 0)
        failed = curve.weight_error > 1e-6
        np.testing.assert_array_equal(curve.warned, failed)
        np.testing.assert_array_equal(curve.warned, curve.rank < curve.n_free)
    for lr in (1.0, 1e-2, 1e-5):
        curve = identifiability_curve(IdentifiabilityConfig("shared", learning_rate=lr), 1)
        np.testing.assert_array_equal(curve.warned, curve.weight_error > 1e-6)
        assert curve.warned[0] and not curve.warned[1:].any()
    # Where it is conservative: a learner moving by 1e-6 per step is ill-conditioned (warns)
    # although exact Jacobians still recover omega.
    curve = identifiability_curve(IdentifiabilityConfig("shared", learning_rate=1e-6), 0)
    assert curve.warned.all() and (curve.weight_error[1:] < 1e-4).all()


def test_shared_logit_policy_derivatives():
    pol = SharedLogitPolicy(25, 4)
    theta = np.array([0.3, -0.2, 0.5])
    eps = 1e-6
    fd = np.stack([(pol.probabilities(theta + eps * e) - pol.probabilities(theta - eps * e))
                   / (2 * eps) for e in np.eye(3)], axis=-1)
    np.testing.assert_allclose(pol.probability_jacobian(theta), fd, atol=1e-8)
    logp = np.log(pol.probabilities(theta))
    fd_score = [(np.log(pol.probabilities(theta + eps * e))[0, 1]
                 - np.log(pol.probabilities(theta - eps * e))[0, 1]) / (2 * eps)
                for e in np.eye(3)]
    np.testing.assert_allclose(pol.scores(theta, np.array([0]), np.array([1]))[0], fd_score,
                               atol=1e-8)
    assert logp.shape == (25, 4)
    with pytest.raises(ValueError, match="theta must have shape"):
        pol.probabilities(np.zeros(2))


def test_rates_shapes_determinism_and_slope():
    cfg = RatesConfig(trajectories=(20, 80), observed_steps=(2, 3), n_updates=3)
    a, b = run_rates(cfg, 0), run_rates(cfg, 0)
    np.testing.assert_array_equal(a.known, b.known)
    np.testing.assert_array_equal(a.bc, b.bc)
    assert a.known.shape == (2, 2) and a.bc_parameter_error.shape == (2,)
    assert np.all((a.known >= 0) & (a.known <= 2))
    assert loglog_slope([1, 10, 100], [1.0, 10 ** -0.5, 0.1]) == pytest.approx(-0.5)
    assert loglog_slope([1, 10], [[1.0, 0.1], [1.0, 0.1]]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="positive"):
        loglog_slope([1, 2], [0.0, 1.0])
    with pytest.raises(ValueError, match="errors must have shape"):
        loglog_slope([1, 2, 3], [1.0, 1.0])


def test_split_half_agreement_flags_noise():
    rng = np.random.default_rng(0)
    J = rng.normal(size=(3, 10, 4))
    omega = np.array([1.0, -2.0, 0.5, 0.0])
    D = 0.1 * J @ omega
    ok = split_half_agreement(D, J + 1e-3 * rng.normal(size=J.shape),
                              J + 1e-3 * rng.normal(size=J.shape), np.full(3, 0.1))
    assert ok.stable and ok.cosine > 0.99
    with pytest.warns(IdentifiabilityWarning, match="halves"):
        bad = split_half_agreement(D, rng.normal(size=J.shape), rng.normal(size=J.shape),
                                   np.full(3, 0.1))
    assert not bad.stable
    with pytest.raises(ValueError, match="must match"):
        split_half_agreement(D, J, J[:2])


def _square(x: int) -> int:
    return x * x


def test_runner_orders_results_and_validates():
    assert run_jobs(_square, [(i,) for i in range(5)], n_jobs=2) == [0, 1, 4, 9, 16]
    assert run_jobs(_square, [(3,)], n_jobs=1) == [9]
    with pytest.raises(ValueError, match="backend"):
        run_jobs(_square, [(1,)], backend="dask")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_jobs"):
        run_jobs(_square, [(1,)], n_jobs=0)


@pytest.mark.skipif(not ray_available(), reason="ray (optional extra) is not installed")
def test_ray_backend_gives_identical_results_per_seed(monkeypatch):
    """A local 2-CPU Ray runtime through joblib's Ray backend reproduces loky per seed."""
    from logel.runner import shutdown_ray

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cfg = FinalBehaviourConfig(observed_steps=(2,), trajectories=(10,), n_sweep_m=2,
                               n_learner_trajectories=10)
    try:
        by_ray = sweep_final_behaviour({"x": cfg}, [0, 1], n_jobs=2, backend="ray")["x"]
    finally:
        shutdown_ray()
    by_loky = sweep_final_behaviour({"x": cfg}, [0, 1], n_jobs=2, backend="loky")["x"]
    for a, b in zip(by_ray, by_loky, strict=True):
        assert a.outcomes == b.outcomes
