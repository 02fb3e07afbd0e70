"""Maximum-causal-entropy IRL (MCE-IRL) on a known tabular model: a *final-behaviour* baseline.

MCE-IRL {Ziebart, Bagnell and Dey 2010; Ziebart's 2010 thesis} sees demonstrations of one
policy, not of a learning process. It models the demonstrator as the maximum-causal-entropy
policy that matches the demonstrations' feature expectations, which is the *soft-optimal*
policy of a linear reward :math:`\\omega^\\top\\phi`; :math:`\\omega` is the maximiser of the
(concave) dual, i.e. the causal log-likelihood of the demonstrations. We use its discounted,
finite-horizon form, which matches how our trajectories are recorded (``T`` steps, discount
:math:`\\gamma`, per-step features :math:`\\phi_t`):

1. *Soft value iteration* (the "softened" Bellman backup), backwards from :math:`V_T=0`:

   .. math:: Q_t(s,a)=\\Phi(s,a)^\\top\\omega+\\gamma\\sum_{s'}P(s'|s,a)V_{t+1}(s'),\\qquad
       V_t(s)=\\log\\sum_a e^{Q_t(s,a)},\\qquad \\pi_t(a|s)=e^{Q_t(s,a)-V_t(s)} .

2. *Occupancy measures*, forward from the start distribution :math:`\\mu_0`:
   :math:`d_0=\\mu_0`, :math:`d_{t+1}(s')=\\sum_{s,a}d_t(s)\\pi_t(a|s)P(s'|s,a)` and
   :math:`\\rho_t(s,a)=\\gamma^t d_t(s)\\pi_t(a|s)`; the model's feature expectations are
   :math:`\\psi_\\omega=\\sum_t\\sum_{s,a}\\rho_t(s,a)\\Phi(s,a)`.

3. *Dual and gradient*: with the demonstrations' feature expectations
   :math:`\\hat\\psi_E=\\frac1N\\sum_i\\sum_t\\gamma^t\\phi(s^i_t,a^i_t)`,

   .. math:: L(\\omega)=\\sum_s\\mu_0(s)V_0(s)-\\omega^\\top\\hat\\psi_E+\\tfrac\\lambda2\\|\\omega\\|^2,
       \\qquad \\nabla L(\\omega)=\\psi_\\omega-\\hat\\psi_E+\\lambda\\omega,

   the negative (discount-weighted) causal log-likelihood of the demonstrations: "model feature
   expectations minus expert feature expectations". :math:`L` is convex; we minimise it with
   L-BFGS. The ridge :math:`\\lambda` keeps :math:`\\omega` finite when the demonstrations are
   (nearly) deterministic or never visit a feature, where the unregularised optimum is at
   infinity.

The backward pass reuses :func:`logel.tabular.soft_bellman_backup` (temperature 1) and the
features :func:`logel.tabular.state_action_features`, so "next-state" features (the gridworld
sampler's) are handled by the model. The start distribution is the empirical distribution of the
demonstrations' first states (on the ``paper`` gridworld the segments of a batch do not all start
at :math:`s_0`). The equations are the textbook MCE-IRL ones; the equation numbers of Ziebart's
papers are not cited because we did not check them [UNVERIFIED].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from logel._validation import as_array, integer, real
from logel.tabular import TabularMDP, soft_bellman_backup, state_action_features


@dataclass(frozen=True)
class MCEConfig:
    """Options of :func:`mce_irl`."""

    l2: float = 1e-2
    """Ridge :math:`\\lambda` on :math:`\\omega` (keeps the optimum finite, see the module)."""
    tol: float = 1e-8
    """L-BFGS tolerance on the projected gradient."""
    max_iter: int = 500
    """L-BFGS iteration cap."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        real(self.l2, c + "l2", low=0)
        real(self.tol, c + "tol", low=0, low_open=True)
        integer(self.max_iter, c + "max_iter", low=1)


@dataclass(frozen=True)
class MCEResult:
    """Outcome of :func:`mce_irl`.

    Attributes:
        weights: ``(q,)`` recovered reward weights :math:`\\hat\\omega`.
        policies: ``(T, S, A)`` the soft-optimal (time-dependent) policy of :math:`\\hat\\omega`.
        expert_features: ``(q,)`` :math:`\\hat\\psi_E` of the demonstrations.
        model_features: ``(q,)`` :math:`\\psi_{\\hat\\omega}` of the fitted model.
        start: ``(S,)`` start distribution used (empirical).
        objective: final value of the dual :math:`L(\\hat\\omega)`.
        n_iter: L-BFGS iterations.
        converged: L-BFGS success flag.
    """

    weights: np.ndarray
    policies: np.ndarray
    expert_features: np.ndarray
    model_features: np.ndarray
    start: np.ndarray
    objective: float
    n_iter: int
    converged: bool

    @property
    def feature_gap(self) -> float:
        """:math:`\\|\\psi_{\\hat\\omega}-\\hat\\psi_E\\|_2`; equals :math:`\\lambda\\|\\hat\\omega\\|`
        at the exact optimum."""
        return float(np.linalg.norm(self.model_features - self.expert_features))


def soft_value_iteration(mdp: TabularMDP, omega: np.ndarray, horizon: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite-horizon discounted soft value iteration (step 1 of the module docstring).

    Args:
        mdp: the known model (its ``start`` is ignored here).
        omega: ``(q,)`` reward weights.
        horizon: ``T`` decisions.

    Returns:
        ``(Q, V, policies)`` with shapes ``(T, S, A)``, ``(T, S)`` and ``(T, S, A)``:
        :math:`Q_t`, :math:`V_t=\\log\\sum_a e^{Q_t}` and :math:`\\pi_t=e^{Q_t-V_t}`.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    omega = as_array(omega, "omega", ndim=1, shape_doc=f"({mdp.n_features},)")
    if omega.shape != (mdp.n_features,):
        raise ValueError(f"omega must have shape ({mdp.n_features},), got {omega.shape}")
    S, A = mdp.n_states, mdp.n_actions
    Q = np.empty((horizon, S, A))
    Q[-1] = state_action_features(mdp) @ omega  # V_T = 0
    for t in range(horizon - 2, -1, -1):
        Q[t] = soft_bellman_backup(mdp, omega, Q[t + 1], temperature=1.0)
    qmax = Q.max(axis=2, keepdims=True)
    V = qmax[..., 0] + np.log(np.exp(Q - qmax).sum(axis=2))
    return Q, V, np.exp(Q - V[..., None])


def occupancy_measures(mdp: TabularMDP, policies: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Discounted state-action occupancies :math:`\\rho_t(s,a)=\\gamma^td_t(s)\\pi_t(a|s)`
    (step 2 of the module docstring), shape ``(T, S, A)``.

    Args:
        mdp: the model.
        policies: ``(T, S, A)`` time-dependent policy.
        start: ``(S,)`` distribution of the first state.
    """
    policies = np.asarray(policies, dtype=float)
    S, A = mdp.n_states, mdp.n_actions
    if policies.ndim != 3 or policies.shape[1:] != (S, A):
        raise ValueError(f"policies must have shape (T, {S}, {A}), got {policies.shape}")
    d = as_array(start, "start", ndim=1, shape_doc=f"({S},)")
    if d.shape != (S,):
        raise ValueError(f"start must have shape ({S},), got {d.shape}")
    rho = np.empty_like(policies)
    for t in range(policies.shape[0]):
        sa = d[:, None] * policies[t]
        rho[t] = mdp.gamma ** t * sa
        d = np.einsum("sa,sat->t", sa, mdp.transitions)
    return rho


def expert_feature_expectations(features: np.ndarray, gamma: float) -> np.ndarray:
    """:math:`\\hat\\psi_E=\\frac1N\\sum_i\\sum_t\\gamma^t\\phi^i_t` from ``(N, T, q)`` features."""
    f = as_array(features, "features", ndim=3, shape_doc="(N, T, q)")
    return np.einsum("ntq,t->q", f, gamma ** np.arange(f.shape[1])) / f.shape[0]


def empirical_start(states: np.ndarray, n_states: int) -> np.ndarray:
    """Distribution ``(S,)`` of the first states of ``(N, T)`` trajectories."""
    s = np.asarray(states)
    if s.ndim != 2:
        raise ValueError(f"states must have shape (N, T), got {s.shape}")
    return np.bincount(s[:, 0].astype(int), minlength=n_states)[:n_states] / s.shape[0]


def mce_dual(mdp: TabularMDP, omega: np.ndarray, expert_features: np.ndarray,
             start: np.ndarray, horizon: int, l2: float = 0.0
             ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The dual :math:`L(\\omega)` and its gradient :math:`\\psi_\\omega-\\hat\\psi_E+\\lambda\\omega`
    (step 3 of the module docstring).

    Returns:
        ``(L, grad, model_features, policies)``.
    """
    _, V, policies = soft_value_iteration(mdp, omega, horizon)
    rho = occupancy_measures(mdp, policies, start)
    model = np.einsum("tsa,saq->q", rho, state_action_features(mdp))
    value = float(start @ V[0] - omega @ expert_features + 0.5 * l2 * omega @ omega)
    return value, model - expert_features + l2 * omega, model, policies


def mce_irl(mdp: TabularMDP, states: np.ndarray, features: np.ndarray,
            config: MCEConfig = MCEConfig(), omega_init: np.ndarray | None = None
            ) -> MCEResult:
    """Fit MCE-IRL to ``N`` demonstrations of length ``T`` on a known model.

    Args:
        mdp: the known model that generated the demonstrations (transitions, features and
            their timing, discount); its ``start`` is replaced by the empirical start
            distribution of ``states``.
        states: ``(N, T)`` int states :math:`s^i_t` (only the first column is used).
        features: ``(N, T, q)`` per-step features :math:`\\phi^i_t` as recorded.
        config: options.
        omega_init: ``(q,)`` starting point (default zeros).

    Returns:
        An :class:`MCEResult`.
    """
    f = as_array(features, "features", ndim=3, shape_doc=f"(N, T, {mdp.n_features})")
    if f.shape[2] != mdp.n_features:
        raise ValueError(f"features must have shape (N, T, {mdp.n_features}), got {f.shape}")
    s = np.asarray(states)
    if s.shape != f.shape[:2]:
        raise ValueError(f"states must have shape (N, T) = {f.shape[:2]}, got {s.shape}")
    return fit_feature_expectations(mdp, expert_feature_expectations(f, mdp.gamma),
                                    empirical_start(s, mdp.n_states), f.shape[1], config,
                                    omega_init)


def fit_feature_expectations(mdp: TabularMDP, expert_features: np.ndarray, start: np.ndarray,
                             horizon: int, config: MCEConfig = MCEConfig(),
                             omega_init: np.ndarray | None = None) -> MCEResult:
    """MCE-IRL from given feature expectations :math:`\\hat\\psi_E` (the core of
    :func:`mce_irl`; also fits *exact* expectations, e.g. of a known soft-optimal policy).

    Args:
        mdp: the known model.
        expert_features: ``(q,)`` :math:`\\hat\\psi_E`.
        start: ``(S,)`` start distribution.
        horizon: ``T``.
        config: options.
        omega_init: ``(q,)`` starting point (default zeros).
    """
    q = mdp.n_features
    mu_e = as_array(expert_features, "expert_features", ndim=1, shape_doc=f"({q},)")
    if mu_e.shape != (q,):
        raise ValueError(f"expert_features must have shape ({q},), got {mu_e.shape}")
    start = as_array(start, "start", ndim=1, shape_doc=f"({mdp.n_states},)")
    if start.shape != (mdp.n_states,) or not np.isclose(start.sum(), 1.0) or (start < 0).any():
        raise ValueError(f"start must be a probability vector of shape ({mdp.n_states},)")
    if config.l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {config.l2}")
    x0 = np.zeros(q) if omega_init is None else as_array(omega_init, "omega_init", ndim=1,
                                                         shape_doc=f"({q},)")

    def fun(omega: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad, _, _ = mce_dual(mdp, omega, mu_e, start, horizon, config.l2)
        return value, grad

    res = minimize(fun, x0, jac=True, method="L-BFGS-B",
                   options={"maxiter": config.max_iter, "gtol": config.tol, "ftol": 1e-15})
    value, _, model, policies = mce_dual(mdp, res.x, mu_e, start, horizon, config.l2)
    return MCEResult(res.x.copy(), policies, mu_e, model, start, value, int(res.nit),
                     bool(res.success))
