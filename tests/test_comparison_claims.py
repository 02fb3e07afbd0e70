"""The comparison's paired claims of noise-aware LOGEL and held-out step selection, and the
goals of chapter 7, on synthetic results with known verdicts."""

from __future__ import annotations

from collections.abc import Callable

from logel.experiments import comparison
from logel.experiments.comparison import (
    HELD_OUT_PAIRS,
    LEARNERS,
    NOISE_AWARE_PAIRS,
    ComparisonConfig,
    ComparisonResult,
    MethodOutcome,
    claims,
    held_out_claims,
    noise_aware_claims,
    step_goals,
)

N = 20
MS = (2, 5, 10, 15)
ALL = ("logel", "logel_shared", "logel_gls", "logel_gls_shared", "logel_moving_shared",
       "logel_moving_holm_shared", "lfl")


def first(k: int) -> list[bool]:
    """Seeds 0..k-1 optimal, the others not."""
    return [i < k for i in range(N)]


def fake(learner: str, optimal: Callable[[str, int], list[bool]],
         methods: tuple[str, ...] = ALL, ms: tuple[int, ...] = MS) -> list[ComparisonResult]:
    """Results whose ``method`` is optimal at ``m`` on the seeds ``optimal(method, m)``."""
    cfg = ComparisonConfig(learner=learner, observed_steps=ms, methods=methods)  # type: ignore[arg-type]
    flags = {(meth, m): optimal(meth, m) for meth in methods for m in ms}
    return [ComparisonResult(cfg, s, {}, 1.0, tuple(
        MethodOutcome(meth, m, float(flags[meth, m][s]), flags[meth, m][s], None)  # type: ignore[arg-type]
        for meth in methods for m in ms), None) for s in range(N)]  # type: ignore[arg-type]


def scenario(method: str, m: int) -> list[bool]:
    """Plain LOGEL and the GLS columns optimal on 10 seeds; one step size on 16; the held-out
    selection on 16 (each test at 5%) and 15 (Holm); all nested, seeds 0..k-1."""
    return first({"logel": 10, "logel_gls": 10, "logel_gls_shared": 10, "logel_shared": 16,
                  "logel_moving_shared": 16, "logel_moving_holm_shared": 15,
                  "lfl": 0}[method])


def verdicts(results: dict, budget: str = "book") -> dict[str, str]:
    return {c.text: c.verdict for c in held_out_claims(results, budget)
            + noise_aware_claims(results, budget)}


def test_held_out_and_noise_aware_claims_have_the_known_verdicts() -> None:
    results = {ln: fake(ln, scenario) for ln in LEARNERS}
    v = verdicts(results)
    assert len(v) == (len(HELD_OUT_PAIRS) + len(NOISE_AWARE_PAIRS)) * len(LEARNERS) * 3
    for name in ("G(PO)MDP", "Q-learning", "SVI", "SPI"):
        for m in (5, 10, 15):
            # 6 seeds only with the selection, none only with LOGEL: p = 2 / 64 < 0.05
            assert v[f"held-out steps beat LOGEL on {name} at m = {m}"] == "holds"
            # 5 vs 0: p = 2 / 32 = 0.0625
            assert v[f"held-out steps (Holm) beat LOGEL on {name} at m = {m}"] == "inconclusive"
            assert v[f"with one step size, the held-out steps beat every step on {name} at "
                     f"m = {m}"] == "inconclusive"  # no discordant seed
            # one step size wins 6 seeds against noise-aware LOGEL with one step size
            assert v[f"with one step size, the noise weighting beats none on {name} at "
                     f"m = {m}"] == "fails"
            assert v[f"noise-aware LOGEL beats LOGEL on {name} at m = {m}"] == "inconclusive"
    # the claims are among comparison.claims(), in the same order, after the paper's
    everything = claims(results, "book")
    tail = everything[-len(v):]
    assert [c.text for c in tail] == [c.text for c in noise_aware_claims(results, "book")
                                      + held_out_claims(results, "book")]
    # at smoke nothing statistical is tested
    assert set(verdicts(results, "smoke").values()) == {"inconclusive"}


def test_claims_need_both_methods_and_the_step() -> None:
    plain = {ln: fake(ln, scenario, methods=("logel", "lfl")) for ln in LEARNERS}
    assert verdicts(plain) == {}
    assert not any("held-out" in c.text or "noise" in c.text for c in claims(plain, "book"))
    few = {ln: fake(ln, scenario, ms=(2, 5)) for ln in LEARNERS}  # only m = 5 of (5, 10, 15)
    assert {t.rsplit("= ", 1)[1] for t in verdicts(few)} == {"5"}
    one = comparison.pair_claims({"spi": fake("spi", scenario)}, HELD_OUT_PAIRS[:1], "book",
                                 steps=(15,))
    assert [c.text for c in one] == ["held-out steps beat LOGEL on SPI at m = 15"]
    assert one[0].verdict == "holds" and "A only 6, B only 0" in one[0].detail


def test_step_goals() -> None:
    def falls(method: str, m: int) -> list[bool]:
        return first({2: 20, 5: 17, 10: 19, 15: 19}[m] if method == "logel"
                     else {2: 20, 5: 16, 10: 20, 15: 12}[m])

    good = step_goals(fake("gpomdp", falls), "logel")
    assert good.counts == {2: 20, 5: 17, 10: 19, 15: 19} and good.least_late == 19
    assert good.late and good.early and good.never_falls and good.met
    # Wilson lower bound of 20/20 is 0.839: 17 >= floor(16.8) = 16 never falls; 12 does
    bad = step_goals(fake("gpomdp", falls), "logel_shared")
    assert (bad.least_late, bad.late, bad.early, bad.never_falls, bad.met) == \
        (12, False, False, False, False)
    other = step_goals(fake("svi", falls), "logel")
    assert other.early is None and other.met  # goal (ii) is G(PO)MDP's only
    short = step_goals(fake("svi", falls, ms=(2, 5)), "logel")
    assert short.least_late is None and short.late is None
