"""The realistic setting (behavioural cloning + block-coordinate descent) over 10 seeds.

Thresholds come from a measurement on seeds 0-9 with our defaults (BC: joint MLE with a
smoothness penalty, lambda_s = 10, chosen on the separate tuning seeds 100-119; BCD with the
all-ones direction fixed), n = 50 trajectories, 15 learner updates:

=========== =================== ===================
variant      optimal seeds m=10  optimal seeds m=15
=========== =================== ===================
paper        8/10                9/10
consistent   8/10                10/10
=========== =================== ===================

and a mean centred weight error at m = 15 of 0.27 (paper) and 0.28 (consistent). The test
requires a margin below each (two seeds fewer, error below 0.4) so that it fails on a real
regression, not on one unlucky seed. The official BC (3 Adam steps) reaches 5/10-6/10 at m=10.
"""

import numpy as np
import pytest

from logel.experiments.gridworld import RecoveryConfig, sweep

SEEDS = range(10)


@pytest.fixture(scope="module", params=["paper", "consistent"])
def results(request):
    return sweep(RecoveryConfig(setting="realistic", variant=request.param), SEEDS, n_jobs=2)


def test_greedy_policy_is_mostly_optimal(results):
    assert sum(r.outcome(10).optimal for r in results) >= 6
    assert sum(r.outcome(15).optimal for r in results) >= 7


def test_weights_point_the_right_way(results):
    errors = [r.outcome(15).weight_error for r in results]
    assert np.mean(errors) < 0.4
    assert max(errors) < 1.0  # no seed recovers a reward pointing away from the truth


def test_bcd_terminates_with_valid_learning_rates(results):
    for r in results:
        o = r.outcome(15)
        assert o.n_iter <= 1000
        assert np.all(np.isfinite(o.weights)) and np.all(o.learning_rates >= 0.01)
