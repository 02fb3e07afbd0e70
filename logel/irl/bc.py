"""Behavioural cloning of a sequence of tabular Boltzmann policies (paper Sec. 4.2).

The observer of the realistic setting sees only trajectories. For each policy ``t = 1..K`` it
estimates :math:`\\hat\\theta_t` by maximum likelihood, warm-started at :math:`\\hat\\theta_{t-1}`:

``method="proximal"`` (our default)
    exact minimisation (L-BFGS) of
    :math:`-\\sum_{(s,a)\\in\\mathcal D_t}[\\log\\pi_\\theta(a|s)+c_{ent}\\mathcal H(\\pi_\\theta(\\cdot|s))]
    +\\frac\\lambda2\\|\\theta-\\hat\\theta_{t-1}\\|^2`. The proximal term makes the warm start an
    explicit regulariser, so states never visited at step ``t`` keep their previous logits
    instead of drifting, and the problem is strongly convex for ``c_ent = 0``.
``method="smoothed"``
    one joint maximum-likelihood problem over all ``K`` policies with the smoothness penalty
    :math:`\\frac{\\lambda_s}2\\sum_t\\|\\theta_{t+1}-\\theta_t\\|^2` (plus
    :math:`\\frac{\\lambda}2\\|\\theta_1-\\theta_{init}\\|^2`): every estimate sees the data of its
    neighbours, which denoises the differences :math:`\\hat\\Delta_t` that LOGEL inverts. It uses
    data from later steps, so it suits an observer that analyses a finished run.
``method="adam"`` (the official code)
    a fresh Adam optimiser per step, ``adam_steps`` full-batch steps of size ``adam_lr`` on the
    same loss without the proximal term (official: 3 steps, lr 0.5, ``c_ent = 0.01``).

The likelihood depends on the data only through the visit counts :math:`C_t(s,a)`, so both work
on counts and cost microseconds per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize

from logel._validation import choice, integer, real
from logel.policies.boltzmann import BoltzmannPolicy


@dataclass(frozen=True)
class BCConfig:
    """Behavioural-cloning options."""

    method: Literal["proximal", "smoothed", "adam"] = "proximal"
    """``"proximal"``: exact per-step proximal MLE; ``"smoothed"``: joint MLE with a smoothness
    penalty; ``"adam"``: the official few-step Adam."""
    proximal_weight: float = 1.0
    """:math:`\\lambda` of the proximal term :math:`\\frac\\lambda2\\|\\theta-\\hat\\theta_{t-1}\\|^2`
    (``"proximal"`` only); the loss sums over all ``N T`` samples of a step."""
    smoothness_weight: float = 3.0
    r""":math:`\lambda_s` of the joint smoothness penalty (``"smoothed"`` only)."""
    entropy_coef: float = 0.0
    """:math:`c_{ent}`, weight of the per-sample policy entropy bonus (official: 0.01)."""
    adam_lr: float = 0.5
    """Adam step size (``"adam"`` only; official 0.5)."""
    adam_steps: int = 3
    """Full-batch Adam steps per learning step (``"adam"`` only; official 3)."""
    max_iter: int = 500
    """L-BFGS iteration cap per step (``"proximal"`` only)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.method, c + "method", ("proximal", "smoothed", "adam"))
        for name in ("proximal_weight", "smoothness_weight", "entropy_coef", "adam_lr"):
            real(getattr(self, name), c + name, low=0)
        integer(self.adam_steps, c + "adam_steps", low=1)
        integer(self.max_iter, c + "max_iter", low=1)


def visit_counts(states: np.ndarray, actions: np.ndarray, n_states: int,
                 n_actions: int) -> np.ndarray:
    """``(S, A)`` counts of state-action pairs in arrays of any (equal) shape."""
    idx = np.asarray(states, dtype=int).ravel() * n_actions + np.asarray(actions, dtype=int).ravel()
    return np.bincount(idx, minlength=n_states * n_actions).reshape(n_states, n_actions).astype(float)


def bc_loss_and_grad(policy: BoltzmannPolicy, theta: np.ndarray, counts: np.ndarray,
                     entropy_coef: float = 0.0) -> tuple[float, np.ndarray]:
    """Negative log-likelihood minus entropy bonus, and its gradient in ``theta``.

    :math:`\\ell(\\theta)=-\\sum_{s,a}C(s,a)\\log\\pi_\\theta(a|s)-c_{ent}\\sum_sC(s)\\mathcal H_s`.
    """
    logp = policy.log_probabilities(theta)
    probs = np.exp(logp)
    n_s = counts.sum(axis=1)
    loss = -np.sum(counts * logp)
    grad_logits = -(counts - n_s[:, None] * probs)  # d(-sum C log pi)/dz
    if entropy_coef:
        H = -np.sum(probs * logp, axis=1)
        loss -= entropy_coef * np.sum(n_s * H)
        grad_logits -= entropy_coef * n_s[:, None] * (-probs * (logp + H[:, None]))
    return float(loss), grad_logits[:, :-1].ravel()


def _proximal_step(policy: BoltzmannPolicy, counts: np.ndarray, anchor: np.ndarray,
                   config: BCConfig) -> np.ndarray:
    lam = config.proximal_weight

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = bc_loss_and_grad(policy, theta, counts, config.entropy_coef)
        diff = theta - anchor
        return loss + 0.5 * lam * diff @ diff, grad + lam * diff

    res = minimize(fun, anchor, jac=True, method="L-BFGS-B",
                   options={"maxiter": config.max_iter, "gtol": 1e-9, "ftol": 1e-15})
    return res.x


def _adam_step(policy: BoltzmannPolicy, counts: np.ndarray, start: np.ndarray,
               config: BCConfig) -> np.ndarray:
    theta = start.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for k in range(1, config.adam_steps + 1):
        _, g = bc_loss_and_grad(policy, theta, counts, config.entropy_coef)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - config.adam_lr * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + eps)
    return theta


def clone_policies(policy: BoltzmannPolicy, states: np.ndarray, actions: np.ndarray,
                   config: BCConfig = BCConfig(), theta_init: np.ndarray | None = None
                   ) -> np.ndarray:
    """Behaviour-clone ``K`` consecutive policies, warm-starting each from the previous one.

    Args:
        policy: the observer's policy class.
        states: ``(K, N, T)`` states visited by each policy.
        actions: ``(K, N, T)`` actions taken.
        config: the BC options.
        theta_init: warm start and proximal anchor of the first step (default zeros, the
            uniform policy).

    Returns:
        ``(K, d)`` estimates :math:`\\hat\\theta_1..\\hat\\theta_K`.
    """
    states = np.asarray(states)
    actions = np.asarray(actions)
    if states.shape != actions.shape or states.ndim < 2:
        raise ValueError(f"states and actions must both have shape (K, N, T); got {states.shape} "
                         f"and {actions.shape}")
    theta = (np.zeros(policy.n_params) if theta_init is None
             else np.asarray(theta_init, dtype=float).copy())
    if config.method not in ("proximal", "smoothed", "adam"):
        raise ValueError(f"unknown BC method {config.method!r}")
    counts = np.stack([visit_counts(s, a, policy.n_states, policy.n_actions)
                       for s, a in zip(states, actions, strict=True)])
    if config.method == "smoothed":
        return clone_smoothed(policy, counts, theta, config)
    step = _proximal_step if config.method == "proximal" else _adam_step
    out = np.empty((states.shape[0], policy.n_params))
    for k in range(states.shape[0]):
        theta = step(policy, counts[k], theta, config)
        out[k] = theta
    return out


def clone_smoothed(policy: BoltzmannPolicy, counts: np.ndarray, anchor: np.ndarray,
                   config: BCConfig) -> np.ndarray:
    """The ``"smoothed"`` behavioural cloning: all ``K`` policies at once, minimising the sum of
    their cloning losses plus ``proximal_weight / 2`` times the squared distance of the first to
    ``anchor`` and ``smoothness_weight / 2`` times the squared differences of consecutive ones
    (L-BFGS-B).

    Args:
        policy: the Boltzmann class.
        counts: ``(K, S, A)`` state-action visit counts per policy.
        anchor: ``(d,)`` the first policy's proximal anchor and everyone's starting point.
        config: the BC options.

    Returns:
        ``(K, d)`` estimates :math:`\\hat\\theta_1..\\hat\\theta_K`.
    """
    K, d = counts.shape[0], policy.n_params
    lam, lam_s = config.proximal_weight, config.smoothness_weight

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        thetas = flat.reshape(K, d)
        total, grad = 0.0, np.empty_like(thetas)
        for k in range(K):
            loss_k, grad[k] = bc_loss_and_grad(policy, thetas[k], counts[k], config.entropy_coef)
            total += loss_k
        first = thetas[0] - anchor
        total += 0.5 * lam * first @ first
        grad[0] += lam * first
        diffs = np.diff(thetas, axis=0)
        total += 0.5 * lam_s * np.sum(diffs * diffs)
        grad[1:] += lam_s * diffs
        grad[:-1] -= lam_s * diffs
        return total, grad.ravel()

    res = minimize(fun, np.tile(anchor, K), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20 * config.max_iter, "gtol": 1e-9, "ftol": 1e-15})
    return res.x.reshape(K, d)
