"""The theory made visible: finite-sample rates and the identifiability condition.

**Rates** (spec Sec. 3.2). The finite-sample argument predicts a weight error of order
:math:`1/\\sqrt n` when the Jacobians are estimated from ``n`` trajectories per step and the
learner's steps are exact gradient steps. :func:`run_rates` runs the *exact-gradient* learner on
the ``consistent`` gridworld (so the only error is the observer's) and, for every ``n`` of
:attr:`RatesConfig.trajectories` (nested: the first ``n`` of one batch of fresh trajectories
per policy), two observers of :mod:`logel.irl.observer` on those trajectories:

``known``
    the approximate setting: true :math:`\\theta_t` and :math:`\\alpha_t`, G(PO)MDP Jacobians,
    closed form (:func:`logel.irl.observer.approximate_inputs`, :func:`logel.solve_weights`);
``bc``
    the realistic setting: behavioural cloning of every policy from the same ``n``
    trajectories, Jacobians at the cloned parameters, block-coordinate descent
    (:func:`logel.irl.observer.realistic_inputs`, :func:`logel.fit`).

:func:`loglog_slope` fits :math:`\\log(\\text{error})=a+b\\log n`; :math:`b\\approx-1/2` is the
predicted rate.

**Identifiability** (spec Sec. 2). :math:`\\omega` is determined iff the stacked Jacobians
:math:`[\\nabla\\psi_1;\\dots;\\nabla\\psi_m]` have rank ``q`` (here ``q - 1`` free directions,
since the colour features partition the states), so ``m d >= q`` is necessary. The gridworld's
Boltzmann class has ``d = 75 >= q`` and is identifiable from one step. To see the condition bite
we also use a *state-independent* softmax over actions
(:class:`~logel.policies.shared_logit.SharedLogitPolicy`, ``d = 3 <
4`` free directions): one step can never identify :math:`\\omega`, two generically can -- unless
the learner does not move, in which case every Jacobian is the same matrix and no number of
steps helps. :func:`identifiability_curve` runs the exact-gradient learner of either class and
records the rank, the condition number, whether :class:`logel.IdentifiabilityWarning` fired, and
the weight error of the closed form with exact Jacobians, for every ``m``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from logel._validation import choice, instance, integer, items, real
from logel.diagnostics import split_half_agreement
from logel.envs.gridworld import Gridworld, Variant, sample_batches
from logel.estimators import gpomdp_jacobian, gpomdp_jacobian_covariance
from logel.evaluation import weight_error
from logel.experiments.budgets import Budget, check_budget
from logel.experiments.claims import Claim, claim
from logel.experiments.comparison import learner_parameters
from logel.experiments.gridworld import DEFAULT_BC, OBSERVER_TRAJECTORIES, observer_config
from logel.irl.bc import BCConfig
from logel.irl.logel import IdentifiabilityWarning, identifiability, solve_weights
from logel.irl.observer import (
    BoltzmannClass,
    ObserverConfig,
    approximate_inputs,
    realistic_inputs,
    recover,
    step_jacobians,
)
from logel.learners.gpomdp import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.policies.shared_logit import SharedLogitPolicy
from logel.runner import Backend, run_jobs
from logel.streams import cell_rngs
from logel.tabular import feature_expectations_jacobian
from logel.traces import LearnerTrace

# ------------------------------------------------------------------------------------ rates


@dataclass(frozen=True)
class RatesConfig:
    """Weight error against ``n`` (and ``m``) with and without behavioural cloning."""

    variant: Variant = "consistent"
    """Gridworld variant (``consistent``: the observer's expected Jacobian is the exact one)."""
    n_updates: int = 15
    """Updates of the exact-gradient learner."""
    trajectories: tuple[int, ...] = (10, 20, 50, 100, 200, 500)
    """Trajectories ``n`` per policy (nested)."""
    observed_steps: tuple[int, ...] = (2, 5, 15)
    """Numbers ``m`` of observed steps."""
    learning_rate: float = 0.1
    """The learner's constant :math:`\\alpha`."""
    bc: BCConfig = DEFAULT_BC
    """Behavioural cloning of the ``bc`` observer."""
    baseline_eps: float = 1e-3
    """:math:`\\epsilon_b` of the G(PO)MDP estimator."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.variant, c + "variant", get_args(Variant))
        integer(self.n_updates, c + "n_updates", low=1)
        items(self.trajectories, c + "trajectories", lambda v, n: integer(v, n, low=1))
        items(self.observed_steps, c + "observed_steps",
              lambda v, n: integer(v, n, low=1, high=self.n_updates))
        real(self.learning_rate, c + "learning_rate", low=0)
        instance(self.bc, c + "bc", BCConfig)
        real(self.baseline_eps, c + "baseline_eps", low=0, allow_inf=True)


@dataclass(frozen=True)
class RatesResult:
    """Weight errors of one seed: arrays of shape ``(len(trajectories), len(observed_steps))``."""

    config: RatesConfig
    seed: int
    known: np.ndarray
    """Known :math:`\\theta_t,\\alpha_t`, estimated Jacobians (approximate setting)."""
    bc: np.ndarray
    """Behavioural cloning + block-coordinate descent (realistic setting)."""
    known_raw: np.ndarray
    """Same observer, relative error :math:`\\|\\hat\\omega-\\bar\\omega\\|/\\|\\bar\\omega\\|` of the
    raw weights against the centred truth (the scale is identified when :math:`\\alpha_t` is
    known; the all-ones direction is fixed to zero)."""
    bc_parameter_error: np.ndarray
    """``(len(trajectories),)`` mean :math:`\\|\\hat\\theta_t-\\theta_t\\|_2` over the policies."""


def run_rates(config: RatesConfig, seed: int) -> RatesResult:
    """One exact-gradient learner run and both observers at every ``n`` and ``m``."""
    learner_seq = np.random.SeedSequence(seed).spawn(2)[0]
    grid = Gridworld(variant=config.variant)
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    learner = GPOMDPLearnerConfig(n_updates=config.n_updates, n_trajectories=1,
                                  learning_rate=config.learning_rate, gradient="exact")
    trace = run_gpomdp_learner(grid, learner, np.random.default_rng(learner_seq))
    assert trace.thetas is not None and trace.learning_rates is not None
    m_max = max(config.observed_steps)
    thetas = trace.thetas[: m_max + 1]
    probs = np.stack([policy.probabilities(th) for th in thetas])
    # what the observers see: fresh trajectories of each policy (and, if known, theta and alpha);
    # policy t's from the cell (seed, "observer trajectories", t), nested in n (logel.streams)
    batch = sample_batches(grid, probs, max(config.trajectories),
                           cell_rngs(seed, OBSERVER_TRAJECTORIES, m_max + 1))
    seen = LearnerTrace(batch.states, batch.actions, batch.features, grid.gamma, thetas=thetas,
                        learning_rates=trace.learning_rates[:m_max])
    observer = ObserverConfig(baseline_eps=config.baseline_eps, fix_constant_direction=True)
    known = np.empty((len(config.trajectories), len(config.observed_steps)))
    bc = np.empty_like(known)
    raw = np.empty_like(known)
    centred = grid.true_weights - grid.true_weights.mean()
    bc_err = np.empty(len(config.trajectories))
    for i, n in enumerate(config.trajectories):
        approximate = approximate_inputs(seen, BoltzmannClass(policy), observer, n_trajectories=n)
        realistic = realistic_inputs(seen, BoltzmannClass(policy, config.bc), observer,
                                     n_trajectories=n)
        bc_err[i] = np.linalg.norm(realistic.thetas - thetas, axis=1).mean()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for j, m in enumerate(config.observed_steps):
                w = recover(approximate, observer, m).weights
                known[i, j] = weight_error(w, grid.true_weights)
                raw[i, j] = np.linalg.norm(w - centred) / np.linalg.norm(centred)
                bc[i, j] = weight_error(recover(realistic, observer, m).weights,
                                        grid.true_weights)
    return RatesResult(config, seed, known, bc, raw, bc_err)


def sweep_rates(config: RatesConfig, seeds: Any, n_jobs: int = 1,
                backend: Backend = "loky") -> list[RatesResult]:
    """:func:`run_rates` over seeds (:func:`logel.runner.run_jobs`)."""
    return run_jobs(run_rates, [(config, s) for s in seeds], n_jobs=n_jobs, backend=backend)


def loglog_slope(n: Any, errors: Any) -> float:
    """Least-squares slope ``b`` of :math:`\\log e=a+b\\log n`.

    Args:
        n: ``(k,)`` sample sizes.
        errors: ``(k,)`` errors, or ``(seeds, k)`` (then the mean of the logs over seeds, a
            geometric mean, is fitted).
    """
    x = np.log(np.asarray(n, dtype=float))
    e = np.asarray(errors, dtype=float)
    if e.shape[-1] != x.size:
        raise ValueError(f"errors must have shape (k,) or (seeds, k) with k = {x.size}, "
                         f"got {e.shape}")
    if (e <= 0).any():
        raise ValueError("errors must be positive for a log-log fit")
    y = np.log(e).reshape(-1, x.size).mean(axis=0)
    return float(np.polyfit(x, y, 1)[0])


# --------------------------------------------------------------------------- identifiability


PolicyClass = Literal["boltzmann", "shared"]


@dataclass(frozen=True)
class IdentifiabilityConfig:
    """An exact-gradient learner observed with exact Jacobians, for ``m = 1..n_updates``."""

    policy_class: PolicyClass = "boltzmann"
    """``"boltzmann"`` (``d = 75``) or ``"shared"``
    (:class:`~logel.policies.shared_logit.SharedLogitPolicy`, ``d = 3``)."""
    learning_rate: float = 0.1
    """The learner's constant step size; 0 is a learner that does not move."""
    n_updates: int = 6
    """Learning steps (the curve covers ``m = 1..n_updates``)."""
    variant: Variant = "consistent"
    """Gridworld variant."""
    theta_init_scale: float = 0.5
    """The learner starts at ``theta_init_scale * N(0, I)`` (seeded), away from the uniform
    policy so that a learner that does not move still has informative Jacobians."""
    n_trajectories: int | None = None
    """None: the observer uses the exact Jacobians. An integer ``n``: it estimates them by
    G(PO)MDP from ``n`` fresh trajectories per step (approximate setting)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.policy_class, c + "policy_class", get_args(PolicyClass))
        real(self.learning_rate, c + "learning_rate", low=0)
        integer(self.n_updates, c + "n_updates", low=1)
        choice(self.variant, c + "variant", get_args(Variant))
        real(self.theta_init_scale, c + "theta_init_scale", low=0)
        if self.n_trajectories is not None:  # two halves
            integer(self.n_trajectories, c + "n_trajectories", low=2)


@dataclass(frozen=True)
class IdentifiabilityCurve:
    """Diagnostics per ``m = 1..n_updates`` (arrays of length ``n_updates``)."""

    config: IdentifiabilityConfig
    seed: int
    n_params: int
    """``d``."""
    n_free: int
    """Free directions of :math:`\\omega` (``q - 1``)."""
    rank: np.ndarray
    condition_number: np.ndarray
    warned: np.ndarray
    """Whether :func:`logel.solve_weights` raised an :class:`IdentifiabilityWarning`."""
    weight_error: np.ndarray
    """Centred, normalised weight error of the closed form (true steps; exact or estimated
    Jacobians, see :attr:`IdentifiabilityConfig.n_trajectories`)."""
    split_half: np.ndarray | None = None
    """With estimated Jacobians: :func:`logel.diagnostics.split_half_agreement` cosines (its
    warning is included in ``warned``); None with exact Jacobians."""
    rank_above_noise: np.ndarray | None = None
    """With estimated Jacobians: singular values above the estimation noise along their
    direction (:func:`logel.irl.logel.direction_noise` of
    :func:`logel.gpomdp_jacobian_covariance`);
    the noise-aware :class:`~logel.IdentifiabilityWarning` is included in ``warned``. None with
    exact Jacobians."""


def identifiability_curve(config: IdentifiabilityConfig, seed: int = 0) -> IdentifiabilityCurve:
    """Run the exact-gradient learner of ``config.policy_class`` and diagnose every ``m``."""
    grid = Gridworld(variant=config.variant)
    mdp = grid.sampling_model
    pol: BoltzmannPolicy | SharedLogitPolicy = (
        BoltzmannPolicy(grid.n_states, grid.n_actions) if config.policy_class == "boltzmann"
        else SharedLogitPolicy(grid.n_states, grid.n_actions))
    rng = np.random.default_rng(seed)
    theta = config.theta_init_scale * rng.standard_normal(pol.n_params)
    jacobians, deltas = [], []
    for _ in range(config.n_updates):
        jac = feature_expectations_jacobian(mdp, pol.probabilities(theta),
                                            pol.probability_jacobian(theta), grid.horizon)
        step = config.learning_rate * jac @ grid.true_weights
        jacobians.append(jac)
        deltas.append(step)
        theta = theta + step
    J, D = np.stack(jacobians), np.stack(deltas)
    if config.n_trajectories is not None:  # the observer's estimates at the learner's thetas
        thetas = np.cumsum(np.vstack([theta - D.sum(axis=0), D]), axis=0)[:-1]
        probs = np.stack([pol.probabilities(th) for th in thetas])
        batch = sample_batches(grid, probs, config.n_trajectories, rng)

        def estimate(rows: slice, estimator: Any = gpomdp_jacobian) -> np.ndarray:
            return np.stack([estimator(pol.scores(th, s[rows], a[rows]), f[rows],
                                       grid.gamma, 1e-3)
                             for th, s, a, f in zip(thetas, batch.states, batch.actions,
                                                    batch.features, strict=True)])

        half = config.n_trajectories // 2
        J = estimate(slice(None))
        covariance = estimate(slice(None), gpomdp_jacobian_covariance)
        J_halves = (estimate(slice(0, half)), estimate(slice(half, None)))
    null = np.ones(grid.n_features)
    alphas = np.full(config.n_updates, config.learning_rate if config.learning_rate > 0 else 1.0)
    rank, cond, warned, err, agreement, above = [], [], [], [], [], []
    for m in range(1, config.n_updates + 1):
        cv = None if config.n_trajectories is None else covariance[:m]
        diag = identifiability(J[:m], null_directions=null, jacobian_covariance=cv)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            w = solve_weights(D[:m], J[:m], alphas[:m], null_directions=null,
                              jacobian_covariance=cv)
            if config.n_trajectories is not None:
                agreement.append(split_half_agreement(
                    D[:m], J_halves[0][:m], J_halves[1][:m], alphas[:m],
                    null_directions=null).cosine)
        rank.append(diag.rank)
        above.append(diag.rank_above_noise)
        cond.append(diag.condition_number)
        warned.append(any(issubclass(c.category, IdentifiabilityWarning) for c in caught))
        err.append(weight_error(w, grid.true_weights))
    return IdentifiabilityCurve(config, seed, pol.n_params, grid.n_features - 1,
                                np.array(rank), np.array(cond), np.array(warned),
                                np.array(err),
                                np.array(agreement) if agreement else None,
                                np.array(above) if cv is not None else None)


@dataclass(frozen=True)
class IdentifiabilityCases:
    """The named cases of the chapter's identifiability figure."""

    cases: dict[str, IdentifiabilityConfig] = field(default_factory=lambda: {
        "Boltzmann class (d=75)": IdentifiabilityConfig("boltzmann"),
        "shared logits (d=3)": IdentifiabilityConfig("shared"),
        "shared logits, learner does not move": IdentifiabilityConfig("shared",
                                                                       learning_rate=0.0),
    })


__all__ = ["IdentifiabilityCases", "IdentifiabilityConfig", "IdentifiabilityCurve",
           "RatesConfig", "RatesResult", "identifiability_curve",
           "loglog_slope", "run_rates", "sweep_rates"]


def trace_split_half(grid: Gridworld, trace: Any, config: Any, m: int) -> Any:
    """:func:`logel.diagnostics.split_half_agreement` for the realistic observer on a gridworld
    trace: behavioural cloning on all ``n`` trajectories of each step
    (:func:`logel.irl.observer.realistic_inputs`), Jacobians at the cloned parameters
    estimated on the first and on the second half of them
    (:func:`logel.irl.observer.step_jacobians`), block-coordinate descent on each.

    Args:
        grid: the gridworld of the run.
        trace: the learner's :class:`~logel.traces.LearnerTrace`.
        config: a realistic :class:`~logel.experiments.gridworld.RecoveryConfig`.
        m: observed learning steps.

    Returns:
        A :class:`~logel.diagnostics.SplitHalf` (no warning is raised; read ``stable``).
    """
    policy_class = BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions), config.bc)
    n = config.observer_trajectories
    inputs = realistic_inputs(trace, policy_class, observer_config(config, trace), m,
                              n_trajectories=n)
    halves = [step_jacobians(policy_class, inputs.policies[:m], trace.states[:m, rows],
                             trace.actions[:m, rows], trace.features[:m, rows], grid.gamma,
                             config.baseline_eps)
              for rows in (slice(0, n // 2), slice(n // 2, n))]
    return split_half_agreement(inputs.deltas, halves[0], halves[1], None,
                                null_directions=np.ones(grid.n_features), warn=False,
                                alpha_init=config.alpha_init, alpha_min=config.alpha_min,
                                tol=config.tol, max_iter=config.max_iter)


def run_split_half(config: Any, seed: int, m: int) -> float:
    """The split-half cosine (:func:`trace_split_half` with ``config.logel``) of LOGEL's
    weights at ``m`` on the learner run of ``run_comparison(config, seed)``."""
    grid, trace, _ = learner_parameters(config, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return trace_split_half(grid, trace, config.logel, m).cosine


# ------------------------------------------------------------------------ budgets and claims


RATES_BUDGETS: dict[Budget, tuple[tuple[int, ...], RatesConfig]] = {
    "smoke": ((0, 1), RatesConfig(trajectories=(20, 100, 500), observed_steps=(2, 5),
                                  n_updates=5)),
    "book": (tuple(range(8)), RatesConfig(trajectories=(25, 100, 400, 1600))),
    "paper": (tuple(range(50)), RatesConfig(trajectories=(20, 50, 100, 200, 500, 1000, 2000))),
}
"""Seeds and :class:`RatesConfig` of the rates experiment per budget (chapter 9 and
``logel reproduce theory``)."""


def budget_setup(budget: Budget) -> tuple[list[int], RatesConfig]:
    """Seeds and :class:`RatesConfig` at ``budget``."""
    seeds, config = RATES_BUDGETS[check_budget(budget)]
    return list(seeds), config


def rate_slopes(results: list[RatesResult], n_min: int = 100) -> dict[str, dict[int, float]]:
    """Log-log slopes of the weight error against ``n >= n_min`` per observer and ``m``."""
    cfg = results[0].config
    keep = [i for i, n in enumerate(cfg.trajectories) if n >= n_min]
    ns = [cfg.trajectories[i] for i in keep]
    out: dict[str, dict[int, float]] = {}
    for kind in ("known", "known_raw", "bc"):
        errs = np.stack([getattr(r, kind) for r in results])  # (seeds, n, m)
        out[kind] = {m: loglog_slope(ns, errs[:, keep, j])
                     for j, m in enumerate(cfg.observed_steps)}
    return out


KNOWN_SLOPE_MAX = -0.4
"""The known-theta observer's log-log slope at the largest ``m`` (``n >= 100``) must lie below
this: the error falls at least as fast as :math:`n^{-0.4}`."""


def identifiability_claim(budget: Budget) -> Claim:
    """The package warns exactly where the exact-Jacobian closed form misses omega."""
    mismatches = []
    for name, cfg in IdentifiabilityCases().cases.items():
        curve = identifiability_curve(cfg, 0)
        if not np.array_equal(curve.warned, curve.weight_error > 1e-6):
            mismatches.append(name)
    return claim("theory", "IdentifiabilityWarning fires exactly when recovery fails "
                 "(exact Jacobians)", not mismatches,
                 "mismatches: " + (", ".join(mismatches) or "none"), budget, statistical=False)


def claims(slopes: dict[str, dict[int, float]], budget: Budget) -> list[Claim]:
    """The theory's claims (``logel reproduce theory``; chapter 9 checks the same): the rate
    of the known-theta observer, and :func:`identifiability_claim`."""
    m_hi = max(slopes["known"])
    return [
        claim("theory", f"known theta: error falls at least as fast as n^-0.4 (m={m_hi})",
              slopes["known"][m_hi] < KNOWN_SLOPE_MAX,
              f"slope {slopes['known'][m_hi]:.2f} (n >= 100)", budget),
        identifiability_claim(budget),
    ]
