"""The linear-softmax (Boltzmann) policy on one-hot state-action features (paper Sec. 5.2).

For ``S`` states and ``A`` actions the parameter vector has ``d = S (A - 1)`` entries: the last
action is the *reference action* whose logit is fixed at 0, which removes the softmax's
redundant direction. The logit of action ``a < A - 1`` in state ``s`` is ``theta[(A-1) s + a]``;
on the 5x5 gridworld this is the official 75-parameter class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logel.tabular import softmax


@dataclass(frozen=True)
class BoltzmannPolicy:
    """Tabular Boltzmann policy with a reference action.

    Attributes:
        n_states: number of states ``S``.
        n_actions: number of actions ``A``; the last one is the reference action.
    """

    n_states: int
    n_actions: int

    @property
    def n_params(self) -> int:
        """Dimension ``d = S (A - 1)`` of ``theta``."""
        return self.n_states * (self.n_actions - 1)

    def _check(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}")
        return theta

    def logits(self, theta: np.ndarray) -> np.ndarray:
        """Logits ``(S, A)`` with the reference action's logit fixed at 0."""
        theta = self._check(theta)
        z = np.zeros((self.n_states, self.n_actions))
        z[:, :-1] = theta.reshape(self.n_states, self.n_actions - 1)
        return z

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        """Action probabilities :math:`\\pi_\\theta(a|s)`, shape ``(S, A)``."""
        return softmax(self.logits(theta), axis=1)

    def log_probabilities(self, theta: np.ndarray) -> np.ndarray:
        """:math:`\\log\\pi_\\theta(a|s)`, shape ``(S, A)``."""
        z = self.logits(theta)
        m = z.max(axis=1, keepdims=True)
        return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))

    def log_prob(self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """:math:`\\log\\pi_\\theta(a|s)` for arrays of states and actions of any equal shape."""
        return self.log_probabilities(theta)[states, actions]

    def scores(self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Per-sample scores :math:`\\nabla_\\theta\\log\\pi_\\theta(a|s)`, shape ``(*states.shape, d)``.

        For a one-hot state-action feature class,
        :math:`\\partial\\log\\pi(a|s)/\\partial\\theta_{(s,b)}=\\mathbb 1[a=b]-\\pi(b|s)` for
        ``b < A - 1`` and zero for parameters of other states.
        """
        states = np.asarray(states, dtype=int)
        actions = np.asarray(actions, dtype=int)
        if states.shape != actions.shape:
            raise ValueError(f"states {states.shape} and actions {actions.shape} must match")
        probs = self.probabilities(theta)
        k = self.n_actions - 1
        local = -probs[states, :k]  # (..., A-1)
        onehot = np.eye(self.n_actions)[actions][..., :k]
        local = local + onehot
        out = np.zeros((*states.shape, self.n_params))
        idx = states[..., None] * k + np.arange(k)
        np.put_along_axis(out, idx, local, axis=-1)
        return out

    def parameters_of(self, probabilities: np.ndarray) -> np.ndarray:
        """The parameters of full-support policy tables: every such table *is* a Boltzmann
        policy, with logits relative to the reference action
        :math:`\\theta_{(s,a)}=\\log\\pi(a|s)-\\log\\pi(A-1|s)`.

        Args:
            probabilities: ``(K, S, A)`` action probabilities (zeros are clipped to 1e-300).

        Returns:
            ``(K, d)`` parameters, one row per table.
        """
        probabilities = np.asarray(probabilities, dtype=float)
        if probabilities.ndim != 3 or probabilities.shape[1:] != (self.n_states, self.n_actions):
            raise ValueError(f"probabilities must have shape (K, {self.n_states}, "
                             f"{self.n_actions}), got {probabilities.shape}")
        log_p = np.log(np.clip(probabilities, 1e-300, None))
        return (log_p[:, :, :-1] - log_p[:, :, -1:]).reshape(probabilities.shape[0], -1)

    def probability_jacobian(self, theta: np.ndarray) -> np.ndarray:
        """:math:`\\partial\\pi_\\theta(a|s)/\\partial\\theta`, shape ``(S, A, d)`` (dense)."""
        probs = self.probabilities(theta)
        S, A, k = self.n_states, self.n_actions, self.n_actions - 1
        jac = np.zeros((S, A, self.n_params))
        for b in range(k):
            # d pi(a|s) / d theta_(s,b) = pi(a|s) (1[a=b] - pi(b|s))
            jac[np.arange(S), :, np.arange(S) * k + b] = probs * ((np.arange(A) == b)
                                                                   - probs[:, [b]])
        return jac

    def sample(self, theta: np.ndarray, states: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
        """Sample one action per state in ``states`` using the generator ``rng``."""
        return sample_actions(self.probabilities(theta), states, rng)


def sample_actions(policy: np.ndarray, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample ``a ~ policy[s]`` for every entry of ``states`` (inverse-CDF, vectorised)."""
    cdf = np.cumsum(policy[np.asarray(states, dtype=int)], axis=-1)
    u = rng.random(np.shape(states))[..., None]
    return np.minimum((u > cdf).sum(axis=-1), policy.shape[1] - 1)
