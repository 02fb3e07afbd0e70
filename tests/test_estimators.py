"""The vector-valued G(PO)MDP and REINFORCE Jacobian estimators (paper Sec. 3.1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from logel.envs.gridworld import Gridworld, sample_batch
from logel.estimators import gpomdp_jacobian, reinforce_jacobian
from logel.policies.boltzmann import BoltzmannPolicy
from logel.tabular import feature_expectations_jacobian

ESTIMATORS = [gpomdp_jacobian, reinforce_jacobian]
ids = ["gpomdp", "reinforce"]
NO_BASELINE = 1e8  # baseline_eps so large that b = mean(G^2 F) / (mean(G^2) + eps) ~ 1e-7


# ----------------------------------------------------------------------------- unbiasedness


@pytest.fixture(scope="module")
def monte_carlo():
    """400 independent batches of n = 50 consistent-variant trajectories (all start at s0) from a
    fixed random theta, the exact Jacobian at theta, and the per-batch estimates."""
    grid = Gridworld("consistent")
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    rng = np.random.default_rng(0)
    theta = rng.normal(scale=0.5, size=policy.n_params)
    probs = policy.probabilities(theta)
    exact = feature_expectations_jacobian(grid.sampling_model, probs,
                                          policy.probability_jacobian(theta), grid.horizon)
    n, n_batches = 50, 400
    batches = []
    for _ in range(n_batches):
        b = sample_batch(grid, probs, n, rng)
        batches.append((policy.scores(theta, b.states, b.actions), b.features))
    out = {"exact": exact}
    for est, name in zip(ESTIMATORS, ids, strict=True):
        out[name, "none", 50] = np.stack([est(g, f, grid.gamma, NO_BASELINE)
                                          for g, f in batches])
        out[name, "default", 50] = np.stack([est(g, f, grid.gamma) for g, f in batches])
        out[name, "default", 100] = np.stack([
            est(np.concatenate([batches[2 * i][0], batches[2 * i + 1][0]]),
                np.concatenate([batches[2 * i][1], batches[2 * i + 1][1]]), grid.gamma)
            for i in range(n_batches // 2)])
    return out


def _mean_and_se(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(len(samples))


def _mean_sq_z(err: np.ndarray, se: np.ndarray) -> float:
    ok = se > 0
    assert np.all(err[~ok] == 0)  # parameters of never-visited states: estimate and truth are 0
    return float(np.mean((err[ok] / se[ok]) ** 2))


@pytest.mark.parametrize("name", ids)
def test_estimators_are_unbiased_without_baseline(monte_carlo, name):
    exact = monte_carlo["exact"]
    assert np.abs(exact).max() > 0.1
    mean, se = _mean_and_se(monte_carlo[name, "none", 50])
    err = mean - exact
    # 375 entries: a 5-sigma excursion of an (approximately normal) mean is very unlikely
    assert np.all(np.abs(err) <= 5 * se + 1e-3), np.abs(err / np.maximum(se, 1e-300)).max()
    # normalised error: E[z^2] = 1 for an unbiased estimator (measured 0.97 / 0.91)
    assert _mean_sq_z(err, se) < 1.5


@pytest.mark.parametrize("name", ids)
def test_baseline_bias_is_order_one_over_n(monte_carlo, name):
    """The sample baseline uses the same trajectories, which adds a bias c/N + O(1/N^2)
    (measured: N * max|bias| ~ 2.3 for G(PO)MDP, ~1.5 for REINFORCE, at N = 25..200; at N = 50
    the bias alone is up to 20 standard errors). Richardson extrapolation 2 E[J_2N] - E[J_N]
    cancels the 1/N term, so it must match the exact Jacobian up to an O(1/N^2) remainder
    (measured max |err| - 5 SE <= 0.0075 over 4 thetas x 2 estimators; tolerance 0.01)."""
    exact = monte_carlo["exact"]
    j50, j100 = monte_carlo[name, "default", 50], monte_carlo[name, "default", 100]
    richardson = 2 * j100 - 0.5 * (j50[0::2] + j50[1::2])  # i.i.d. over the 200 pairs
    mean, se = _mean_and_se(richardson)
    err = mean - exact
    assert np.all(np.abs(err) <= 5 * se + 1e-2), (np.abs(err) - 5 * se).max()
    assert _mean_sq_z(err, se) < 5.0  # measured <= 3.44
    # the biased N = 50 estimate is still close in absolute terms: bias <= ~3/N
    mean50, se50 = _mean_and_se(j50)
    assert np.all(np.abs(mean50 - exact) <= 5 * se50 + 3.0 / 50)


@pytest.mark.parametrize("name", ids)
def test_baseline_reduces_variance(monte_carlo, name):
    """The variance-minimising baseline is the point of the construction: measured total variance
    ratio 0.085 (G(PO)MDP) and 0.04 (REINFORCE); require < 0.2. G(PO)MDP's per-step credit also
    beats REINFORCE without a baseline (9.8 vs 34)."""
    var_default = monte_carlo[name, "default", 50].var(axis=0).sum()
    var_none = monte_carlo[name, "none", 50].var(axis=0).sum()
    assert var_default < 0.2 * var_none
    assert (monte_carlo["gpomdp", "none", 50].var(axis=0).sum()
            < 0.5 * monte_carlo["reinforce", "none", 50].var(axis=0).sum())


# ----------------------------------------------------------------------------- algebra


def _random_inputs(rng, N=7, T=6, d=4, q=3):
    scores = rng.normal(size=(N, T, d))
    features = rng.normal(size=(N, T, q))
    return scores, features


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("eps", [0.0, 1e-3, 10.0])
def test_estimators_are_linear_in_the_features(rng, est, eps):
    scores, features = _random_inputs(rng)
    w = rng.normal(size=3)
    J = est(scores, features, 0.9, eps)
    scalar = est(scores, (features @ w)[..., None], 0.9, eps)
    assert scalar.shape == (4, 1)
    np.testing.assert_allclose(J @ w, scalar[:, 0], atol=1e-10, rtol=0)
    # and additive across feature columns
    J2 = est(scores, np.concatenate([features, features[..., :1]], axis=-1), 0.9, eps)
    np.testing.assert_allclose(J2[:, :3], J, atol=1e-12)


def naive_gpomdp(scores, features, gamma, eps):
    """Module docstring formula, literally, with the (N, T, d, q) outer products."""
    N, T, d = scores.shape
    G = np.cumsum(scores, axis=1)
    F = features * gamma ** np.arange(T)[None, :, None]
    outer2 = (G**2)[:, :, :, None] * F[:, :, None, :]  # (N, T, d, q): G^2 F
    b = outer2.mean(axis=0) / ((G**2).mean(axis=0)[:, :, None] + eps)  # (T, d, q)
    terms = G[:, :, :, None] * (F[:, :, None, :] - b[None])  # (N, T, d, q)
    return terms.sum(axis=1).mean(axis=0)


def naive_reinforce(scores, features, gamma, eps):
    N, T, d = scores.shape
    G = scores.sum(axis=1)  # (N, d)
    R = (features * gamma ** np.arange(T)[None, :, None]).sum(axis=1)  # (N, q)
    outer2 = (G**2)[:, :, None] * R[:, None, :]
    b = outer2.mean(axis=0) / ((G**2).mean(axis=0)[:, None] + eps)
    return (G[:, :, None] * (R[:, None, :] - b[None])).mean(axis=0)


@pytest.mark.parametrize("est, naive", [(gpomdp_jacobian, naive_gpomdp),
                                        (reinforce_jacobian, naive_reinforce)], ids=ids)
@pytest.mark.parametrize("gamma", [1.0, 0.9, 0.0])
@pytest.mark.parametrize("eps", [0.0, 1e-3, 1e-4])
@pytest.mark.parametrize("seed", range(3))
def test_estimators_match_naive_outer_product_reference(est, naive, gamma, eps, seed):
    rng = np.random.default_rng(seed)
    N, T, d, q = rng.integers(1, 9), rng.integers(1, 9), rng.integers(1, 6), rng.integers(1, 5)
    scores, features = _random_inputs(rng, N, T, d, q)
    np.testing.assert_allclose(est(scores, features, gamma, eps),
                               naive(scores, features, gamma, eps), atol=1e-10, rtol=0)


def test_gpomdp_and_reinforce_differ_on_generic_data(rng):
    """G(PO)MDP drops score terms that come after a reward; on generic data that matters."""
    scores, features = _random_inputs(rng, T=5)
    assert not np.allclose(gpomdp_jacobian(scores, features, 0.9),
                           reinforce_jacobian(scores, features, 0.9))
    # with T = 1 the two coincide
    np.testing.assert_allclose(gpomdp_jacobian(scores[:, :1], features[:, :1], 0.9),
                               reinforce_jacobian(scores[:, :1], features[:, :1], 0.9),
                               atol=1e-12)


# ----------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
def test_torch_tensors_are_accepted(rng, est):
    scores, features = _random_inputs(rng)
    expected = est(scores, features, 0.95)
    got = est(torch.from_numpy(scores), torch.from_numpy(features), 0.95)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)
    # tensors that require grad, and float32 tensors
    got = est(torch.from_numpy(scores).requires_grad_(True),
              torch.from_numpy(features).float(), 0.95)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # lists work too
    np.testing.assert_array_equal(est(scores.tolist(), features.tolist(), 0.95), expected)


def _nan(a):
    a = a.copy()
    a[0, 0, 0] = np.nan
    return a


def _inf(a):
    a = a.copy()
    a[-1, -1, -1] = np.inf
    return a


BAD = {
    "scores 2-D": (lambda g, f: (g[:, :, 0], f), "scores", r"\(N, T, d\)"),
    "scores 4-D": (lambda g, f: (g[..., None], f), "scores", r"\(N, T, d\)"),
    "features 2-D": (lambda g, f: (g, f[:, :, 0]), "features", r"\(N, T, q\)"),
    "mismatched N": (lambda g, f: (g, f[:-1]), "features", r"\(N, T, q\)"),
    "mismatched T": (lambda g, f: (g, f[:, :-1]), "features", r"\(N, T, q\)"),
    "NaN scores": (lambda g, f: (_nan(g), f), "scores", "NaN"),
    "NaN features": (lambda g, f: (g, _nan(f)), "features", "NaN"),
    "inf features": (lambda g, f: (g, _inf(f)), "features", "infinite"),
    "empty scores": (lambda g, f: (g[:0], f[:0]), "scores", r"\(N, T, d\)"),
    "empty features": (lambda g, f: (g, f[:, :, :0]), "features", r"\(N, T, q\)"),
    "empty horizon": (lambda g, f: (g[:, :0], f[:, :0]), "scores", r"\(N, T, d\)"),
    "non-numeric": (lambda g, f: ([["a"]], f), "scores", r"\(N, T, d\)"),
}


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs_raise_value_error_naming_the_argument(rng, est, case):
    scores, features = _random_inputs(rng)
    make, name, detail = BAD[case]
    bad_scores, bad_features = make(scores, features)
    with pytest.raises(ValueError, match=name) as info:
        est(bad_scores, bad_features, 0.9)
    assert info.match(detail)


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
def test_bad_gamma_and_baseline_eps(rng, est):
    scores, features = _random_inputs(rng)
    with pytest.raises(ValueError, match="gamma"):
        est(scores, features, 1.5)
    with pytest.raises(ValueError, match="baseline_eps"):
        est(scores, features, 0.9, -1.0)
