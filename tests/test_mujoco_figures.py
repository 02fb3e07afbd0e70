"""The tables, statistics and verdicts of logel.experiments.mujoco_figures, on small synthetic
results shaped like ``logel.experiments.mujoco.load_results``'s."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from logel.experiments import mujoco_figures as mjf  # noqa: E402
from logel.statistics import iqm, mean_ci, stratified_iqm_ci, verdict, verdict_equivalent  # noqa: E402

N_LEARNER, N_OBSERVER = 4, 3


def _agent(first: float, final: float, n: int, length: float | None, distance: float | None,
           distance_key: str) -> dict[str, np.ndarray]:
    out = {"curve": np.linspace(first, final, n), "env_steps": (np.arange(n) + 1) * 1000}
    if length is not None:
        out["episode_length"] = np.full(n, length)
    if distance is not None:
        out[f"episode_{distance_key}"] = np.linspace(0.0, distance, n)
    return out


def fake_results(finals: dict[str, list[float]], lengths: dict[str, list[float]] | None = None,
                 distances: dict[str, list[float]] | None = None, family: str = "Hopper",
                 first: float = 10.0) -> dict[int, dict[str, dict[str, np.ndarray]]]:
    """``{seed: {agent: {...}}}`` with linear curves from ``first`` to each final value."""
    key = mjf.DISTANCE[family][0]
    out = {}
    for i in range(len(finals["learner"])):
        out[i] = {name: _agent(first, finals[name][i],
                               N_LEARNER if name == "learner" else N_OBSERVER,
                               None if lengths is None else lengths[name][i],
                               None if distances is None else distances[name][i], key)
                  for name in mjf.CURVES}
    return out


STANDING = fake_results(
    {"learner": [200.0, 220.0, 240.0, 230.0],
     "observer_logel": [1000.0, 1010.0, 990.0, 1005.0],
     "observer_lfl": [4.0, 3.0, 5.0, 4.5]},
    lengths={"learner": [100.0, 110.0, 120.0, 105.0],
             "observer_logel": [1000.0, 1000.0, 1000.0, 1000.0],
             "observer_lfl": [7.0, 7.0, 8.0, 7.0]},
    distances={"learner": [1.0, 1.2, 1.1, 0.9],
               "observer_logel": [0.05, 0.1, 0.0, 0.02],
               "observer_lfl": [-0.01, -0.02, 0.0, -0.01]})
"""A Hopper whose LOGEL observer stands upright for 1000 steps without moving."""


def _check_verdict(claim) -> None:
    """The verdict logic: each claim's verdict is the rule applied to its own interval."""
    if claim.claim == "≈":
        assert claim.verdict == verdict_equivalent(claim.low, claim.high, claim.threshold)
    else:
        assert claim.verdict == verdict(claim.low, claim.high, claim.threshold, claim.claim)


def test_episode_values_and_normalised_returns() -> None:
    np.testing.assert_allclose(mjf.final_values(STANDING, "learner"), [200, 220, 240, 230])
    np.testing.assert_allclose(mjf.episode_values(STANDING, "observer_logel", "length"), 1000)
    np.testing.assert_allclose(mjf.episode_values(STANDING, "learner", "forward_distance"),
                               [1.0, 1.2, 1.1, 0.9])
    assert mjf.episode_matrix(STANDING, "learner", "length").shape == (4, N_LEARNER)
    np.testing.assert_allclose(mjf.normalised_returns(STANDING, "learner"), 1.0)
    # (1000 - 10) / (200 - 10)
    assert mjf.normalised_returns(STANDING, "observer_logel")[0] == pytest.approx(990 / 190)
    np.testing.assert_allclose(mjf.forward_ratios(STANDING), [0.05, 0.1 / 1.2, 0.0, 0.02 / 0.9])
    # statistics not recorded (the sb3 runs of result version 1): NaN, and "—" in the tables
    bare = fake_results({"learner": [5.0, 6.0], "observer_logel": [1.0, 2.0],
                         "observer_lfl": [3.0, 4.0]}, first=0.0)
    assert not mjf.has_episode_stat(bare, "learner", "length")
    assert np.all(np.isnan(mjf.episode_values(bare, "learner", "length")))
    assert "—" in mjf.per_seed_table(bare, "Hopper-v5")
    assert "—" in mjf.statistics_table(bare, "Hopper-v5", n_resamples=200)
    with pytest.raises(ValueError, match="did not improve"):
        mjf.normalised_returns(fake_results({"learner": [5.0, 6.0], "observer_logel": [1, 2],
                                             "observer_lfl": [3, 4]}, first=5.5), "learner")


def test_per_seed_and_statistics_tables() -> None:
    table = mjf.per_seed_table(STANDING, "Hopper-v5").splitlines()
    assert len(table) == 2 + 4 and table[0].count("|") == 11
    assert "forward distance (m): LOGEL obs." in table[0]
    assert table[2].startswith("| 0 | 200.0 | 1000.0 | 4.0 | 100 | 1000 | 7 | 1.000 | 0.050 |")
    reacher = fake_results({"learner": [-30.0, -40.0], "observer_logel": [-60.0, -50.0],
                            "observer_lfl": [-35.0, -45.0]}, first=-110.0,
                           lengths={n: [50.0, 50.0] for n in mjf.CURVES},
                           distances={n: [0.1, 0.2] for n in mjf.CURVES}, family="Reacher")
    assert "final fingertip distance (m): learner" in mjf.per_seed_table(reacher, "Reacher-v5")
    stats = mjf.return_statistics(STANDING, n_resamples=500)
    assert set(stats) == set(mjf.CURVES)
    for name, st in stats.items():
        values = mjf.final_values(STANDING, name)
        np.testing.assert_allclose(st["values"], values)
        assert st["mean"] == mean_ci(values)
        assert st["iqm"].estimate == pytest.approx(iqm(values))
        assert st["iqm"].low <= st["iqm"].estimate <= st["iqm"].high
    rows = mjf.statistics_table(STANDING, "Hopper-v5", n_resamples=500).splitlines()
    assert len(rows) == 2 + 4 and rows[2].startswith("| learner (PPO, true reward) | ")
    # the learner's start: return 10 in every seed, normalised 0, episode statistics at update 1
    assert rows[-1].startswith("| learner after its first update | 10.0 ± 0.0 | 10.0 [10.0, "
                               "10.0] | 0.00 ± 0.00 | ")
    one = {0: STANDING[0]}
    assert mjf.return_statistics(one, n_resamples=100)["learner"]["iqm"].low == -np.inf
    both = mjf.normalised_iqm({"Hopper-v5": STANDING, "Reacher-v5": reacher}, "observer_lfl",
                              n_resamples=500)
    assert both == stratified_iqm_ci(
        {"Hopper-v5": mjf.normalised_returns(STANDING, "observer_lfl"),
         "Reacher-v5": mjf.normalised_returns(reacher, "observer_lfl")}, n_resamples=500)


def test_claims_on_a_standing_hopper() -> None:
    claims = mjf.observer_claims(STANDING, "Hopper-v5", n_resamples=500)
    assert list(claims) == ["beats_lfl", "beats_lfl_diff", "reaches", "exceeds",
                            "exceeds_diff", "forward", "longer", "longer_diff", "lfl_fails",
                            "lfl_below_start"]
    for claim in claims.values():
        _check_verdict(claim)
    # a high return from standing still: it "beats" the learner and LfL, and does not hop
    assert claims["beats_lfl"].verdict == claims["beats_lfl_diff"].verdict == "holds"
    assert mjf.joint_verdict(claims, "exceeds") == "holds"
    assert claims["forward"].verdict == "fails"
    assert claims["forward"].estimate == pytest.approx(np.mean(mjf.forward_ratios(STANDING)))
    assert mjf.joint_verdict(claims, "longer") == "holds"
    assert claims["lfl_fails"].verdict == "holds"
    assert claims["lfl_below_start"].verdict == "holds"  # 10 -> about 4
    # the probability of improvement is paired by seed, with its interval
    assert claims["beats_lfl"].estimate == 1.0 and claims["beats_lfl"].threshold == 0.5
    # Reacher has no episode claims; the learner is not beaten there
    reacher = fake_results({"learner": [-30.0, -40.0, -35.0], "observer_logel": [-90, -80, -85],
                            "observer_lfl": [-33.0, -41.0, -30.0]}, first=-110.0,
                           family="Reacher")
    r_claims = mjf.observer_claims(reacher, "Reacher-v5", n_resamples=500)
    assert list(r_claims) == ["beats_lfl", "beats_lfl_diff", "reaches", "exceeds",
                              "exceeds_diff"]  # no episode statistics recorded
    closer = fake_results({"learner": [-30.0, -40.0, -35.0], "observer_logel": [-90, -80, -85],
                           "observer_lfl": [-33.0, -41.0, -30.0]}, first=-110.0,
                          distances={n: [0.05, 0.06, 0.04] for n in mjf.CURVES},
                          family="Reacher")
    # the fake distances rise linearly from 0 at the first update: the learner ends farther
    c_closer = mjf.observer_claims(closer, "Reacher-v5", n_resamples=500)["learner_closer"]
    assert c_closer.estimate == pytest.approx(0.05) and c_closer.verdict == "fails"
    _check_verdict(c_closer)
    assert r_claims["reaches"].verdict == "fails" and mjf.joint_verdict(r_claims,
                                                                        "exceeds") == "fails"


def test_one_seed_is_inconclusive_and_joint_verdicts() -> None:
    claims = mjf.observer_claims({0: STANDING[0]}, "Hopper-v5", n_resamples=100)
    assert {c.verdict for c in claims.values()} == {"inconclusive"}
    assert mjf.joint_verdict(claims, "reaches") == "inconclusive"
    # joint: holds only if both hold, fails only if both fail
    mixed = fake_results({"learner": [100.0, 110.0, 120.0],
                          "observer_logel": [130.0, 111.0, 121.0],
                          "observer_lfl": [50.0, 60.0, 70.0]})
    c = mjf.observer_claims(mixed, "Hopper-v5", n_resamples=500)
    # every LOGEL seed beats every learner seed but one pair: P is high, the mean difference's
    # t-interval with three seeds is not above 0
    assert c["exceeds_diff"].verdict == "inconclusive"
    assert mjf.joint_verdict(c, "exceeds") == "inconclusive"
    assert mjf.joint_verdict(c, "reaches") == c["reaches"].verdict


def test_plot_episode_stat_skips_agents_without_it() -> None:
    fig, ax = plt.subplots()
    mjf.plot_episode_stat(ax, STANDING, "forward_distance", "m", "Hopper")
    assert len(ax.get_lines()) == 3
    bare = fake_results({"learner": [5.0, 6.0], "observer_logel": [1.0, 2.0],
                         "observer_lfl": [3.0, 4.0]}, first=0.0)
    fig2, ax2 = plt.subplots()
    mjf.plot_episode_stat(ax2, bare, "length", "steps", "none recorded")
    assert len(ax2.get_lines()) == 0
    plt.close(fig)
    plt.close(fig2)


def _premise_results(explained: dict[str, list[float]]) -> dict[int, dict[str, Any]]:
    """E2-shaped results: per seed, per variant, the statistics premise_at_true_theta writes."""
    out: dict[int, dict[str, Any]] = {}
    for seed in range(len(next(iter(explained.values())))):
        variants = {}
        for name, values in explained.items():
            e = values[seed]
            variants[name] = {"explained_motion_ref": e, "step_cosine_ref": [e, e / 2],
                              "explained_motion_fit": 2 * e, "cosine_standardised": e,
                              "weights": [1.0, 0.0, -e]}
        out[seed] = {"variants": variants}
    return out


def test_premise_table_and_claims() -> None:
    res = _premise_results({"a": [0.01, 0.02, 0.015, 0.012, 0.018],
                            "b": [0.30, 0.35, 0.28, 0.32, 0.31]})
    assert np.allclose(mjf.premise_values(res, "b", "step_cosine"),
                       0.75 * mjf.premise_values(res, "b", "explained_motion_ref"))
    table = mjf.premise_table(res, ["b", "a"])
    lines = table.splitlines()
    assert len(lines) == 4 and lines[2].startswith("| b |") and lines[3].startswith("| a |")
    assert "| 5/5 [0.57, 1.00] |" in lines[2]
    claims = mjf.premise_claims(res, "Reacher-v5", base="a", other="b")
    assert {k: c.verdict for k, c in claims.items()} == {
        "explains": "holds", "more": "holds", "cosine": "holds"}
    flipped = mjf.premise_claims(res, "Reacher-v5", base="b", other="a")
    assert {k: c.verdict for k, c in flipped.items()} == {
        "explains": "fails", "more": "fails", "cosine": "fails"}
    with pytest.raises(KeyError):
        mjf.premise_table(res, ["c"])


def test_published_lfl_merge_table_and_claims() -> None:
    """E7: only common seeds are paired; the claims compare the right agents."""
    published = {s: {"observer_lfl": _agent(10.0, final, N_OBSERVER, 20.0, None, "x")}
                 for s, final in zip((0, 1, 2, 3, 7), (2.0, 1.0, 3.0, 2.5, 9.0), strict=True)}
    merged = mjf.merge_published_lfl(STANDING, published)
    assert sorted(merged) == [0, 1, 2, 3]
    assert np.allclose(mjf.final_values(merged, mjf.PUBLISHED_LFL), [2.0, 1.0, 3.0, 2.5])
    table = mjf.published_lfl_table(merged)
    lines = table.splitlines()
    assert len(lines) == 2 + 4 + 1 and lines[-1].startswith("| mean |")
    assert "| 2.0 |" in lines[2] and "| 20 |" in lines[2]
    claims = mjf.published_lfl_claims(merged, "Hopper-v5", n_resamples=500)
    for c in claims.values():
        _check_verdict(c)
    assert claims["beats_published_diff"].verdict == "holds"       # ~1000 against ~2
    assert claims["published_beats_fixed_diff"].verdict == "fails"  # 2.1 against 4.1
    assert mjf.merge_published_lfl(STANDING, {}) == {}


def test_log_std_claims() -> None:
    """E5: the claims compare the observers with and without the log-std, paired by seed."""
    def obs(ref: float, corr: float) -> dict[str, float]:
        return {"explained_motion": ref, "explained_motion_reference": ref,
                "reward_correlation": corr, "cosine_to_reference": corr, "control_weight": -1.0}
    res = {s: {"observers": {mjf.LOG_STD_TRUNK: obs(0.002 + 0.001 * s, 0.1),
                             mjf.LOG_STD_TRUE: obs(0.03 + 0.002 * s, 0.6 + 0.05 * s),
                             mjf.LOG_STD_CLONED: obs(0.01, 0.2)}} for s in range(5)}
    assert np.allclose(mjf.log_std_values(res, mjf.LOG_STD_TRUE, "explained_motion_reference"),
                       [0.03, 0.032, 0.034, 0.036, 0.038])
    claims = mjf.log_std_claims(res, "Reacher-v5")
    assert {k: c.verdict for k, c in claims.items()} == {
        "reference": "holds", "correlation": "holds", "explains": "holds"}
    for c in claims.values():
        _check_verdict(c)


def test_calibration_merge_table_and_claims() -> None:
    calibration = {
        s: {name: {"curve": [None, 5.0, final],
                   "episode_stats": {"length": [20.0, 30.0, length],
                                     "forward_distance": [0.0, 0.01, 0.02]}}
            for name, final, length in (("zero", 12.0 + s, 40.0), ("alive only", 990.0 + s,
                                                                    1000.0))}
        for s in range(3)}
    merged = mjf.merge_calibration(STANDING, calibration)
    assert sorted(merged) == [0, 1, 2]                       # seeds present in both
    assert mjf.calibration_agents(merged) == ("calibration: zero", "calibration: alive only")
    np.testing.assert_array_equal(mjf.final_values(merged, "calibration: zero"), [12, 13, 14])
    assert np.isnan(mjf.curve_matrix(merged, "calibration: zero")[0, 0])  # None -> NaN
    table = mjf.calibration_table(merged, "Hopper-v5")
    assert "| zero reward |" in table and "| alive only reward |" in table
    claims = mjf.calibration_claims(merged, "Hopper-v5", n_resamples=200)
    for c in claims.values():
        _check_verdict(c)
    # the standing LOGEL observer (about 1000) beats the zero reward's, not the alive-only one's
    assert mjf.joint_verdict(claims, "beats_zero") == "holds"
    assert claims["beats_alive_only_diff"].estimate == pytest.approx(
        np.mean([1000.0, 1010.0, 990.0]) - np.mean([990.0, 991.0, 992.0]))
    assert claims["reaches_zero"].verdict == "fails"      # 12-14 is far below the learner
    assert claims["reaches_alive_only"].verdict == "holds"  # standing beats the learner
    assert set(claims) == {f"{c}_{n}" for c in ("beats", "reaches") for n in ("zero", "alive_only")
                           } | {"beats_zero_diff", "beats_alive_only_diff"}
    assert set(STANDING[0]) == set(mjf.CURVES)           # the main results are not modified


def _fd_results(reference: list[float], recovered: list[float]) -> dict[int, dict[str, Any]]:
    random = [0.1, -0.1, 0.2, -0.2]                          # sd 0.183
    return {s: {"steps": [{"slopes": {"reference": ref, "recovered": rec, "learner_step": 0.0},
                           "random_slopes": random}] * 2}
            for s, (ref, rec) in enumerate(zip(reference, recovered, strict=True))}


def test_finite_difference_values_table_and_claims() -> None:
    results = _fd_results([1.0, 1.2, 0.9, 1.1], [-0.1, 0.05, -0.02, 0.0])
    z = mjf.finite_difference_values(results, "reference")
    np.testing.assert_allclose(z, np.array([1.0, 1.2, 0.9, 1.1]) / np.std([0.1, -0.1, 0.2, -0.2],
                                                                           ddof=1))
    table = mjf.finite_difference_table(results)
    assert "4/4" in table and "1/4" in table
    claims = mjf.finite_difference_claims(results, "Reacher-v5")
    for c in claims.values():
        _check_verdict(c)
    assert claims["reference"].verdict == "holds"
    assert claims["recovered"].verdict == "inconclusive"
    assert claims["reference_vs_recovered"].verdict == "holds"
