"""The baseline's-bias study of chapter 7 (issue 14, item 6): LOGEL with several eps_b on one
cloning, the oracle on true parameters, exact Jacobians, and its claims."""

import warnings

import numpy as np
import pytest

from logel.experiments.comparison import ComparisonConfig, learner_parameters, run_comparison
from logel.experiments.comparison_figures import (
    baseline_bias,
    bias_claims,
    oracle_claim,
    step_alignment,
)


@pytest.fixture(scope="module")
def study():
    cfg = ComparisonConfig(learner="svi", observed_steps=(2, 4), methods=("logel",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cfg, baseline_bias(cfg, 0, (1e-3, 1e-6)), run_comparison(cfg, 0)


def test_first_eps_is_logel_and_the_alignment_is_the_diagnostics(study):
    cfg, b, res = study
    assert b.realistic.shape == b.oracle.shape == (2, 2) and b.exact.shape == (2,)
    assert b.realistic[0].tolist() == [res.outcome("logel", m).optimal for m in (2, 4)]
    grid, trace, thetas = learner_parameters(cfg, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = step_alignment(cfg, grid, trace, thetas)
    np.testing.assert_array_equal(b.alignment.cloned, ref.cloned)
    np.testing.assert_array_equal(b.alignment.true_norm, ref.true_norm)
    assert b.alignment.oracle_values == ref.oracle_values
    assert [b.alignment.oracle_optimal(m) for m in (2, 4)] == b.oracle[0].tolist()


def test_bias_claims_join_the_learners(study):
    _, b, res = study
    smoke = bias_claims({"svi": [b, b]}, "smoke")
    assert len(smoke) == 2 and all(c.verdict == "inconclusive" for c in smoke)
    book = bias_claims({"svi": [b] * 20}, "book")
    assert book[-1].text.startswith("the baseline's bias does not affect correctness")
    assert book[-1].verdict == book[0].verdict
    c = oracle_claim("svi", [b] * 3, [res] * 3, "book")
    assert c.text.startswith("SVI: the true parameters") and c.claim == ">"
