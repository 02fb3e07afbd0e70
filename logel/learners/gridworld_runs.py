"""One entry point for the four gridworld learners of the paper (Sec. 5.2).

:func:`run_gridworld_learner` runs G(PO)MDP (:mod:`logel.learners.gpomdp`) or Q-learning, soft
value iteration or soft policy iteration (:mod:`logel.learners.tabular_learners`) for a number
of updates and returns its :class:`~logel.traces.LearnerTrace` together with the learner's
policies as parameters of the observer's Boltzmann class: G(PO)MDP's own parameters, or, for the
tabular learners, the logits of each data policy
(:meth:`logel.policies.boltzmann.BoltzmannPolicy.parameters_of`). An observer never sees those
parameters of a tabular learner; experiments use them as an oracle.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from logel.envs.gridworld import Gridworld
from logel.learners.gpomdp import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.learners.tabular_learners import TabularLearnerConfig, run_tabular_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.traces import LearnerTrace

LearnerKind = Literal["gpomdp", "qlearning", "svi", "spi"]
"""The four gridworld learners."""
LEARNERS: tuple[LearnerKind, ...] = ("gpomdp", "qlearning", "svi", "spi")


def run_gridworld_learner(learner: LearnerKind, grid: Gridworld, n_updates: int,
                          n_trajectories: int, rng: np.random.Generator, *,
                          gpomdp: GPOMDPLearnerConfig | None = None,
                          tabular: TabularLearnerConfig | None = None
                          ) -> tuple[LearnerTrace, np.ndarray]:
    """Run one of the four gridworld learners.

    Args:
        learner: ``"gpomdp"``, ``"qlearning"``, ``"svi"`` or ``"spi"``.
        grid: the gridworld.
        n_updates: learning steps (the trace holds ``n_updates + 1`` policies).
        n_trajectories: trajectories sampled per policy.
        rng: the only source of randomness.
        gpomdp: the G(PO)MDP learner's other options (default: the official ones;
            ``n_updates`` and ``n_trajectories`` are overridden).
        tabular: the tabular learners' other options (default: the official ones; ``learner``,
            ``n_updates`` and ``n_trajectories`` are overridden).

    Returns:
        ``(trace, thetas)``: the learner's trace and its ``(n_updates + 1, d)`` policies as
        Boltzmann parameters.
    """
    if learner not in LEARNERS:
        raise ValueError(f"learner must be one of {LEARNERS}, got {learner!r}")
    if learner == "gpomdp":
        trace = run_gpomdp_learner(grid, replace(gpomdp or GPOMDPLearnerConfig(),
                                                 n_updates=n_updates,
                                                 n_trajectories=n_trajectories), rng)
        assert trace.thetas is not None
        return trace, trace.thetas
    trace, policies = run_tabular_learner(
        grid, replace(tabular or TabularLearnerConfig(), learner=learner, n_updates=n_updates,
                      n_trajectories=n_trajectories), rng)
    return trace, BoltzmannPolicy(grid.n_states, grid.n_actions).parameters_of(policies)


__all__ = ["LEARNERS", "LearnerKind", "run_gridworld_learner"]
