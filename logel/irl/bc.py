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

from logel._validation import as_array, choice, integer, real
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


# ------------------------------------------------------------------ cloning noise (Laplace)


def cloning_fisher(policy: BoltzmannPolicy, theta: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-state blocks of the Hessian of the cloning negative log-likelihood.

    For :math:`\\ell(\\theta)=-\\sum_{s,a}C(s,a)\\log\\pi_\\theta(a|s)` and the reference-action
    Boltzmann class, the Hessian is block-diagonal over states, with block
    :math:`F_s=C(s)\\big(\\mathrm{diag}(p_s)-p_sp_s^\\top\\big)` on the state's ``A - 1`` free
    logits (:math:`p_s` their probabilities, :math:`C(s)` the state's visits). It does not
    depend on which actions were taken, so it is also the Fisher information of the ``C(s)``
    draws. The entropy bonus of :class:`BCConfig` is not part of the likelihood and is left out.

    Args:
        policy: the Boltzmann class.
        theta: ``(d,)`` parameters, e.g. the cloned :math:`\\hat\\theta_t`.
        counts: ``(S, A)`` state-action visit counts (:func:`visit_counts`).

    Returns:
        ``(S, A - 1, A - 1)`` blocks :math:`F_s` (positive semi-definite; zero for a state
        never visited).
    """
    counts = np.asarray(counts, dtype=float)
    if counts.shape != (policy.n_states, policy.n_actions):
        raise ValueError(f"counts must have shape (S, A) = ({policy.n_states}, "
                         f"{policy.n_actions}), got {counts.shape}")
    if not np.all(np.isfinite(counts)) or (counts < 0).any():
        raise ValueError("counts must be finite and non-negative")
    p = policy.probabilities(theta)[:, :-1]
    n_s = counts.sum(axis=1)
    k = policy.n_actions - 1
    return n_s[:, None, None] * (p[:, :, None] * np.eye(k) - p[:, :, None] * p[:, None, :])


def delta_covariances(policy: BoltzmannPolicy, thetas: np.ndarray, counts: np.ndarray,
                      config: BCConfig = BCConfig(), ridge: float = 0.0) -> np.ndarray:
    """Laplace covariances of the cloned steps :math:`\\hat\\Delta_t=\\hat\\theta_{t+1}-\\hat\\theta_t`.

    The Laplace approximation treats the cloning objective as a negative log-posterior and
    :math:`\\hat\\theta` as Gaussian around its minimum with covariance the inverse Hessian
    :math:`H^{-1}` there (likelihood part: :func:`cloning_fisher`; the entropy bonus is left
    out):

    ``"smoothed"``
        one joint Hessian over the ``K`` policies,
        :math:`H=\\mathrm{blkdiag}(F_1,\\dots,F_K)+\\lambda\\,e_1e_1^\\top\\otimes I
        +\\lambda_s\\,L_K\\otimes I` (:math:`L_K` the path graph's Laplacian of the smoothness
        penalty), so the steps' covariances include the cross terms,
        :math:`\\mathrm{Cov}(\\hat\\Delta_t)=\\Sigma_{t+1,t+1}+\\Sigma_{t,t}-\\Sigma_{t+1,t}
        -\\Sigma_{t,t+1}` with :math:`\\Sigma=H^{-1}`;
    ``"proximal"`` and ``"adam"``
        one Hessian per policy, :math:`H_t=F_t+\\lambda I` (``"proximal"``, the anchor
        :math:`\\hat\\theta_{t-1}` held fixed) or :math:`H_t=F_t` (``"adam"``), the policies
        treated as independent: :math:`\\mathrm{Cov}(\\hat\\Delta_t)\\approx H_{t+1}^{-1}+H_t^{-1}`.

    ``ridge`` is added to every diagonal. Null directions: the reference-action parametrisation
    has none (adding a constant to a state's logits is already removed by fixing the reference
    action's logit), so :math:`F_s` is positive definite for every visited state; a state never
    visited has :math:`F_s=0`, and only the proximal and smoothness terms (or ``ridge``)
    determine it -- its steps then get the large prior variance and, in the weighted fit of
    :func:`logel.irl.logel.fit_gls`, little weight. If nothing determines it (``"adam"``, or
    zero weights, with ``ridge=0``) the Hessian is singular and this raises. Every block is
    computed per state (the Hessian is block-diagonal over states), so the cost is
    ``S`` inversions of ``(K (A - 1))``-square matrices.

    Args:
        policy: the Boltzmann class.
        thetas: ``(K, d)`` cloned parameters :math:`\\hat\\theta_1..\\hat\\theta_K`, ``K >= 2``.
        counts: ``(K, S, A)`` state-action visit counts of each policy's data.
        config: the cloning options that produced ``thetas``.
        ridge: non-negative extra diagonal of the Hessians.

    Returns:
        ``(K - 1, d, d)`` covariances of :math:`\\hat\\Delta_1..\\hat\\Delta_{K-1}`
        (block-diagonal over states).

    Raises:
        ValueError: on shapes that do not match ``policy``, ``K < 2``, negative or non-finite
            counts or ``ridge``, or a singular Hessian.
    """
    S, A, d = policy.n_states, policy.n_actions, policy.n_params
    th = as_array(thetas, "thetas", ndim=2, shape_doc=f"(K, {d})")
    C = as_array(counts, "counts", ndim=3, shape_doc=f"(K, {S}, {A})")
    K = th.shape[0]
    if th.shape[1] != d or C.shape != (K, S, A):
        raise ValueError(f"thetas (K, d) and counts (K, S, A) must match the policy class "
                         f"(d = {d}, S = {S}, A = {A}) and each other, got {th.shape} and "
                         f"{C.shape}")
    if K < 2:
        raise ValueError(f"delta_covariances needs at least two policies (K >= 2), got {K}")
    ridge = real(ridge, "ridge", low=0.0)
    k = A - 1
    F = np.stack([cloning_fisher(policy, th[t], C[t]) for t in range(K)])  # (K, S, k, k)
    eye = np.eye(k)
    if config.method == "smoothed":
        lam, lam_s = config.proximal_weight, config.smoothness_weight
        # the path graph's Laplacian (K >= 2): diagonal 1, 2, ..., 2, 1; off-diagonals -1
        prior = lam_s * (np.diag(np.r_[1.0, 2.0 * np.ones(K - 2), 1.0])
                         - np.eye(K, k=1) - np.eye(K, k=-1))
        prior[0, 0] += lam
        prior += ridge * np.eye(K)
        H = np.zeros((S, K, k, K, k))
        H += np.einsum("uv,ij->uivj", prior, eye)[None]
        idx = np.arange(K)
        H[:, idx, :, idx, :] += F  # (K, S, k, k) on the diagonal blocks
        H = H.reshape(S, K * k, K * k)
        sigma = _inverse(H).reshape(S, K, k, K, k)
        t = np.arange(K - 1)
        blocks = (sigma[:, t + 1, :, t + 1, :] + sigma[:, t, :, t, :]
                  - sigma[:, t + 1, :, t, :] - sigma[:, t, :, t + 1, :])  # (K-1, S, k, k)
    else:
        lam = config.proximal_weight if config.method == "proximal" else 0.0
        inv = _inverse(F + (lam + ridge) * eye)  # (K, S, k, k)
        blocks = inv[1:] + inv[:-1]
    blocks = 0.5 * (blocks + np.swapaxes(blocks, -1, -2))
    out = np.zeros((K - 1, d, d))
    for s in range(S):
        out[:, s * k:(s + 1) * k, s * k:(s + 1) * k] = blocks[:, s]
    return out


def _inverse(H: np.ndarray) -> np.ndarray:
    """Batched inverse of symmetric Hessians, raising a named error when one is singular."""
    w = np.linalg.eigvalsh(H)
    if not (w.min(axis=-1) > 1e-12 * np.maximum(w.max(axis=-1), 1e-300)).all():
        raise ValueError("delta_covariances: the cloning Hessian is singular (a state never "
                         "visited, and no proximal or smoothness term determines its logits); "
                         "pass ridge > 0")
    return np.linalg.inv(H)


def clone_counts(policy: BoltzmannPolicy, counts: np.ndarray, anchor: np.ndarray | None = None,
                 config: BCConfig = BCConfig()) -> np.ndarray:
    """One policy cloned from its visit counts by the ``"proximal"`` cloning's exact step:
    the minimiser of the cloning loss (:func:`bc_loss_and_grad`) plus
    :math:`\\frac\\lambda2\\|\\theta-\\theta_{anchor}\\|^2` (``config.proximal_weight``), i.e. the
    maximum a-posteriori policy under a Gaussian prior centred at ``anchor`` (default zeros,
    the uniform policy). The prior keeps the logits of a nearly deterministic policy finite.

    Args:
        policy: the Boltzmann class.
        counts: ``(S, A)`` state-action visit counts (:func:`visit_counts`).
        anchor: ``(d,)`` the prior's centre and the starting point (default zeros).
        config: the cloning options (``proximal_weight``, ``entropy_coef``, ``max_iter``).

    Returns:
        ``(d,)`` the cloned parameters.
    """
    S, A = policy.n_states, policy.n_actions
    c = as_array(counts, "counts", ndim=2, shape_doc=f"({S}, {A})")
    if c.shape != (S, A) or (c < 0).any():
        raise ValueError(f"counts must be non-negative of shape ({S}, {A}), got {c.shape}")
    start = (np.zeros(policy.n_params) if anchor is None
             else as_array(anchor, "anchor", ndim=1, shape_doc=f"({policy.n_params},)"))
    return _proximal_step(policy, c, start, config)
