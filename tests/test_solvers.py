"""Weight recovery: `solve_weights` (known learning rates), `fit` (unknown learning rates) and
`identifiability`, in the exact-gradient setting and on adversarial inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from logel import (
    DegenerateGradientWarning,
    IdentifiabilityWarning,
    LOGELResult,
    fit,
    identifiability,
    solve_weights,
)
from logel.envs.gridworld import Gridworld
from logel.learners import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.tabular import feature_expectations_jacobian

ONES = np.ones(5)


def centred(w: np.ndarray) -> np.ndarray:
    return w - w.mean()


def unit(w: np.ndarray) -> np.ndarray:
    return w / np.linalg.norm(w)


def exact_setting(learning_rate, n_updates=15, seed=0):
    """A learner following exact gradients, and the exact Jacobians at its thetas."""
    grid = Gridworld("paper")
    config = GPOMDPLearnerConfig(n_updates=n_updates, gradient="exact",
                                 learning_rate=learning_rate)
    trace = run_gpomdp_learner(grid, config, np.random.default_rng(seed))
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    jacobians = np.stack([
        feature_expectations_jacobian(grid.sampling_model, policy.probabilities(th),
                                      policy.probability_jacobian(th), grid.horizon)
        for th in trace.thetas[:-1]])
    return grid, trace, np.diff(trace.thetas, axis=0), jacobians


@pytest.fixture(scope="module")
def constant_rate():
    return exact_setting(0.1)


@pytest.fixture(scope="module")
def lin_rate():
    return exact_setting("lin")


# ----------------------------------------------------------------------------- exact setting


def test_exact_setting_trace_is_what_the_solver_assumes(constant_rate):
    grid, trace, deltas, jacobians = constant_rate
    assert deltas.shape == (15, 75) and jacobians.shape == (15, 75, 5)
    np.testing.assert_array_equal(trace.learning_rates, 0.1)
    # theta_{t+1} - theta_t = alpha_t J_t omega, and J_t 1 = 0 (partition-of-unity colours)
    np.testing.assert_allclose(deltas, 0.1 * jacobians @ grid.true_weights, atol=1e-12)
    np.testing.assert_allclose(jacobians @ ONES, 0.0, atol=1e-12)


def test_solve_weights_recovers_identifiable_part_and_warns(constant_rate):
    grid, trace, deltas, jacobians = constant_rate
    with pytest.warns(IdentifiabilityWarning, match="all-ones"):
        omega = solve_weights(deltas, jacobians, trace.learning_rates)
    # min-norm least squares: the unidentifiable all-ones component is zero
    np.testing.assert_allclose(omega, centred(grid.true_weights), atol=1e-8, rtol=0)
    np.testing.assert_allclose(centred(omega), centred(grid.true_weights), atol=1e-8, rtol=0)


def test_solve_weights_with_null_direction_is_exact_and_silent(constant_rate):
    grid, trace, deltas, jacobians = constant_rate
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        omega = solve_weights(deltas, jacobians, trace.learning_rates, null_directions=ONES)
    np.testing.assert_allclose(omega, centred(grid.true_weights), atol=1e-8, rtol=0)


def test_solve_weights_needs_the_right_learning_rates(lin_rate):
    grid, trace, deltas, jacobians = lin_rate
    np.testing.assert_allclose(trace.learning_rates, 1 / (1 + np.arange(15)))
    omega = solve_weights(deltas, jacobians, trace.learning_rates, null_directions=ONES)
    np.testing.assert_allclose(omega, centred(grid.true_weights), atol=1e-8, rtol=0)
    # a wrong (constant) schedule cannot explain the data exactly
    wrong = solve_weights(deltas, jacobians, np.full(15, 0.1), null_directions=ONES)
    assert np.abs(unit(wrong) - unit(centred(grid.true_weights))).max() > 1e-3


@pytest.mark.parametrize("alpha_init", [0.1, 0.5, "random"])
def test_fit_recovers_direction_with_monotone_objective(constant_rate, alpha_init):
    grid, trace, deltas, jacobians = constant_rate
    if alpha_init == "random":  # non-constant start: BCD has to move the learning rates
        alpha_init = np.random.default_rng(1).uniform(0.02, 0.5, size=15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fit(deltas, jacobians, null_directions=ONES, alpha_init=alpha_init)
    assert isinstance(result, LOGELResult)
    assert isinstance(result.converged, bool) and result.converged
    assert result.weights @ centred(grid.true_weights) > 0  # positive, not negative, scale
    np.testing.assert_allclose(unit(result.weights), unit(centred(grid.true_weights)),
                               atol=1e-6, rtol=0)
    obj = result.objective
    assert obj.shape == (result.n_iter + 1,)
    assert np.all(np.diff(obj) <= 1e-12 * max(obj[0], 1.0))
    assert obj[-1] < 1e-8 * max(np.sum(deltas**2), 1.0)
    # learning rates are recovered up to the same (inverse) scale as the weights
    scale = result.weights @ centred(grid.true_weights) / np.sum(centred(grid.true_weights)**2)
    np.testing.assert_allclose(result.learning_rates * scale, trace.learning_rates, rtol=1e-5)
    assert (result.learning_rates >= 0.01).all()


def test_fit_with_varying_schedule_reaches_zero_objective(lin_rate):
    grid, trace, deltas, jacobians = lin_rate
    calls = []
    result = fit(deltas, jacobians, null_directions=ONES, alpha_init=0.5,
                 callback=lambda k, w, a, o: calls.append((k, o)))
    assert result.converged and result.n_iter == len(calls)
    assert [k for k, _ in calls] == list(range(1, result.n_iter + 1))
    np.testing.assert_allclose([o for _, o in calls], result.objective[1:])
    assert np.all(np.diff(result.objective) <= 1e-12)
    assert result.objective[-1] < 1e-8
    np.testing.assert_allclose(unit(result.weights), unit(centred(grid.true_weights)),
                               atol=1e-6)
    ratio = result.learning_rates / trace.learning_rates
    # the schedule's shape is recovered (to the BCD stopping tolerance; measured 2e-5)
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)


@pytest.mark.parametrize("max_iter", [0, 1, 3])
def test_fit_respects_max_iter(lin_rate, max_iter):
    _, _, deltas, jacobians = lin_rate
    result = fit(deltas, jacobians, null_directions=ONES, alpha_init=0.1, tol=0.0,
                 max_iter=max_iter)
    assert result.n_iter == max_iter and result.converged is False
    assert result.objective.shape == (max_iter + 1,)
    assert np.all(np.isfinite(result.weights))


def test_fit_always_terminates_on_slow_problems(lin_rate):
    """From alpha_init = 0.1 BCD creeps along the scale direction (measured: no convergence in
    1000 iterations, objective 6e-7); it must still stop at max_iter with sane output."""
    _, _, deltas, jacobians = lin_rate
    result = fit(deltas, jacobians, null_directions=ONES, alpha_init=0.1, max_iter=50)
    assert result.n_iter <= 50 and isinstance(result.converged, bool)
    assert np.all(np.diff(result.objective) <= 1e-12)
    assert result.objective[-1] < result.objective[0]


def test_identifiability_reports(constant_rate):
    _, _, _, jacobians = constant_rate
    diag = identifiability(jacobians)
    assert diag.rank == 4 and diag.n_free == 5 and not diag.identifiable
    assert "all-ones" in diag.note
    np.testing.assert_allclose(np.abs(diag.null_space[:, 0]), 1 / np.sqrt(5), atol=1e-8)
    fixed = identifiability(jacobians, null_directions=ONES)
    assert fixed.rank == fixed.n_free == 4 and fixed.identifiable
    assert fixed.null_space.shape == (5, 0)
    assert "scale" in identifiability(jacobians, null_directions=ONES,
                                      learning_rates_known=False).note

    rng = np.random.default_rng(0)
    full = identifiability(rng.normal(size=(3, 6, 4)))
    assert full.rank == 4 and full.identifiable and np.isfinite(full.condition_number)
    assert np.all(np.diff(full.singular_values) <= 0)
    assert "all-ones" not in full.note


def test_identifiability_flags_ill_conditioning():
    rng = np.random.default_rng(0)
    J = rng.normal(size=(3, 6, 4))
    J[..., 3] = J[..., 2] + 1e-8 * rng.normal(size=(3, 6))  # nearly collinear columns
    diag = identifiability(J)
    assert diag.rank == 4 and diag.condition_number > 1e6 and not diag.identifiable
    assert "ill-conditioned" in diag.note


# ----------------------------------------------------------------------------- random problems


@pytest.mark.parametrize("seed", range(5))
def test_random_full_rank_problems_are_solved_exactly(seed):
    rng = np.random.default_rng(seed)
    m, d, q = rng.integers(1, 6), rng.integers(3, 9), rng.integers(1, 4)
    jacobians = rng.normal(size=(m, d, q))
    omega = rng.normal(size=q)
    alpha = rng.uniform(0.05, 1.0, size=m)
    deltas = alpha[:, None] * (jacobians @ omega)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(solve_weights(deltas, jacobians, alpha), omega, atol=1e-9)
        result = fit(deltas, jacobians, alpha_init=rng.uniform(0.05, 1.0, size=m))
    np.testing.assert_allclose(np.abs(unit(result.weights) @ unit(omega)), 1.0, atol=1e-9)
    assert unit(result.weights) @ unit(omega) > 0


def test_solve_weights_is_least_squares_with_noise():
    """With inconsistent data the answer is the least-squares solution of the stacked system."""
    rng = np.random.default_rng(3)
    m, d, q = 4, 6, 3
    J, D, alpha = rng.normal(size=(m, d, q)), rng.normal(size=(m, d)), rng.uniform(0.1, 1, m)
    A = (alpha[:, None, None] * J).reshape(-1, q)
    expected, *_ = np.linalg.lstsq(A, D.reshape(-1), rcond=None)
    np.testing.assert_allclose(solve_weights(D, J, alpha), expected, atol=1e-10)


# ----------------------------------------------------------------------------- bad inputs


def _valid(m=4, d=6, q=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(m, d)), rng.normal(size=(m, d, q)), np.full(m, 0.1)


def _with_nan(a):
    a = np.array(a, dtype=float)
    a.flat[0] = np.nan
    return a


BAD = {
    "deltas (m, d, q)": (lambda D, J, a: (J, J, a), "deltas"),
    "deltas wrong m": (lambda D, J, a: (D[:-1], J, a), "deltas"),
    "deltas wrong d": (lambda D, J, a: (D[:, :-1], J, a), "deltas"),
    "jacobians 2-D": (lambda D, J, a: (D, J[..., 0], a), "jacobians"),
    "NaN deltas": (lambda D, J, a: (_with_nan(D), J, a), "deltas"),
    "NaN jacobians": (lambda D, J, a: (D, _with_nan(J), a), "jacobians"),
    "empty jacobians": (lambda D, J, a: (D[:0], J[:0], a[:0]), "jacobians"),
    "empty features": (lambda D, J, a: (D, J[..., :0], a), "jacobians"),
    "negative learning rate": (lambda D, J, a: (D, J, -a), "learning_rates"),
    "zero learning rate": (lambda D, J, a: (D, J, 0 * a), "learning_rates"),
    "learning rates wrong m": (lambda D, J, a: (D, J, a[:-1]), "learning_rates"),
    "NaN learning rates": (lambda D, J, a: (D, J, _with_nan(a)), "learning_rates"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_solve_weights_bad_inputs(case):
    make, name = BAD[case]
    D, J, a = make(*_valid())
    with pytest.raises(ValueError, match=name):
        solve_weights(D, J, a)


@pytest.mark.parametrize("case", sorted(k for k in BAD if "learning" not in k))
def test_fit_bad_inputs(case):
    make, name = BAD[case]
    D, J, _ = make(*_valid())
    with pytest.raises(ValueError, match=name):
        fit(D, J)


@pytest.mark.parametrize("kwargs, name", [
    ({"alpha_min": 0.0}, "alpha_min"),
    ({"alpha_init": 0.001}, "alpha_init"),
    ({"alpha_init": np.full(4, np.nan)}, "alpha_init"),
    ({"max_iter": -1}, "max_iter"),
    ({"null_directions": np.zeros(3)}, "null_directions"),
    ({"null_directions": np.ones(4)}, "null_directions"),
    ({"null_directions": np.eye(3)}, "null_directions"),
])
def test_fit_bad_options(kwargs, name):
    D, J, _ = _valid()
    with pytest.raises(ValueError, match=name):
        fit(D, J, **kwargs)


# ----------------------------------------------------------------------------- degenerate data


def test_rank_deficient_problem_warns_and_stays_finite():
    rng = np.random.default_rng(0)
    D, J = rng.normal(size=(1, 2)), rng.normal(size=(1, 2, 5))  # m d = 2 < q = 5
    with pytest.warns(IdentifiabilityWarning, match="rank 2 < 5"):
        omega = solve_weights(D, J, [0.1])
    assert np.all(np.isfinite(omega))
    np.testing.assert_allclose(0.1 * J[0] @ omega, D[0], atol=1e-10)  # still fits the data
    with pytest.warns(IdentifiabilityWarning):
        result = fit(D, J)
    assert np.all(np.isfinite(result.weights)) and np.all(np.isfinite(result.learning_rates))
    assert np.all(np.isfinite(result.objective))


def test_fit_warns_when_a_step_has_a_zero_jacobian():
    rng = np.random.default_rng(2)
    m, d, q = 5, 6, 3
    omega = rng.normal(size=q)
    J = rng.normal(size=(m, d, q))
    J[2] = 0.0
    alpha = rng.uniform(0.1, 0.5, size=m)
    D = alpha[:, None] * (J @ omega)
    with pytest.warns(DegenerateGradientWarning, match=r"step\(s\) \[2\]"):
        result = fit(D, J, alpha_init=0.3)
    assert np.all(np.isfinite(result.weights)) and np.all(np.isfinite(result.learning_rates))
    assert result.learning_rates[2] == 0.3  # kept at its previous value
    np.testing.assert_allclose(unit(result.weights), unit(omega), atol=1e-6)
    others = np.arange(m) != 2
    ratio = result.learning_rates[others] / alpha[others]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-5)


def test_fit_survives_a_step_orthogonal_to_omega():
    """J_2 != 0 but J_2 omega = 0 and Delta_2 = 0. The BCD iterate is only orthogonal to J_2 up
    to ~1e-7 (the convergence tolerance), so this step is not flagged as degenerate; its rate is
    pushed to alpha_min (best fit of Delta_2 = 0), and everything stays finite and correct."""
    rng = np.random.default_rng(2)
    m, d, q = 5, 6, 3
    omega = rng.normal(size=q)
    J = rng.normal(size=(m, d, q))
    basis = np.linalg.svd(omega[None])[2][1:]  # (q - 1, q), orthogonal to omega
    J[2] = rng.normal(size=(d, q - 1)) @ basis
    assert np.abs(J[2] @ omega).max() < 1e-12
    alpha = rng.uniform(0.1, 0.5, size=m)
    D = alpha[:, None] * (J @ omega)
    result = fit(D, J, alpha_init=0.3)
    assert np.all(np.isfinite(result.weights)) and np.all(np.isfinite(result.learning_rates))
    assert result.learning_rates[2] >= 0.01
    np.testing.assert_allclose(unit(result.weights), unit(omega), atol=1e-6)


def test_all_zero_deltas_give_zero_weights_with_a_warning():
    rng = np.random.default_rng(0)
    J = rng.normal(size=(4, 6, 3))
    with pytest.warns(DegenerateGradientWarning) as record:
        result = fit(np.zeros((4, 6)), J)
    messages = " | ".join(str(w.message) for w in record)
    assert "all zero" in messages and "step(s) [0, 1, 2, 3]" in messages
    np.testing.assert_array_equal(result.weights, 0.0)
    assert np.all(np.isfinite(result.learning_rates)) and np.all(np.isfinite(result.objective))
    assert result.n_iter <= 1000 and isinstance(result.converged, bool)
    np.testing.assert_array_equal(solve_weights(np.zeros((4, 6)), J, np.full(4, 0.1)), 0.0)


def _reference_bcd(deltas, jacobians, null_directions, alpha_init=0.1, alpha_min=0.01,
                   max_iter=300):
    """The paper's BCD written plainly: each omega-step by omega_step's SVD."""
    from logel.irl.logel import omega_step, reduce_problem
    red = reduce_problem(deltas, jacobians, null_directions)
    alpha = np.full(len(deltas), alpha_init)
    omega = omega_step(red, alpha)
    for _ in range(max_iter):
        u = red.R @ omega
        alpha = np.maximum(alpha_min, np.einsum("mr,mr->m", red.z, u)
                           / np.einsum("mr,mr->m", u, u))
        omega = omega_step(red, alpha)
    return omega, alpha


@pytest.mark.parametrize("case", ["full_rank", "one_hot_free", "one_hot_fixed", "wide"])
def test_fit_row_space_iterates_match_plain_bcd(case):
    """fit's BCD on the row-space coordinates gives the iterates of the plain omega_step BCD."""
    rng = np.random.default_rng(7)
    m, d, q = (6, 12, 4) if case != "wide" else (3, 2, 5)
    J = rng.normal(size=(m, d, q))
    null = None
    if case.startswith("one_hot"):
        J -= J.mean(axis=2, keepdims=True)  # rows sum to zero: the all-ones direction is null
        null = np.ones(q) if case == "one_hot_fixed" else None
    omega_true = rng.normal(size=q)
    deltas = np.einsum("mdq,q->md", J, omega_true) * rng.uniform(0.5, 2, m)[:, None]
    deltas += 0.05 * rng.normal(size=deltas.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(deltas, J, null_directions=null, tol=0.0, max_iter=300)
        omega, alpha = _reference_bcd(deltas, J, null)
    np.testing.assert_allclose(result.weights, omega, rtol=1e-8, atol=1e-12 * np.abs(omega).max())
    np.testing.assert_allclose(result.learning_rates, alpha, rtol=1e-8)
