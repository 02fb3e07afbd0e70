"""LfL's cloning fed step by step (:class:`logel.irl.lfl_continuous.LfLCloning`, what the
pipelined env-seed layout does while the learner trains) gives the numbers of
:func:`logel.irl.lfl_continuous.lfl_continuous` on the whole trace, bit for bit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from logel.irl.lfl_continuous import LfLCloning, LfLContinuousConfig, lfl_continuous
from logel.traces import LearnerTrace


def _trace(rng: np.random.Generator, K: int = 5) -> LearnerTrace:
    N, T, obs_dim, act_dim = 3, 40, 4, 2
    return LearnerTrace(rng.normal(size=(K, N, T, obs_dim)).astype(np.float32),
                        rng.normal(size=(K, N, T, act_dim)).astype(np.float32),
                        rng.normal(size=(K, N, T, 2)), 0.99,
                        episode_starts=rng.random((K, N, T)) < 0.05,
                        metadata={"hidden": [8, 8]})


def _config() -> LfLContinuousConfig:
    cfg = LfLContinuousConfig(kl_epochs=3, reward_init_epochs=4, shaping_epochs=3,
                              batch_size=50, hidden=16, seed=3)
    return replace(cfg, bc=replace(cfg.bc, iterations=5, batch_size=50))


def _same(a, b) -> None:
    for name in ("reward_parameters", "kl_loss", "fit_loss", "kl_targets_mean"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.steps == b.steps


@pytest.mark.parametrize("fed", [0, 2, 4])
def test_cloning_fed_early_equals_cloning_at_once(rng: np.random.Generator, fed: int) -> None:
    trace, config = _trace(rng), _config()
    reference = lfl_continuous(trace, config)
    cloning = LfLCloning(config, trace.n_policies, (8, 8))
    assert cloning.steps == (0, 1, 2, 3, 4)
    for k in cloning.steps[:fed]:
        cloning.add(k, trace.states[k], trace.actions[k])
    _same(lfl_continuous(trace, config, cloning), reference)


def test_cloning_checks_order_and_configuration(rng: np.random.Generator) -> None:
    trace, config = _trace(rng), _config()
    cloning = LfLCloning(config, trace.n_policies, (8, 8))
    with pytest.raises(ValueError, match="expects policy 0"):
        cloning.add(1, trace.states[1], trace.actions[1])
    with pytest.raises(ValueError, match="not cloned yet"):
        cloning.result()
    with pytest.raises(ValueError, match="another configuration"):
        lfl_continuous(trace, replace(config, seed=4), cloning)


@pytest.mark.parametrize("data", ["all", "env0"])
def test_reward_init_elsewhere_equals_reward_init_in_place(rng: np.random.Generator,
                                                           data: str) -> None:
    """Stage 3 computed on its own (:func:`lfl_reward_init`, what the LOGEL worker of the
    pipelined layout does) gives the numbers of the in-place fit, bit for bit."""
    from logel.irl.lfl_continuous import lfl_reward_init, transition_count, transitions

    trace, config = _trace(rng), replace(_config(), data=data, kl_epochs=5, batch_size=30)
    for k in range(trace.n_policies):
        assert transition_count(trace, k) == len(transitions(trace, k)[0])
    reference = lfl_continuous(trace, config)
    torch.manual_seed(123)  # the other process's global generator does not matter
    remote = lfl_reward_init(trace, config)
    calls = []
    result = lfl_continuous(trace, config, reward_init=lambda: calls.append(1) or remote)
    assert calls == [1]
    _same(result, reference)
