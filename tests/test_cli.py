"""The ``logel`` console script: ``logel run`` (options generated from the experiments' config
dataclasses, one seed parser) and ``logel reproduce`` (artifacts and claims); budgets are
arguments, never read from the environment by library code."""

import argparse
import ast
import dataclasses
import importlib.util
import json
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

import logel
import logel.reproduce as rep
from logel import artifacts, cli
from logel.cli import Command, build_config, build_parser, main, parse_seeds
from logel.experiments import claims as claims_module
from logel.experiments import comparison, gridworld, sweeps
from logel.experiments.budgets import BUDGETS

HAS_MUJOCO = importlib.util.find_spec("stable_baselines3") is not None
PACKAGE = Path(logel.__file__).parent


# ------------------------------------------------------------------------------ seed parser


@pytest.mark.parametrize(("text", "seeds"), [
    ("0-19", list(range(20))), ("1,5,7", [1, 5, 7]), ("3", [3]), ("0-2,9", [0, 1, 2, 9]),
    (" 4 - 5 , 8 ", [4, 5, 8]), ("7-7", [7]),
])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(("text", "message"), [
    ("", "use a range"), ("a", "use a range"), ("1,,2", "use a range"), ("-1", "use a range"),
    ("1.5", "use a range"), ("5-2", "ends below its start"), ("1,1", "given twice"),
    ("0-3,2", "given twice"),
])
def test_parse_seeds_rejects(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse_seeds(text)


def test_one_seed_parser():
    """Every experiment module uses the CLI's parser; no module defines its own."""
    for path in (PACKAGE / "experiments").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert "parse_seeds" not in names, path
        assert "command_line" not in names, path
        assert "import argparse" not in path.read_text(), path


# -------------------------------------------------------------- options from a dataclass


@dataclass(frozen=True)
class Toy:
    """A configuration with one field of every supported kind."""

    mode: Literal["fast", "slow"] = "fast"
    """How to run."""
    n_items: int = 3
    """Number of items (50% more is too many)."""
    rate: float = 0.5
    """Learning rate :math:`\\alpha` of ``the thing``."""
    steps: tuple[int, ...] = (1, 2)
    """Observed steps ``m``."""
    verbose: bool = False
    """Print more."""
    centred: bool = True
    """Centre the weights."""
    out: Path | None = None
    """Where to write."""
    nested: dict = field(default_factory=dict)
    """A field of another type (set through presets)."""


TOY = Command(config=Toy, execute=lambda config, args: None, seeds="0-4",
              options=("n_jobs",), presets={"nested": {"empty": {}, "one": {"a": 1}}},
              aliases={"n_items": ("--n",)})


def test_options_are_generated_from_the_dataclass():
    parser = build_parser("toy", TOY)
    actions = {a.dest: a for a in parser._actions}
    assert actions["mode"].option_strings == ["--mode"] and actions["mode"].choices == [
        "fast", "slow"]
    assert actions["n_items"].option_strings == ["--n-items", "--n"]
    assert actions["rate"].type is float and actions["rate"].default == 0.5
    assert "Learning rate \\alpha of the thing" in actions["rate"].help
    assert "(default: 0.5)" in actions["rate"].help
    assert actions["steps"].default == (1, 2) and "(default: 1,2)" in actions["steps"].help
    assert actions["verbose"].option_strings == ["--verbose"]
    assert actions["centred"].option_strings == ["--centred", "--no-centred"]
    assert actions["nested"].choices == ["empty", "one"]
    assert parser.format_help()  # the help renders (no stray % in docstrings)

    args = parser.parse_args(["--mode", "slow", "--n", "7", "--rate", "0.1", "--steps", "4,5",
                              "--verbose", "--no-centred", "--out", "x", "--nested", "one",
                              "--seeds", "2-3", "--n-jobs", "2"])
    assert build_config(TOY, args) == Toy(mode="slow", n_items=7, rate=0.1, steps=(4, 5),
                                          verbose=True, centred=False, out=Path("x"),
                                          nested={"a": 1})
    assert args.seeds == [2, 3] and args.n_jobs == 2


def test_defaults_are_written_once():
    """Changing nothing on the command line gives the dataclass's own defaults."""
    assert build_config(TOY, build_parser("toy", TOY).parse_args([])) == Toy()
    for module, config in ((gridworld, gridworld.RecoveryConfig),
                           (comparison, comparison.ComparisonConfig),
                           (sweeps, sweeps.SampleSizeConfig)):
        command = module.COMMAND
        args = build_parser("x", command).parse_args([])
        assert build_config(command, args) == config()
        assert args.seeds == list(range(20))
    from logel.experiments import final_behaviour

    command = final_behaviour.COMMAND
    assert build_config(command, build_parser("x", command).parse_args([])) \
        == final_behaviour.FinalBehaviourConfig()


def test_presets_and_aliases_of_the_experiments():
    command = gridworld.COMMAND
    args = build_parser("gridworld", command).parse_args(["--bc", "adam", "--n", "20"])
    config = build_config(command, args)
    assert config.bc == gridworld.BC_PRESETS["adam"] and config.observer_trajectories == 20
    args = build_parser("sweeps", sweeps.COMMAND).parse_args(["--learner", "exact",
                                                              "--n", "5,50"])
    config = build_config(sweeps.COMMAND, args)
    assert config.learner == sweeps.LEARNERS["exact"] and config.trajectories == (5, 50)


# -------------------------------------------------------------------------------- logel run


def test_run_gridworld_smoke(capsys):
    argv = ["--setting", "exact", "--seeds", "0-1", "--observed-steps", "5"]
    assert main(["run", "gridworld", *argv]) == 0
    out = capsys.readouterr().out
    config = gridworld.RecoveryConfig(setting="exact", observed_steps=(5,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = gridworld.format_summary(gridworld.sweep(config, [0, 1]))
    assert out.strip() == expected.strip()
    assert "setting=exact" in out and "seeds=2" in out


def test_python_m_delegates_to_logel_run():
    argv = ["--setting", "exact", "--seeds", "0", "--observed-steps", "5"]
    module = subprocess.run([sys.executable, "-m", "logel.experiments.gridworld", *argv],
                            capture_output=True, text=True, check=True, timeout=120)
    script = subprocess.run([sys.executable, "-m", "logel.cli", "run", "gridworld", *argv],
                            capture_output=True, text=True, check=True, timeout=120)
    assert module.stdout == script.stdout and "seeds=1" in module.stdout
    bad = subprocess.run([sys.executable, "-m", "logel.experiments.gridworld", "--seeds", "9-1"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "argument --seeds" in bad.stderr
    for name in cli.RUNS:  # each module's main is the shared command line
        module_path = PACKAGE / "experiments" / f"{name}.py"
        assert f'cli.run("{name}"' in module_path.read_text(), name


@pytest.mark.parametrize(("argv", "names"), [
    (["run", "gridworld", "--seeds", "x"], "argument --seeds"),
    (["run", "gridworld", "--setting", "oracle"], "argument --setting"),
    (["run", "gridworld", "--observed-steps", "0,99"], "--observed-steps must lie"),
    (["run", "gridworld", "--n-jobs", "0"], "argument --n-jobs"),
    (["run", "gridworld", "--slip", "high"], "argument --slip"),
    (["run", "comparison", "--methods", "logel,maxent"], "argument --methods"),
    (["run", "background"], "study"),
    (["run", "nonsense"], "argument experiment"),
    (["run"], "experiment"),
    (["reproduce", "nonsense"], "argument experiment"),
    (["reproduce", "exact", "--budget", "huge"], "argument --budget"),
    (["reproduce", "exact", "--n-jobs", "0"], "argument --n-jobs"),
])
def test_bad_arguments_exit_2_with_one_clear_error(argv, names, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert names in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("logel: error: ")


def test_help(capsys):
    for argv in (["--help"], ["run", "--help"], ["run", "gridworld", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "reproduce" in out and "final_behaviour" in out and "--observer-trajectories" in out


@pytest.mark.skipif(not HAS_MUJOCO, reason="needs the [mujoco] extra")
def test_mujoco_commands_share_the_scheme(tmp_path, capsys):
    from logel.experiments import mujoco, mujoco_checks, mujoco_diagnostics

    args = build_parser("mujoco", mujoco.COMMAND).parse_args([])
    assert build_config(mujoco.COMMAND, args) == mujoco.MujocoRunCommand()
    assert args.seeds == [0, 1, 2, 3, 4] and mujoco.MujocoRunCommand().budget == "paper"
    args = build_parser("d", mujoco_diagnostics.COMMAND).parse_args(
        ["--trace-dir", str(tmp_path)])
    options = build_config(mujoco_diagnostics.COMMAND, args)
    assert options.env == "Reacher-v5" and args.seeds == list(range(10))
    for argv, message in ((["run", "mujoco_checks"], "required: --trace-dir"),
                          (["run", "mujoco_checks", "--trace-dir", str(tmp_path / "no")],
                           "--trace-dir"),
                          (["run", "mujoco", "--env", "Ant-v5"], "--env"),
                          (["run", "mujoco", "--parity", "gpu"], "argument --parity")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and message in capsys.readouterr().err
    assert mujoco_checks.COMMAND.config.__name__ == "ChecksCommand"


# ------------------------------------------------------------------ budgets are arguments


def test_no_library_code_reads_the_budget_from_the_environment():
    """``LOGEL_BUDGET`` is read in one place, :func:`logel.experiments.notebook_budget`."""
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if path.name != "budgets.py":
            assert "LOGEL_BUDGET" not in text, path
    tree = ast.parse((PACKAGE / "experiments" / "budgets.py").read_text())
    readers = {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
               and "environ" in ast.unparse(f)}
    assert readers == {"notebook_budget"}


def test_every_experiment_has_every_budget():
    from logel.experiments import final_behaviour, mujoco_checks, theory
    from logel.experiments.background import ESTIMATOR_STUDY_BUDGETS, LEARNING_CURVE_BUDGETS

    for table in (gridworld.GRIDWORLD_BUDGETS, comparison.COMPARISON_BUDGETS,
                  final_behaviour.FINAL_BEHAVIOUR_BUDGETS, theory.RATES_BUDGETS,
                  ESTIMATOR_STUDY_BUDGETS, LEARNING_CURVE_BUDGETS):
        assert tuple(table) == BUDGETS or set(table) == set(BUDGETS)
    if HAS_MUJOCO:
        from logel.experiments.mujoco import MUJOCO_BUDGETS

        assert set(MUJOCO_BUDGETS) == set(BUDGETS)
        for budget in BUDGETS:
            mujoco_checks.check_config(budget)
    with pytest.raises(ValueError, match="budget must be one of"):
        gridworld.budget_setup("exact", "huge")  # type: ignore[arg-type]


def _fake_comparison(optimal):
    """ComparisonResults whose ``optimal`` flags are ``optimal[learner][method][m]`` (one bool
    per seed)."""
    out = {}
    for learner, by_method in optimal.items():
        ms = tuple(sorted({m for per_m in by_method.values() for m in per_m}))
        cfg = comparison.ComparisonConfig(learner=learner, observed_steps=ms)
        n = len(next(iter(next(iter(by_method.values())).values())))
        out[learner] = [comparison.ComparisonResult(
            cfg, seed, {}, 1.0,
            tuple(comparison.MethodOutcome(meth, m, 1.0 if flags[seed] else 0.0, flags[seed],
                                           None)
                  for meth, per_m in by_method.items() for m, flags in per_m.items()), None)
            for seed in range(n)]
    return out


def test_claims_are_defined_once_in_the_experiment_modules():
    from logel.statistics import Claim

    assert rep.Claim is claims_module.Claim is Claim  # one concept, one home
    n = 20

    def k(count):
        return [i < count for i in range(n)]

    good = {ln: {"logel": {2: k(10), 5: k(14), 15: k(18)}, "lfl": {2: k(0), 5: k(1), 15: k(2)}}
            for ln in comparison.LEARNERS}
    good["spi"] = {"logel": {2: k(3), 5: k(14), 15: k(15)}, "lfl": {2: k(7), 5: k(20),
                                                                    15: k(20)}}

    def verdicts(optimal):
        return {c.text.split(" (")[0]: c.verdict
                for c in comparison.claims(_fake_comparison(optimal), "book")}

    v = verdicts(good)
    # 18/20 holds; SPI 15/20 [0.53, 0.89] holds
    assert [v[f"LOGEL recovers an optimal reward on {name} at m = 15"]
            for name in ("G(PO)MDP", "Q-learning", "SVI", "SPI")] == ["holds"] * 4
    assert v["LfL recovers an optimal reward on SPI at every m >= 5"] == "holds"
    assert v["LfL fails on G(PO)MDP at every m"] == "holds"  # at most 2/20
    assert v["LOGEL beats LfL on G(PO)MDP at m = 15"] == "holds"  # 16 discordant seeds
    assert v["LfL beats LOGEL on SPI at m = 15"] == "inconclusive"  # 5 discordant seeds
    assert v["more observed steps help LOGEL on G(PO)MDP"] == "holds"  # 8 discordant
    assert v["LfL beats LOGEL on SVI at every m >= 11"] == "fails"  # 16 against LfL at m = 15
    assert not any(text.startswith("leaving") for text in v)  # no "logel_free" results
    bad = {ln: {"logel": {2: k(10), 5: k(5), 15: k(4)}, "lfl": {2: k(14), 5: k(15), 15: k(16)}}
           for ln in comparison.LEARNERS}
    bad["spi"]["lfl"][5] = k(4)
    v = verdicts(bad)
    assert v["LOGEL recovers an optimal reward on G(PO)MDP at m = 15"] == "fails"  # 4/20
    assert v["LfL recovers an optimal reward on SPI at every m >= 5"] == "fails"  # 4/20 at 5
    assert v["LfL fails on G(PO)MDP at every m"] == "fails"  # 16/20
    assert v["LfL beats LOGEL on SPI at m = 15"] == "holds"  # 12 of 12 discordant seeds
    assert v["more observed steps help LOGEL on G(PO)MDP"] == "fails"  # 6 of 6 for m = 2
    smoke = comparison.claims(_fake_comparison(good), "smoke")
    assert all(c.verdict == "inconclusive" and c.passed is None for c in smoke)
    assert all(c.interval_kind == claims_module.NOT_TESTED for c in smoke)


# --------------------------------------------------------------------------- logel reproduce


def test_reproduce_smoke_writes_verified_artifacts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOGEL_BUDGET", "paper")  # ignored: the budget is an argument
    assert main(["reproduce", "exact", "theory", "--budget", "smoke", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert " hold, 0 fail" in out and "IdentifiabilityWarning fires exactly" in out
    for name in ("exact", "theory"):
        d = tmp_path / "reproduce_smoke" / name
        manifest = artifacts.verify(d)
        assert "figure.png" in manifest["files"] and "claims.json" in manifest["files"]
        claims = json.loads((d / "claims.json").read_text())
        assert all(c["verdict"] in ("holds", "inconclusive") for c in claims)
    assert not (tmp_path / "reproduce_paper").exists()


def test_a_failing_claim_gives_a_non_zero_exit(tmp_path, monkeypatch, capsys):
    def failing(budget, n_jobs, backend, out, progress=False):
        return rep._finish(out, "exact", budget, 0.0,
                           [claims_module.claim("exact", "always fails", False, "by construction",
                                                budget, statistical=False)], {}, [])

    monkeypatch.setitem(rep.EXPERIMENTS, "exact", failing)
    assert main(["reproduce", "exact", "--out", str(tmp_path), "--no-progress"]) == 1
    assert "FAILS" in capsys.readouterr().out


def test_an_inconclusive_claim_is_reported_and_does_not_fail(tmp_path, monkeypatch, capsys):
    def unsure(budget, n_jobs, backend, out, progress=False):
        return rep._finish(out, "exact", budget, 0.0,
                           [claims_module.count_claim("exact", "most seeds", 12, 20, 0.5,
                                                      "book")], {}, [])

    monkeypatch.setitem(rep.EXPERIMENTS, "exact", unsure)
    assert main(["reproduce", "exact", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "inconclusive" in out and "12/20 [0.39, 0.78]" in out


def test_unknown_experiment_in_the_library():
    with pytest.raises(ValueError, match="unknown experiment"):
        rep.reproduce(["nope"], "smoke")


def test_command_dataclasses_document_every_option():
    """Each generated option has help text (the field's docstring)."""
    for name in ("gridworld", "comparison", "final_behaviour", "sweeps", "background"):
        command = cli.load_command(name)
        for opt in cli.config_options(command):
            assert opt.kwargs.get("help"), (name, opt.name)
        fields = {f.name for f in dataclasses.fields(command.config)}
        assert {o.name for o in cli.config_options(command)} <= fields
