"""A zoo of policy-gradient learners on the gridworld: how far from LOGEL's model is each?

LOGEL assumes a plain gradient step (paper Sec. 1.4),
:math:`\\theta_{t+1}=\\theta_t+\\alpha_t\\nabla\\psi(\\theta_t)\\,\\omega`. Real learners do more.
Every learner here samples ``n`` trajectories of length ``T`` from its Boltzmann policy
(:class:`~logel.policies.boltzmann.BoltzmannPolicy`) per update, as the paper's G(PO)MDP learner
(:mod:`logel.learners.gpomdp`), and estimates the same G(PO)MDP gradient of its scalar reward
:math:`\\hat g_t=\\widehat{\\nabla\\psi}_t\\,\\omega^L` (:func:`logel.gpomdp_jacobian`, Sec. 3.1
baseline); they differ in what they do with it:

``"sgd"``
    the paper's learner, :math:`\\Delta_t=\\alpha\\hat g_t`: it *is*
    :func:`logel.learners.gpomdp.run_gpomdp_learner` (one home for that learner).
``"adam"``
    Adam on the same estimate (:func:`adam_update`): per-coordinate steps
    :math:`\\Delta_t=\\eta\\,\\hat m_t/(\\sqrt{\\hat v_t}+\\epsilon)` with bias-corrected first and
    second moments of :math:`\\hat g_t`.
``"npg"``
    the natural policy gradient (:func:`natural_direction`):
    :math:`\\Delta_t=\\eta_t(\\hat F_t+\\lambda I)^{-1}\\hat g_t`, with the empirical Fisher
    (:func:`logel.estimators.empirical_fisher`) :math:`\\hat F_t=\\frac1{NT}\\sum_{i,l}g^i_lg^{i\\top}_l` of the scores and the step
    :math:`\\eta_t=\\sqrt{2\\delta/\\hat g_t^\\top(\\hat F_t+\\lambda I)^{-1}\\hat g_t}` of a KL
    trust region of radius :math:`\\delta`.
``"ppo"``
    a PPO-like learner (:func:`clipped_surrogate_gradient`): several epochs of Adam steps on
    minibatches of the clipped surrogate
    :math:`\\frac1{|B|}\\sum_{(s,a)\\in B}\\min(\\rho A,\\mathrm{clip}(\\rho,1-\\epsilon,1+\\epsilon)A)`,
    :math:`\\rho=\\pi_\\theta(a|s)/\\pi_{\\theta_t}(a|s)`, with normalised reward-to-go advantages
    (:func:`reward_to_go_advantages`).

Every learner records its :math:`\\theta_t` in a :class:`~logel.traces.LearnerTrace`; only the
plain one records learning rates (the others' steps are not :math:`\\alpha_t\\hat g_t`). All
randomness comes from the one generator passed in (the PPO minibatches included).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np

from logel._validation import choice, integer, real
from logel.envs.gridworld import Gridworld, batches_trace, sample_batch
from logel.estimators import empirical_fisher, gpomdp_jacobian
from logel.learners.gpomdp import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.traces import LearnerTrace

ZooLearner = Literal["sgd", "adam", "npg", "ppo"]
"""The learners of the zoo."""
ZOO_LEARNERS: tuple[ZooLearner, ...] = ("sgd", "adam", "npg", "ppo")
ZOO_NAMES: dict[str, str] = {"sgd": "G(PO)MDP SGD", "adam": "G(PO)MDP Adam",
                             "npg": "natural PG", "ppo": "PPO-like"}
"""Display names of the zoo's learners."""


@dataclass(frozen=True)
class ZooConfig:
    """One learner of the zoo (defaults: the paper's budget, ``n = 50``, ``T = 20``, 30 updates)."""

    learner: ZooLearner = "sgd"
    """``"sgd"``, ``"adam"``, ``"npg"`` or ``"ppo"`` (module docstring)."""
    n_updates: int = 30
    """Learning steps; the trace holds ``n_updates + 1`` policies (paper: 30)."""
    n_trajectories: int = 50
    """Trajectories sampled per policy, ``n`` (paper: 50)."""
    baseline_eps: float = 1e-3
    """:math:`\\epsilon_b` of the G(PO)MDP baseline."""
    sgd_learning_rate: float = 0.1
    """``"sgd"``: the constant step :math:`\\alpha` (paper: 0.1)."""
    adam_learning_rate: float = 0.1
    """``"adam"``: Adam's step :math:`\\eta` (per coordinate, once per update)."""
    ppo_learning_rate: float = 0.02
    """``"ppo"``: Adam's step :math:`\\eta` (per coordinate, once per minibatch)."""
    adam_beta1: float = 0.9
    """Adam's first-moment decay :math:`\\beta_1`."""
    adam_beta2: float = 0.999
    """Adam's second-moment decay :math:`\\beta_2`."""
    adam_eps: float = 1e-8
    """Adam's :math:`\\epsilon`."""
    npg_kl: float = 0.01
    """``"npg"``: trust-region radius :math:`\\delta` (mean KL per sample, to second order)."""
    npg_damping: float = 1e-2
    """``"npg"``: damping :math:`\\lambda` added to the Fisher matrix."""
    ppo_clip: float = 0.2
    """``"ppo"``: clip range :math:`\\epsilon`."""
    ppo_epochs: int = 4
    """``"ppo"``: passes over each batch."""
    ppo_minibatches: int = 4
    """``"ppo"``: minibatches per pass (the ``N T`` samples shuffled, then split)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.learner, c + "learner", ZOO_LEARNERS)
        for name in ("n_updates", "n_trajectories", "ppo_epochs", "ppo_minibatches"):
            integer(getattr(self, name), c + name, low=1)
        real(self.baseline_eps, c + "baseline_eps", low=0, allow_inf=True)
        for name in ("sgd_learning_rate", "adam_learning_rate", "ppo_learning_rate",
                     "npg_damping"):
            real(getattr(self, name), c + name, low=0)
        for name in ("adam_eps", "npg_kl", "ppo_clip"):
            real(getattr(self, name), c + name, low=0, low_open=True)
        for name in ("adam_beta1", "adam_beta2"):
            real(getattr(self, name), c + name, low=0, high=1, high_open=True)
        if self.n_updates < 1 or self.n_trajectories < 1:
            raise ValueError("n_updates and n_trajectories must be >= 1")
        if self.ppo_epochs < 1 or self.ppo_minibatches < 1:
            raise ValueError("ppo_epochs and ppo_minibatches must be >= 1")
        if not 0 <= self.adam_beta1 < 1 or not 0 <= self.adam_beta2 < 1:
            raise ValueError("Adam's betas must lie in [0, 1)")
        if self.npg_kl <= 0 or self.npg_damping < 0 or self.ppo_clip <= 0:
            raise ValueError("npg_kl and ppo_clip must be > 0, npg_damping >= 0")


@dataclass
class AdamState:
    """Adam's moments :math:`m, v` and step count ``k`` (mutable: one per learner run)."""

    m: np.ndarray
    v: np.ndarray
    k: int = 0


def adam_update(state: AdamState, gradient: np.ndarray, learning_rate: float, beta1: float,
                beta2: float, eps: float) -> np.ndarray:
    """One Adam ascent step :math:`\\eta\\,\\hat m_k/(\\sqrt{\\hat v_k}+\\epsilon)` (Kingma & Ba
    2015, Alg. 1), updating ``state`` in place:
    :math:`m_k=\\beta_1m_{k-1}+(1-\\beta_1)g`, :math:`v_k=\\beta_2v_{k-1}+(1-\\beta_2)g^2`,
    :math:`\\hat m_k=m_k/(1-\\beta_1^k)`, :math:`\\hat v_k=v_k/(1-\\beta_2^k)`.

    Returns:
        The parameter change ``(d,)``.
    """
    state.k += 1
    state.m = beta1 * state.m + (1.0 - beta1) * gradient
    state.v = beta2 * state.v + (1.0 - beta2) * gradient ** 2
    m_hat = state.m / (1.0 - beta1 ** state.k)
    v_hat = state.v / (1.0 - beta2 ** state.k)
    return learning_rate * m_hat / (np.sqrt(v_hat) + eps)


def natural_direction(gradient: np.ndarray, fisher: np.ndarray, kl: float,
                      damping: float) -> np.ndarray:
    """Natural-gradient step with a KL trust region (Kakade 2001; TRPO's step length).

    :math:`x=(\\hat F+\\lambda I)^{-1}\\hat g`, returned as :math:`\\sqrt{2\\delta/\\hat g^\\top x}\\,x`
    (zero if :math:`\\hat g=0`): the step of squared Fisher norm :math:`2\\delta`.
    """
    x = np.linalg.solve(fisher + damping * np.eye(fisher.shape[0]), gradient)
    gx = float(gradient @ x)
    return np.sqrt(2.0 * kl / gx) * x if gx > 0 else np.zeros_like(gradient)


def reward_to_go_advantages(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """Normalised advantages of ``(N, T)`` per-step rewards: the discounted reward-to-go
    :math:`G_{i,l}=\\sum_{l'\\ge l}\\gamma^{l'-l}r_{i,l'}` minus its mean over trajectories at
    each ``l`` (a time-dependent baseline), then scaled to unit standard deviation (PPO's
    advantage normalisation)."""
    togo = np.zeros_like(rewards, dtype=float)
    acc = np.zeros(rewards.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        acc = rewards[:, t] + gamma * acc
        togo[:, t] = acc
    adv = togo - togo.mean(axis=0, keepdims=True)
    std = adv.std()
    return adv / std if std > 0 else adv


def clipped_surrogate_gradient(policy: BoltzmannPolicy, theta: np.ndarray, states: np.ndarray,
                               actions: np.ndarray, old_log_prob: np.ndarray,
                               advantages: np.ndarray, clip: float) -> np.ndarray:
    """Gradient of PPO's clipped surrogate (Schulman et al. 2017, Eq. 7) on samples ``(B,)``:
    :math:`\\frac1B\\sum_b\\mathbb 1[\\text{unclipped}_b]\\,\\rho_bA_b\\nabla_\\theta\\log\\pi_\\theta(a_b|s_b)`,
    where a sample is clipped (zero gradient) when :math:`\\rho_b>1+\\epsilon` and :math:`A_b>0`,
    or :math:`\\rho_b<1-\\epsilon` and :math:`A_b<0`."""
    ratio = np.exp(policy.log_prob(theta, states, actions) - old_log_prob)
    clipped = ((ratio > 1.0 + clip) & (advantages > 0)) | ((ratio < 1.0 - clip) & (advantages < 0))
    weight = np.where(clipped, 0.0, ratio * advantages)
    return weight @ policy.scores(theta, states, actions) / states.size


def run_zoo_learner(grid: Gridworld, config: ZooConfig, rng: np.random.Generator) -> LearnerTrace:
    """Run one learner of the zoo from :math:`\\theta_1=0` and record its trace.

    Args:
        grid: the gridworld (its true weights are the learner's reward).
        config: the learner and its options.
        rng: the only source of randomness (trajectories, and PPO's minibatches).

    Returns:
        The :class:`LearnerTrace` with ``thetas`` ``(n_updates + 1, 75)``; ``learning_rates``
        only for ``"sgd"``; ``metadata["learner"]`` is ``"zoo:<learner>"``.
    """
    metadata = {"learner": f"zoo:{config.learner}", "config": asdict(config), **grid.describe()}
    if config.learner == "sgd":  # the paper's learner has one home: logel.learners.gpomdp
        trace = run_gpomdp_learner(grid, GPOMDPLearnerConfig(
            n_updates=config.n_updates, n_trajectories=config.n_trajectories,
            learning_rate=config.sgd_learning_rate, baseline_eps=config.baseline_eps), rng)
        return replace(trace, metadata=metadata)
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    omega = grid.true_weights
    gamma = grid.gamma
    theta = np.zeros(policy.n_params)
    adam = AdamState(np.zeros_like(theta), np.zeros_like(theta))
    thetas, batches = [], []
    for t in range(config.n_updates + 1):
        probs = policy.probabilities(theta)
        batch = sample_batch(grid, probs, config.n_trajectories, rng)
        thetas.append(theta)
        batches.append(batch)
        if t == config.n_updates:
            break
        rewards = batch.features @ omega
        scores = policy.scores(theta, batch.states, batch.actions)
        grad = gpomdp_jacobian(scores, rewards[..., None], gamma, config.baseline_eps)[:, 0]
        if config.learner == "adam":
            update = adam_update(adam, grad, config.adam_learning_rate, config.adam_beta1,
                                 config.adam_beta2, config.adam_eps)
        elif config.learner == "npg":
            update = natural_direction(grad, empirical_fisher(scores), config.npg_kl,
                                       config.npg_damping)
        else:
            update = _ppo_update(policy, theta, batch.states, batch.actions, rewards, gamma,
                                 adam, config, rng)
        theta = theta + update
    return batches_trace(batches, gamma, omega, metadata, thetas=np.stack(thetas))


def _ppo_update(policy: BoltzmannPolicy, theta: np.ndarray, states: np.ndarray,
                actions: np.ndarray, rewards: np.ndarray, gamma: float, adam: AdamState,
                config: ZooConfig, rng: np.random.Generator) -> np.ndarray:
    """Epochs of minibatch Adam ascent on the clipped surrogate; returns the total change."""
    s, a = states.reshape(-1), actions.reshape(-1)
    adv = reward_to_go_advantages(rewards, gamma).reshape(-1)
    old = policy.log_prob(theta, s, a)
    new = theta.copy()
    for _ in range(config.ppo_epochs):
        for idx in np.array_split(rng.permutation(s.size), config.ppo_minibatches):
            grad = clipped_surrogate_gradient(policy, new, s[idx], a[idx], old[idx], adv[idx],
                                              config.ppo_clip)
            new = new + adam_update(adam, grad, config.ppo_learning_rate, config.adam_beta1,
                                    config.adam_beta2, config.adam_eps)
    return new - theta


__all__ = ["ZOO_LEARNERS", "ZOO_NAMES", "AdamState", "ZooConfig", "ZooLearner", "adam_update",
           "clipped_surrogate_gradient", "natural_direction",
           "reward_to_go_advantages", "run_zoo_learner"]
