"""Non-gradient learners on the gridworld (paper Sec. 5.2): Q-learning, soft value iteration
(SVI) and soft policy iteration (SPI, the learner LfL assumes).

Each learner keeps its *own* internal state -- a Q table or a policy table -- which is not a
parameter vector of the observer's Boltzmann class. Their traces therefore carry no ``thetas``
and no learning rates: an observer must recover parameters by behavioural cloning. The data
policy of every step is returned beside the trace by :func:`run_tabular_learner`, for diagnosis
only.

All three plan or bootstrap with the gridworld's *planning* model (in the ``paper`` variant it
teleports from the centre cell and pays the current state's reward), while their trajectories
come from the sampler, exactly like the official code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from logel._validation import choice, integer, real
from logel.envs.gridworld import Gridworld, batches_trace, sample_batch
from logel.policies.boltzmann import sample_actions
from logel.tabular import reward_table, soft_bellman_backup, softmax
from logel.traces import LearnerTrace

LearnerName = Literal["qlearning", "svi", "spi"]


@dataclass(frozen=True)
class TabularLearnerConfig:
    """Configuration shared by the Q-learning, SVI and SPI learners."""

    learner: LearnerName = "spi"
    """Which learner: ``"qlearning"``, ``"svi"`` or ``"spi"``."""
    n_updates: int = 15
    """Learning steps; the trace holds ``n_updates + 1`` policies."""
    n_trajectories: int = 50
    """Trajectories sampled per policy (official: 50)."""
    temperature: float = 1.0
    """Boltzmann temperature of the Q-learning and SVI data policies (official: 1)."""
    q_transitions: int = 100
    """Q-learning transitions per learning step (official: 100, from a uniformly random state)."""
    q_step_size: float = 0.1
    """Q-learning step size (official: 0.1)."""
    spi_temperature: float = 0.3
    """Entropy temperature of soft policy iteration (official: 0.3)."""
    spi_sweeps: int = 100
    """Soft policy-evaluation sweeps from a random ``q ~ U[0, 1)`` (official: 100)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.learner, c + "learner", ("qlearning", "svi", "spi"))
        integer(self.n_updates, c + "n_updates", low=1)
        integer(self.n_trajectories, c + "n_trajectories", low=1)
        real(self.temperature, c + "temperature", low=0, low_open=True)
        integer(self.q_transitions, c + "q_transitions", low=1)
        real(self.q_step_size, c + "q_step_size", low=0, high=1)
        real(self.spi_temperature, c + "spi_temperature", low=0, low_open=True)
        integer(self.spi_sweeps, c + "spi_sweeps", low=1)


def qlearning_step(grid: Gridworld, q: np.ndarray, cfg: TabularLearnerConfig,
                    rng: np.random.Generator) -> np.ndarray:
    """Q-learning on the deterministic planning model: one run of ``q_transitions`` steps from a
    uniformly random state, Boltzmann behaviour, reward of the next state, target r + g max Q."""
    model = grid.planning_model
    next_state = model.transitions.argmax(axis=2)  # most likely successor
    reward_next = model.state_features @ grid.true_weights
    q = q.copy()
    s = int(rng.integers(grid.n_states))
    for _ in range(cfg.q_transitions):
        a = int(sample_actions(softmax(q / cfg.temperature, axis=1), np.array([s]), rng)[0])
        s2 = int(next_state[s, a])
        target = reward_next[s2] + grid.gamma * q[s2].max()
        q[s, a] += cfg.q_step_size * (target - q[s, a])
        s = s2
    return q


def soft_evaluation_sweeps(grid: Gridworld, policy: np.ndarray, cfg: TabularLearnerConfig,
                            rng: np.random.Generator) -> np.ndarray:
    """The official SPI evaluation: ``spi_sweeps`` soft Bellman sweeps from a random q."""
    model = grid.planning_model
    r = reward_table(model, grid.true_weights)
    tau = cfg.spi_temperature
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pi = np.where(policy > 0, np.log(policy), 0.0)
    q = rng.random(policy.shape)
    for _ in range(cfg.spi_sweeps):
        v = np.sum(policy * (q - tau * log_pi), axis=1)
        q = r + grid.gamma * model.transitions @ v
    return q


def run_tabular_learner(grid: Gridworld, config: TabularLearnerConfig,
                        rng: np.random.Generator) -> tuple[LearnerTrace, np.ndarray]:
    """Run a Q-learning, SVI or SPI learner.

    Returns:
        ``(trace, policies)``: the trace (no ``thetas``: the learner has none of the observer's
        class) and the ``(K, S, A)`` data policies that generated each batch.
    """
    if config.learner not in ("qlearning", "svi", "spi"):
        raise ValueError(f"unknown learner {config.learner!r}")
    S, A = grid.n_states, grid.n_actions
    q = np.zeros((S, A))
    policy = np.full((S, A), 1.0 / A)
    policies, batches = [], []
    for t in range(config.n_updates + 1):
        if config.learner in ("qlearning", "svi"):
            policy = softmax(q / config.temperature, axis=1)
        policies.append(policy)
        batches.append(sample_batch(grid, policy, config.n_trajectories, rng))
        if t == config.n_updates:
            break
        if config.learner == "qlearning":
            q = qlearning_step(grid, q, config, rng)
        elif config.learner == "svi":
            q = soft_bellman_backup(grid.planning_model, grid.true_weights, q, config.temperature)
        else:
            q_soft = soft_evaluation_sweeps(grid, policy, config, rng)
            policy = softmax(q_soft / config.spi_temperature, axis=1)
    trace = batches_trace(batches, grid.gamma, grid.true_weights,
                          {"learner": config.learner, "config": asdict(config),
                           **grid.describe()})
    return trace, np.stack(policies)
