"""Learning from a Learner (LfL, Jacq et al. 2019), tabular trajectory version: the baseline.

LfL assumes the learner performs *soft policy improvement*,
:math:`\\pi_{k+1}\\propto\\exp(q^{\\pi_k}_{soft}/\\alpha)`. Inverting one improvement step gives a
target equal to the true reward up to potential-based shaping
(``reference-code-notes.md`` Sec. 1.2):

.. math::
    T_k(s,a)=\\alpha\\log\\pi_{k+1}(a|s)+\\alpha\\gamma\\sum_{s'}P(s'|s,a)\\,
    \\mathrm{KL}\\big(\\pi_k(\\cdot|s')\\,\\|\\,\\pi_{k+1}(\\cdot|s')\\big)
    = r(s,a)-\\Phi_k(s)+\\gamma\\,\\mathbb E_{s'}\\Phi_k(s').

One reward :math:`R(s,a)` and one shaping potential :math:`f_k(s)` per pair are then fitted by

.. math:: \\min\\sum_k\\sum_{s,a}\\big(R(s,a)+f_k(s)-\\gamma\\textstyle\\sum_{s'}\\hat P(s'|s,a)
    f_k(s')-T_k(s,a)\\big)^2 .

The observer sees trajectories only: :math:`\\hat P` comes from transition counts and the
policies :math:`\\hat\\pi_k` from behavioural cloning. Official choices (``trajectory_spi.py``)
are the defaults: counts from the first step only, per-step BC from random logits (10 Adam
steps, lr 0.5, entropy 0.01), :math:`\\alpha_{model}=0.7`. The official reward fit runs 200 Adam
steps of size 1; this least-squares problem is linear, so by default we solve it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from logel._validation import boolean, choice, instance, real
from logel.irl.bc import BCConfig, clone_policies
from logel.policies.boltzmann import BoltzmannPolicy
from logel.traces import LearnerTrace

OFFICIAL_LFL_BC = BCConfig(method="adam", adam_steps=10, adam_lr=0.5, entropy_coef=0.01)


@dataclass(frozen=True)
class LfLConfig:
    """Options of the tabular LfL observer."""

    temperature: float = 0.7
    """:math:`\\alpha_{model}`, the entropy temperature LfL assumes (official script: 0.7,
    while the SPI learner uses 0.3)."""
    model_steps: Literal["first", "all"] = "first"
    """Transition counts from the first step's data only (official) or from every step."""
    bc: BCConfig = field(default_factory=lambda: OFFICIAL_LFL_BC)
    """How each step's policy is cloned."""
    bc_random_init: bool = True
    """Start each step's BC from random logits ``U[0, 1)`` (official) instead of zeros."""
    bc_warm_start: bool = False
    """Warm-start step ``k + 1``'s BC from step ``k`` (the official script clones each step
    independently)."""
    reward_solver: Literal["lstsq", "adam"] = "lstsq"
    """Exact least squares, or the official 200 Adam steps of size 1."""
    smoothing: float = 1e-15
    """Pseudo-count of every successor state (official: 1e-15, so unseen pairs are uniform)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        real(self.temperature, c + "temperature", low=0, low_open=True)
        choice(self.model_steps, c + "model_steps", ("first", "all"))
        instance(self.bc, c + "bc", BCConfig)
        boolean(self.bc_random_init, c + "bc_random_init")
        boolean(self.bc_warm_start, c + "bc_warm_start")
        choice(self.reward_solver, c + "reward_solver", ("lstsq", "adam"))
        real(self.smoothing, c + "smoothing", low=0)


@dataclass(frozen=True)
class LfLResult:
    """Output of :func:`lfl_reward`.

    Attributes:
        reward: ``(S, A)`` recovered reward :math:`R(s,a)`.
        potentials: ``(K - 1, S)`` shaping potentials :math:`f_k`.
        policies: ``(K, S, A)`` cloned policies :math:`\\hat\\pi_k`.
        transitions: ``(S, A, S)`` estimated model :math:`\\hat P`.
        residual: root-mean-square residual of the shaping fit.
    """

    reward: np.ndarray
    potentials: np.ndarray
    policies: np.ndarray
    transitions: np.ndarray
    residual: float


def estimate_transitions(trace: LearnerTrace, n_states: int, n_actions: int, steps: slice,
                         continuous_batches: bool, smoothing: float = 1e-15) -> np.ndarray:
    """``(S, A, S)`` transition model from the counts of observed ``(s, a, s')`` triples.

    Within a trajectory, ``s'`` is the next recorded state; when ``continuous_batches`` (the
    ``paper`` variant, whose segments form one run) the first state of segment ``i + 1`` follows
    the last step of segment ``i``.
    """
    counts = np.full((n_states, n_actions, n_states), smoothing)
    for s_k, a_k in zip(trace.states[steps], trace.actions[steps], strict=True):
        s, a = s_k.astype(int), a_k.astype(int)
        src, act, dst = s[:, :-1].ravel(), a[:, :-1].ravel(), s[:, 1:].ravel()
        if continuous_batches:
            src = np.concatenate([src, s[:-1, -1]])
            act = np.concatenate([act, a[:-1, -1]])
            dst = np.concatenate([dst, s[1:, 0]])
        np.add.at(counts, (src, act, dst), 1.0)
    return counts / counts.sum(axis=2, keepdims=True)


def inversion_targets(policies: np.ndarray, transitions: np.ndarray, gamma: float,
                      temperature: float) -> np.ndarray:
    """:math:`T_k(s,a)` for consecutive pairs ``(pi_k, pi_{k+1})``, shape ``(K - 1, S, A)``."""
    logp = np.log(np.clip(policies, 1e-300, None))
    kl = np.sum(policies[:-1] * (logp[:-1] - logp[1:]), axis=2)  # (K-1, S): KL(pi_k || pi_k+1)
    expected_kl = np.einsum("sat,kt->ksa", transitions, kl)
    return temperature * (logp[1:] + gamma * expected_kl)


def fit_shaped_reward(targets: np.ndarray, transitions: np.ndarray, gamma: float,
                      solver: Literal["lstsq", "adam"] = "lstsq",
                      rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit one reward ``(S, A)`` and one potential per pair ``(K-1, S)`` to the targets."""
    n_pairs, S, A = targets.shape
    if solver == "lstsq":
        # unknowns: R (S*A) then f_k (S each); rows: (k, s, a)
        design = np.zeros((n_pairs, S, A, S * A + n_pairs * S))
        design[:, np.arange(S)[:, None], np.arange(A)[None, :],
               np.arange(S * A).reshape(S, A)] = 1.0
        for k in range(n_pairs):
            cols = slice(S * A + k * S, S * A + (k + 1) * S)
            design[k, :, :, cols] -= gamma * transitions
            design[k, np.arange(S), :, S * A + k * S + np.arange(S)] += 1.0
        X = design.reshape(n_pairs * S * A, -1)
        sol, *_ = np.linalg.lstsq(X, targets.ravel(), rcond=None)
        reward, potentials = sol[: S * A].reshape(S, A), sol[S * A:].reshape(n_pairs, S)
    elif solver == "adam":
        reward, potentials = np.zeros((S, A)), np.zeros((n_pairs, S))
        params = [reward, potentials]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        for it in range(1, 201):
            resid = _shaping_residual(reward, potentials, targets, transitions, gamma)
            g_reward = 2 * resid.sum(axis=0)
            g_pot = 2 * (resid.sum(axis=2) - gamma * np.einsum("ksa,sat->kt", resid, transitions))
            for p, g, mm, vv in zip(params, (g_reward, g_pot), m, v, strict=True):
                mm *= 0.9
                mm += 0.1 * g
                vv *= 0.999
                vv += 0.001 * g * g
                p -= 1.0 * (mm / (1 - 0.9**it)) / (np.sqrt(vv / (1 - 0.999**it)) + 1e-8)
    else:
        raise ValueError(f"unknown reward solver {solver!r}")
    resid = _shaping_residual(reward, potentials, targets, transitions, gamma)
    return reward, potentials, float(np.sqrt(np.mean(resid**2)))


def _shaping_residual(reward: np.ndarray, potentials: np.ndarray, targets: np.ndarray,
                      transitions: np.ndarray, gamma: float) -> np.ndarray:
    next_potential = np.einsum("sat,kt->ksa", transitions, potentials)
    return reward[None] + potentials[:, :, None] - gamma * next_potential - targets


def lfl_reward(trace: LearnerTrace, n_states: int, n_actions: int, config: LfLConfig,
               rng: np.random.Generator) -> LfLResult:
    """Recover a reward table from a learner's trajectories with LfL.

    Args:
        trace: ``K >= 2`` consecutive policies' trajectories (tabular states/actions).
        n_states, n_actions: sizes of the tabular MDP.
        config: LfL options.
        rng: randomness of the BC initialisation.
    """
    K = trace.n_policies
    if K < 2:
        raise ValueError("LfL needs at least two consecutive policies (K >= 2)")
    policy_class = BoltzmannPolicy(n_states, n_actions)
    continuous = trace.metadata.get("variant") == "paper"
    steps = slice(0, 1) if config.model_steps == "first" else slice(0, K)
    P_hat = estimate_transitions(trace, n_states, n_actions, steps, continuous,
                                 config.smoothing)
    thetas = []
    previous = None
    for k in range(K):
        if config.bc_warm_start and previous is not None:
            init = previous
        elif config.bc_random_init:
            logits = rng.random((n_states, n_actions))
            init = (logits[:, :-1] - logits[:, -1:]).ravel()
        else:
            init = np.zeros(policy_class.n_params)
        previous = clone_policies(policy_class, trace.states[k:k + 1], trace.actions[k:k + 1],
                                  config.bc, theta_init=init)[0]
        thetas.append(previous)
    policies = np.stack([policy_class.probabilities(th) for th in thetas])
    targets = inversion_targets(policies, P_hat, trace.gamma, config.temperature)
    reward, potentials, residual = fit_shaped_reward(targets, P_hat, trace.gamma,
                                                     config.reward_solver, rng)
    return LfLResult(reward, potentials, policies, P_hat, residual)
