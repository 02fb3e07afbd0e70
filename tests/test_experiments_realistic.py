"""Shared-learner sweeps (logel.experiments.realistic) reproduce gridworld.run exactly."""

import warnings

import numpy as np
import pytest

from logel.experiments.gridworld import RecoveryConfig, run
from logel.experiments.realistic import learner_run, observer_inputs, run_shared, sweep_shared
from logel.irl.bc import BCConfig
from logel.irl.logel import fit
from logel.learners import GPOMDPLearnerConfig

SMALL = dict(learner=GPOMDPLearnerConfig(n_updates=5), observed_steps=(3, 5))
DESIGNS = {
    "smoothed": RecoveryConfig(**SMALL),
    "smoothed_n10": RecoveryConfig(observer_trajectories=10, **SMALL),
    "adam": RecoveryConfig(bc=BCConfig(method="adam", entropy_coef=0.01), tol=1e-2, max_iter=50,
                           fix_constant_direction=False, **SMALL),
    "approximate": RecoveryConfig(setting="approximate", **SMALL),
}


def _same(a, b):
    assert a.seed == b.seed and a.config == b.config
    np.testing.assert_array_equal(a.learner_returns, b.learner_returns)
    if a.bc_parameter_error is None:
        assert b.bc_parameter_error is None
    else:
        np.testing.assert_array_equal(a.bc_parameter_error, b.bc_parameter_error)
    for x, y in zip(a.outcomes, b.outcomes, strict=True):
        np.testing.assert_array_equal(x.weights, y.weights)
        np.testing.assert_array_equal(x.learning_rates, y.learning_rates)
        assert (x.value, x.n_iter, x.converged) == (y.value, y.n_iter, y.converged)


def test_each_design_equals_its_own_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shared = run_shared(DESIGNS, seed=4)
        for name, cfg in DESIGNS.items():
            _same(shared[name], run(cfg, 4))


def test_sweep_is_independent_of_n_jobs():
    designs = {k: DESIGNS[k] for k in ("smoothed", "approximate")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = sweep_shared(designs, [0, 1], n_jobs=1)
        two = sweep_shared(designs, [0, 1], n_jobs=2)
    for name in designs:
        for a, b in zip(one[name], two[name], strict=True):
            _same(a, b)


def test_designs_must_share_the_learner():
    with pytest.raises(ValueError, match="share"):
        run_shared({"a": RecoveryConfig(**SMALL),
                    "b": RecoveryConfig(variant="consistent", **SMALL)}, seed=0)
    with pytest.raises(ValueError, match="exact"):
        run_shared({"a": RecoveryConfig(setting="exact", **SMALL)}, seed=0)


def test_observer_inputs_reproduce_the_observer():
    cfg = DESIGNS["smoothed"]
    grid, trace = learner_run(cfg, 2)
    thetas, deltas, jac = observer_inputs(cfg, grid, trace)
    assert thetas.shape == (6, 75) and deltas.shape == (5, 75) and jac.shape == (5, 75, 5)
    np.testing.assert_allclose(deltas, np.diff(thetas, axis=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = run(cfg, 2)
        for o in ref.outcomes:
            res = fit(deltas[: o.m], jac[: o.m], alpha_init=cfg.alpha_init,
                      alpha_min=cfg.alpha_min, tol=cfg.tol, max_iter=cfg.max_iter,
                      null_directions=np.ones(5))
            np.testing.assert_array_equal(res.weights, o.weights)
    with pytest.raises(ValueError, match="realistic"):
        observer_inputs(DESIGNS["approximate"], grid, trace)
