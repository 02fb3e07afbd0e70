"""Policies that expose log-probabilities and per-sample scores in batch."""

from logel.policies.boltzmann import BoltzmannPolicy, sample_actions
from logel.policies.shared_logit import SharedLogitPolicy

__all__ = ["BoltzmannPolicy", "SharedLogitPolicy", "sample_actions"]
