"""Several observers of one learner run: paired comparisons of observer designs (realistic setting).

:func:`logel.experiments.gridworld.run` runs a learner *and* an observer. To compare observer
designs (behavioural-cloning methods, numbers of trajectories ``n``, BCD settings) on the same
learning runs, :func:`run_shared` runs the learner once per seed and hands its trace to every
design. Each returned :class:`~logel.experiments.gridworld.RecoveryResult` is the one
``run(config, seed)`` would return for that design (same random streams, same code path); only
the learner's work is shared, and identical behavioural-cloning problems are solved once.

:func:`observer_inputs` exposes the realistic observer's intermediate quantities (cloned
parameters, their differences and the Jacobians) for studies of block-coordinate descent itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict

import numpy as np
from joblib import Parallel, delayed

from logel.envs.gridworld import Gridworld, sample_batch
from logel.evaluation import greedy_value, optimal_value, weight_error
from logel.experiments.gridworld import (
    RecoveryConfig,
    RecoveryResult,
    StepsOutcome,
    _jacobians,
)
from logel.irl.bc import BCConfig, clone_policies
from logel.irl.logel import fit, identifiability, solve_weights
from logel.learners.gpomdp import run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.traces import LearnerTrace

_BCKey = tuple[BCConfig, int, int]
"""A behavioural-cloning problem: (options, trajectories per step ``n``, last step ``m_max``)."""


def learner_run(config: RecoveryConfig, seed: int
                ) -> tuple[Gridworld, LearnerTrace, np.random.SeedSequence]:
    """The learner half of :func:`~logel.experiments.gridworld.run`.

    Returns:
        The gridworld, the learner's trace and the seed sequence of the observer's random
        stream (used only by the approximate setting with independent trajectories).
    """
    if config.setting == "exact":
        raise ValueError("the exact setting has its own (exact-gradient) learner; use "
                         "logel.experiments.gridworld.run")
    learner_seq, observer_seq = np.random.SeedSequence(seed).spawn(2)
    grid = Gridworld(variant=config.variant, slip=config.slip, gamma=0.96, horizon=20)
    trace = run_gpomdp_learner(grid, config.learner, np.random.default_rng(learner_seq))
    return grid, trace, observer_seq


def _cloned(config: RecoveryConfig, grid: Gridworld, trace: LearnerTrace,
            cache: dict[_BCKey, np.ndarray] | None) -> np.ndarray:
    m_max, n = max(config.observed_steps), config.observer_trajectories
    key = (config.bc, n, m_max)
    if cache is not None and key in cache:
        return cache[key]
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    thetas = clone_policies(policy, trace.states[: m_max + 1, :n],
                            trace.actions[: m_max + 1, :n], config.bc)
    if cache is not None:
        cache[key] = thetas
    return thetas


def observer_inputs(config: RecoveryConfig, grid: Gridworld, trace: LearnerTrace,
                    cache: dict[_BCKey, np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the realistic observer feeds to block-coordinate descent.

    Behavioural cloning of policies ``1..m_max+1`` from the first ``n`` trajectories of each
    step, their differences, and the G(PO)MDP Jacobians at the cloned parameters on the same
    trajectories.

    Args:
        config: a realistic-setting configuration (its ``bc``, ``observer_trajectories`` and
            ``observed_steps`` are used).
        grid: the gridworld of the learner run.
        trace: the learner's trace.
        cache: optional dictionary reused across calls so that identical BC problems are
            solved once.

    Returns:
        ``thetas`` ``(m_max + 1, d)``, ``deltas`` ``(m_max, d)`` and ``jacobians``
        ``(m_max, d, q)``.
    """
    if config.setting != "realistic":
        raise ValueError(f"observer_inputs needs the realistic setting, got {config.setting!r}")
    m_max, n = max(config.observed_steps), config.observer_trajectories
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    thetas = _cloned(config, grid, trace, cache)
    s, a, f = (x[:m_max, :n] for x in (trace.states, trace.actions, trace.features))
    jacobians = _jacobians(grid, policy, thetas[:m_max], s, a, f, config.baseline_eps)
    return thetas, np.diff(thetas, axis=0), jacobians


def observe(config: RecoveryConfig, grid: Gridworld, trace: LearnerTrace,
            observer_seq: np.random.SeedSequence, seed: int,
            cache: dict[_BCKey, np.ndarray] | None = None) -> RecoveryResult:
    """The observer half of :func:`~logel.experiments.gridworld.run` on a given learner trace.

    Args:
        config: the observer's configuration (realistic or approximate setting); its learner
            fields must match those that produced ``trace``.
        grid: the gridworld of the learner run.
        trace: the learner's trace.
        observer_seq: the observer's seed sequence from :func:`learner_run`.
        seed: the seed, recorded in the result.
        cache: optional BC cache shared between designs (see :func:`observer_inputs`).

    Returns:
        The :class:`~logel.experiments.gridworld.RecoveryResult` of ``run(config, seed)``.
    """
    if config.setting == "exact":
        raise ValueError("the exact setting is not supported; use gridworld.run")
    if trace.thetas is None or trace.learning_rates is None or trace.returns is None:
        raise ValueError("the trace must record thetas, learning_rates and returns")
    policy = BoltzmannPolicy(grid.n_states, grid.n_actions)
    m_max, n = max(config.observed_steps), config.observer_trajectories
    true_thetas = trace.thetas[: m_max + 1]
    bc_error = None
    if config.setting == "realistic":
        thetas, deltas, jacobians = observer_inputs(config, grid, trace, cache)
        bc_error = np.linalg.norm(thetas - true_thetas, axis=1)
    else:
        thetas = true_thetas
        if config.observer_samples == "learner":
            s, a, f = (x[:m_max, :n] for x in (trace.states, trace.actions, trace.features))
        else:
            rng = np.random.default_rng(observer_seq)
            batches = [sample_batch(grid, policy.probabilities(th), n, rng)
                       for th in thetas[:m_max]]
            s, a, f = (np.stack([getattr(b, k) for b in batches])
                       for k in ("states", "actions", "features"))
        jacobians = _jacobians(grid, policy, thetas[:m_max], s, a, f, config.baseline_eps)
        deltas = np.diff(thetas, axis=0)

    null = np.ones(grid.n_features) if config.fix_constant_direction else None
    v_star = optimal_value(grid)
    outcomes = []
    for m in config.observed_steps:
        D, J = deltas[:m], jacobians[:m]
        if config.setting == "realistic":
            res = fit(D, J, alpha_init=config.alpha_init, alpha_min=config.alpha_min,
                      tol=config.tol, max_iter=config.max_iter, null_directions=null)
            omega, alpha, n_iter, conv = res.weights, res.learning_rates, res.n_iter, res.converged
            diag = res.identifiability
        else:
            alpha = trace.learning_rates[:m]
            omega = solve_weights(D, J, alpha, null_directions=null)
            n_iter, conv = 0, True
            diag = identifiability(J, null_directions=null)
        value = greedy_value(grid, omega)
        outcomes.append(StepsOutcome(
            m=m, weights=omega, learning_rates=np.asarray(alpha), value=value,
            optimal=bool(value >= v_star - 1e-6),
            weight_error=weight_error(omega, grid.true_weights, centre=True),
            weight_error_uncentred=weight_error(omega, grid.true_weights, centre=False),
            n_iter=n_iter, converged=conv, rank=diag.rank,
            condition_number=diag.condition_number))
    return RecoveryResult(config, seed, grid.describe(), v_star, tuple(outcomes),
                          trace.returns.mean(axis=1), bc_error)


def _learner_key(config: RecoveryConfig) -> tuple[object, ...]:
    return (config.variant, config.slip, tuple(sorted(asdict(config.learner).items())))


def run_shared(configs: Mapping[str, RecoveryConfig], seed: int) -> dict[str, RecoveryResult]:
    """One learner run observed by every design in ``configs``.

    Args:
        configs: named observer designs; all must share the variant, slip and learner.
        seed: the seed of the learner run (as in :func:`~logel.experiments.gridworld.run`).

    Returns:
        ``{name: run(configs[name], seed)}``, computed with one learner run.
    """
    if not configs:
        raise ValueError("configs must name at least one design")
    first = next(iter(configs.values()))
    if any(_learner_key(c) != _learner_key(first) for c in configs.values()):
        raise ValueError("all designs must share the variant, slip and learner configuration")
    grid, trace, observer_seq = learner_run(first, seed)
    cache: dict[_BCKey, np.ndarray] = {}
    return {name: observe(cfg, grid, trace, observer_seq, seed, cache)
            for name, cfg in configs.items()}


def sweep_shared(configs: Mapping[str, RecoveryConfig], seeds: Iterable[int], n_jobs: int = 1
                 ) -> dict[str, list[RecoveryResult]]:
    """:func:`run_shared` over ``seeds`` (joblib; identical results for any ``n_jobs``).

    Returns:
        ``{name: [result for each seed]}``, ready for
        :func:`~logel.experiments.gridworld.summarise`.
    """
    seeds = list(seeds)
    if n_jobs == 1:
        per_seed = [run_shared(configs, s) for s in seeds]
    else:
        per_seed = list(Parallel(n_jobs=n_jobs)(delayed(run_shared)(configs, s) for s in seeds))
    return {name: [r[name] for r in per_seed] for name in configs}
