"""Several observers of one learner run: paired comparisons of observer designs (realistic setting).

:func:`logel.experiments.gridworld.run` runs a learner *and* an observer. To compare observer
designs (behavioural-cloning methods, numbers of trajectories ``n``, BCD settings, or the
approximate setting) on the same learning runs, :func:`run_shared` runs the learner once per seed
and hands its trace to every design through :func:`logel.experiments.gridworld.observe`. Each
returned :class:`~logel.experiments.gridworld.RecoveryResult` is the one ``run(config, seed)``
would return for that design (same random streams, same code path); only the learner's work is
shared.

:func:`observer_inputs` exposes the realistic observer's intermediate quantities (cloned
parameters, their differences and the Jacobians) for studies of block-coordinate descent itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from logel.envs.gridworld import Gridworld
from logel.evaluation import optimal_value
from logel.experiments.gridworld import RecoveryConfig, RecoveryResult, observe, observer_config
from logel.irl.observer import BoltzmannClass, realistic_inputs
from logel.learners.gpomdp import run_gpomdp_learner
from logel.policies.boltzmann import BoltzmannPolicy
from logel.runner import run_jobs
from logel.traces import LearnerTrace


def learner_run(config: RecoveryConfig, seed: int) -> tuple[Gridworld, LearnerTrace]:
    """The learner half of :func:`~logel.experiments.gridworld.run` (approximate/realistic).

    Returns:
        The gridworld and the learner's trace (the learner's stream,
        ``SeedSequence(seed).spawn(2)[0]``; the observers draw from their own cells).
    """
    if config.setting == "exact":
        raise ValueError("the exact setting has its own (exact-gradient) learner; use "
                         "logel.experiments.gridworld.run")
    learner_seq = np.random.SeedSequence(seed).spawn(2)[0]
    grid = Gridworld(variant=config.variant, slip=config.slip, gamma=0.96, horizon=20)
    trace = run_gpomdp_learner(grid, config.learner, np.random.default_rng(learner_seq))
    return grid, trace


def observer_inputs(config: RecoveryConfig, grid: Gridworld, trace: LearnerTrace
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the realistic observer feeds to block-coordinate descent.

    Behavioural cloning of policies ``1..m_max+1`` from the first ``n`` trajectories of each
    step, their differences, and the G(PO)MDP Jacobians at the cloned parameters on the same
    trajectories (as in :func:`~logel.experiments.gridworld.observe`).

    Args:
        config: a realistic-setting configuration (its ``bc``, ``observer_trajectories``,
            ``observed_steps`` and ``baseline_eps`` are used).
        grid: the gridworld of the learner run.
        trace: the learner's trace.

    Returns:
        ``thetas`` ``(m_max + 1, d)``, ``deltas`` ``(m_max, d)`` and ``jacobians``
        ``(m_max, d, q)``.
    """
    if config.setting != "realistic":
        raise ValueError(f"observer_inputs needs the realistic setting, got {config.setting!r}")
    inputs = realistic_inputs(trace, BoltzmannClass(BoltzmannPolicy(grid.n_states, grid.n_actions),
                                                     config.bc),
                              observer_config(config, trace), max(config.observed_steps),
                              n_trajectories=config.observer_trajectories)
    return inputs.thetas, inputs.deltas, inputs.jacobians


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
    if any(c.learner_key() != first.learner_key() for c in configs.values()):
        raise ValueError("all designs must share the variant, slip and learner configuration")
    grid, trace = learner_run(first, seed)
    if trace.returns is None:
        raise ValueError("the learner's trace must record its returns")
    v_star, returns = optimal_value(grid), trace.returns.mean(axis=1)
    results = {}
    for name, cfg in configs.items():
        # every design draws from the same cells as run(cfg, seed)
        outcomes, bc_error = observe(grid, trace, cfg, seed)
        results[name] = RecoveryResult(cfg, seed, grid.describe(), v_star, tuple(outcomes),
                                       returns, bc_error)
    return results


def sweep_shared(configs: Mapping[str, RecoveryConfig], seeds: Iterable[int], n_jobs: int = 1
                 ) -> dict[str, list[RecoveryResult]]:
    """:func:`run_shared` over ``seeds`` (:func:`logel.runner.run_jobs`; identical results for
    any ``n_jobs``).

    Returns:
        ``{name: [result for each seed]}``, ready for
        :func:`~logel.experiments.gridworld.summarise`.
    """
    per_seed = run_jobs(run_shared, [(configs, s) for s in seeds], n_jobs=n_jobs)
    return {name: [r[name] for r in per_seed] for name in configs}
