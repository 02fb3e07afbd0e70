"""Reward recovery on the colour gridworld in the three settings (paper Secs. 2-4, 5.4a).

``run(config, seed)`` runs one G(PO)MDP learner and one observer and returns a
:class:`RecoveryResult`; ``sweep(config, seeds)`` repeats it over seeds
(:func:`logel.runner.run_jobs`, deterministic per seed whatever ``n_jobs``); :func:`summarise`
turns a sweep into per-``m`` statistics.

Settings:

``exact``
    the learner follows the exact gradient :math:`\\nabla\\psi(\\theta_t)\\omega^L`; the observer
    knows :math:`\\theta_t`, :math:`\\alpha_t` and the exact Jacobians: closed form.
``approximate``
    the (sampling) G(PO)MDP learner; the observer knows :math:`\\theta_t` and :math:`\\alpha_t`
    and estimates the Jacobians from ``n`` trajectories per step: closed form. With
    ``observer_samples="learner"`` it reuses the learner's own trajectories, which makes
    recovery exact by the estimator's linearity (the official default); ``"independent"``
    draws fresh trajectories from each :math:`\\pi_{\\theta_t}`.
``realistic``
    LOGEL: the observer sees only the learner's trajectories (the first ``n`` of each step),
    recovers :math:`\\hat\\theta_t` by behavioural cloning, estimates the Jacobians at
    :math:`\\hat\\theta_t` and runs block-coordinate descent for unknown learning rates.

Random streams (:mod:`logel.streams`): the learner draws from ``SeedSequence(seed).spawn(2)[0]``
(as it always has); the approximate setting's fresh trajectories of the learner's policy
:math:`\\pi_t` come from the cell ``(seed, "observer trajectories", t)``, drawn trajectory by
trajectory (:func:`logel.envs.gridworld.sample_batches` with one stream per policy). The
observer after ``m`` steps uses the steps ``t < m`` and the first ``n`` trajectories of each, so
its result depends only on ``(seed, m, n)`` and its own options: never on which other ``m``,
``n`` or designs ran (the sample-size sweeps of ``logel.experiments.sweeps`` draw from the
same cells and reproduce it). The realistic setting draws nothing.

The all-ones direction of :math:`\\omega` (``fix_constant_direction``): ``"auto"`` fixes it
exactly when the trace's features make it unidentifiable
(:func:`logel.diagnostics.constant_direction_unidentifiable`: every feature vector has the same
sum, as the colour features, which partition the states).
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from logel import cli
from logel._validation import choice, instance, integer, items, real
from logel.cli import Command
from logel.diagnostics import constant_direction_unidentifiable
from logel.envs.gridworld import Gridworld, Variant, sample_batches
from logel.evaluation import attains_optimum, greedy_value, mean_ci, optimal_value, weight_error
from logel.experiments.budgets import Budget, check_budget
from logel.experiments.claims import Claim, claim
from logel.irl.bc import BCConfig
from logel.irl.observer import (
    BoltzmannClass,
    ObserverConfig,
    ObserverInputs,
    approximate_inputs,
    exact_inputs,
    realistic_inputs,
    recover,
)
from logel.learners.gpomdp import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.runner import run_jobs
from logel.streams import cell_rngs
from logel.traces import LearnerTrace

Setting = Literal["exact", "approximate", "realistic"]
ConstantDirection = bool | Literal["auto"]
"""``fix_constant_direction``: True (fix the all-ones direction of omega), False (leave it free)
or ``"auto"`` (fix it exactly when the features make it unidentifiable)."""
CONSTANT_DIRECTIONS: tuple[ConstantDirection, ...] = (True, False, "auto")
"""The values of ``fix_constant_direction``."""
OBSERVER_TRAJECTORIES = "observer trajectories"
"""Name of the streams of the fresh trajectories an observer draws from :math:`\\pi_t`
(:func:`logel.streams.cell_rng`, index ``t``)."""

DEFAULT_BC = BCConfig(method="smoothed", smoothness_weight=10.0, proximal_weight=0.01)
"""Our BC default, chosen on :data:`logel.experiments.budgets.TUNING_SEEDS` (see the book)."""


@dataclass(frozen=True)
class RecoveryConfig:
    """One gridworld recovery experiment (learner + observer)."""

    setting: Setting = "realistic"
    """``"exact"``, ``"approximate"`` or ``"realistic"`` (see the module docstring)."""
    variant: Variant = "paper"
    """Gridworld dynamics variant, ``"paper"`` (official code) or ``"consistent"``."""
    slip: float = 0.0
    """Probability of a random move (the paper's stochastic option: 0.3)."""
    learner: GPOMDPLearnerConfig = field(default_factory=lambda: GPOMDPLearnerConfig(n_updates=15))
    """The G(PO)MDP learner (official observer default: 16 policies, i.e. 15 updates)."""
    observed_steps: tuple[int, ...] = (5, 10, 15)
    """Numbers ``m`` of observed learning steps (transitions ``t = 1..m``, from the start)."""
    observer_trajectories: int = 50
    """``n``: trajectories per step the observer uses (at most the learner's batch size when
    they are the learner's own)."""
    observer_samples: Literal["independent", "learner"] = "independent"
    """Approximate setting only: fresh trajectories, or the learner's own (official default)."""
    bc: BCConfig = DEFAULT_BC
    """Behavioural cloning (realistic setting only)."""
    alpha_init: float = 0.1
    """Initial learning rates of block-coordinate descent (official: 0.1)."""
    alpha_min: float = 0.01
    """Lower bound on the learning rates (official: 0.01)."""
    tol: float = 1e-6
    """Relative tolerance on the change of omega in block-coordinate descent."""
    max_iter: int = 1000
    """Iteration cap of block-coordinate descent."""
    step_sizes: Literal["per_step", "shared"] = "per_step"
    """Learning rates of block-coordinate descent: one per step (the paper) or one shared step
    size (our option, :func:`logel.fit`; chapter 6)."""
    fix_constant_direction: ConstantDirection = "auto"
    """Fix the all-ones direction of omega to zero (True), leave it free (False), or decide from
    the trace's features (``"auto"``, the default): fixed exactly when every feature vector has
    the same sum, so that :math:`\\nabla\\psi\\,\\mathbf 1=0` and the direction is
    unidentifiable (:func:`logel.diagnostics.constant_direction_unidentifiable`). The colour
    features partition the states, so ``"auto"`` fixes it on the gridworld."""
    baseline_eps: float = 1e-3
    """:math:`\\epsilon_b` of the observer's G(PO)MDP estimator."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.setting, c + "setting", get_args(Setting))
        choice(self.variant, c + "variant", get_args(Variant))
        real(self.slip, c + "slip", low=0, high=1)
        instance(self.learner, c + "learner", GPOMDPLearnerConfig)
        steps = items(self.observed_steps, c + "observed_steps", integer)
        if min(steps) < 1 or max(steps) > self.learner.n_updates:
            raise ValueError(f"{c}observed_steps must lie in 1..{self.learner.n_updates} "
                             f"(the learner's n_updates), got {self.observed_steps}")
        integer(self.observer_trajectories, c + "observer_trajectories", low=1)
        choice(self.observer_samples, c + "observer_samples", ("independent", "learner"))
        instance(self.bc, c + "bc", BCConfig)
        real(self.alpha_init, c + "alpha_init", low=0, low_open=True)
        real(self.alpha_min, c + "alpha_min", low=0, low_open=True)
        real(self.tol, c + "tol", low=0)
        integer(self.max_iter, c + "max_iter", low=1)
        choice(self.step_sizes, c + "step_sizes", ("per_step", "shared"))
        choice(self.fix_constant_direction, c + "fix_constant_direction", CONSTANT_DIRECTIONS)
        real(self.baseline_eps, c + "baseline_eps", low=0, allow_inf=True)
        uses_learner_data = self.setting == "realistic" or self.observer_samples == "learner"
        if uses_learner_data and self.observer_trajectories > self.learner.n_trajectories:
            raise ValueError(f"{c}observer_trajectories cannot exceed the learner's n_trajectories "
                             "when the observer uses the learner's own trajectories")


    def learner_key(self) -> tuple[object, ...]:
        """What the (approximate or realistic setting's) learner run depends on: the dynamics
        and the learner's options. Configurations with equal keys share one learner run."""
        return (self.variant, self.slip, tuple(sorted(asdict(self.learner).items())))


@dataclass(frozen=True)
class StepsOutcome:
    """The observer's result after ``m`` observed learning steps."""

    m: int
    """Number of observed learning steps."""
    weights: np.ndarray
    """``(q,)`` recovered weights."""
    learning_rates: np.ndarray
    """``(m,)`` learning rates used (true ones when known, recovered otherwise)."""
    value: float
    """:math:`V^{\\pi_{\\hat\\omega}}(s_0)` under the true weights."""
    optimal: bool
    """Whether that value equals the optimum."""
    weight_error: float
    """Centred, normalised weight error (in [0, 2])."""
    weight_error_uncentred: float
    """Normalised weight error without centring (for comparability with the official code)."""
    n_iter: int
    """BCD iterations (0 for the closed form)."""
    converged: bool
    """BCD convergence flag (True for the closed form)."""
    rank: int
    """Numerical rank of the stacked Jacobians (over the free directions)."""
    condition_number: float
    """Condition number of the stacked Jacobians (over the free directions)."""


@dataclass(frozen=True)
class RecoveryResult:
    """One learner run observed at several ``m``."""

    config: RecoveryConfig
    seed: int
    environment: dict[str, Any]
    """The gridworld description (variant, slip, gamma, horizon, true weights)."""
    optimal_value: float
    """:math:`V^*(s_0)` of the planning model."""
    outcomes: tuple[StepsOutcome, ...]
    learner_returns: np.ndarray
    """``(K,)`` mean discounted return of each of the learner's policies."""
    bc_parameter_error: np.ndarray | None
    """``(K,)`` :math:`\\|\\hat\\theta_t-\\theta_t\\|_2` (realistic setting), else None."""

    def outcome(self, m: int) -> StepsOutcome:
        """The outcome for ``m`` observed steps."""
        for o in self.outcomes:
            if o.m == m:
                return o
        raise KeyError(f"m={m} was not observed; observed {[o.m for o in self.outcomes]}")


def fixes_constant_direction(choice: ConstantDirection, trace: LearnerTrace | None) -> bool:
    """Resolve ``fix_constant_direction``: True and False as given, ``"auto"`` from the trace's
    features (:func:`logel.diagnostics.constant_direction_unidentifiable`)."""
    if choice == "auto":
        if trace is None:
            raise ValueError("fix_constant_direction='auto' is decided from a trace's features; "
                             "pass the trace")
        return constant_direction_unidentifiable(trace.features)
    if not isinstance(choice, bool | np.bool_):
        raise ValueError(f"fix_constant_direction must be True, False or 'auto', got {choice!r}")
    return bool(choice)


def observer_config(config: RecoveryConfig, trace: LearnerTrace | None = None) -> ObserverConfig:
    """The shared observer's options (:class:`logel.irl.observer.ObserverConfig`) of ``config``;
    ``fix_constant_direction="auto"`` is resolved on ``trace`` (:func:`fixes_constant_direction`)."""
    return ObserverConfig(baseline_eps=config.baseline_eps, alpha_init=config.alpha_init,
                          alpha_min=config.alpha_min, tol=config.tol, max_iter=config.max_iter,
                          step_sizes=config.step_sizes,
                          fix_constant_direction=fixes_constant_direction(
                              config.fix_constant_direction, trace))


def run(config: RecoveryConfig, seed: int) -> RecoveryResult:
    """Run one learner and its observer; everything random flows from ``seed`` (the learner's
    stream and the observer's cells, see the module docstring)."""
    learner_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
    grid = Gridworld(variant=config.variant, slip=config.slip, gamma=0.96, horizon=20)
    learner_cfg = config.learner
    if config.setting == "exact" and learner_cfg.gradient != "exact":
        learner_cfg = GPOMDPLearnerConfig(**{**asdict(learner_cfg), "gradient": "exact"})
    trace = run_gpomdp_learner(grid, learner_cfg, learner_rng)
    outcomes, bc_error = observe(grid, trace, config, seed)
    return RecoveryResult(config, seed, grid.describe(), optimal_value(grid), tuple(outcomes),
                          trace.returns.mean(axis=1), bc_error)


def estimate_inputs(grid: Gridworld, trace: LearnerTrace, config: RecoveryConfig, seed: int
                    ) -> tuple[ObserverInputs[np.ndarray], np.ndarray | None]:
    """What the observer of ``config.setting`` estimates from a learner's trace, for the largest
    observed ``m`` (recover smaller ``m`` from the prefix with :func:`outcomes`).

    The exact and approximate settings need the trace's true ``thetas`` and ``learning_rates``;
    the realistic setting (LOGEL) uses only its states, actions and features, so it serves any
    learner. The approximate setting's fresh trajectories come from the cells
    ``(seed, "observer trajectories", t)`` (module docstring).

    Returns:
        The observer's inputs and, when the trace has true parameters and BC was used, the
        ``(m_max + 1,)`` BC parameter errors.
    """
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    m_max = max(config.observed_steps)
    if m_max > trace.n_policies - 1:
        raise ValueError(f"observed_steps go up to {m_max} but the trace has only "
                         f"{trace.n_policies - 1} learning steps")
    if config.setting != "realistic" and (trace.thetas is None or trace.learning_rates is None):
        raise ValueError(f"the {config.setting} setting needs the learner's thetas and "
                         "learning rates; use setting='realistic' for this trace")
    n = config.observer_trajectories
    observer = observer_config(config, trace)
    policy_class = BoltzmannClass(policy, config.bc)
    bc_error = None
    if config.setting == "exact":
        inputs = exact_inputs(trace, policy, grid.sampling_model, grid.horizon, m_max)
    elif config.setting == "approximate":
        samples = None
        if config.observer_samples == "independent":
            assert trace.thetas is not None
            probs = np.stack([policy.probabilities(th) for th in trace.thetas[:m_max]])
            fresh = sample_batches(grid, probs, n, cell_rngs(seed, OBSERVER_TRAJECTORIES, m_max))
            samples = (fresh.states, fresh.actions, fresh.features)
        inputs = approximate_inputs(trace, policy_class, observer, m_max, n_trajectories=n,
                                    samples=samples)
    else:
        inputs = realistic_inputs(trace, policy_class, observer, m_max, n_trajectories=n)
        if trace.thetas is not None:
            bc_error = np.linalg.norm(inputs.thetas - trace.thetas[: m_max + 1], axis=1)
    return inputs, bc_error


def outcomes(grid: Gridworld, inputs: ObserverInputs[np.ndarray], observer: ObserverConfig,
             steps: tuple[int, ...]) -> list[StepsOutcome]:
    """:func:`logel.irl.observer.recover` from the first ``m`` steps of ``inputs`` for every ``m``
    in ``steps``, scored on ``grid``."""
    v_star = optimal_value(grid)
    out = []
    for m in steps:
        obs = recover(inputs, observer, m)
        value = greedy_value(grid, obs.weights)
        out.append(StepsOutcome(
            m=m, weights=obs.weights, learning_rates=obs.learning_rates, value=value,
            optimal=attains_optimum(value, v_star),
            weight_error=weight_error(obs.weights, grid.true_weights, centre=True),
            weight_error_uncentred=weight_error(obs.weights, grid.true_weights, centre=False),
            n_iter=obs.n_iter, converged=obs.converged, rank=obs.identifiability.rank,
            condition_number=obs.identifiability.condition_number))
    return out


def observe(grid: Gridworld, trace: LearnerTrace, config: RecoveryConfig, seed: int
            ) -> tuple[list[StepsOutcome], np.ndarray | None]:
    """The observer of ``config.setting`` on a learner's trace, for every observed ``m``
    (:func:`estimate_inputs`, then :func:`outcomes`).

    Returns the outcomes and, when the trace has true parameters and BC was used, the
    ``(m_max + 1,)`` BC parameter errors.
    """
    inputs, bc_error = estimate_inputs(grid, trace, config, seed)
    return (outcomes(grid, inputs, observer_config(config, trace), config.observed_steps),
            bc_error)


def sweep(config: RecoveryConfig, seeds: Any, n_jobs: int = 1) -> list[RecoveryResult]:
    """:func:`run` over ``seeds`` (:func:`logel.runner.run_jobs`); results are identical for
    any ``n_jobs``."""
    return run_jobs(run, [(config, s) for s in seeds], n_jobs=n_jobs)


@dataclass(frozen=True)
class StepsSummary:
    """Statistics over seeds for one ``m``."""

    m: int
    n_seeds: int
    optimal_fraction: float
    """Fraction of seeds whose greedy policy is optimal."""
    value_mean: float
    value_ci: float
    """Half-width of the t-based 95% confidence interval of the mean value."""
    weight_error_mean: float
    weight_error_ci: float


def summarise(results: list[RecoveryResult]) -> list[StepsSummary]:
    """Per-``m`` statistics of a sweep."""
    out = []
    for m in results[0].config.observed_steps:
        outs = [r.outcome(m) for r in results]
        v_mean, v_ci = mean_ci([o.value for o in outs])
        e_mean, e_ci = mean_ci([o.weight_error for o in outs])
        out.append(StepsSummary(m, len(outs), float(np.mean([o.optimal for o in outs])),
                                v_mean, v_ci, e_mean, e_ci))
    return out


def format_summary(results: list[RecoveryResult]) -> str:
    """A plain-text table of :func:`summarise` (one row per ``m``)."""
    cfg = results[0].config
    lines = [f"setting={cfg.setting} variant={cfg.variant} slip={cfg.slip} "
             f"n={cfg.observer_trajectories} seeds={len(results)} "
             f"V*(s0)={results[0].optimal_value:.4f}",
             f"{'m':>3s} {'optimal':>9s} {'V(s0) mean ± 95% CI':>22s} "
             f"{'weight error ± 95% CI':>24s}"]
    for s in summarise(results):
        lines.append(f"{s.m:3d} {round(s.optimal_fraction * s.n_seeds):4d}/{s.n_seeds:<4d} "
                     f"{s.value_mean:12.3f} ± {s.value_ci:6.3f} "
                     f"{s.weight_error_mean:13.3f} ± {s.weight_error_ci:6.3f}")
    bc = [r.bc_parameter_error.mean() for r in results if r.bc_parameter_error is not None]
    if bc:
        lines.append(f"mean BC parameter error ||theta_hat - theta||: {np.mean(bc):.3f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------ budgets and claims


@dataclass(frozen=True)
class GridworldBudget:
    """Sizes of the gridworld recovery experiments at one budget."""

    seeds: tuple[int, ...]
    """Independent learner runs (the paper's figures average 20 runs, spec Sec. 5.3)."""
    observed_steps: tuple[int, ...]
    """Numbers of observed learning steps ``m``."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        items(self.seeds, c + "seeds", lambda v, n: integer(v, n, low=0))
        items(self.observed_steps, c + "observed_steps", lambda v, n: integer(v, n, low=1))


GRIDWORLD_BUDGETS: dict[Budget, GridworldBudget] = {
    "smoke": GridworldBudget(seeds=(0, 1, 2), observed_steps=(5, 15)),
    "book": GridworldBudget(seeds=tuple(range(20)), observed_steps=(5, 10, 15)),
    "paper": GridworldBudget(seeds=tuple(range(100)), observed_steps=(5, 10, 15)),
}
"""The gridworld's seeds and observed steps per budget (chapters 4-7 and ``logel reproduce``)."""


def budget_setup(setting: Setting, budget: Budget) -> tuple[list[int], RecoveryConfig]:
    """Seeds and configuration of ``logel reproduce <setting>`` at ``budget``: the budget's
    observed steps; the approximate setting on the learner's own trajectories (the official
    default), the others on independent ones."""
    b = GRIDWORLD_BUDGETS[check_budget(budget)]
    return list(b.seeds), RecoveryConfig(
        setting=setting, observed_steps=b.observed_steps,
        observer_samples="learner" if setting == "approximate" else "independent")


APPROXIMATE_ERROR_MAX = 0.02
"""Largest mean weight error (at the largest ``m``) of the approximate setting on the learner's
own samples."""
EXACT_ERROR_MAX = 1e-9
"""Largest weight error of the exact setting (exact up to rounding)."""


def claims(results: list[RecoveryResult], budget: Budget) -> list[Claim]:
    """The claim of one setting's sweep (``logel reproduce exact|approximate|realistic``)."""
    setting = results[0].config.setting
    ms = list(results[0].config.observed_steps)
    n = len(results)
    errors = np.array([[r.outcome(m).weight_error for m in ms] for r in results])
    n_opt = {m: int(sum(r.outcome(m).optimal for r in results)) for m in ms}
    if setting == "exact":
        return [claim(setting, "exact gradients recover omega exactly (every seed, m)",
                      bool(errors.max() < EXACT_ERROR_MAX
                           and all(c == n for c in n_opt.values())),
                      f"max weight error {errors.max():.2e}; optimal {n_opt}", budget,
                      statistical=False)]
    if setting == "approximate":
        return [claim(setting, "learner's own samples: every seed optimal, error < 0.02",
                      bool(all(c == n for c in n_opt.values())
                           and errors[:, -1].mean() < APPROXIMATE_ERROR_MAX),
                      f"optimal {n_opt}; mean error at m={ms[-1]} "
                      f"{errors[:, -1].mean():.4f}", budget, statistical=False)]
    return [claim(setting, "more observed steps help (optimal seeds and error)",
                  bool(n_opt[ms[-1]] >= n_opt[ms[0]]
                       and errors[:, -1].mean() < errors[:, 0].mean()),
                  f"optimal {n_opt}; mean error {errors.mean(axis=0).round(3)}", budget)]


# ------------------------------------------------------------------------------ command line


BC_PRESETS: dict[str, BCConfig] = {
    "smoothed": DEFAULT_BC,
    "proximal": BCConfig(),
    "adam": BCConfig(method="adam", entropy_coef=0.01),
}
"""``--bc``: our default, plain proximal MLE, or the official 3-step Adam."""

CONSTANT_DIRECTION_PRESETS: dict[str, ConstantDirection] = {
    "auto": "auto", "fixed": True, "free": False}
"""``--fix-constant-direction``: decided from the features, fixed, or free."""


def _execute(config: RecoveryConfig, args: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = sweep(config, args.seeds, n_jobs=args.n_jobs)
    print(format_summary(results))


# logel run gridworld: sweep of a RecoveryConfig over --seeds.
COMMAND = Command(config=RecoveryConfig, execute=_execute, seeds="0-19", options=("n_jobs",),
                  presets={"bc": BC_PRESETS,
                           "fix_constant_direction": CONSTANT_DIRECTION_PRESETS},
                  aliases={"observer_trajectories": ("--n",)})


def main(argv: list[str] | None = None) -> int:
    """``python -m logel.experiments.gridworld --setting realistic --seeds 0-19``: the same as
    ``logel run gridworld ...``."""
    return cli.run("gridworld", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
