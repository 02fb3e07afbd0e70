"""The three observers of logel.irl.observer: what each may see, what it recovers, one shared
realistic observer for the tabular and the Gaussian MLP policy classes, and results pinned to
the values the experiments produced before the observer moved into the library (issue 15)."""

import warnings
from dataclasses import replace

import numpy as np
import pytest

import logel
from logel.envs.gridworld import Gridworld
from logel.evaluation import weight_error
from logel.experiments.comparison import ComparisonConfig, run_comparison
from logel.experiments.gridworld import RecoveryConfig, run
from logel.irl.bc import BCConfig
from logel.irl.observer import (
    BoltzmannClass,
    ObserverConfig,
    approximate_inputs,
    initial_learning_rates,
    realistic_inputs,
    recover,
    step_jacobians,
)
from logel.learners import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.traces import LearnerTrace


@pytest.fixture(scope="module")
def grid():
    return Gridworld()


def _trace(grid, gradient="estimated", seed=0, n_updates=6):
    cfg = GPOMDPLearnerConfig(n_updates=n_updates, gradient=gradient)
    return run_gpomdp_learner(grid, cfg, np.random.default_rng(seed))


def test_exact_observer_recovers_the_true_weights(grid):
    trace = _trace(grid, gradient="exact")
    obs = logel.observe_exact(trace, BoltzmannPolicy(grid.n_states, grid.n_actions),
                              grid.sampling_model, grid.horizon,
                              ObserverConfig(fix_constant_direction=True))
    assert obs.setting == "exact" and obs.fit is None and obs.converged and obs.n_iter == 0
    assert obs.thetas.shape == (7, grid.n_states * (grid.n_actions - 1))
    assert obs.jacobians.shape == (6, obs.thetas.shape[1], grid.n_features)
    np.testing.assert_array_equal(obs.learning_rates, trace.learning_rates)
    assert weight_error(obs.weights, grid.true_weights, centre=True) < 1e-10


def test_approximate_observer_on_the_learners_own_samples_is_exact(grid):
    """With the learner's own trajectories the Jacobians are those behind the learner's own
    gradient, up to the baseline (per feature here, per reward for the learner): the error is
    small, unlike with independent trajectories."""
    trace = _trace(grid)
    policy_class = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions))
    obs = logel.observe_approximate(trace, policy_class,
                                    ObserverConfig(fix_constant_direction=True))
    assert obs.setting == "approximate"
    assert weight_error(obs.weights, grid.true_weights, centre=True) < 0.02


def test_realistic_observer_sees_only_trajectories(grid):
    trace = _trace(grid)
    blind = LearnerTrace(trace.states, trace.actions, trace.features, trace.gamma)
    policy_class = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions), BCConfig())
    config = ObserverConfig(fix_constant_direction=True)
    a, b = (logel.observe_realistic(t, policy_class, config) for t in (trace, blind))
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.setting == "realistic" and a.fit is not None
    np.testing.assert_array_equal(a.alpha_init, np.full(6, 0.1))
    with pytest.raises(ValueError, match="thetas"):
        logel.observe_approximate(blind, policy_class, config)
    with pytest.raises(ValueError, match="m must lie"):
        logel.observe_realistic(trace, policy_class, config, m=7)


def test_recover_on_prefixes_equals_observing_the_prefix(grid):
    """Estimating once and recovering from the first m steps is observing m steps, when the
    inputs of a step do not depend on later steps (proximal cloning is step by step)."""
    trace = _trace(grid)
    policy_class = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions), BCConfig())
    inputs = realistic_inputs(trace, policy_class, m=6)
    direct = logel.observe_realistic(trace, policy_class, m=3)
    np.testing.assert_allclose(recover(inputs, m=3).weights, direct.weights, rtol=1e-9)


def test_step_jacobians_flat_layout_equals_the_dense_one(grid):
    """Rows as one-episode streams (episode starts at t = 0) give the dense estimate."""
    trace = _trace(grid, n_updates=3)
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)

    class Flat(BoltzmannClass):
        def scores(self, theta, states, actions):
            return self.policy.scores(theta, states, actions).reshape(-1, policy.n_params)

    dense = step_jacobians(BoltzmannClass(policy), list(trace.thetas[:3]), trace.states,
                           trace.actions, trace.features, trace.gamma, 1e-3)
    starts = np.zeros(trace.states.shape, dtype=bool)
    starts[..., 0] = True
    flat = step_jacobians(Flat(policy), list(trace.thetas[:3]), trace.states, trace.actions,
                          trace.features, trace.gamma, 1e-3, episode_starts=starts)
    np.testing.assert_allclose(flat, dense, rtol=1e-10, atol=1e-12)


def test_uniform_initial_rates_are_seeded_and_bounded():
    cfg = ObserverConfig(alpha_init="uniform", alpha_min=0.3, seed=5)
    a = initial_learning_rates(cfg, 50)
    np.testing.assert_array_equal(a, initial_learning_rates(cfg, 50))
    assert a.min() >= 0.3 and a.max() < 1
    assert not np.array_equal(a, initial_learning_rates(replace(cfg, seed=6), 50))
    with pytest.raises(ValueError, match="alpha_init"):
        ObserverConfig(alpha_init="random")
    with pytest.raises(ValueError, match="alpha_min"):
        ObserverConfig(alpha_min=0.0)


def test_unknown_learning_rates_with_true_parameters_use_bcd(grid):
    trace = _trace(grid)
    no_rates = LearnerTrace(trace.states, trace.actions, trace.features, trace.gamma,
                            trace.thetas)
    policy_class = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions))
    inputs = approximate_inputs(no_rates, policy_class)
    assert inputs.learning_rates is None
    obs = recover(inputs, ObserverConfig(fix_constant_direction=True))
    assert obs.fit is not None


def test_gaussian_mlp_class_shares_the_observer():
    torch = pytest.importorskip("torch")  # noqa: F841
    from logel.irl.neural import GaussianMLPClass, NeuralLOGELConfig, neural_logel
    from logel.policies.gaussian_mlp import GaussianBCConfig

    rng = np.random.default_rng(0)
    K, N, T, obs_dim, act_dim, q = 3, 2, 30, 3, 2, 4
    starts = np.zeros((K, N, T), dtype=bool)
    starts[:, :, ::10] = True
    trace = LearnerTrace(rng.normal(size=(K, N, T, obs_dim)), rng.normal(size=(K, N, T, act_dim)),
                         rng.normal(size=(K, N, T, q)), 0.99, episode_starts=starts,
                         metadata={"hidden": [8]})
    bc = GaussianBCConfig(iterations=5, batch_size=16, first_step_factor=1)
    res = neural_logel(trace, NeuralLOGELConfig(bc=bc, max_iter=20))
    policy_class = GaussianMLPClass(obs_dim, act_dim, (8,), bc)
    config = ObserverConfig(baseline_eps=1e-4, alpha_init="uniform", alpha_min=1e-6, tol=1e-8,
                            max_iter=20, convergence="direction")
    obs = logel.observe_realistic(trace, policy_class, config)
    np.testing.assert_array_equal(obs.weights, res.weights)
    np.testing.assert_array_equal(obs.jacobians, res.jacobians)
    assert res.n_trajectories == [6, 6]


# Values the experiments produced before the observer moved into logel.irl.observer (commit
# d4e3b11); the move did not change a single bit of them. Since fit's BCD runs on the row-space
# coordinates (normal equations instead of one SVD per omega-step) they agree to round-off:
# the weights within 1e-9 relative, the values and iteration counts exactly. The approximate setting's fresh
# trajectories moved to one stream per learning step (logel.streams, issue 14): new draws, so
# new values (before: [1.0944030789271084, -2.0329661756125432, 0.6280595299880576]).
PINNED_GRIDWORLD = {
    ("realistic", "independent", 0, 15): ([-0.17039599909109, -0.42674265557614255,
                                           -0.3782559693472545], 2.0617621996375064, 1000),
    ("approximate", "independent", 1, 10): ([0.7943726536357132, -2.648146970103901,
                                             0.3159277770812168], -2.8815999999999997, 0),
}


@pytest.mark.parametrize("key", list(PINNED_GRIDWORLD))
def test_gridworld_results_are_pinned(key):
    setting, samples, seed, m = key
    weights, value, n_iter = PINNED_GRIDWORLD[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = run(RecoveryConfig(setting=setting, observer_samples=samples), seed).outcome(m)
    np.testing.assert_allclose(outcome.weights[:3], weights, rtol=1e-9, atol=0)
    assert (outcome.value, outcome.n_iter) == (value, n_iter)


def test_comparison_results_are_pinned():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_comparison(ComparisonConfig(learner="qlearning"), 0)
    assert [(o.method, o.m, o.value, o.optimal) for o in result.outcomes[:3]] == [
        ("logel", 2, 2.0617621996375064, True), ("logel", 3, -2.8815999999999997, False),
        ("logel", 4, -2.8815999999999997, False)]


def test_shared_step_size_is_the_pooled_closed_form(grid):
    """With one step size for all steps the direction of omega is the closed form with equal
    learning rates, and the step size is the pooled alpha-step."""
    trace = _trace(grid)
    inputs = approximate_inputs(LearnerTrace(trace.states, trace.actions, trace.features,
                                             trace.gamma, trace.thetas),
                                BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions)))
    config = ObserverConfig(fix_constant_direction=True, step_sizes="shared")
    obs = recover(inputs, config)
    assert obs.fit is not None and np.ptp(obs.learning_rates) == 0
    closed = logel.solve_weights(inputs.deltas, inputs.jacobians, np.ones(inputs.m),
                                 null_directions=np.ones(grid.n_features))
    np.testing.assert_allclose(obs.weights / np.linalg.norm(obs.weights),
                               closed / np.linalg.norm(closed), atol=1e-8)
    u = np.einsum("tdq,q->td", inputs.jacobians, obs.weights)
    pooled = np.sum(inputs.deltas * u) / np.sum(u * u)
    np.testing.assert_allclose(obs.learning_rates[0], max(0.01, pooled), rtol=1e-6)
    with pytest.raises(ValueError, match="step_sizes"):
        ObserverConfig(step_sizes="each")
    with pytest.raises(ValueError, match="step_sizes"):
        logel.fit(inputs.deltas, inputs.jacobians, step_sizes="each")


def test_shared_step_size_recovers_a_constant_step_learner(grid):
    """The exact-gradient learner with a constant learning rate, observed with true parameters
    and exact Jacobians: the shared step size is that learning rate."""
    trace = _trace(grid, gradient="exact")
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    from logel.irl.observer import exact_inputs

    inputs = exact_inputs(trace, policy, grid.sampling_model, grid.horizon)
    inputs = replace(inputs, learning_rates=None)
    obs = recover(inputs, ObserverConfig(fix_constant_direction=True, step_sizes="shared"))
    np.testing.assert_allclose(obs.learning_rates * np.linalg.norm(obs.weights - obs.weights.mean()),
                               trace.learning_rates * np.linalg.norm(grid.true_weights
                                                                     - grid.true_weights.mean()),
                               rtol=1e-6)
    assert weight_error(obs.weights, grid.true_weights, centre=True) < 1e-8
