"""Shared fixtures: single-threaded torch, a seeded generator and small random tabular MDPs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from logel.tabular import TabularMDP


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_torch() -> None:
    """Keep torch on one thread so tests are fast and reproducible on shared machines."""
    torch.set_num_threads(1)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed generator for each test (no global seeding anywhere)."""
    return np.random.default_rng(12345)


def make_random_mdp(rng: np.random.Generator, feature_timing: str = "current", *,
                    n_states: int | None = None, n_actions: int | None = None,
                    n_features: int = 3, gamma: float = 0.9) -> TabularMDP:
    """A small random MDP: S in 4..6, A in 2..3, q = 3, Dirichlet rows, random start."""
    S = int(rng.integers(4, 7)) if n_states is None else n_states
    A = int(rng.integers(2, 4)) if n_actions is None else n_actions
    transitions = rng.dirichlet(np.ones(S), size=(S, A))
    features = rng.normal(size=(S, n_features))
    start = rng.dirichlet(np.ones(S))
    return TabularMDP(transitions, features, start, gamma, feature_timing)


@pytest.fixture(scope="session")
def random_mdp():
    """Factory ``random_mdp(rng, feature_timing)`` building a small random MDP.

    Session-scoped (it is stateless), so hypothesis tests may use it.
    """
    return make_random_mdp
