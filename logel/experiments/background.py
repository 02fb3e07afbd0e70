"""Experiments of the background chapters: estimator bias and variance, learning curves, the grid.

Three small studies that the book's background chapters run at the current budget:

* :func:`estimator_study` -- at a fixed random :math:`\\theta`, many independent batch estimates of
  the Jacobian :math:`\\nabla_\\theta\\psi(\\theta)` (G(PO)MDP and REINFORCE, with and without the
  in-sample baseline) compared with the exact Jacobian of the ``"consistent"`` gridworld, whose
  trajectories all start at s0 so that the exact Jacobian of ``grid.sampling_model`` is the
  estimators' target;
* :func:`learning_curves` -- the G(PO)MDP learner's mean sampled discounted return per learning
  step (the official code's learning-curve metric) and the exact finite-horizon return from s0 of
  each :math:`\\theta_t`, over seeds;
* :func:`optimal_route` and :func:`plot_colour_grid` -- the 5x5 colour grid with the optimal route.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from logel import cli
from logel._validation import choice, integer, items, real
from logel.cli import Command
from logel.envs.gridworld import (
    COLOUR_NAMES,
    GOAL_STATE,
    LAYOUT,
    MOVES,
    SIZE,
    START_STATE,
    Gridworld,
    Variant,
    sample_batch,
)
from logel.estimators import gpomdp_jacobian, reinforce_jacobian
from logel.evaluation import greedy_policy
from logel.experiments.budgets import BUDGETS, Budget
from logel.learners.gpomdp import GPOMDPLearnerConfig, run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.runner import run_jobs
from logel.tabular import feature_expectations, feature_expectations_jacobian, reward_table

ESTIMATORS = {"gpomdp": gpomdp_jacobian, "reinforce": reinforce_jacobian}
"""The two vector-valued estimators compared by :func:`estimator_study`."""

BASELINE_OFF = float("inf")
"""``baseline_eps`` that switches the baseline off: :math:`b=\\text{num}/\\infty=0` exactly."""


# --------------------------------------------------------------------------------------------
# Estimator bias and variance
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EstimatorStudyConfig:
    """Monte-Carlo study of the Jacobian estimators at one fixed policy."""

    batch_sizes: tuple[int, ...] = (10, 20, 50, 100, 200)
    """Trajectories per batch estimate, ``n``."""
    total_trajectories: int = 20_000
    """Trajectories per batch size; ``total_trajectories / n`` independent batch estimates."""
    baseline_eps: tuple[float, ...] = (1e-3, BASELINE_OFF)
    """:math:`\\epsilon_b` values compared (default 1e-3, and the baseline switched off)."""
    theta_seed: int = 0
    """Seed of the fixed random policy parameters :math:`\\theta\\sim\\mathcal N(0, s^2 I)`."""
    theta_scale: float = 1.0
    """Standard deviation ``s`` of the random :math:`\\theta`."""
    sample_seed: int = 1
    """Seed of the trajectories."""
    chunk: int = 2000
    """Trajectories sampled and scored at once (must be a multiple of every batch size)."""
    slip: float = 0.0
    """Slip probability of the gridworld (deterministic moves by default)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        items(self.batch_sizes, c + "batch_sizes", lambda v, n: integer(v, n, low=2))
        integer(self.total_trajectories, c + "total_trajectories", low=1)
        items(self.baseline_eps, c + "baseline_eps", lambda v, n: real(v, n, low=0, allow_inf=True))
        integer(self.theta_seed, c + "theta_seed", low=0)
        real(self.theta_scale, c + "theta_scale", low=0)
        integer(self.sample_seed, c + "sample_seed", low=0)
        integer(self.chunk, c + "chunk", low=1)
        real(self.slip, c + "slip", low=0, high=1)
        if any(self.chunk % n for n in self.batch_sizes):
            raise ValueError(f"{c}chunk={self.chunk} must be a multiple of every batch size "
                             f"{self.batch_sizes}")
        if self.total_trajectories % self.chunk:
            raise ValueError(f"{c}total_trajectories must be a multiple of chunk")
        if self.total_trajectories // max(self.batch_sizes) < 2:
            raise ValueError(f"{c}total_trajectories: need at least two batch estimates for the "
                             "largest batch size")


@dataclass(frozen=True)
class EstimatorStats:
    """Statistics of ``n_batches`` independent batch estimates :math:`\\hat J_b` of :math:`J`.

    All errors are relative to :math:`\\|J\\|_F`; :math:`\\bar J` is the mean of the ``B``
    estimates and :math:`\\hat\\sigma^2_{kj}` the sample variance of entry ``(k, j)`` over them.
    """

    estimator: str
    """``"gpomdp"`` or ``"reinforce"``."""
    baseline_eps: float
    """:math:`\\epsilon_b` (``inf``: no baseline)."""
    n: int
    """Trajectories per batch estimate."""
    n_batches: int
    """Number of independent batch estimates."""
    error_of_mean: float
    """:math:`\\|\\bar J-J\\|_F/\\|J\\|_F`: bias plus Monte-Carlo noise."""
    noise_floor: float
    """:math:`\\sqrt{\\sum_{kj}\\hat\\sigma^2_{kj}/B}/\\|J\\|_F`: the expected ``error_of_mean`` of
    an *unbiased* estimator with the same variance and ``B`` batches."""
    bias: float
    """:math:`\\sqrt{\\max(0,\\|\\bar J-J\\|_F^2-\\sum_{kj}\\hat\\sigma^2_{kj}/B)}/\\|J\\|_F`, the
    relative bias with the Monte-Carlo noise subtracted."""
    entry_variance: float
    """Mean over entries of :math:`\\hat\\sigma^2_{kj}`: the variance of one batch estimate."""
    rmse: float
    """:math:`\\sqrt{\\frac1B\\sum_b\\|\\hat J_b-J\\|_F^2}/\\|J\\|_F`: the error of one batch
    estimate (bias and variance together)."""
    mean_z2: float
    """Mean over entries of :math:`z_{kj}^2`, :math:`z_{kj}=(\\bar J_{kj}-J_{kj})/(\\hat\\sigma_{kj}/\\sqrt B)`:
    about 1 for an unbiased estimator, larger when the bias exceeds the Monte-Carlo noise."""
    max_abs_z: float
    """Largest :math:`|z_{kj}|` over the entries."""


@dataclass(frozen=True)
class EstimatorStudy:
    """Result of :func:`estimator_study`."""

    config: EstimatorStudyConfig
    theta: np.ndarray
    """``(d,)`` the fixed policy parameters."""
    exact_jacobian: np.ndarray
    """``(d, q)`` the exact :math:`\\nabla_\\theta\\psi(\\theta)` of the sampling model."""
    stats: tuple[EstimatorStats, ...] = field(default_factory=tuple)

    def get(self, estimator: str, baseline_eps: float, n: int) -> EstimatorStats:
        """The statistics of one (estimator, :math:`\\epsilon_b`, ``n``) cell."""
        for s in self.stats:
            if s.estimator == estimator and s.baseline_eps == baseline_eps and s.n == n:
                return s
        raise KeyError(f"no statistics for {(estimator, baseline_eps, n)}")

    def series(self, estimator: str, baseline_eps: float, attribute: str) -> np.ndarray:
        """``attribute`` of every batch size, in the order of ``config.batch_sizes``."""
        return np.array([getattr(self.get(estimator, baseline_eps, n), attribute)
                         for n in self.config.batch_sizes])


def exact_jacobian(grid: Gridworld, theta: np.ndarray) -> np.ndarray:
    """Exact :math:`\\nabla_\\theta\\psi(\\theta)` ``(d, q)`` of the Boltzmann policy on the sampler."""
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    return feature_expectations_jacobian(grid.sampling_model, policy.probabilities(theta),
                                         policy.probability_jacobian(theta), grid.horizon)


def estimator_study(config: EstimatorStudyConfig = EstimatorStudyConfig()) -> EstimatorStudy:
    """Bias, variance and error of the batch Jacobian estimators at one random :math:`\\theta`.

    For each batch size ``n`` the same pool of ``total_trajectories`` independent trajectories
    (all starting at s0, ``"consistent"`` gridworld) is cut into ``total_trajectories / n``
    batches; every estimator and :math:`\\epsilon_b` sees the same batches (common random
    numbers), so differences between them are not sampling luck.
    """
    grid = Gridworld(variant="consistent", slip=config.slip)
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    theta = config.theta_scale * np.random.default_rng(config.theta_seed).standard_normal(
        policy.n_params)
    probs = policy.probabilities(theta)
    J = exact_jacobian(grid, theta)
    rng = np.random.default_rng(config.sample_seed)
    keys = [(e, eps, n) for e in ESTIMATORS for eps in config.baseline_eps
            for n in config.batch_sizes]
    sums = {k: np.zeros_like(J) for k in keys}
    squares = {k: np.zeros_like(J) for k in keys}
    for _ in range(config.total_trajectories // config.chunk):
        batch = sample_batch(grid, probs, config.chunk, rng)
        scores = policy.scores(theta, batch.states, batch.actions)
        for n in config.batch_sizes:
            for start in range(0, config.chunk, n):
                g, f = scores[start:start + n], batch.features[start:start + n]
                for name, fn in ESTIMATORS.items():
                    for eps in config.baseline_eps:
                        est = fn(g, f, grid.gamma, eps)
                        sums[name, eps, n] += est
                        squares[name, eps, n] += est * est
    norm = float(np.linalg.norm(J))
    stats = []
    for name, eps, n in keys:
        B = config.total_trajectories // n
        mean = sums[name, eps, n] / B
        var = (squares[name, eps, n] - B * mean * mean) / (B - 1)
        var = np.maximum(var, 0.0)
        err2 = float(np.sum((mean - J) ** 2))
        noise2 = float(var.sum() / B)
        mse = float(np.sum(squares[name, eps, n] / B - 2 * J * mean + J * J))
        se = np.sqrt(var / B)
        varying = se > 1e-12 * norm
        z = (mean - J)[varying] / se[varying]
        stats.append(EstimatorStats(
            estimator=name, baseline_eps=eps, n=n, n_batches=B,
            error_of_mean=float(np.sqrt(err2) / norm), noise_floor=float(np.sqrt(noise2) / norm),
            bias=float(np.sqrt(max(0.0, err2 - noise2)) / norm), entry_variance=float(var.mean()),
            rmse=float(np.sqrt(max(mse, 0.0)) / norm), mean_z2=float(np.mean(z * z)),
            max_abs_z=float(np.abs(z).max())))
    return EstimatorStudy(config, theta, J, tuple(stats))


ESTIMATOR_STUDY_BUDGETS: dict[Budget, EstimatorStudyConfig] = {
    "smoke": EstimatorStudyConfig(batch_sizes=(10, 50, 200), total_trajectories=4000),
    "book": EstimatorStudyConfig(),
    "paper": EstimatorStudyConfig(total_trajectories=200_000),
}
"""The estimator study at each budget."""


# --------------------------------------------------------------------------------------------
# Learning curves of the G(PO)MDP learner
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LearningCurveBudget:
    """Seeds of the learning-curve figures at one budget."""

    seeds: tuple[int, ...]
    """Learner runs for the main curves (constant step size 0.1)."""
    schedule_seeds: tuple[int, ...]
    """Learner runs per step-size schedule (a second, cheaper figure)."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        for name in ("seeds", "schedule_seeds"):
            items(getattr(self, name), c + name, lambda v, n: integer(v, n, low=0))


LEARNING_CURVE_BUDGETS: dict[Budget, LearningCurveBudget] = {
    "smoke": LearningCurveBudget(seeds=(0, 1, 2), schedule_seeds=(0,)),
    "book": LearningCurveBudget(seeds=tuple(range(20)), schedule_seeds=tuple(range(5))),
    "paper": LearningCurveBudget(seeds=tuple(range(100)), schedule_seeds=tuple(range(20))),
}


@dataclass(frozen=True)
class LearningCurves:
    """Per-step returns of several runs of the G(PO)MDP learner.

    ``K = config.n_updates + 1`` policies per run; step ``t`` is the policy after ``t`` updates.
    """

    variant: Variant
    config: GPOMDPLearnerConfig
    seeds: tuple[int, ...]
    sampled: np.ndarray
    """``(n_seeds, K)`` mean discounted return of the ``n`` sampled trajectories of each policy
    (the official code's learning-curve metric)."""
    exact: np.ndarray
    """``(n_seeds, K)`` exact finite-horizon return :math:`\\omega^\\top\\psi(\\theta_t)` from s0 on
    the sampling model."""


def finite_horizon_optimum(grid: Gridworld) -> float:
    """Best expected ``T``-step return from s0 on the sampling model, by backward induction.

    :math:`\\max_\\pi\\mathbb E\\big[\\sum_{l<T}\\gamma^l\\omega^{L\\top}\\phi_l\\mid s_0\\big]`
    with :math:`V_0=0`, :math:`V_k=\\max_a\\big(r(\\cdot,a)+\\gamma PV_{k-1}\\big)`: the ceiling of
    the exact learning curve of :func:`learning_curves`.
    """
    mdp = grid.sampling_model
    r = reward_table(mdp, grid.true_weights)
    V = np.zeros(mdp.n_states)
    for _ in range(grid.horizon):
        V = (r + mdp.gamma * mdp.transitions @ V).max(axis=1)
    return float(mdp.start @ V)


def _one_curve(variant: Variant, config: GPOMDPLearnerConfig, seed: int
               ) -> tuple[np.ndarray, np.ndarray]:
    grid = Gridworld(variant=variant)
    trace = run_gpomdp_learner(grid, config, np.random.default_rng(seed))
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    assert trace.thetas is not None and trace.returns is not None
    exact = np.array([feature_expectations(grid.sampling_model, policy.probabilities(th),
                                           grid.horizon) @ grid.true_weights
                      for th in trace.thetas])
    return trace.returns.mean(axis=1), exact


def learning_curves(variant: Variant, seeds: Any,
                    config: GPOMDPLearnerConfig | None = None,
                    n_jobs: int = 1) -> LearningCurves:
    """Run the G(PO)MDP learner once per seed (``np.random.default_rng(seed)``).

    ``config`` defaults to the official learner (30 updates, 50 trajectories, step size 0.1).
    Results do not depend on ``n_jobs``.
    """
    config = GPOMDPLearnerConfig() if config is None else config
    seeds = tuple(int(s) for s in seeds)
    runs = run_jobs(_one_curve, [(variant, config, s) for s in seeds], n_jobs=n_jobs)
    return LearningCurves(variant, config, seeds, np.stack([r[0] for r in runs]),
                          np.stack([r[1] for r in runs]))


# --------------------------------------------------------------------------------------------
# The colour grid and its optimal route
# --------------------------------------------------------------------------------------------

def optimal_route(grid: Gridworld, omega: np.ndarray | None = None,
                  max_steps: int = 100) -> list[int]:
    """States visited by the greedy policy of ``omega`` from s0 until G (both included).

    Follows the deterministic moves of :data:`logel.envs.gridworld.MOVES` (no slip).

    Raises:
        RuntimeError: if G is not reached within ``max_steps`` (the greedy policy loops).
    """
    actions = greedy_policy(grid, grid.true_weights if omega is None else omega)
    route = [START_STATE]
    while route[-1] != GOAL_STATE:
        if len(route) > max_steps:
            raise RuntimeError("the greedy policy does not reach G from s0")
        x, y = divmod(route[-1], SIZE)
        dx, dy = MOVES[int(actions[route[-1]])]
        route.append(SIZE * min(max(x + dx, 0), SIZE - 1) + min(max(y + dy, 0), SIZE - 1))
    return route


COLOUR_FILLS: dict[str, str] = {"R": "#e45756", "V": "#b279a2", "N": "#e6e6e6",
                                "P": "#ff9da6", "G": "#54a24b"}
"""Fill colour of each cell colour in :func:`plot_colour_grid`."""


def plot_colour_grid(ax: Any, route: list[int] | None = None,
                     weights: np.ndarray | None = None) -> None:
    """Draw the 5x5 colour grid (row 0 at the top), its start and goal, and a route as arrows.

    Args:
        ax: a matplotlib axes.
        route: states to connect with arrows (e.g. :func:`optimal_route`), or None.
        weights: ``(5,)`` weights printed under each colour letter, or None.
    """
    from matplotlib.patches import Rectangle

    for x, row in enumerate(LAYOUT):
        for y, colour in enumerate(row):
            ax.add_patch(Rectangle((y, SIZE - 1 - x), 1, 1, facecolor=COLOUR_FILLS[colour],
                                   edgecolor="white", linewidth=2))
            label = colour
            if weights is not None:
                label += f"\n{weights[COLOUR_NAMES.index(colour)]:+g}"
            ax.text(y + 0.5, SIZE - 1 - x + 0.5, label, ha="center", va="center", fontsize=9,
                    color="0.15")
    ax.text(0.08, SIZE - 0.1, "start", ha="left", va="top", fontsize=7, color="0.1")
    ax.text(SIZE - 0.08, 0.1, "goal", ha="right", va="bottom", fontsize=7, color="0.1")
    if route is not None:
        for s, s_next in zip(route[:-1], route[1:], strict=True):
            (x0, y0), (x1, y1) = divmod(s, SIZE), divmod(s_next, SIZE)
            ax.annotate("", xy=(y1 + 0.5, SIZE - 0.5 - x1), xytext=(y0 + 0.5, SIZE - 0.5 - x0),
                        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.6,
                                    "shrinkA": 9, "shrinkB": 9})
    ax.set_xlim(0, SIZE)
    ax.set_ylim(0, SIZE)
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(SIZE) + 0.5, [f"y={y}" for y in range(SIZE)], fontsize=7)
    ax.set_yticks(np.arange(SIZE) + 0.5, [f"x={SIZE - 1 - x}" for x in range(SIZE)], fontsize=7)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def format_estimator_study(study: EstimatorStudy) -> str:
    """A plain-text table of :func:`estimator_study` (one row per estimator, baseline, ``n``)."""
    lines = [f"{'estimator':>9s} {'eps_b':>6s} {'n':>4s} {'batches':>7s} {'err(mean)':>9s} "
             f"{'floor':>6s} {'mean z^2':>8s} {'var/entry':>9s} {'rmse':>6s}"]
    for s in study.stats:
        lines.append(f"{s.estimator:>9s} {s.baseline_eps:6.0e} {s.n:4d} {s.n_batches:7d} "
                     f"{s.error_of_mean:9.3f} {s.noise_floor:6.3f} {s.mean_z2:8.2f} "
                     f"{s.entry_variance:9.5f} {s.rmse:6.3f}")
    return "\n".join(lines)


def format_learning_curves(curves: LearningCurves, steps: tuple[int, ...] = (0, 1, 5, 10, 29)
                           ) -> str:
    """Mean ± 95% CI of the sampled and exact returns at a few learning steps."""
    from logel.evaluation import mean_ci

    lines = [f"variant={curves.variant} learning_rate={curves.config.learning_rate} "
             f"seeds={len(curves.seeds)}",
             f"{'step':>4s} {'sampled return':>20s} {'exact return from s0':>22s}"]
    for t in steps:
        if t >= curves.sampled.shape[1]:
            continue
        (ms, hs), (me, he) = mean_ci(curves.sampled[:, t]), mean_ci(curves.exact[:, t])
        lines.append(f"{t:4d} {ms:11.2f} ± {hs:5.2f} {me:13.2f} ± {he:5.2f}")
    return "\n".join(lines)


@dataclass(frozen=True)
class BackgroundCommand:
    """``logel run background``: one of the two background studies at a budget."""

    study: Literal["estimators", "curves"]
    """The estimator study (ESTIMATOR_STUDY_BUDGETS) or the learning curves
    (LEARNING_CURVE_BUDGETS)."""
    budget: Budget = "book"
    """Sizes of the study: smoke, book or paper."""
    variant: Variant = "paper"
    """Gridworld variant of the learning curves."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.study, c + "study", ("estimators", "curves"))
        choice(self.budget, c + "budget", BUDGETS)
        choice(self.variant, c + "variant", get_args(Variant))


def _execute(options: BackgroundCommand, args: Any) -> None:
    if options.study == "estimators":
        print(format_estimator_study(estimator_study(ESTIMATOR_STUDY_BUDGETS[options.budget])))
    else:
        seeds = LEARNING_CURVE_BUDGETS[options.budget].seeds
        print(format_learning_curves(learning_curves(options.variant, seeds,
                                                     n_jobs=args.n_jobs)))


# logel run background estimators|curves [--budget B].
COMMAND = Command(config=BackgroundCommand, execute=_execute, options=("n_jobs",),
                  positional=("study",))


def main(argv: list[str] | None = None) -> int:
    """``python -m logel.experiments.background {estimators,curves}``: the same as
    ``logel run background ...``."""
    return cli.run("background", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
