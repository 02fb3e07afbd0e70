"""The natural-gradient learner model of preconditioned LOGEL (``preconditioner="natural"``):
the empirical Fisher's one home, the model's Jacobians, the exact fit of a natural-gradient
learner, and the observer option."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from logel import fit
from logel.envs.gridworld import Gridworld
from logel.estimators import empirical_fisher
from logel.irl.observer import (
    BoltzmannClass,
    ObserverConfig,
    approximate_inputs,
    realistic_inputs,
    recover,
    subset_steps,
)
from logel.irl.preconditioned import (
    fit_preconditioned,
    natural_jacobians,
    preconditioned_motion,
)
from logel.learners.zoo import ZooConfig, run_zoo_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.streams import cell_rng


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _centred_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine after removing the all-ones direction (unidentifiable on the gridworld)."""
    return float(_unit(a - a.mean()) @ _unit(b - b.mean()))


def test_empirical_fisher_is_the_mean_outer_product(rng: np.random.Generator) -> None:
    g = rng.standard_normal((4, 5, 3))
    expected = sum(np.outer(x, x) for x in g.reshape(-1, 3)) / 20
    np.testing.assert_allclose(empirical_fisher(g), expected, rtol=1e-12)
    np.testing.assert_allclose(empirical_fisher(g.reshape(-1, 3)), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="scores"):
        empirical_fisher(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        empirical_fisher(np.full((2, 3), np.nan))


def test_natural_jacobians_solve_the_damped_system(rng: np.random.Generator) -> None:
    J = rng.standard_normal((3, 6, 2))
    S = rng.standard_normal((3, 40, 6))
    F = np.stack([empirical_fisher(s) for s in S])
    M = natural_jacobians(J, F, 0.1)
    for t in range(3):
        np.testing.assert_allclose((F[t] + 0.1 * np.eye(6)) @ M[t], J[t], atol=1e-10)
    with pytest.raises(ValueError, match="fishers"):
        natural_jacobians(J, F[:, :5, :5], 0.1)
    with pytest.raises(ValueError, match="damping"):
        natural_jacobians(J, F, 0.0)


def test_zero_fisher_is_plain_logel(rng: np.random.Generator) -> None:
    """With :math:`\\hat F_t=0` the model's Jacobians are :math:`J_t/\\lambda`: the same direction
    of :math:`\\omega` as plain LOGEL (the scale goes into :math:`\\alpha_t`)."""
    J = rng.standard_normal((8, 12, 3))
    w = np.array([1.0, -2.0, 0.5])
    D = 0.3 * np.einsum("tdq,q->td", J, w) + 0.1 * rng.standard_normal((8, 12))
    plain = fit(D, J)
    nat = fit_preconditioned(D, J, "natural", fishers=np.zeros((8, 12, 12)), natural_damping=1.0)
    np.testing.assert_allclose(nat.weights, plain.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(nat.preconditioners, np.ones((8, 12)))
    with pytest.raises(ValueError, match="fishers"):
        fit_preconditioned(D, J, "natural")


def test_natural_model_recovers_a_natural_learner(rng: np.random.Generator) -> None:
    m, d = 10, 12
    J = rng.standard_normal((m, d, 3))
    w = np.array([1.0, -2.0, 0.5])
    F = np.stack([empirical_fisher(rng.standard_normal((30, d)) * rng.uniform(0.2, 3, d))
                  for _ in range(m)])
    x = np.einsum("tdq,q->td", natural_jacobians(J, F, 0.01), w)
    D = rng.uniform(0.05, 0.5, size=(m, 1)) * x
    assert preconditioned_motion(D, J, w, "natural", fishers=F,
                                 natural_damping=0.01) == pytest.approx(1.0, abs=1e-9)
    res = fit_preconditioned(D, J, "natural", fishers=F, natural_damping=0.01)
    assert res.explained > 0.999 and _unit(res.weights) @ _unit(w) > 0.999
    plain = fit(D, J)
    assert res.explained > 1 - plain.objective[-1] / np.sum(D * D) + 0.05


def test_the_observer_fits_the_zoo_natural_learner_exactly() -> None:
    """At the learner's own :math:`\\theta_t` and trajectories, the observer's Fisher and
    Jacobians are the learner's, so the model explains its motion exactly for the true reward."""
    grid = Gridworld()
    zoo = ZooConfig("npg", n_updates=6, n_trajectories=20)
    trace = run_zoo_learner(grid, zoo, cell_rng(0, "natural model test"))
    pclass = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions))
    config = ObserverConfig(preconditioner="natural", natural_damping=zoo.npg_damping,
                            baseline_eps=zoo.baseline_eps)
    inputs = approximate_inputs(trace, pclass, config)
    assert inputs.fishers is not None and inputs.fishers.shape == (6, 75, 75)
    motion = preconditioned_motion(inputs.deltas, inputs.jacobians, grid.true_weights,
                                   "natural", fishers=inputs.fishers,
                                   natural_damping=zoo.npg_damping)
    assert motion == pytest.approx(1.0, abs=1e-8)
    assert preconditioned_motion(inputs.deltas, inputs.jacobians, grid.true_weights) < 0.99
    assert inputs.learning_rates is None  # a natural step is not alpha * gradient: recovered
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs = recover(inputs, config)
    assert obs.preconditioners is not None and obs.preconditioners.shape == (6, 75)
    assert _centred_cosine(obs.weights, grid.true_weights) > 0.999


def test_realistic_inputs_carry_fishers_and_subsets_keep_them() -> None:
    grid = Gridworld()
    trace = run_zoo_learner(grid, ZooConfig("npg", n_updates=4, n_trajectories=10),
                            cell_rng(1, "natural model test"))
    pclass = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions))
    plain = realistic_inputs(trace, pclass, ObserverConfig())
    assert plain.fishers is None
    with pytest.raises(ValueError, match="Fisher"):
        recover(plain, ObserverConfig(preconditioner="natural"))
    inputs = realistic_inputs(trace, pclass, ObserverConfig(preconditioner="natural"))
    assert inputs.fishers is not None and inputs.fishers.shape == (4, 75, 75)
    np.testing.assert_allclose(inputs.fishers, np.swapaxes(inputs.fishers, 1, 2))
    keep = np.array([True, False, True, True])
    sub = subset_steps(inputs, keep)
    assert sub.fishers is not None
    np.testing.assert_array_equal(sub.fishers, inputs.fishers[keep])
    a = recover(inputs, ObserverConfig(preconditioner="natural"))
    b = recover(inputs, ObserverConfig(preconditioner="natural"))
    np.testing.assert_array_equal(a.weights, b.weights)
    with pytest.raises(ValueError, match="natural_damping"):
        ObserverConfig(natural_damping=0.0)
