"""Learners: each runs on an environment and emits a :class:`logel.traces.LearnerTrace`."""

from logel.learners.gpomdp import GPOMDPLearnerConfig, run_gpomdp_learner, step_size

__all__ = ["GPOMDPLearnerConfig", "run_gpomdp_learner", "step_size"]
