"""A softmax over actions that ignores the state: a deliberately poor policy class.

:math:`\\pi_\\theta(a|s)=\\mathrm{softmax}(z)_a` with :math:`z=[\\theta,0]` has ``d = A - 1``
parameters, so on the gridworld ``m d < q`` is possible and the identifiability condition of the
stacked Jacobians can bite (book chapter "Is watching worth it?"). It offers the same batch
methods as :class:`logel.policies.boltzmann.BoltzmannPolicy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logel.tabular import softmax


@dataclass(frozen=True)
class SharedLogitPolicy:
    """A softmax over actions that ignores the state: :math:`\\pi_\\theta(a|s)=\\mathrm{softmax}
    (z)_a` with :math:`z=[\\theta,0]`, ``d = A - 1`` parameters (a deliberately poor class in
    which ``m d < q`` is possible on the gridworld)."""

    n_states: int
    n_actions: int

    @property
    def n_params(self) -> int:
        """``d = A - 1``."""
        return self.n_actions - 1

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        """``(S, A)`` action probabilities (the same row in every state)."""
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}")
        row = softmax(np.append(theta, 0.0))
        return np.tile(row, (self.n_states, 1))

    def probability_jacobian(self, theta: np.ndarray) -> np.ndarray:
        """``(S, A, d)`` derivatives :math:`\\partial\\pi(a|s)/\\partial\\theta_k=\\pi_a
        (\\mathbb 1[a=k]-\\pi_k)`."""
        p = self.probabilities(theta)[0]
        jac = p[:, None] * (np.eye(self.n_actions)[:, :-1] - p[None, :-1])
        return np.broadcast_to(jac, (self.n_states, *jac.shape)).copy()

    def scores(self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Per-sample scores :math:`\\nabla_\\theta\\log\\pi(a|s)=e_a-\\pi` (first ``d``
        entries), shape ``(*states.shape, d)``."""
        p = self.probabilities(theta)[0]
        onehot = np.eye(self.n_actions)[np.asarray(actions, dtype=int)][..., :-1]
        return onehot - p[:-1]
