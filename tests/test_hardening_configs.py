"""Property tests of the configuration dataclasses (issue 17): every experiment, learner and
observer configuration checks its own fields in ``__post_init__``.

A malformed value (None, NaN, a string, a float where a count is expected, a negative count, a
probability outside [0, 1], an unknown choice, a wrong nested configuration) raises
``ValueError`` or ``TypeError`` naming ``ClassName.field``; the defaults construct; and since
the configurations are the command line, a bad option exits with status 2 and one line
``logel: error: ...`` naming the option, not the field. Few examples per property, no deadline.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logel import cli
from logel.experiments.background import (
    BackgroundCommand,
    EstimatorStudyConfig,
    LearningCurveBudget,
)
from logel.experiments.beyond_gradient import BeyondBudget, BeyondCommand, BeyondConfig
from logel.experiments.comparison import ComparisonBudget, ComparisonConfig
from logel.experiments.final_behaviour import FinalBehaviourBudget, FinalBehaviourConfig
from logel.experiments.gridworld import GridworldBudget, RecoveryConfig
from logel.experiments.sweeps import SampleSizeConfig
from logel.experiments.theory import IdentifiabilityConfig, RatesConfig
from logel.irl.bc import BCConfig
from logel.irl.lfl import LfLConfig
from logel.irl.mce_irl import MCEConfig
from logel.irl.trex import TREXConfig
from logel.learners.gpomdp import GPOMDPLearnerConfig
from logel.learners.tabular_learners import TabularLearnerConfig
from logel.learners.zoo import ZooConfig

HAS_MUJOCO = importlib.util.find_spec("stable_baselines3") is not None

FAST = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
CLEAR = (ValueError, TypeError)

GRIDWORLD_CONFIGS: list[type] = [
    GPOMDPLearnerConfig, TabularLearnerConfig, ZooConfig, BCConfig, LfLConfig, MCEConfig,
    TREXConfig, RecoveryConfig, ComparisonConfig, FinalBehaviourConfig, SampleSizeConfig,
    RatesConfig, IdentifiabilityConfig, EstimatorStudyConfig, BackgroundCommand, BeyondConfig,
    BeyondCommand]
"""Configurations whose every field has a default (``BackgroundCommand.study`` excepted)."""

REQUIRED: dict[type, dict[str, Any]] = {
    BackgroundCommand: {"study": "estimators"},
    GridworldBudget: {"seeds": (0, 1), "observed_steps": (2, 5)},
    ComparisonBudget: {"seeds": (0,), "observed_steps": (2,), "few_steps": (2,),
                       "extra_seeds": (1,), "extra_steps": (3,)},
    FinalBehaviourBudget: {"seeds": (0,), "observed_steps": (2,), "trajectories": (5,),
                           "n_sweep_m": 2},
    LearningCurveBudget: {"seeds": (0,), "schedule_seeds": (1,)},
    BeyondBudget: {"seeds": (0,), "observed_steps": (2,), "null_directions": 0},
}
"""Valid values of the fields without a default."""

MUJOCO_CONFIGS: list[type] = []
if HAS_MUJOCO:
    from logel.experiments.mujoco import MujocoBudget, MujocoConfig, MujocoRunCommand
    from logel.experiments.mujoco_checks import ChecksCommand, FiniteDifferenceConfig
    from logel.experiments.mujoco_controls import PositiveControlConfig
    from logel.experiments.mujoco_diagnostics import DiagnosticsCommand
    from logel.experiments.mujoco_learners import LearnersCommand
    from logel.experiments.mujoco_published_lfl import PublishedLfLCommand
    from logel.irl.lfl_continuous import LfLContinuousConfig
    from logel.irl.neural import NeuralLOGELConfig
    from logel.learners.policy_gradient import PGConfig
    from logel.learners.ppo import PPOConfig
    from logel.policies.gaussian_mlp import GaussianBCConfig

    MUJOCO_CONFIGS = [PPOConfig, PGConfig, GaussianBCConfig, NeuralLOGELConfig,
                      LfLContinuousConfig, MujocoBudget, MujocoConfig, MujocoRunCommand,
                      FiniteDifferenceConfig, PositiveControlConfig, ChecksCommand,
                      DiagnosticsCommand, LearnersCommand, PublishedLfLCommand]
    TRACE_DIR = Path(__file__).parent  # any existing folder
    REQUIRED.update({ChecksCommand: {"trace_dir": TRACE_DIR},
                     DiagnosticsCommand: {"trace_dir": TRACE_DIR},
                     LearnersCommand: {"experiment": "ladder"},
                     PublishedLfLCommand: {"trace_dir": TRACE_DIR}})

BUDGET_TABLES: list[type] = [GridworldBudget, ComparisonBudget, FinalBehaviourBudget,
                             LearningCurveBudget, BeyondBudget]
CONFIGS = GRIDWORLD_CONFIGS + BUDGET_TABLES + MUJOCO_CONFIGS
NOT_CHECKED = {"root", "out", "artifact_dir", ("MujocoRunCommand", "trace_dir")}
"""Output folders, checked where they are written (they need not exist yet)."""


def _build(cls: type, **values: Any) -> Any:
    return cls(**{**REQUIRED.get(cls, {}), **values})


def _malformed(tp: Any) -> list[Any]:
    """Values of the wrong kind or domain for a field annotated ``tp``."""
    args = typing.get_args(tp)
    optional = type(None) in args
    if optional:
        args = tuple(a for a in args if a is not type(None))
        tp = args[0] if len(args) == 1 else tp
    origin = typing.get_origin(tp)
    bad: list[Any] = [] if optional else [None]
    if tp is bool:
        return bad + [1, "yes", 0.0]
    if tp is int:
        return bad + [2.5, "3", True, math.nan, (1,)]
    if tp is float:
        return bad + ["0.5", math.nan, True, [0.1]]
    if origin is typing.Literal:
        return bad + ["not-an-option", 3]
    if origin is tuple:
        return bad + ["1,2", 5, ("x",), (math.nan,), (None,)]
    if origin is dict:
        return bad + ["learner", [("n_envs", 2)], {"n_envs": "2"}, {"n_envs": 0}]
    if tp is Path:
        return bad + [3, "no/such/folder"]
    if dataclasses.is_dataclass(tp):
        return bad + ["default", 3, object()]
    if tp is str:
        return bad + [3, b"Hopper-v5"]
    if origin in (typing.Union, types.UnionType):  # e.g. float | Literal[...]
        return bad + ["not-an-option", math.nan, 2j]
    return bad


def _fields(cls: type) -> list[tuple[str, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f.name, value) for f in dataclasses.fields(cls) if f.init
            and f.name not in NOT_CHECKED and (cls.__name__, f.name) not in NOT_CHECKED
            for value in _malformed(hints[f.name])]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_defaults_construct(cls):
    config = _build(cls)
    assert dataclasses.replace(config) == config


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
@FAST
@given(data=st.data())
def test_malformed_field_is_named(cls, data):
    cases = _fields(cls)
    assert cases, f"{cls.__name__}: no field checked"
    name, value = data.draw(st.sampled_from(cases), label="field and value")
    with pytest.raises(CLEAR) as err:
        _build(cls, **{name: value})
    assert f"{cls.__name__}.{name}" in str(err.value), str(err.value)


def test_every_field_of_every_config_is_checked():
    """Not a sample: each malformed value of each field raises, naming it."""
    for cls in CONFIGS:
        for name, value in _fields(cls):
            with pytest.raises(CLEAR, match=rf"{cls.__name__}\.{name}\b"):
                _build(cls, **{name: value})


PROBABILITIES = [(ComparisonConfig, "slip"), (RecoveryConfig, "slip"),
                 (FinalBehaviourConfig, "slip"), (EstimatorStudyConfig, "slip"),
                 (GPOMDPLearnerConfig, "skip_probability"), (TabularLearnerConfig, "q_step_size")]
COUNTS = [(ComparisonConfig, "n_trajectories", 1), (RecoveryConfig, "observer_trajectories", 1),
          (RecoveryConfig, "max_iter", 1), (GPOMDPLearnerConfig, "n_updates", 1),
          (TabularLearnerConfig, "spi_sweeps", 1), (ZooConfig, "ppo_epochs", 1),
          (BCConfig, "adam_steps", 1), (MCEConfig, "max_iter", 1), (TREXConfig, "n_pairs", 1),
          (FinalBehaviourConfig, "n_sweep_m", 1), (BeyondConfig, "null_directions", 0),
          (IdentifiabilityConfig, "n_trajectories", 2), (RatesConfig, "n_updates", 1)]


@pytest.mark.parametrize(("cls", "name"), PROBABILITIES, ids=lambda x: getattr(x, "__name__", x))
@FAST
@given(p=st.floats(-10, 10, allow_nan=False))
def test_probabilities_lie_in_unit_interval(cls, name, p):
    if 0 <= p <= 1:
        assert getattr(_build(cls, **{name: p}), name) == p
    else:
        with pytest.raises(ValueError, match=rf"{cls.__name__}\.{name} must lie in \[0, 1\]"):
            _build(cls, **{name: p})


@pytest.mark.parametrize(("cls", "name", "low"), COUNTS, ids=lambda x: getattr(x, "__name__", x))
@FAST
@given(n=st.integers(-10**6, 0))
def test_counts_below_their_minimum_are_refused(cls, name, low, n):
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.{name} must be an integer in "
                                         rf"\[{low}, "):
        _build(cls, **{name: n + low - 1})


@FAST
@given(steps=st.lists(st.integers(-5, 40), min_size=0, max_size=4))
def test_observed_steps_are_positive_and_within_the_learner(steps):
    """``RecoveryConfig.observed_steps``: a non-empty tuple of 1..n_updates (15 by default)."""
    if steps and all(1 <= m <= 15 for m in steps):
        assert RecoveryConfig(observed_steps=tuple(steps)).observed_steps == tuple(steps)
    else:
        with pytest.raises(ValueError, match=r"RecoveryConfig\.observed_steps"):
            RecoveryConfig(observed_steps=tuple(steps))


def test_cross_field_constraints_are_named():
    with pytest.raises(ValueError, match=r"FinalBehaviourConfig\.trajectories\[1\] must be an "
                                         r"integer in \[1, 50\]"):
        FinalBehaviourConfig(trajectories=(5, 500))
    with pytest.raises(ValueError, match=r"RecoveryConfig\.observer_trajectories cannot exceed"):
        RecoveryConfig(observer_trajectories=51)
    with pytest.raises(ValueError, match=r"EstimatorStudyConfig\.chunk=2000 must be a multiple"):
        EstimatorStudyConfig(batch_sizes=(3,))
    with pytest.raises(TypeError, match=r"ComparisonConfig\.logel must be a RecoveryConfig"):
        ComparisonConfig(logel=LfLConfig())  # type: ignore[arg-type]


@pytest.mark.skipif(not HAS_MUJOCO, reason="needs the mujoco extra")
def test_mujoco_domains_are_named():
    for cls, values, pattern in (
            (PPOConfig, {"gamma": 1.01}, r"PPOConfig\.gamma must lie in \[0, 1\]"),
            (PPOConfig, {"lr_schedule": "cosine"}, r"PPOConfig\.lr_schedule must be one of"),
            (GaussianBCConfig, {"batch_size": 0}, r"GaussianBCConfig\.batch_size"),
            (NeuralLOGELConfig, {"alpha_min": 0.0}, r"NeuralLOGELConfig\.alpha_min must lie in "
                                                    r"\(0, inf\)"),
            (MujocoConfig, {"env_id": "Ant-v5"}, r"MujocoConfig\.env_id: no reward features"),
            (MujocoBudget, {"learner": {"n_envs": 0}}, r"MujocoBudget\.learner\['n_envs'\]"),
            (PositiveControlConfig, {"budget": "huge"}, r"PositiveControlConfig\.budget")):
        with pytest.raises(ValueError, match=pattern):
            cls(**values)


# ------------------------------------------------------------------------- command lines


def _one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("logel: error: "), err
    return lines[0]


@pytest.mark.parametrize(("argv", "flag", "expected"), [
    (["run", "comparison", "--slip", "2"], "--slip", "must lie in [0, 1], got 2"),
    (["run", "comparison", "--n-trajectories", "0"], "--n-trajectories", "got 0"),
    (["run", "gridworld", "--slip", "nan"], "--slip", "finite"),
    (["run", "gridworld", "--observer-trajectories", "-3"], "--observer-trajectories", "got -3"),
    (["run", "final_behaviour", "--trajectories", "5,0"], "--trajectories", "got 0"),
    (["run", "sweeps", "--baseline-eps", "-1"], "--baseline-eps", "[0, inf)"),
    (["run", "beyond_gradient", "--null-directions", "-1"], "--null-directions", "got -1"),
])
def test_bad_option_is_one_line_naming_the_flag(argv, flag, expected, capsys):
    line = _one_error_line(argv, capsys)
    assert flag in line and expected in line, line
    assert "Config." not in line, line  # the option, not the dataclass field


@pytest.mark.skipif(not HAS_MUJOCO, reason="needs the mujoco extra")
def test_bad_mujoco_environment_names_the_flag(capsys, tmp_path: Path):
    line = _one_error_line(["run", "mujoco", "--env", "Ant-v5", "--root", str(tmp_path)], capsys)
    assert "--env: no reward features for 'Ant-v5'" in line, line


@pytest.mark.parametrize("field, value, error", [
    ("alpha_min", None, TypeError), ("alpha_min", 0.0, ValueError),
    ("alpha_init", "0.1", ValueError), ("alpha_init", float("nan"), ValueError),
    ("alpha_init", 0.001, ValueError), ("baseline_eps", -1.0, ValueError),
    ("baseline_eps", float("nan"), ValueError), ("tol", float("nan"), ValueError),
    ("max_iter", 10.5, TypeError), ("convergence", "fast", ValueError),
    ("step_sizes", None, ValueError), ("fix_constant_direction", "auto", TypeError),
    ("block_bytes", 0, ValueError), ("seed", -1, ValueError),
    ("preconditioner", "full", ValueError), ("adam_betas", (0.9,), ValueError),
    ("adam_betas", (0.9, 1.0), ValueError)])
def test_observer_config_names_the_bad_field(field, value, error):
    from logel.irl.observer import ObserverConfig
    with pytest.raises(error, match=f"ObserverConfig.{field}"):
        ObserverConfig(**{field: value})
    ObserverConfig(alpha_init="uniform", baseline_eps=float("inf"))  # valid corner cases
