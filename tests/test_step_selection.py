"""Held-out step selection (issue 14, goal 2): the held-out likelihood test of a learning step
(logel.irl.step_selection), the observer option ObserverConfig.step_selection="held_out" and the
comparison's "logel_moving" columns."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from logel.experiments.comparison import (
    EXTRA_METHODS,
    ComparisonConfig,
    learner_parameters,
    observe_trace,
)
from logel.irl.bc import BCConfig, clone_counts
from logel.irl.logel import fit
from logel.irl.observer import (
    ObserverConfig,
    ObserverInputs,
    recover,
    selected_steps,
    with_step_pvalues,
)
from logel.irl.step_selection import (
    held_out_pvalue,
    held_out_statistic,
    holm_adjusted,
    moving_steps_mask,
    step_pvalues,
)
from logel.policies.boltzmann import BoltzmannPolicy

S, A, T = 4, 3, 10


def _batch(rng: np.random.Generator, probs: np.ndarray, n: int = 40) -> np.ndarray:
    """``(n, S, A)`` counts of ``n`` trajectories of ``T`` uniformly drawn states, actions from
    ``probs`` ``(S, A)``."""
    out = np.zeros((n, S, A))
    for i in range(n):
        states = rng.integers(S, size=T)
        for s in states:
            out[i, s, rng.choice(A, p=probs[s])] += 1
    return out


def _probs(favourite: int, sharp: float = 0.9) -> np.ndarray:
    p = np.full((S, A), (1 - sharp) / (A - 1))
    p[:, favourite] = sharp
    return p


def _inputs(rng: np.random.Generator, moving: list[bool], n: int = 20, q: int = 3
            ) -> ObserverInputs[np.ndarray]:
    """Realistic-setting inputs whose batches are ``n`` copies of one trajectory, which
    switches its favourite action iff ``moving[t]`` (so the test's outcome is certain: p = 1
    for a step that does not move, 1 / 1000 for one that does); steps and Jacobians random."""
    m = len(moving)
    fav, batches = 0, []
    for t in range(m + 1):
        if t and moving[t - 1]:
            fav = (fav + 1) % A
        one = np.ones((S, A))
        one[:, fav] = 3.0
        batches.append(np.broadcast_to(one, (n, S, A)).copy())
    d = S * (A - 1)
    thetas = np.cumsum(rng.normal(size=(m + 1, d)), axis=0)
    jac = rng.normal(size=(m, d, q))
    return ObserverInputs("realistic", thetas, jac, None, list(thetas), counts=np.stack(batches))


# ------------------------------------------------------------------------------------ the test


def test_identical_policies_are_not_a_step():
    # every trajectory the same: the two cloned policies are equal, the statistic is 0
    one = np.zeros((10, S, A))
    one[:, :, 0] = 2.0
    one[:, 1, 1] = 1.0
    p = held_out_pvalue(one, one.copy(), np.random.default_rng(0))
    assert p == 1.0
    mask = moving_steps_mask(np.array([1.0, 1.0 / 200, 1.0]))
    assert mask.tolist() == [False, True, False]


def test_clear_step_is_kept_and_equal_policies_mostly_dropped(rng):
    before, after = _batch(rng, _probs(0)), _batch(rng, _probs(1))
    assert held_out_pvalue(before, after, np.random.default_rng(1)) == 1 / 1000
    # the same policy on both sides: the test is exact, so it rejects at 5% about 5% of the time
    rejections = sum(held_out_pvalue(_batch(rng, _probs(0), 20), _batch(rng, _probs(0), 20),
                                     np.random.default_rng(k), 99) <= 0.05 for k in range(60))
    assert rejections <= 9, rejections


def test_statistic_and_clone_counts():
    assert held_out_statistic(np.array([1.0, 3.0]), np.array([5.0])) == 3.0
    policy = BoltzmannPolicy(S, A)
    counts = np.zeros((S, A))
    counts[:, 2] = 50.0
    theta = clone_counts(policy, counts, config=BCConfig(proximal_weight=1.0))
    assert np.all(np.isfinite(theta))
    assert np.all(policy.probabilities(theta)[:, 2] > 0.8)   # the prior pulls towards uniform


def test_step_pvalues_do_not_depend_on_m(rng):
    inputs = _inputs(rng, [True, False, True, False])

    def streams(t):
        return np.random.default_rng([7, t])

    full = step_pvalues(inputs.counts, 4, streams, 49)
    np.testing.assert_array_equal(step_pvalues(inputs.counts, 2, streams, 49), full[:2])


def test_no_rejection_keeps_every_step():
    assert moving_steps_mask(np.array([0.5, 0.9, 0.06])).all()


def test_holm_correction():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    # sorted 0.005, 0.01, 0.03, 0.04, 0.5 times 5, 4, 3, 2, 1, running maximum
    np.testing.assert_allclose(holm_adjusted(p), [0.04, 0.09, 0.09, 0.025, 0.5])
    assert moving_steps_mask(p, correction="holm").tolist() == [True, False, False, True, False]
    assert moving_steps_mask(p).tolist() == [True, True, True, True, False]
    # one chance rejection among many tests: Holm keeps every step, the per-step rule drops
    chance = np.r_[0.03, np.full(14, 0.5)]
    assert moving_steps_mask(chance, correction="holm").all()
    assert moving_steps_mask(chance).sum() == 1
    with pytest.raises(ValueError, match="correction"):
        moving_steps_mask(p, correction="bonferroni")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------- the observer


def test_selection_drops_stopped_steps_and_fits_the_rest(rng):
    inputs = _inputs(rng, [True, False, True, False, False])
    cfg = ObserverConfig(step_selection="held_out", seed=3)
    keep = selected_steps(inputs, cfg, 5)
    assert keep.tolist() == [True, False, True, False, False]
    obs = recover(inputs, cfg, 5)
    ref = fit(inputs.deltas[keep], inputs.jacobians[keep], alpha_init=np.full(2, 0.1),
              alpha_min=0.01, tol=1e-6, max_iter=1000)
    np.testing.assert_allclose(obs.weights, ref.weights)
    assert obs.steps_used == 2 and obs.kept.tolist() == keep.tolist()
    assert obs.learning_rates.shape == (2,) and obs.thetas.shape == inputs.thetas.shape
    # with one shared step size too, and no NaN anywhere
    shared = recover(inputs, replace(cfg, step_sizes="shared"), 5)
    assert np.all(np.isfinite(shared.weights)) and np.all(np.isfinite(shared.learning_rates))


def test_reduces_to_plain_logel_when_no_step_is_dropped(rng):
    inputs = _inputs(rng, [True, True, True])
    cfg = ObserverConfig(step_selection="held_out", seed=1)
    assert selected_steps(inputs, cfg, 3).all()
    held = recover(inputs, cfg, 3)
    plain = recover(inputs, ObserverConfig(seed=1), 3)
    np.testing.assert_array_equal(held.weights, plain.weights)
    np.testing.assert_array_equal(held.learning_rates, plain.learning_rates)
    assert held.kept is None and held.steps_used is None


def test_same_seed_same_result_and_cached_pvalues(rng):
    inputs = _inputs(rng, [True, False, False, True])
    cfg = ObserverConfig(step_selection="held_out", seed=5)
    a, b = recover(inputs, cfg, 4), recover(inputs, cfg, 4)
    np.testing.assert_array_equal(a.weights, b.weights)
    cached = with_step_pvalues(inputs, cfg)
    c = recover(cached, cfg, 4)
    np.testing.assert_array_equal(a.weights, c.weights)
    assert cached.step_pvalues.shape == (4,)
    assert np.all((cached.step_pvalues > 0) & (cached.step_pvalues <= 1))
    # p-values cached for another seed are not used: the test runs again
    fake = replace(cached, step_pvalues=np.full(4, 0.5))
    np.testing.assert_array_equal(recover(fake, replace(cfg, seed=6), 4).weights,
                                  recover(inputs, replace(cfg, seed=6), 4).weights)
    assert selected_steps(fake, cfg, 4).all()          # same key: the cached p-values are used
    assert selected_steps(replace(fake, step_pvalues_key=(6, 999)), cfg, 4).tolist() == [
        True, False, False, True]                       # another key: tested again


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kwargs, name", [
    ({"step_selection": "bogus"}, "step_selection"),
    ({"selection_level": 1.5}, "selection_level"),
    ({"selection_level": float("nan")}, "selection_level"),
    ({"selection_permutations": 0}, "selection_permutations"),
    ({"selection_correction": "bh"}, "selection_correction"),
    ({"step_selection": "held_out", "stopped_steps": "drop"}, "step_selection"),
])
def test_bad_config(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        ObserverConfig(**kwargs)


def test_bad_input(rng):
    good = _batch(rng, _probs(0), 6)
    with pytest.raises(ValueError, match="counts_before"):
        held_out_pvalue(good.sum(axis=0), good, rng)
    with pytest.raises(ValueError, match="counts_after"):
        bad = good.copy()
        bad[0, 0, 0] = np.nan
        held_out_pvalue(good, bad, rng)
    with pytest.raises(ValueError, match="counts_before"):
        held_out_pvalue(good[:1], good, rng)
    with pytest.raises(ValueError, match="same"):
        held_out_pvalue(good, good[:, :2], rng)
    with pytest.raises(ValueError, match="pvalues"):
        moving_steps_mask(np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="counts"):
        step_pvalues(np.zeros((2, 4, S, A)), 3, lambda t: rng)
    inputs = replace(_inputs(rng, [True, False]), counts=None)
    with pytest.raises(ValueError, match="step_selection"):
        recover(inputs, ObserverConfig(step_selection="held_out"), 2)


# ------------------------------------------------------------------------------ the comparison


def test_comparison_columns_on_a_learner_run():
    cfg = ComparisonConfig(learner="spi", observed_steps=(2, 4),
                           methods=("logel", "logel_shared") + EXTRA_METHODS)
    grid, trace, _ = learner_parameters(cfg, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = observe_trace(cfg, 0, grid, trace)
    for method in EXTRA_METHODS:
        for m in (2, 4):
            assert np.isfinite(res.outcome(method, m).value)
    with pytest.raises(ValueError, match="methods"):
        ComparisonConfig(methods=("logel_bogus",))  # type: ignore[arg-type]
