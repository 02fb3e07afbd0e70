"""Intervals, paired tests, IQM, probability of improvement and the verdict rule."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

import logel.evaluation
from logel import statistics as st

# ---------------------------------------------------------------------------- mean_ci


def test_mean_ci_known_value_and_reexport():
    mean, half = st.mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(2.4841377, abs=1e-6)  # t(0.975, 2) / sqrt(3)
    assert logel.evaluation.mean_ci is st.mean_ci
    assert st.mean_ci([4.0]) == (4.0, 0.0)
    assert st.mean_ci([1.0, 2.0, 3.0], level=0.5)[1] < half
    # Pooled over all entries, as before the move.
    assert st.mean_ci(np.array([[1.0, 2.0], [3.0, 4.0]])) == st.mean_ci([1.0, 2.0, 3.0, 4.0])


def test_mean_ci_propagates_nan_and_rejects_bad_input():
    assert all(math.isnan(v) for v in st.mean_ci([1.0, np.nan, 3.0]))
    with pytest.raises(ValueError, match="values"):
        st.mean_ci([])
    for level in (0.0, 1.0, 1.5, -0.1, float("nan"), "high"):
        with pytest.raises(ValueError, match="level"):
            st.mean_ci([1.0, 2.0], level=level)


# ---------------------------------------------------------------------------- counts


def _wilson_by_hand(k: int, n: int, z: float) -> tuple[float, float]:
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def test_wilson_15_of_20():
    low, high = st.wilson_interval(15, 20)
    assert (round(low, 3), round(high, 3)) == (0.531, 0.888)
    hand = _wilson_by_hand(15, 20, 1.959963984540054)
    assert (low, high) == pytest.approx(hand, abs=1e-12)


@pytest.mark.parametrize("k, n, level", [(0, 1, 0.95), (3, 10, 0.9), (7, 7, 0.99), (1, 40, 0.8)])
def test_wilson_matches_formula_and_binomtest(k, n, level):
    low, high = st.wilson_interval(k, n, level)
    z = stats.norm.ppf(0.5 + level / 2)
    hand = _wilson_by_hand(k, n, z)
    assert low == pytest.approx(max(0.0, hand[0]), abs=1e-12)
    assert high == pytest.approx(min(1.0, hand[1]), abs=1e-12)
    ci = stats.binomtest(k, n).proportion_ci(level, method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_edges_and_symmetry():
    assert st.wilson_interval(0, 20)[0] == 0.0
    assert st.wilson_interval(20, 20)[1] == pytest.approx(1.0)
    low, high = st.wilson_interval(4, 20)
    mlow, mhigh = st.wilson_interval(16, 20)
    assert (low, high) == pytest.approx((1 - mhigh, 1 - mlow))
    narrow, wide = st.wilson_interval(15, 20, 0.8), st.wilson_interval(15, 20, 0.99)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]
    assert st.wilson_interval(np.int64(15), 20.0) == st.wilson_interval(15, 20)


@pytest.mark.parametrize("k, n, level", [(0, 1, 0.95), (15, 20, 0.95), (3, 10, 0.9),
                                         (20, 20, 0.95), (1, 50, 0.99)])
def test_clopper_pearson_matches_scipy_exact(k, n, level):
    low, high = st.clopper_pearson_interval(k, n, level)
    ci = stats.binomtest(k, n).proportion_ci(level, method="exact")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_clopper_pearson_is_wider_than_wilson():
    cp, w = st.clopper_pearson_interval(15, 20), st.wilson_interval(15, 20)
    assert cp[0] < w[0] and w[1] < cp[1]
    assert st.clopper_pearson_interval(0, 5) == pytest.approx((0.0, 1 - 0.025 ** (1 / 5)))


@pytest.mark.parametrize("fn", [st.wilson_interval, st.clopper_pearson_interval])
def test_count_intervals_reject_bad_input(fn):
    for k, n, name in [(21, 20, "k"), (-1, 20, "k"), (0, 0, "n"), (1.5, 20, "k"),
                       (True, 20, "k"), (1, "20", "n"), (1, -3, "n"), (np.nan, 5, "k")]:
        with pytest.raises(ValueError, match=name):
            fn(k, n)
    for level in (0.0, 1.0, 2.0):
        with pytest.raises(ValueError, match="level"):
            fn(1, 2, level)


# ---------------------------------------------------------------------------- McNemar


def test_mcnemar_zero_against_six():
    a = [False] * 6 + [True] * 4
    b = [True] * 10
    res = st.mcnemar_exact(a, b)
    assert (res.n_pairs, res.a_only, res.b_only) == (10, 0, 6)
    assert res.p_value == pytest.approx(2 * 0.5**6) == pytest.approx(0.03125)
    assert st.mcnemar_exact(b, a).p_value == pytest.approx(res.p_value)


def test_mcnemar_by_hand_and_degenerate_cases():
    # 2 against 9 discordant seeds: p = 2 * (C(11,0) + C(11,1) + C(11,2)) / 2**11.
    a = np.array([1] * 2 + [0] * 9 + [1] * 5 + [0] * 4)
    b = np.array([0] * 2 + [1] * 9 + [1] * 5 + [0] * 4)
    res = st.mcnemar_exact(a, b)
    assert (res.a_only, res.b_only, res.n_pairs) == (2, 9, 20)
    assert res.p_value == pytest.approx(2 * (1 + 11 + 55) / 2**11)
    same = st.mcnemar_exact([True, False, True], [True, False, True])
    assert (same.a_only, same.b_only, same.p_value) == (0, 0, 1.0)
    assert st.mcnemar_exact([1, 0], [0, 1]).p_value == 1.0


def test_mcnemar_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        st.mcnemar_exact([True, False], [True])
    with pytest.raises(ValueError, match="a"):
        st.mcnemar_exact([], [])
    with pytest.raises(ValueError, match="b"):
        st.mcnemar_exact([True, False], [[True, False]])
    with pytest.raises(ValueError, match="a must hold booleans"):
        st.mcnemar_exact([0, 2], [0, 1])
    with pytest.raises(ValueError, match="b contains NaN"):
        st.mcnemar_exact([0, 1], [0, np.nan])
    with pytest.raises(ValueError, match="a must hold booleans"):
        st.mcnemar_exact(["yes", "no"], [0, 1])


# ---------------------------------------------------------------------------- IQM


def test_iqm_known_arrays():
    assert st.iqm(np.arange(1, 9)) == 4.5  # mean of 3, 4, 5, 6
    assert st.iqm([1, 2, 3, 4, 5, 6, 7, 1000]) == 4.5  # robust to an outlying seed
    assert st.iqm(np.arange(10.0)) == pytest.approx(np.mean(np.arange(2, 8)))  # g = 2
    assert st.iqm([3.0]) == 3.0
    x = np.random.default_rng(0).normal(size=13)
    g = 13 // 4
    assert st.iqm(x) == pytest.approx(np.sort(x)[g:13 - g].mean())


def test_iqm_rejects_bad_input():
    for bad in ([], [1.0, np.nan], [1.0, np.inf], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match="values"):
            st.iqm(bad)


def test_iqm_ci_contains_iqm_and_is_reproducible():
    x = np.random.default_rng(1).normal(loc=3.0, size=10)
    est, low, high = st.iqm_ci(x, n_resamples=2000)
    assert est == pytest.approx(st.iqm(x))
    assert low < est < high
    assert st.iqm_ci(x, n_resamples=2000) == (est, low, high)
    other = st.iqm_ci(x, n_resamples=2000, seed=1)
    assert other.estimate == est and (other.low, other.high) != (low, high)
    narrow = st.iqm_ci(x, level=0.5, n_resamples=2000)
    assert low < narrow.low < narrow.high < high


def test_iqm_ci_constant_values_and_bad_input():
    assert st.iqm_ci(np.full(5, 2.0), n_resamples=100) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="at least 2"):
        st.iqm_ci([1.0])
    with pytest.raises(ValueError, match="values"):
        st.iqm_ci([1.0, np.nan])
    with pytest.raises(ValueError, match="level"):
        st.iqm_ci([1.0, 2.0], level=1.0)
    for n in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="n_resamples"):
            st.iqm_ci([1.0, 2.0], n_resamples=n)
    for seed in (-1, 1.5, None, np.random.default_rng(0)):
        with pytest.raises(ValueError, match="seed"):
            st.iqm_ci([1.0, 2.0], seed=seed)


def test_stratified_iqm_ci():
    rng = np.random.default_rng(2)
    scores = {"reacher": rng.uniform(0.5, 1.0, size=10), "hopper": rng.uniform(0, 0.6, size=7)}
    est, low, high = st.stratified_iqm_ci(scores, n_resamples=2000)
    assert est == pytest.approx(st.iqm(np.concatenate(list(scores.values()))))
    assert low < est < high
    assert st.stratified_iqm_ci(scores, n_resamples=2000) == (est, low, high)
    reordered = {"hopper": scores["hopper"], "reacher": scores["reacher"]}
    assert st.stratified_iqm_ci(reordered, n_resamples=2000) == (est, low, high)
    assert st.stratified_iqm_ci(scores, n_resamples=2000, seed=3) != (est, low, high)


def test_stratified_bootstrap_keeps_each_task_size():
    # Every resample keeps four 0s and four 1s, so its IQM is always 0.5; an unstratified
    # bootstrap of the pooled eight values would vary.
    res = st.stratified_iqm_ci({"a": np.zeros(4), "b": np.ones(4)}, n_resamples=500)
    assert res == (0.5, 0.5, 0.5)
    pooled = st.iqm_ci(np.r_[np.zeros(4), np.ones(4)], n_resamples=500)
    assert pooled.low < 0.5 < pooled.high


def test_stratified_iqm_ci_rejects_bad_input():
    with pytest.raises(ValueError, match="scores_by_task"):
        st.stratified_iqm_ci({})
    with pytest.raises(ValueError, match="scores_by_task"):
        st.stratified_iqm_ci([np.ones(3)])
    with pytest.raises(ValueError, match="hopper"):
        st.stratified_iqm_ci({"reacher": np.ones(3), "hopper": [1.0, np.nan]})
    with pytest.raises(ValueError, match="hopper"):
        st.stratified_iqm_ci({"reacher": np.ones(3), "hopper": []})
    with pytest.raises(ValueError, match="at least 2"):
        st.stratified_iqm_ci({"reacher": [1.0]})
    with pytest.raises(ValueError, match="level"):
        st.stratified_iqm_ci({"reacher": [1.0, 2.0]}, level=0)
    with pytest.raises(ValueError, match="n_resamples"):
        st.stratified_iqm_ci({"reacher": [1.0, 2.0]}, n_resamples=0)
    with pytest.raises(ValueError, match="seed"):
        st.stratified_iqm_ci({"reacher": [1.0, 2.0]}, seed=-2)


# ---------------------------------------------------------------------------- improvement


def test_probability_of_improvement_separated_and_identical():
    x, y = np.arange(10.0) + 100.0, np.arange(10.0)
    for paired in (True, False):
        assert tuple(st.probability_of_improvement(x, y, paired, n_resamples=500)) == (1, 1, 1)
        assert tuple(st.probability_of_improvement(y, x, paired, n_resamples=500)) == (0, 0, 0)
    same = st.probability_of_improvement(y, y, paired=True, n_resamples=500)
    assert (same.probability, same.low, same.high) == (0.5, 0.5, 0.5)
    assert (same.mean_difference, same.difference_low, same.difference_high) == (0, 0, 0)
    unpaired = st.probability_of_improvement(y, y, paired=False, n_resamples=500)
    assert unpaired.probability == 0.5 and unpaired.low < 0.5 < unpaired.high


def test_probability_of_improvement_is_mann_whitney_with_ties():
    assert st.probability_of_improvement([0, 1], [1, 1], n_resamples=100).probability == 0.25
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 4, size=12).astype(float), rng.integers(0, 4, size=9).astype(float)
    u = stats.mannwhitneyu(x, y).statistic
    res = st.probability_of_improvement(x, y, paired=False, n_resamples=500)
    assert res.probability == pytest.approx(u / (12 * 9))
    assert res.low <= res.probability <= res.high


def test_probability_of_improvement_differences_match_scipy():
    rng = np.random.default_rng(4)
    x = rng.normal(1.0, 1.0, size=10)
    y = x - 0.5 + rng.normal(0, 0.3, size=10)
    paired = st.probability_of_improvement(x, y, paired=True, n_resamples=1000)
    ci = stats.ttest_rel(x, y).confidence_interval(0.95)
    assert paired.difference_kind == "paired t" and paired.paired
    assert paired.mean_difference == pytest.approx(np.mean(x - y))
    assert (paired.difference_low, paired.difference_high) == pytest.approx((ci.low, ci.high))
    z = rng.normal(0.0, 2.0, size=7)
    unpaired = st.probability_of_improvement(x, z, paired=False, level=0.9, n_resamples=1000)
    ci = stats.ttest_ind(x, z, equal_var=False).confidence_interval(0.9)
    assert unpaired.difference_kind == "Welch t" and not unpaired.paired
    assert (unpaired.difference_low, unpaired.difference_high) == pytest.approx((ci.low, ci.high))
    assert unpaired.level == 0.9


def test_paired_estimate_leaves_out_same_seed_pairs():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.5, 2.5])
    # All 9 pairs: 6 wins; the 3 same-seed pairs are all wins, the 6 others 3 wins.
    assert st.probability_of_improvement(x, y, paired=False, n_resamples=100).probability == (
        pytest.approx(6 / 9))
    assert st.probability_of_improvement(x, y, paired=True, n_resamples=100).probability == 0.5


def test_paired_bootstrap_matches_brute_force():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=6), rng.normal(size=6)
    res = st.probability_of_improvement(x, y, paired=True, n_resamples=300, seed=11)
    idx = np.random.default_rng(11).integers(0, 6, size=(300, 6))
    boot = []
    for row in idx:
        wins = [0.5 * (1 + np.sign(x[i] - y[j])) for i in row for j in row if i != j]
        if wins:
            boot.append(np.mean(wins))
    assert (res.low, res.high) == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])))


def test_probability_of_improvement_reproducible_and_centred():
    rng = np.random.default_rng(5)
    x = rng.normal(size=10)
    y = x - 0.2 + rng.normal(0, 0.1, size=10)  # seed effects shared by x and y
    a = st.probability_of_improvement(x, y, n_resamples=2000)
    assert st.probability_of_improvement(x, y, n_resamples=2000) == a
    assert st.probability_of_improvement(x, y, n_resamples=2000, seed=9) != a
    assert a.low < a.probability < a.high  # same-seed pairs left out: centred on the estimate
    b = st.probability_of_improvement(x, y, paired=False, n_resamples=2000)
    assert b.low < b.probability < b.high


def test_probability_of_improvement_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        st.probability_of_improvement([1.0, 2.0, 3.0], [1.0, 2.0])
    st.probability_of_improvement([1.0, 2.0, 3.0], [1.0, 2.0], paired=False, n_resamples=10)
    with pytest.raises(ValueError, match="x"):
        st.probability_of_improvement([1.0], [1.0])
    with pytest.raises(ValueError, match="y"):
        st.probability_of_improvement([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="paired"):
        st.probability_of_improvement([1.0, 2.0], [1.0, 2.0], paired="yes")
    with pytest.raises(ValueError, match="level"):
        st.probability_of_improvement([1.0, 2.0], [1.0, 2.0], level=0.0)
    with pytest.raises(ValueError, match="n_resamples"):
        st.probability_of_improvement([1.0, 2.0], [1.0, 2.0], n_resamples=-1)
    with pytest.raises(ValueError, match="seed"):
        st.probability_of_improvement([1.0, 2.0], [1.0, 2.0], seed="0")


# ---------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize("low, high, threshold, claim, expected", [
    (0.53, 0.89, 0.5, ">", "holds"),
    (0.1, 0.4, 0.5, ">", "fails"),
    (0.1, 0.5, 0.5, ">", "fails"),  # touches the threshold from below: never above it
    (0.5, 0.9, 0.5, ">", "inconclusive"),  # touches it from above: not wholly above
    (0.4, 0.6, 0.5, ">", "inconclusive"),
    (0.1, 0.4, 0.5, "<", "holds"),
    (0.6, 0.9, 0.5, "<", "fails"),
    (0.5, 0.9, 0.5, "<", "fails"),
    (0.1, 0.5, 0.5, "<", "inconclusive"),
    (0.4, 0.6, 0.5, "<", "inconclusive"),
    (-np.inf, 0.4, 0.5, "<", "holds"),
    (0.6, np.inf, 0.5, ">", "holds"),
])
def test_verdict_branches(low, high, threshold, claim, expected):
    assert st.verdict(low, high, threshold, claim) == expected


@pytest.mark.parametrize("low, high, expected", [
    (-0.02, 0.03, "holds"), (-0.05, 0.05, "holds"), (0.06, 0.2, "fails"), (-0.3, -0.06, "fails"),
    (-0.02, 0.07, "inconclusive"), (-0.1, 0.1, "inconclusive"), (0.05, 0.2, "inconclusive"),
])
def test_verdict_equivalent_branches(low, high, expected):
    assert st.verdict_equivalent(low, high, 0.05) == expected


def test_verdicts_reject_bad_input():
    with pytest.raises(ValueError, match="low must not exceed high"):
        st.verdict(0.6, 0.4, 0.5)
    with pytest.raises(ValueError, match="low"):
        st.verdict(np.nan, 0.4, 0.5)
    with pytest.raises(ValueError, match="high"):
        st.verdict(0.1, np.nan, 0.5)
    with pytest.raises(ValueError, match="threshold"):
        st.verdict(0.1, 0.4, np.inf)
    with pytest.raises(ValueError, match="claim"):
        st.verdict(0.1, 0.4, 0.5, ">=")
    with pytest.raises(ValueError, match="low must not exceed high"):
        st.verdict_equivalent(0.1, -0.1, 0.5)
    for margin in (0.0, -0.1, np.nan, np.inf):
        with pytest.raises(ValueError, match="margin"):
            st.verdict_equivalent(-0.1, 0.1, margin)


def test_claim_computes_its_verdict():
    low, high = st.wilson_interval(15, 20)
    c = st.Claim.of("optimal in most seeds", 0.75, low, high, 0.5, ">", "Wilson")
    assert c.verdict == "holds" and c.interval_kind == "Wilson"
    assert st.Claim.of("same error", 0.01, -0.02, 0.09, 0.05, "≈").verdict == "inconclusive"
    assert st.Claim.of("small error", 0.3, 0.2, 0.4, 0.1, "<").verdict == "fails"
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.verdict = "fails"  # type: ignore[misc]
    with pytest.raises(ValueError, match="verdict"):
        st.Claim("typed verdict", 0.75, low, high, 0.5, ">", "fails", "Wilson")
    with pytest.raises(ValueError, match="claim"):
        st.Claim.of("bad", 0.75, low, high, 0.5, "=")
    with pytest.raises(ValueError, match="text"):
        st.Claim.of(" ", 0.75, low, high, 0.5)
    with pytest.raises(ValueError, match="interval_kind"):
        st.Claim.of("no kind", 0.75, low, high, 0.5, ">", "")
    with pytest.raises(ValueError, match="estimate"):
        st.Claim.of("nan", np.nan, low, high, 0.5)
    with pytest.raises(ValueError, match="margin"):
        st.Claim.of("bad margin", 0.0, -0.1, 0.1, -0.05, "≈")


def test_claims_table():
    claims = [
        st.Claim.of("LOGEL | optimal", 0.75, 0.5313, 0.8881, 0.5, ">", "Wilson"),
        st.Claim.of("A ≈ B", 0.01, -0.02, 0.03, 0.05, "≈", "paired t"),
        st.Claim.of("error < 0.1", 0.12, 0.05, 0.2, 0.1, "<", "bootstrap IQM"),
    ]
    table = st.claims_table(claims, digits=2)
    lines = table.split("\n")
    assert lines[0] == "| claim | estimate | 95% interval | threshold | verdict |"
    assert lines[1] == "|---|---|---|---|---|"
    assert lines[2] == "| LOGEL \\| optimal | 0.75 | [0.53, 0.89] (Wilson) | > 0.50 | holds |"
    assert lines[3] == "| A ≈ B | 0.01 | [-0.02, 0.03] (paired t) | ±0.05 | holds |"
    assert lines[4] == ("| error < 0.1 | 0.12 | [0.05, 0.20] (bootstrap IQM) | < 0.10 "
                        "| inconclusive |")
    assert len(lines) == 5 and st.claims_table(tuple(claims), digits=2) == table
    with pytest.raises(ValueError, match="claims"):
        st.claims_table([])
    with pytest.raises(ValueError, match=r"claims\[1\]"):
        st.claims_table([claims[0], "holds"])
    with pytest.raises(ValueError, match="digits"):
        st.claims_table(claims, digits=-1)


def test_proportion_and_paired_claims():
    c = st.proportion_claim("optimal in most seeds", 18, 20, 0.5)
    assert c.verdict == "holds" and c.interval_kind == "Wilson" and c.passed is True
    assert c.detail.startswith("18/20 [0.70, 0.97]")
    assert st.proportion_claim("most", 12, 20, 0.5).verdict == "inconclusive"
    assert st.proportion_claim("few", 0, 20, 0.5, "<").verdict == "holds"
    assert st.proportion_claim("most", 4, 20, 0.5).passed is False
    with pytest.raises(ValueError):
        st.proportion_claim("most", 4, 20, 0.5, "≈")
    a = np.array([1] * 8 + [0] * 12, dtype=bool)
    b = np.zeros(20, dtype=bool)
    p = st.paired_claim("A beats B", a, b)
    assert p.verdict == "holds" and "A only 8, B only 0" in p.detail
    assert f"p = {st.mcnemar_exact(a, b).p_value:.3g}" in p.detail
    # the verdict is the two-sided exact McNemar test at 5%
    for n_a, n_b in [(5, 0), (6, 0), (8, 1), (9, 1), (1, 8), (0, 0), (3, 3)]:
        x = np.array([1] * n_a + [0] * n_b + [1, 0], dtype=bool)
        y = np.array([0] * n_a + [1] * n_b + [1, 0], dtype=bool)
        test = st.mcnemar_exact(x, y)
        v = st.paired_claim("x beats y", x, y).verdict
        expected = ("inconclusive" if test.p_value >= 0.05
                    else "holds" if n_a > n_b else "fails")
        assert v == expected, (n_a, n_b, v, test.p_value)
    table = st.claims_table([c, p], digits=2)
    assert table.split("\n")[0].endswith("| verdict | measured |")


def test_monte_carlo_pvalue_counts_the_observed_value_as_one_draw():
    from logel.statistics import monte_carlo_pvalue

    assert monte_carlo_pvalue(2.0, [0.0, 1.0, 2.0, 3.0]) == pytest.approx(3 / 5)  # 2 and 3 tie/exceed
    assert monte_carlo_pvalue(10.0, np.zeros(99)) == pytest.approx(1 / 100)      # never 0
    assert monte_carlo_pvalue(-1.0, np.zeros(9)) == 1.0
    with pytest.raises(ValueError, match="at least one draw"):
        monte_carlo_pvalue(0.0, [])
