"""Noise-aware LOGEL (issue 14, item 1): the cloning noise's Laplace covariance
(logel.irl.bc.delta_covariances), the feasible-GLS fit (logel.irl.logel.fit_gls), the observer
option (ObserverConfig.weighting="gls") and the comparison's "logel_gls" columns."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from logel.experiments.comparison import ComparisonConfig, learner_parameters, observe_trace
from logel.experiments.gridworld import RecoveryConfig, estimate_inputs, observer_config
from logel.irl.bc import (
    BCConfig,
    bc_loss_and_grad,
    clone_policies,
    cloning_fisher,
    delta_covariances,
    visit_counts,
)
from logel.irl.logel import (
    IllConditionedCovarianceWarning,
    fit,
    fit_gls,
    gls_covariances,
    step_signal_to_noise,
    whitening,
)
from logel.irl.observer import (
    BoltzmannClass,
    ObserverConfig,
    noise_covariances,
    realistic_inputs,
    recover,
)
from logel.policies.boltzmann import BoltzmannPolicy


def _problem(rng: np.random.Generator, m: int = 8, d: int = 6, q: int = 3, noise: float = 0.05):
    omega = rng.normal(size=q)
    J = rng.normal(size=(m, d, q))
    alpha = rng.uniform(0.2, 1.0, size=m)
    D = alpha[:, None] * np.einsum("tdq,q->td", J, omega) + noise * rng.normal(size=(m, d))
    return D, J, omega


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


# ----------------------------------------------------------------------- reduction, determinism


@pytest.mark.parametrize("c", [4.0, 3.0, 1e-6])
def test_identity_proportional_covariances_give_plain_logel(rng, c):
    D, J, _ = _problem(rng)
    m, d = D.shape
    plain = fit(D, J)
    gls = fit_gls(D, J, np.broadcast_to(c * np.eye(d), (m, d, d)))
    np.testing.assert_allclose(gls.weights, plain.weights, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(gls.learning_rates, plain.learning_rates, rtol=1e-8)
    assert gls.iterations == 1 and gls.converged
    # zero Jacobian noise: the covariances never change, one fit
    zero = fit_gls(D, J, np.broadcast_to(c * np.eye(d), (m, d, d)),
                   jacobian_covariance=np.zeros((m, d, J.shape[2], J.shape[2])))
    np.testing.assert_allclose(zero.weights, plain.weights, rtol=1e-8, atol=1e-12)
    assert zero.iterations == 1


def test_identity_proportional_with_options(rng):
    D, J, _ = _problem(rng)
    m, d = D.shape
    kw = dict(null_directions=np.ones(J.shape[2]), step_sizes="shared", alpha_init=0.3)
    plain = fit(D, J, **kw)
    gls = fit_gls(D, J, np.broadcast_to(np.eye(d), (m, d, d)), **kw)
    np.testing.assert_allclose(gls.weights, plain.weights, rtol=1e-8, atol=1e-12)


def test_fit_gls_is_deterministic(rng):
    D, J, _ = _problem(rng)
    m, d, q = J.shape
    cov = np.stack([np.diag(rng.uniform(0.01, 1.0, size=d)) for _ in range(m)])
    jc = np.einsum("tdi,tdj->tdij", J, J)[..., :, :] * 1e-3 + 1e-4 * np.eye(q)
    a = fit_gls(D, J, cov, jacobian_covariance=jc)
    b = fit_gls(D, J, cov, jacobian_covariance=jc)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.learning_rates, b.learning_rates)
    np.testing.assert_array_equal(a.covariances, b.covariances)
    assert a.iterations == b.iterations >= 2


def test_gls_down_weights_noisy_steps(rng):
    """Half the steps carry noise 100 times larger: GLS, told so, recovers omega's direction far
    better than plain LOGEL."""
    m, d, q = 12, 8, 3
    omega = np.array([1.0, -0.5, 0.25])
    J = rng.normal(size=(m, d, q))
    scale = np.where(np.arange(m) < m // 2, 0.01, 1.0)
    D = 0.5 * np.einsum("tdq,q->td", J, omega) + scale[:, None] * rng.normal(size=(m, d))
    cov = scale[:, None, None] ** 2 * np.eye(d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = fit(D, J)
    gls = fit_gls(D, J, cov)
    assert _cos(gls.weights, omega) > 0.999
    assert 1 - _cos(gls.weights, omega) < 0.2 * (1 - _cos(plain.weights, omega))
    snr = step_signal_to_noise(D, cov)
    assert snr[: m // 2].min() > 10 * snr[m // 2:].max()


def test_gls_covariances_formula(rng):
    m, d, q = 3, 4, 2
    D = np.stack([np.eye(d) * (t + 1) for t in range(m)])
    C = rng.normal(size=(m, d, q, q))
    C = np.einsum("tkij,tklj->tkil", C, C)
    omega, alpha = np.array([0.5, -2.0]), np.array([0.1, 1.0, 3.0])
    S = gls_covariances(D, C, omega, alpha)
    for t in range(m):
        expected = D[t] + alpha[t] ** 2 * np.diag([omega @ C[t, k] @ omega for k in range(d)])
        np.testing.assert_allclose(S[t], expected)
    # scale-free in (omega, alpha): only their product enters
    np.testing.assert_allclose(gls_covariances(D, C, 2 * omega, alpha / 2), S)
    np.testing.assert_array_equal(gls_covariances(D, None, omega, alpha), D)


def test_whitening_inverts_the_square_root(rng):
    A = rng.normal(size=(3, 5, 5))
    cov = np.einsum("tij,tkj->tik", A, A) + 0.1 * np.eye(5)
    W = whitening(cov)
    np.testing.assert_allclose(np.einsum("tij,tjk,tkl->til", W, cov, W),
                               np.broadcast_to(np.eye(5), (3, 5, 5)), atol=1e-9)


# ------------------------------------------------------------------------- ill-conditioning


def test_singular_covariance_warns_and_stays_finite(rng):
    D, J, _ = _problem(rng)
    m, d = D.shape
    cov = np.broadcast_to(np.eye(d), (m, d, d)).copy()
    cov[2, 0, 0] = 0.0  # step 2 has one noiseless direction
    with pytest.warns(IllConditionedCovarianceWarning, match=r"step\(s\) \[2\]"):
        res = fit_gls(D, J, cov)
    assert np.all(np.isfinite(res.weights)) and np.all(np.isfinite(res.learning_rates))


# ---------------------------------------------------------------------------------- errors


def test_fit_gls_bad_inputs_raise_named_errors(rng):
    D, J, _ = _problem(rng)
    m, d, q = J.shape
    good = np.broadcast_to(np.eye(d), (m, d, d))
    with pytest.raises(ValueError, match="delta_covariance must have shape"):
        fit_gls(D, J, np.eye(d)[None])
    with pytest.raises(ValueError, match="delta_covariance"):
        fit_gls(D, J, np.eye(d))
    bad = good.copy()
    bad[0, 0, 1] = 1.0
    with pytest.raises(ValueError, match="delta_covariance must be symmetric"):
        fit_gls(D, J, bad)
    with pytest.raises(ValueError, match="delta_covariance must be positive semi-definite"):
        fit_gls(D, J, -good)
    nan = good.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="delta_covariance contains NaN"):
        fit_gls(D, J, nan)
    with pytest.raises(ValueError, match="covariances are all zero"):
        fit_gls(D, J, np.zeros((m, d, d)))
    with pytest.raises(ValueError, match="jacobian_covariance must have shape"):
        fit_gls(D, J, good, jacobian_covariance=np.zeros((m, d, q, q + 1)))
    with pytest.raises(ValueError, match="iterations"):
        fit_gls(D, J, good, iterations=0)
    with pytest.raises(ValueError, match="deltas must have shape"):
        fit_gls(D[:-1], J, good)


def test_observer_option_errors():
    with pytest.raises(ValueError, match="ObserverConfig.weighting"):
        ObserverConfig(weighting="wls")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ObserverConfig.gls_iterations"):
        ObserverConfig(gls_iterations=0)
    with pytest.raises(ValueError, match="weighting='gls' supports only"):
        ObserverConfig(weighting="gls", preconditioner="diagonal")


def test_delta_covariances_errors():
    pol = BoltzmannPolicy(3, 3)
    thetas = np.zeros((2, pol.n_params))
    counts = np.zeros((2, 3, 3))
    counts[:, :2] = 5.0  # state 2 never visited
    with pytest.raises(ValueError, match="cloning Hessian is singular"):
        delta_covariances(pol, thetas, counts, BCConfig(method="adam"))
    assert np.all(np.isfinite(delta_covariances(pol, thetas, counts, BCConfig(method="adam"),
                                                ridge=1.0)))
    with pytest.raises(ValueError, match="at least two policies"):
        delta_covariances(pol, thetas[:1], counts[:1])
    with pytest.raises(ValueError, match="must match the policy class"):
        delta_covariances(pol, thetas, counts[:, :2])
    with pytest.raises(ValueError, match="ridge"):
        delta_covariances(pol, thetas, counts, ridge=-1.0)
    with pytest.raises(ValueError, match="counts must be finite and non-negative"):
        cloning_fisher(pol, thetas[0], -counts[0])


# ------------------------------------------------------------------------ Laplace covariance


def _smoothed_objective(pol, flat, counts, anchor, lam, lam_s):
    K = counts.shape[0]
    th = flat.reshape(K, -1)
    total = sum(bc_loss_and_grad(pol, th[k], counts[k])[0] for k in range(K))
    diffs = np.diff(th, axis=0)
    return total + 0.5 * lam * np.sum((th[0] - anchor) ** 2) + 0.5 * lam_s * np.sum(diffs ** 2)


def test_smoothed_laplace_covariance_matches_the_joint_hessian(rng):
    """Against the inverse of a finite-difference Hessian of the smoothed cloning objective."""
    pol = BoltzmannPolicy(2, 3)
    K, d = 3, pol.n_params
    counts = rng.integers(0, 20, size=(K, 2, 3)).astype(float)
    counts[:, :, 0] += 1
    thetas = rng.normal(size=(K, d))
    cfg = BCConfig(method="smoothed", proximal_weight=0.5, smoothness_weight=2.0)
    flat, h = thetas.ravel(), 1e-4
    n = flat.size
    H = np.empty((n, n))
    f = lambda x: _smoothed_objective(pol, x, counts, np.zeros(d), 0.5, 2.0)  # noqa: E731
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            H[i, j] = (f(flat + ei + ej) - f(flat + ei - ej) - f(flat - ei + ej)
                       + f(flat - ei - ej)) / (4 * h * h)
    sigma = np.linalg.inv(0.5 * (H + H.T)).reshape(K, d, K, d)
    expected = np.stack([sigma[t + 1, :, t + 1] + sigma[t, :, t] - sigma[t + 1, :, t]
                         - sigma[t, :, t + 1] for t in range(K - 1)])
    np.testing.assert_allclose(delta_covariances(pol, thetas, counts, cfg), expected, rtol=1e-4,
                               atol=1e-7)


def test_proximal_laplace_covariance_is_the_sum_of_inverses(rng):
    pol = BoltzmannPolicy(2, 3)
    counts = rng.integers(1, 20, size=(3, 2, 3)).astype(float)
    thetas = rng.normal(size=(3, pol.n_params))
    cfg = BCConfig(method="proximal", proximal_weight=0.7)
    inv = [np.linalg.inv(np.block([[cloning_fisher(pol, th, c)[0], np.zeros((2, 2))],
                                   [np.zeros((2, 2)), cloning_fisher(pol, th, c)[1]]])
                         + 0.7 * np.eye(4)) for th, c in zip(thetas, counts, strict=True)]
    got = delta_covariances(pol, thetas, counts, cfg)
    for t in range(2):
        np.testing.assert_allclose(got[t], inv[t] + inv[t + 1], rtol=1e-10)


def test_cloning_fisher_is_the_hessian_of_the_loss(rng):
    pol = BoltzmannPolicy(3, 4)
    counts = rng.integers(0, 9, size=(3, 4)).astype(float)
    theta = rng.normal(size=pol.n_params)
    h = 1e-6
    num = np.stack([(bc_loss_and_grad(pol, theta + h * e, counts)[1]
                     - bc_loss_and_grad(pol, theta - h * e, counts)[1]) / (2 * h)
                    for e in np.eye(pol.n_params)])
    blocks = cloning_fisher(pol, theta, counts)
    full = np.zeros((pol.n_params, pol.n_params))
    for s in range(3):
        full[3 * s:3 * s + 3, 3 * s:3 * s + 3] = blocks[s]
    np.testing.assert_allclose(full, num, atol=1e-5)


def test_laplace_variance_shrinks_with_data(rng):
    pol = BoltzmannPolicy(2, 3)
    counts = rng.integers(1, 9, size=(4, 2, 3)).astype(float)
    thetas = np.zeros((4, pol.n_params))
    a = delta_covariances(pol, thetas, counts)
    b = delta_covariances(pol, thetas, 10 * counts)
    assert np.all(np.trace(b, axis1=1, axis2=2) < np.trace(a, axis1=1, axis2=2))


# --------------------------------------------------------------------- observer and comparison


@pytest.fixture(scope="module")
def spi_run():
    cfg = ComparisonConfig(learner="spi", observed_steps=(2, 4), n_trajectories=20)
    grid, trace, _ = learner_parameters(cfg, 3)
    return cfg, grid, trace


def test_observer_gls_is_deterministic_and_needs_covariances(spi_run):
    cfg, grid, trace = spi_run
    logel_cfg = replace(cfg.logel, observed_steps=(2, 4), observer_trajectories=20,
                        learner=replace(cfg.logel.learner, n_updates=4))
    inputs, _ = estimate_inputs(grid, trace, logel_cfg, 3)
    obs = replace(observer_config(logel_cfg, trace), weighting="gls")
    with pytest.raises(ValueError, match="needs the inputs' noise covariances"):
        recover(inputs, obs, 4)
    pc = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions), logel_cfg.bc)
    noisy = noise_covariances(inputs, trace, pc, obs, n_trajectories=20)
    assert noisy.delta_covariance.shape == (4, pc.policy.n_params, pc.policy.n_params)
    assert noisy.jacobian_covariance.shape == (4, *inputs.jacobians.shape[1:],
                                               inputs.jacobians.shape[2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = recover(noisy, obs, 4), recover(noisy, obs, 4)
        # realistic_inputs adds the covariances itself when asked
        direct = realistic_inputs(trace, pc, obs, 4, n_trajectories=20)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_allclose(direct.delta_covariance, noisy.delta_covariance)
    np.testing.assert_allclose(recover(direct, obs, 4).weights, a.weights)
    with pytest.raises(ValueError, match="realistic setting"):
        noise_covariances(replace(inputs, setting="approximate"), trace, pc, obs)


def test_smoothed_cloning_covariance_is_consistent_with_clone(spi_run):
    """The covariances are computed on the same counts the cloning used."""
    _, grid, trace = spi_run
    pol = BoltzmannPolicy(grid.n_states, grid.n_actions)
    cfg = RecoveryConfig().bc
    s, a = trace.states[:3, :20], trace.actions[:3, :20]
    thetas = clone_policies(pol, s, a, cfg)
    counts = np.stack([visit_counts(x, y, pol.n_states, pol.n_actions) for x, y in zip(s, a,
                                                                                        strict=True)])
    cov = BoltzmannClass(pol, cfg).delta_covariances(thetas, list(s), list(a))
    np.testing.assert_array_equal(cov, delta_covariances(pol, thetas, counts, cfg))
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_gls_columns_leave_the_other_columns_unchanged(spi_run):
    cfg, grid, trace = spi_run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = observe_trace(replace(cfg, methods=("logel", "logel_shared", "lfl")), 3, grid,
                             trace)
        more = observe_trace(replace(cfg, methods=("logel", "logel_shared", "logel_gls",
                                                   "logel_gls_shared", "lfl")), 3, grid, trace)
    for o in base.outcomes:
        p = more.outcome(o.method, o.m)
        assert (p.value, p.optimal, p.weight_error) == (o.value, o.optimal, o.weight_error)
    assert {o.method for o in more.outcomes} >= {"logel_gls", "logel_gls_shared"}
