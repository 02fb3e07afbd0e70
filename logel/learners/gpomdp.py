"""The G(PO)MDP learner on the gridworld (paper Sec. 5.2): the one truly gradient-based learner.

At every learning step the learner samples ``n`` trajectories from its Boltzmann policy, forms the
G(PO)MDP gradient of its *scalar* reward (with the Sec. 3.1 baseline) and takes
:math:`\\theta_{t+1}=\\theta_t+\\alpha_t\\hat g_t`. With ``gradient="exact"`` it instead follows
the exact gradient :math:`\\nabla\\psi(\\theta_t)\\omega^L` (the exact-gradient setting).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from logel._validation import choice, integer, real
from logel.envs.gridworld import Gridworld, batches_trace, sample_batch
from logel.estimators import gpomdp_jacobian
from logel.policies.boltzmann import BoltzmannPolicy
from logel.tabular import feature_expectations_jacobian
from logel.traces import LearnerTrace

Schedule = Literal["norm", "lin", "square"]


@dataclass(frozen=True)
class GPOMDPLearnerConfig:
    """Configuration of the G(PO)MDP learner."""

    n_updates: int = 30
    """Number of learning steps; the trace holds ``n_updates + 1`` policies (official: 30)."""
    n_trajectories: int = 50
    """Trajectories sampled per policy, ``n`` (official: 50)."""
    learning_rate: float | Schedule = 0.1
    """A constant step size (official: 0.1), or ``"norm"`` (:math:`1/\\|\\hat g_t\\|`), ``"lin"``
    (:math:`1/(1+t)`), ``"square"`` (:math:`1/(1+t)^2`), with ``t = 0, 1, ...``."""
    baseline_eps: float = 1e-3
    """:math:`\\epsilon_b` of the G(PO)MDP baseline."""
    update_noise: float = 0.0
    """Break the gradient assumption: add isotropic Gaussian noise to every update, with standard
    deviation ``update_noise * ||alpha_t g_t|| / sqrt(d)`` per coordinate (0: the paper's
    learner)."""
    skip_probability: float = 0.0
    """Break the gradient assumption: skip each update with this probability (its recorded step
    size is then 0)."""
    gradient: Literal["estimated", "exact"] = "estimated"
    """``"estimated"``: G(PO)MDP on the sampled batch (the paper's learner); ``"exact"``: the exact
    gradient of the finite-horizon return from s0 (trajectories are still sampled and recorded)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        integer(self.n_updates, c + "n_updates", low=1)
        integer(self.n_trajectories, c + "n_trajectories", low=1)
        if isinstance(self.learning_rate, str):
            choice(self.learning_rate, c + "learning_rate", ("norm", "lin", "square"))
        else:
            real(self.learning_rate, c + "learning_rate", low=0)
        real(self.baseline_eps, c + "baseline_eps", low=0, allow_inf=True)
        real(self.update_noise, c + "update_noise", low=0)
        real(self.skip_probability, c + "skip_probability", low=0, high=1)
        choice(self.gradient, c + "gradient", ("estimated", "exact"))


def step_size(learning_rate: float | Schedule, t: int, gradient: np.ndarray) -> float:
    """The learner's step size :math:`\\alpha_t` for update ``t`` (0-based)."""
    if learning_rate == "norm":
        norm = float(np.linalg.norm(gradient))
        return 1.0 / norm if norm > 0 else 0.0
    if learning_rate == "lin":
        return 1.0 / (1.0 + t)
    if learning_rate == "square":
        return 1.0 / (1.0 + t) ** 2
    if isinstance(learning_rate, str):
        raise ValueError(f"unknown learning-rate schedule {learning_rate!r}")
    return float(learning_rate)


def run_gpomdp_learner(grid: Gridworld, config: GPOMDPLearnerConfig,
                       rng: np.random.Generator) -> LearnerTrace:
    """Run the learner from :math:`\\theta_1=0` and record everything in a :class:`LearnerTrace`."""
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    omega = grid.true_weights
    gamma = grid.gamma
    theta = np.zeros(policy.n_params)
    thetas, alphas, batches = [], [], []
    for t in range(config.n_updates + 1):
        probs = policy.probabilities(theta)
        batch = sample_batch(grid, probs, config.n_trajectories, rng)
        thetas.append(theta)
        batches.append(batch)
        if t == config.n_updates:
            break
        if config.gradient == "exact":
            jac = feature_expectations_jacobian(grid.sampling_model, probs,
                                                policy.probability_jacobian(theta), grid.horizon)
            grad = jac @ omega
        else:
            scores = policy.scores(theta, batch.states, batch.actions)
            rewards = (batch.features @ omega)[..., None]
            grad = gpomdp_jacobian(scores, rewards, gamma, config.baseline_eps)[:, 0]
        alpha = step_size(config.learning_rate, t, grad)
        update = alpha * grad
        if config.update_noise > 0:
            scale = config.update_noise * np.linalg.norm(update) / np.sqrt(update.size)
            update = update + scale * rng.standard_normal(update.size)
        if config.skip_probability > 0 and rng.random() < config.skip_probability:
            alpha, update = 0.0, np.zeros_like(update)
        alphas.append(alpha)
        theta = theta + update
    return batches_trace(
        batches, gamma, omega,
        {"learner": "gpomdp", "config": asdict(config), **grid.describe()},
        thetas=np.stack(thetas), learning_rates=np.asarray(alphas),
    )
