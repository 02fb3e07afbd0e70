"""Is watching the learning worth it? LOGEL against observers of the *final* behaviour only.

A reviewer of the paper (spec Sec. 5.6) asked for baselines that ignore the learning process and
see only the learner's last policy. For each learner run (G(PO)MDP, Q-learning, SVI or SPI, the
runs of :mod:`logel.experiments.comparison`, same seed streams) and each number ``m`` of
learning steps, the learner is *stopped after* ``m`` updates, so its final policy is
:math:`\\pi_{m+1}`. On the same trajectories three observers recover a policy:

``logel``
    LOGEL in the realistic setting on the first ``n`` trajectories of each of the ``m + 1``
    policies (behavioural cloning + block-coordinate descent,
    :func:`logel.experiments.gridworld.observe`); its policy is greedy for :math:`\\hat\\omega`.
``mce``
    maximum-causal-entropy IRL (:func:`logel.irl.mce_irl.mce_irl`) on the first ``n``
    trajectories of the final policy only, with the same colour features and the known
    sampling model; its policy is greedy for :math:`\\hat\\omega`.
``bc``
    behavioural cloning of the final policy (:func:`logel.irl.bc.clone_policies`) from the same
    ``n`` trajectories, used *directly* as the observer's policy (no reward, no planning).
``bc_greedy``
    the argmax of that cloned policy (a deterministic imitation, to separate the cost of the
    learner's exploration noise from what BC misses).

All are scored by the paper's metric, the value :math:`V^{\\pi}(s_0)` under the true reward on
the planning model (greedy policies via :func:`logel.evaluation.greedy_value`; stochastic ones
by exact policy evaluation). The learner's own final policy is evaluated the same way
(``learner``): the behaviour a final-behaviour observer can at best copy.

Two sweeps share one learner run per seed: over ``m`` at ``n = max(trajectories)``, and over
``n`` at ``m = n_sweep_m``.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np

from logel import cli
from logel._validation import choice, instance, integer, items, real
from logel.cli import Command
from logel.envs.gridworld import START_STATE, Gridworld, Variant
from logel.evaluation import attains_optimum, greedy_value, mean_ci, optimal_value, weight_error
from logel.experiments.budgets import Budget, check_budget
from logel.experiments.claims import Claim, claim, paired
from logel.experiments.comparison import (
    LEARNERS,
    ComparisonConfig,
    LearnerKind,
    learner_parameters,
    observe_trace,
)
from logel.experiments.gridworld import RecoveryConfig
from logel.irl.bc import BCConfig, clone_policies
from logel.irl.mce_irl import MCEConfig, mce_irl
from logel.learners.gpomdp import GPOMDPLearnerConfig
from logel.learners.tabular_learners import TabularLearnerConfig
from logel.policies.boltzmann import BoltzmannPolicy
from logel.runner import Backend, run_jobs
from logel.statistics import weakest
from logel.tabular import deterministic_policy, policy_evaluation

FinalMethod = Literal["logel", "mce", "bc", "bc_greedy", "learner"]
METHODS: tuple[FinalMethod, ...] = ("logel", "mce", "bc", "bc_greedy", "learner")
OBSERVERS: tuple[FinalMethod, ...] = ("logel", "mce", "bc", "bc_greedy")
FINAL_BC = BCConfig(method="proximal", proximal_weight=0.01)
"""Behavioural cloning of one policy: maximum likelihood with a small ridge towards the uniform
policy (states never visited stay uniform)."""


@dataclass(frozen=True)
class FinalBehaviourConfig:
    """One learner watched by LOGEL and by the final-behaviour observers."""

    learner: LearnerKind = "gpomdp"
    """``"gpomdp"``, ``"qlearning"``, ``"svi"`` or ``"spi"``."""
    variant: Variant = "paper"
    """Gridworld dynamics variant."""
    slip: float = 0.0
    """Probability of a random move."""
    observed_steps: tuple[int, ...] = (2, 5, 10, 15)
    """Learning steps ``m`` after which the learner is stopped (sweep over ``m``)."""
    trajectories: tuple[int, ...] = (5, 10, 20, 50)
    """Trajectories ``n`` per policy the observers use (sweep over ``n``); the ``m`` sweep uses
    the largest."""
    n_sweep_m: int = 10
    """The ``m`` at which the ``n`` sweep is run."""
    n_learner_trajectories: int = 50
    """Trajectories the learner samples per policy (an upper bound on ``n``)."""
    gpomdp: GPOMDPLearnerConfig = field(default_factory=GPOMDPLearnerConfig)
    """G(PO)MDP learner options (``n_updates``/``n_trajectories`` are overridden)."""
    tabular: TabularLearnerConfig = field(default_factory=TabularLearnerConfig)
    """Q-learning / SVI / SPI options (``learner``/``n_updates``/``n_trajectories`` overridden)."""
    logel: RecoveryConfig = field(default_factory=lambda: RecoveryConfig(setting="realistic"))
    """LOGEL's options (the package defaults of the realistic setting)."""
    mce: MCEConfig = field(default_factory=MCEConfig)
    """MCE-IRL options."""
    bc: BCConfig = FINAL_BC
    """Behavioural cloning of the final policy."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        choice(self.learner, c + "learner", LEARNERS)
        choice(self.variant, c + "variant", get_args(Variant))
        real(self.slip, c + "slip", low=0, high=1)
        items(self.observed_steps, c + "observed_steps", lambda v, n: integer(v, n, low=1))
        integer(self.n_learner_trajectories, c + "n_learner_trajectories", low=1)
        items(self.trajectories, c + "trajectories",
              lambda v, n: integer(v, n, low=1, high=self.n_learner_trajectories))
        integer(self.n_sweep_m, c + "n_sweep_m", low=1)
        instance(self.gpomdp, c + "gpomdp", GPOMDPLearnerConfig)
        instance(self.tabular, c + "tabular", TabularLearnerConfig)
        instance(self.logel, c + "logel", RecoveryConfig)
        instance(self.mce, c + "mce", MCEConfig)
        instance(self.bc, c + "bc", BCConfig)


    @property
    def m_max(self) -> int:
        """Updates the learner runs: ``max(observed_steps + (n_sweep_m,))``."""
        return max(*self.observed_steps, self.n_sweep_m)

    def comparison_config(self) -> ComparisonConfig:
        """The :class:`~logel.experiments.comparison.ComparisonConfig` of the same learner run
        (its ``run_comparison(config, seed)`` sees identical trajectories)."""
        steps = tuple(sorted({*self.observed_steps, self.n_sweep_m}))
        return ComparisonConfig(learner=self.learner, variant=self.variant, slip=self.slip,
                                observed_steps=steps, n_trajectories=self.n_learner_trajectories,
                                gpomdp=self.gpomdp, tabular=self.tabular, logel=self.logel,
                                methods=("logel",))


@dataclass(frozen=True)
class FinalOutcome:
    """One method's policy after ``m`` learning steps with ``n`` trajectories per policy."""

    method: FinalMethod
    m: int
    n: int
    value: float
    """:math:`V^{\\pi}(s_0)` under the true reward."""
    optimal: bool
    """Whether the value is the optimum (:func:`logel.evaluation.attains_optimum`)."""
    weight_error: float | None
    """Centred, normalised weight error (reward-recovering methods only)."""


@dataclass(frozen=True)
class FinalBehaviourResult:
    """All observers on one learner run."""

    config: FinalBehaviourConfig
    seed: int
    environment: dict[str, Any]
    optimal_value: float
    outcomes: tuple[FinalOutcome, ...]
    learner_values: np.ndarray
    """``(m_max + 1,)`` :math:`V^{\\pi_k}(s_0)` of each of the learner's policies."""

    def outcome(self, method: FinalMethod, m: int, n: int | None = None) -> FinalOutcome:
        """The outcome of ``method`` at ``m`` and ``n`` (default: the largest ``n``)."""
        n = max(self.config.trajectories) if n is None else n
        for o in self.outcomes:
            if o.method == method and o.m == m and o.n == n:
                return o
        raise KeyError((method, m, n))


def _policy_value(grid: Gridworld, probs: np.ndarray) -> float:
    return float(policy_evaluation(grid.planning_model, probs, grid.true_weights)[START_STATE])


def final_observers(config: FinalBehaviourConfig, grid: Gridworld, states: np.ndarray,
                    actions: np.ndarray, features: np.ndarray, m: int, n: int, v_star: float
                    ) -> list[FinalOutcome]:
    """MCE-IRL, BC and greedy BC on ``(N, T)`` trajectories of one (final) policy."""
    out = []
    mce = mce_irl(grid.sampling_model, states, features, config.mce)
    v = greedy_value(grid, mce.weights)
    out.append(FinalOutcome("mce", m, n, v, attains_optimum(v, v_star),
                            weight_error(mce.weights, grid.true_weights)))
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    theta = clone_policies(policy, states[None], actions[None], config.bc)[0]
    probs = policy.probabilities(theta)
    for name, table in (("bc", probs),
                        ("bc_greedy", deterministic_policy(probs.argmax(axis=1), grid.n_actions))):
        v = _policy_value(grid, table)
        out.append(FinalOutcome(name, m, n, v, attains_optimum(v, v_star),  # type: ignore[arg-type]
                                None))
    return out


def run_final_behaviour(config: FinalBehaviourConfig, seed: int) -> FinalBehaviourResult:
    """One learner run (the run of ``run_comparison(config.comparison_config(), seed)``) and
    every observer, for the ``m`` and ``n`` sweeps."""
    cc = config.comparison_config()
    grid, trace, thetas = learner_parameters(cc, seed)
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    learner_values = np.array([_policy_value(grid, policy.probabilities(th)) for th in thetas])
    v_star = optimal_value(grid)
    n_max = max(config.trajectories)
    pairs = [(m, n_max) for m in config.observed_steps]
    pairs += [(config.n_sweep_m, n) for n in config.trajectories
              if (config.n_sweep_m, n) not in pairs]
    outcomes: list[FinalOutcome] = []
    for n in sorted({n for _, n in pairs}):
        ms = tuple(sorted(m for m, n2 in pairs if n2 == n))
        logel_cfg = replace(cc, observed_steps=ms,
                            logel=replace(cc.logel, observer_trajectories=n))
        for o in observe_trace(logel_cfg, seed, grid, trace).outcomes:
            outcomes.append(FinalOutcome("logel", o.m, n, o.value, o.optimal, o.weight_error))
    for m, n in pairs:
        outcomes.extend(final_observers(config, grid, trace.states[m, :n], trace.actions[m, :n],
                                        trace.features[m, :n], m, n, v_star))
        v = float(learner_values[m])
        outcomes.append(FinalOutcome("learner", m, n, v, attains_optimum(v, v_star), None))
    outcomes.sort(key=lambda o: (METHODS.index(o.method), o.m, o.n))
    return FinalBehaviourResult(config, seed, {**grid.describe(), "learner": config.learner},
                                v_star, tuple(outcomes), learner_values)


def sweep_final_behaviour(configs: dict[str, FinalBehaviourConfig], seeds: Any,
                          n_jobs: int = 1, backend: Backend = "loky",
                          progress: bool = False) -> dict[str, list[FinalBehaviourResult]]:
    """:func:`run_final_behaviour` for every configuration and seed, as one pool of jobs
    (:func:`logel.runner.run_jobs`); identical results for any ``n_jobs`` and backend."""
    seeds = list(seeds)
    keys = [key for key in configs for _ in seeds]
    jobs = [(configs[key], s) for key in configs for s in seeds]
    flat = run_jobs(run_final_behaviour, jobs, n_jobs=n_jobs, backend=backend,
                    progress=progress, description="final behaviour")
    out: dict[str, list[FinalBehaviourResult]] = {key: [] for key in configs}
    for key, res in zip(keys, flat, strict=True):
        out[key].append(res)
    return out


def value_matrix(results: list[FinalBehaviourResult], method: FinalMethod,
                 pairs: list[tuple[int, int]]) -> np.ndarray:
    """``(n_seeds, len(pairs))`` values of ``method`` at each ``(m, n)``."""
    return np.array([[r.outcome(method, m, n).value for m, n in pairs] for r in results])


def optimal_count(results: list[FinalBehaviourResult], method: FinalMethod, m: int,
                  n: int | None = None) -> int:
    """Number of seeds whose ``method`` policy is optimal at ``(m, n)``."""
    return int(sum(r.outcome(method, m, n).optimal for r in results))


@dataclass(frozen=True)
class FinalSummary:
    """Statistics over seeds for one method at ``(m, n)``."""

    learner: str
    method: FinalMethod
    m: int
    n: int
    n_seeds: int
    optimal_count: int
    value_mean: float
    value_ci: float


def summarise(results: list[FinalBehaviourResult]) -> list[FinalSummary]:
    """Per (method, m, n) statistics over seeds."""
    cfg = results[0].config
    keys = sorted({(o.method, o.m, o.n) for o in results[0].outcomes},
                  key=lambda k: (METHODS.index(k[0]), k[1], k[2]))
    rows = []
    for method, m, n in keys:
        vals = [r.outcome(method, m, n).value for r in results]
        mean, ci = mean_ci(vals)
        rows.append(FinalSummary(cfg.learner, method, m, n, len(results),
                                 optimal_count(results, method, m, n), mean, ci))
    return rows


def format_summary(results: list[FinalBehaviourResult]) -> str:
    """Plain-text table of :func:`summarise`."""
    r0 = results[0]
    lines = [f"learner={r0.config.learner} variant={r0.config.variant} seeds={len(results)} "
             f"V*(s0)={r0.optimal_value:.4f}",
             f"{'method':>9s} {'m':>3s} {'n':>3s} {'optimal':>8s} {'V(s0) mean ± 95% CI':>22s}"]
    for s in summarise(results):
        lines.append(f"{s.method:>9s} {s.m:3d} {s.n:3d} {s.optimal_count:4d}/{s.n_seeds:<3d} "
                     f"{s.value_mean:12.3f} ± {s.value_ci:6.3f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------ budgets and claims


@dataclass(frozen=True)
class FinalBehaviourBudget:
    """Sizes of the final-behaviour comparison at one budget."""

    seeds: tuple[int, ...]
    """Learner runs per learner."""
    observed_steps: tuple[int, ...]
    """Learning steps ``m`` after which the learner is stopped."""
    trajectories: tuple[int, ...]
    """Trajectories ``n`` per policy of the ``n`` sweep."""
    n_sweep_m: int
    """The ``m`` of the ``n`` sweep."""

    def __post_init__(self) -> None:
        c = type(self).__name__ + "."
        items(self.seeds, c + "seeds", lambda v, n: integer(v, n, low=0))
        for name in ("observed_steps", "trajectories"):
            items(getattr(self, name), c + name, lambda v, n: integer(v, n, low=1))
        integer(self.n_sweep_m, c + "n_sweep_m", low=1)


FINAL_BEHAVIOUR_BUDGETS: dict[Budget, FinalBehaviourBudget] = {
    "smoke": FinalBehaviourBudget((0, 1), (2, 5), (10, 50), 5),
    "book": FinalBehaviourBudget(tuple(range(10)), (2, 5, 10, 15), (10, 50), 10),
    "paper": FinalBehaviourBudget(tuple(range(20)), tuple(range(2, 16)), (5, 10, 20, 50), 10),
}
"""The final-behaviour comparison's sizes per budget (chapter 9 and ``logel reproduce``)."""


def budget_setup(budget: Budget) -> tuple[list[int], dict[LearnerKind, FinalBehaviourConfig]]:
    """Seeds and one configuration per learner at ``budget`` (chapter 9 and ``logel reproduce
    final_behaviour``)."""
    b = FINAL_BEHAVIOUR_BUDGETS[check_budget(budget)]
    return list(b.seeds), {ln: FinalBehaviourConfig(learner=ln, observed_steps=b.observed_steps,
                                                    trajectories=b.trajectories,
                                                    n_sweep_m=b.n_sweep_m) for ln in LEARNERS}


def optimal_flags(results: list[FinalBehaviourResult], method: FinalMethod, m: int,
                  n: int | None = None) -> np.ndarray:
    """``(n_seeds,)`` booleans: is ``method``'s policy optimal at ``(m, n)``, per seed."""
    return np.array([r.outcome(method, m, n).optimal for r in results], dtype=bool)


def claims(results: dict[str, list[FinalBehaviourResult]], budget: Budget) -> list[Claim]:
    """The headline claims about watching the learning (chapter 9, ``logel reproduce``): "A
    beats B" by the exact McNemar test on the same seeds (:func:`logel.experiments.claims.paired`),
    "never" as a plain check."""
    e = "final_behaviour"
    cfg = results["gpomdp"][0].config
    m_hi = max(cfg.observed_steps)
    m_lo = min(cfg.observed_steps)

    def ok(ln: str, meth: str, m: int) -> np.ndarray:
        return optimal_flags(results[ln], meth, m)  # type: ignore[arg-type]

    def c(ln: str, meth: str, m: int) -> int:
        return optimal_count(results[ln], meth, m)  # type: ignore[arg-type]

    beats_both = weakest(
        f"G(PO)MDP: LOGEL beats both final-behaviour baselines at m = {m_hi}",
        [paired(e, f"LOGEL beats {name}", ok("gpomdp", "logel", m_hi), ok("gpomdp", meth, m_hi),
                budget) for meth, name in (("mce", "MCE-IRL"), ("bc", "BC"))])
    return [
        beats_both,
        claim(e, "BC of a stopped learner is never optimal (it copies its exploration)",
              all(c(ln, "bc", m) == 0 for ln in results for m in cfg.observed_steps),
              "optimal BC seeds: " + ", ".join(
                  f"{ln} {[c(ln, 'bc', m) for m in cfg.observed_steps]}" for ln in results),
              budget),
        paired(e, f"SPI: MCE-IRL on the last policy beats LOGEL at m = {m_hi}",
               ok("spi", "mce", m_hi), ok("spi", "logel", m_hi), budget),
        paired(e, f"early stop (m = {m_lo}): LOGEL beats MCE-IRL for G(PO)MDP",
               ok("gpomdp", "logel", m_lo), ok("gpomdp", "mce", m_lo), budget),
    ]


# ------------------------------------------------------------------------------ command line


def _execute(config: FinalBehaviourConfig, args: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = sweep_final_behaviour({"_": config}, args.seeds, args.n_jobs,
                                        args.backend)["_"]
    print(format_summary(results))


# logel run final_behaviour: sweep_final_behaviour over --seeds.
COMMAND = Command(config=FinalBehaviourConfig, execute=_execute, seeds="0-19",
                  options=("n_jobs", "backend"))


def main(argv: list[str] | None = None) -> int:
    """``python -m logel.experiments.final_behaviour --learner gpomdp --seeds 0-19``: the same
    as ``logel run final_behaviour ...``."""
    return cli.run("final_behaviour", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
