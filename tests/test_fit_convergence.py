"""BCD's two stopping rules: the relative change of omega, and the scale-free direction rule."""

from __future__ import annotations

import numpy as np
import pytest

from logel import fit


def _problem(seed: int = 0, noise: float = 0.5):
    rng = np.random.default_rng(seed)
    m, d, q = 9, 120, 6
    J = rng.normal(size=(m, d, q))
    w = rng.normal(size=q)
    D = np.stack([rng.random() * J[t] @ w for t in range(m)]) + noise * rng.normal(size=(m, d))
    return D, J, w, rng.random(m) + 1e-3


def _cos(a, b):
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def test_both_rules_find_the_same_direction():
    D, J, w, a0 = _problem()
    by_weights = fit(D, J, alpha_init=a0, alpha_min=1e-6, tol=1e-10, convergence="weights")
    by_direction = fit(D, J, alpha_init=a0, alpha_min=1e-6, tol=1e-10, convergence="direction")
    assert by_weights.converged and by_direction.converged
    assert _cos(by_weights.weights, by_direction.weights) > 1 - 1e-9
    assert np.all(np.diff(by_direction.objective) <= 1e-12 * by_direction.objective[0])


def test_direction_rule_needs_the_objective_to_settle_too():
    D, J, _, a0 = _problem(1)
    seen = []
    fit(D, J, alpha_init=a0, alpha_min=1e-6, tol=1e-6, convergence="direction",
        callback=lambda k, omega, alpha, obj: seen.append((omega / np.linalg.norm(omega), obj)))
    (u1, l1), (u2, l2) = seen[-2], seen[-1]
    assert np.linalg.norm(u2 - u1) <= 1e-6 and l1 - l2 <= 1e-6 * l1
    loose = fit(D, J, alpha_init=a0, alpha_min=1e-6, tol=10.0, convergence="direction")
    assert loose.converged and loose.n_iter == 1


def test_unknown_rule_is_rejected():
    D, J, _, a0 = _problem()
    with pytest.raises(ValueError, match="convergence must be"):
        fit(D, J, alpha_init=a0, alpha_min=1e-6, convergence="scale")
