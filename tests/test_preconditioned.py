"""Preconditioned LOGEL (logel.irl.preconditioned), its observer option and the alignment
diagnostics (logel.diagnostics)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from logel import fit
from logel.diagnostics import alignment, explained_motion, motion_null
from logel.irl.observer import ObserverConfig, ObserverInputs, recover
from logel.irl.preconditioned import (
    adam_model,
    fit_preconditioned,
    momentum_coefficients,
    preconditioned_motion,
)
from logel.learners.zoo import AdamState, adam_update


def _problem(rng: np.random.Generator, m: int = 8, d: int = 12, q: int = 3
             ) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((m, d, q)), np.array([1.0, -2.0, 0.5])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_identity_is_plain_logel(rng: np.random.Generator) -> None:
    J, w = _problem(rng)
    D = 0.3 * np.einsum("tdq,q->td", J, w) + 0.1 * rng.standard_normal((8, 12))
    plain = fit(D, J)
    for pre in ("identity", np.ones(12), np.ones((8, 12))):
        res = fit_preconditioned(D, J, pre)
        np.testing.assert_array_equal(res.weights, plain.weights)
        np.testing.assert_array_equal(res.learning_rates, plain.learning_rates)
        assert res.explained == pytest.approx(explained_motion(D, J, plain.weights,
                                                               plain.learning_rates))


def test_observer_option_reduces_to_plain(rng: np.random.Generator) -> None:
    J, w = _problem(rng)
    thetas = np.vstack([np.zeros(12), np.cumsum(0.2 * np.einsum("tdq,q->td", J, w), axis=0)])
    inputs = ObserverInputs("realistic", thetas, J, None, list(thetas))
    plain = recover(inputs, ObserverConfig())
    pre = recover(inputs, ObserverConfig(preconditioner="diagonal"))
    assert plain.preconditioners is None and pre.preconditioners is not None
    assert _unit(pre.weights) @ _unit(w) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="preconditioner"):
        ObserverConfig(preconditioner="lbfgs")  # type: ignore[arg-type]


def test_diagonal_model_recovers_a_diagonal_learner(rng: np.random.Generator) -> None:
    J, w = _problem(rng, m=10, d=12)
    p = rng.uniform(0.2, 3.0, size=12)
    D = 0.1 * p * np.einsum("tdq,q->td", J, w)
    res = fit_preconditioned(D, J, "diagonal", outer_iter=500, outer_tol=1e-12)
    assert res.explained > 0.999
    assert _unit(res.weights) @ _unit(w) > 0.999
    assert np.all(np.diff(res.objective) <= 1e-12 * res.objective[0])  # BCD: never increases
    plain = fit(D, J)
    assert res.explained > 1 - plain.objective[-1] / np.sum(D * D)


def test_adam_model_recovers_an_adam_learner(rng: np.random.Generator) -> None:
    J, w = _problem(rng, m=10, d=12)
    state = AdamState(np.zeros(12), np.zeros(12))
    D = np.stack([adam_update(state, Jt @ w, 0.05, 0.9, 0.999, 1e-8) for Jt in J])
    M, P = adam_model(J, w)
    np.testing.assert_allclose(0.05 * P * np.einsum("tdq,q->td", M, w), D, rtol=1e-6)
    assert preconditioned_motion(D, J, w, "adam") == pytest.approx(1.0, abs=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_preconditioned(D, J, "adam")
    assert res.explained > 0.999 and _unit(res.weights) @ _unit(w) > 0.999


def test_momentum_rows_sum_to_one() -> None:
    C = momentum_coefficients(6, 0.9)
    np.testing.assert_allclose(C.sum(axis=1), 1.0)
    assert np.all(np.triu(C, 1) == 0)


def test_alignment_of_gradient_steps(rng: np.random.Generator) -> None:
    J, w = _problem(rng)
    u = np.einsum("tdq,q->td", J, w)
    a = alignment(0.5 * u, J, w)
    assert a.explained == pytest.approx(1.0) and np.allclose(a.cosines, 1.0)
    np.testing.assert_allclose(a.learning_rates, 0.5)
    D = u + rng.standard_normal(u.shape)
    a = alignment(D, J, w)
    weights = np.sum(D * D, axis=1)
    assert a.explained == pytest.approx(float(weights @ np.maximum(a.cosines, 0) ** 2
                                              / weights.sum()))


def test_motion_null_separates_the_true_direction(rng: np.random.Generator) -> None:
    J, w = _problem(rng, m=6, d=40)
    D = 0.3 * np.einsum("tdq,q->td", J, w) + 0.05 * rng.standard_normal((6, 40))
    null = motion_null(D, J, w, np.random.default_rng(1), n_directions=50)
    assert null.p_value == pytest.approx(1 / 51) and null.excess > 0.5
    free = motion_null(D, J, w, np.random.default_rng(1), n_directions=20,
                       preconditioner="diagonal")
    assert np.median(free.null) > np.median(null.null)  # a free diagonal fits any direction
