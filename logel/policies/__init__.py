"""Policies that expose log-probabilities and per-sample scores in batch."""

from logel.policies.boltzmann import BoltzmannPolicy, sample_actions

__all__ = ["BoltzmannPolicy", "sample_actions"]
