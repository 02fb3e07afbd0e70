"""The ``logel`` command line: ``logel run <experiment> [options]`` and ``logel reproduce ...``.

``logel run <experiment>`` runs one experiment module of ``logel.experiments`` and prints its
summary. Its options are generated from the experiment's configuration dataclass
(:class:`Command`): a field ``observer_trajectories: int = 50`` becomes
``--observer-trajectories`` with type ``int``, default 50 and the field's docstring as help, so
defaults are written once, in the dataclass. ``python -m logel.experiments.<experiment>`` is the
same command (each module's ``main`` delegates here).

``logel reproduce <experiment|all> --budget smoke|book|paper --n-jobs N --backend loky|ray``
reruns experiments (``logel.reproduce``), writes their artifacts and figures under
``artifacts/reproduce_<budget>/`` (or ``--out``), prints a summary table of its claims and their
verdicts and exits with status 1 if any claim *fails* (an inconclusive claim does not).

``logel artifacts verify|seal <folder>...`` checks artifact folders against their manifests, or
writes the manifest digest of folders written before digests existed (``logel.artifacts.seal``).

``python -m logel`` is the same command.

**Errors.** Every user error -- a bad argument, an invalid configuration, an unwritable or
file-shaped output folder, a missing optional backend, a corrupt artifact or trace -- prints one
line ``logel: error: ...`` on standard error and exits with status 2; an unexpected failure
prints one line too and exits with status 1. ``--debug`` (anywhere on the command line) shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import os
import re
import sys
import textwrap
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logel.artifacts import ArtifactError
from logel.experiments.budgets import BUDGETS

RUNS: dict[str, tuple[str, str]] = {
    "gridworld": ("logel.experiments.gridworld",
                  "reward recovery in the exact, approximate and realistic settings"),
    "sweeps": ("logel.experiments.sweeps", "the approximate setting against n and m"),
    "comparison": ("logel.experiments.comparison", "LOGEL against LfL for four learners"),
    "comparison_runs": ("logel.experiments.comparison_runs",
                        "the comparison as sealed artifact folders (out-of-sample seeds)"),
    "final_behaviour": ("logel.experiments.final_behaviour",
                        "LOGEL against observers of the final behaviour only"),
    "background": ("logel.experiments.background",
                   "estimator study or learning curves of the G(PO)MDP learner"),
    "beyond_gradient": ("logel.experiments.beyond_gradient",
                        "learners beyond plain gradient ascent: alignment and recovery"),
    "mujoco": ("logel.experiments.mujoco", "MuJoCo: PPO learner, LOGEL and LfL, observers"),
    "mujoco_controls": ("logel.experiments.mujoco_controls", "MuJoCo E1, the positive control"),
    "mujoco_learners": ("logel.experiments.mujoco_learners",
                        "MuJoCo E2/E3, learner factorial and PPO ladder"),
    "mujoco_factorial_observers": ("logel.experiments.mujoco_factorial_observers",
                                   "MuJoCo E2, observers on each learner cell's LOGEL reward"),
    "mujoco_calibration": ("logel.experiments.mujoco_calibration",
                           "MuJoCo E4, observers on task-free rewards"),
    "mujoco_diagnostics": ("logel.experiments.mujoco_diagnostics",
                           "MuJoCo diagnostics (and E5, data choices) on kept traces"),
    "mujoco_preconditioned": ("logel.experiments.mujoco_preconditioned",
                              "MuJoCo: preconditioned (Adam, diagonal) LOGEL on kept traces"),
    "mujoco_preconditioned_observers": ("logel.experiments.mujoco_preconditioned_observers",
                                        "MuJoCo: observers on the preconditioned LOGEL rewards"),
    "mujoco_checks": ("logel.experiments.mujoco_checks",
                      "MuJoCo E6, finite differences along the recovered gradient"),
    "mujoco_published_lfl": ("logel.experiments.mujoco_published_lfl",
                             "MuJoCo E7, the published LfL beside the fixed one"),
}
"""Every ``logel run`` experiment: name -> (module defining ``COMMAND``, one-line help)."""

COMMON_OPTIONS = ("n_jobs", "backend", "progress")
DEBUG_FLAG = "--debug"
"""Shows the traceback of an error instead of the one ``logel: error:`` line."""
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, LookupError, OSError,
                                                 ImportError, ArtifactError)
"""Exceptions reported as user errors (one line, exit status 2): invalid values (including
``logel.traces.TraceError``), files and folders, missing optional packages, artifact problems
(``logel.artifacts.ArtifactError``)."""


class Parser(argparse.ArgumentParser):
    """The one argument parser of every ``logel`` command line: an error is one line
    ``logel: error: <message> (see '<prog> --help')`` and exit status 2 (no usage block)."""

    def error(self, message: str) -> typing.NoReturn:  # type: ignore[override]
        self.exit(2, f"logel: error: {_one_line(message)} (see '{self.prog} --help')\n")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def error_line(err: BaseException) -> str:
    """The one line ``logel: error: ...`` that reports ``err``."""
    if isinstance(err, OSError) and err.strerror and err.filename:
        message = f"{err.strerror}: {os.fsdecode(err.filename)}"
    else:
        message = str(err) or type(err).__name__
    if not isinstance(err, USER_ERRORS):
        message = f"unexpected {type(err).__name__}: {message}"
    return f"logel: error: {_one_line(message)} (rerun with {DEBUG_FLAG} for the traceback)"


def guarded(function: Callable[[list[str]], int], argv: Sequence[str]) -> int:
    """``function(argv)`` with the command-line error policy: without ``--debug`` an exception
    prints one :func:`error_line` and exits with status 2 (user errors, :data:`USER_ERRORS`)
    or 1 (anything else); with ``--debug`` it propagates with its traceback."""
    argv = list(argv)
    debug = DEBUG_FLAG in argv
    argv = [a for a in argv if a != DEBUG_FLAG]
    try:
        return function(argv)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        if debug:
            raise
        print("logel: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as err:
        if debug:
            raise
        print(error_line(err), file=sys.stderr)
        raise SystemExit(2 if isinstance(err, USER_ERRORS) else 1) from None


def output_folder(text: str) -> Path:
    """An argparse type: a folder that exists or can be created (not a file, under a writable
    existing folder)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    parent = path.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} cannot be created: {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable ({parent} is read-only)")
    return path


@dataclass(frozen=True)
class Command:
    """How ``logel run <experiment>`` turns options into a configuration and runs it.

    The options are the fields of ``config`` (a dataclass), each ``--field-name`` with the type
    of its annotation (``int``, ``float``, ``str``, ``bool``, a ``Literal``, a ``Path``,
    ``X | None``, or a ``tuple[X, ...]`` given as ``a,b,c``), its default and its docstring.
    Fields without a default are required (positional if named in ``positional``). A field whose
    type is a nested dataclass is set in Python, unless ``presets`` names it.
    """

    config: type
    """The dataclass whose fields become options; ``execute`` receives an instance."""
    execute: Callable[[Any, argparse.Namespace], int | None]
    """Runs the configuration; also receives the common options (``seeds``, ``n_jobs``, ...).
    Returns the exit status (None: 0)."""
    seeds: str | None = None
    """Default of ``--seeds`` (e.g. ``"0-19"``); None: no ``--seeds`` option."""
    options: tuple[str, ...] = ()
    """Common options to add: ``"n_jobs"``, ``"backend"``, ``"progress"``."""
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Field -> named values, for fields whose type is not parsed (e.g. a nested dataclass):
    the option takes one of the names."""
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Field -> allowed values, for ``str`` fields whose choices are not in the annotation."""
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Field -> further option strings (e.g. ``("--n",)``)."""
    positional: tuple[str, ...] = ()
    """Fields given as positional arguments."""
    exclude: tuple[str, ...] = ()
    """Fields that are not options."""


# --------------------------------------------------------------------------- seeds


def parse_seeds(text: str) -> list[int]:
    """``"0-19"`` -> 0..19, ``"1,5,7"`` -> [1, 5, 7], ``"0-4,9"`` -> [0, 1, 2, 3, 4, 9].

    Raises:
        argparse.ArgumentTypeError: for anything else (empty parts, negative or non-integer
            seeds, a range whose end is below its start, a seed given twice).
    """
    seeds: list[int] = []
    for part in str(text).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise argparse.ArgumentTypeError(
                f"invalid seeds {text!r}: use a range such as 0-19 or a list such as 1,5,7 "
                "(non-negative integers)")
        lo = int(match[1])
        hi = lo if match[2] is None else int(match[2])
        if hi < lo:
            raise argparse.ArgumentTypeError(
                f"invalid seeds {text!r}: the range {part.strip()} ends below its start")
        seeds.extend(range(lo, hi + 1))
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"invalid seeds {text!r}: a seed is given twice")
    return seeds


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


# ------------------------------------------------------------------- options from a dataclass


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (and of its dataclass bases)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        node = ast.parse(source).body[0]
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt, nxt in zip(node.body, node.body[1:], strict=False):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)):
                docs[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def _plain(doc: str) -> str:
    """A docstring as one line of help text (reST roles and literals unwrapped)."""
    text = re.sub(r":[a-z]+:`~?([^`]*)`", lambda m: m[1].rsplit(".", 1)[-1]
                  if m[0].startswith((":func:", ":class:", ":data:", ":attr:", ":meth:"))
                  else m[1], doc)
    text = text.replace("``", "").replace("\\\\", "\\")
    return " ".join(text.split()).replace("%", "%%")


def option_name(name: str) -> str:
    """``observer_trajectories`` -> ``--observer-trajectories``."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class Option:
    """One generated command-line option of a configuration field."""

    name: str
    """The configuration field."""
    flags: tuple[str, ...]
    """Its flags, e.g. ``("--observed-steps",)``."""
    kwargs: dict[str, Any]
    """Keyword arguments of :meth:`argparse.ArgumentParser.add_argument`."""
    convert: Callable[[Any], Any] = lambda value: value
    """Turns the parsed value into the field's value."""


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0], True
    return tp, False


def _scalar(tp: Any) -> tuple[Callable[[str], Any], tuple[Any, ...] | None] | None:
    """A parser and the allowed values for one value of type ``tp`` (None: not parsed)."""
    if typing.get_origin(tp) is typing.Literal:
        values = typing.get_args(tp)
        by_text = {str(v): v for v in values}

        def literal(text: str) -> Any:
            if text not in by_text:
                raise argparse.ArgumentTypeError(
                    f"invalid choice {text!r} (choose from {', '.join(by_text)})")
            return by_text[text]

        return literal, values
    if tp in (int, float, str):
        return tp, None
    if tp is Path:
        return Path, None
    return None


def _tuple_parser(item: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        parts = [p.strip() for p in text.split(",")]
        if not all(parts):
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        try:
            return tuple(item(p) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid list {text!r} (expected {getattr(item, '__name__', 'values')} "
                "separated by commas)") from None

    return parse


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def config_options(command: Command) -> list[Option]:
    """The options generated from ``command.config`` (one per exposed field)."""
    cls = command.config
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name in command.exclude or not f.init:
            continue
        has_default = f.default is not dataclasses.MISSING \
            or f.default_factory is not dataclasses.MISSING
        default = (f.default if f.default is not dataclasses.MISSING else
                   f.default_factory() if f.default_factory is not dataclasses.MISSING  # type: ignore[misc]
                   else None)
        positional = f.name in command.positional
        flags = (f.name,) if positional else (option_name(f.name),
                                              *command.aliases.get(f.name, ()))
        doc = _plain(docs.get(f.name, ""))
        kwargs: dict[str, Any] = {}
        convert: Callable[[Any], Any] = _identity
        tp, optional = _strip_optional(hints[f.name])
        if f.name in command.presets:
            presets = dict(command.presets[f.name])
            kwargs["choices"] = list(presets)
            names = [k for k, v in presets.items() if v == default]
            shown = names[0] if names else None
            kwargs["default"] = shown
            convert = _preset(presets, default)
        elif tp is bool:
            if has_default and default is True:
                kwargs["action"] = argparse.BooleanOptionalAction
                shown = "on"
            else:
                kwargs["action"] = "store_true"
                shown = None
            kwargs["default"] = bool(default)
        elif typing.get_origin(tp) is tuple and len(typing.get_args(tp)) == 2 \
                and typing.get_args(tp)[1] is Ellipsis:
            item = _scalar(typing.get_args(tp)[0])
            if item is None:
                raise TypeError(f"{cls.__name__}.{f.name}: cannot parse {hints[f.name]}")
            kwargs["type"] = _tuple_parser(item[0])
            kwargs["metavar"] = "A,B,..."
            kwargs["default"] = default
            shown = _show(default) if has_default else None
            if item[1] is not None:
                doc += f" Any of: {', '.join(map(str, item[1]))}."
        else:
            item = _scalar(tp)
            if item is None:
                if dataclasses.is_dataclass(tp):
                    continue  # nested configuration: set in Python (or via presets)
                raise TypeError(f"{cls.__name__}.{f.name}: cannot parse {hints[f.name]}; "
                                "add it to the Command's presets or exclude")
            parse, values = item
            if f.name in command.choices:
                values = tuple(command.choices[f.name])
            if values is not None:
                kwargs["choices"] = list(values)
                if typing.get_origin(tp) is typing.Literal:
                    kwargs["type"] = parse
            else:
                kwargs["type"] = parse
                kwargs["metavar"] = _METAVARS.get(parse, "VALUE")
            kwargs["default"] = default
            shown = _show(default) if has_default and default is not None else None
            if optional and default is None:
                shown = None
        if not has_default and not positional:
            kwargs["required"] = True
            kwargs.pop("default", None)
        elif positional and not has_default:
            kwargs.pop("default", None)
        help_text = doc
        if shown is not None:
            help_text += f" (default: {shown})"
        kwargs["help"] = help_text.strip() or None
        out.append(Option(f.name, flags, kwargs, convert))
    return out


_METAVARS: dict[Any, str] = {int: "INT", float: "FLOAT", str: "TEXT", Path: "PATH"}


def _identity(value: Any) -> Any:
    return value


def _preset(presets: dict[str, Any], default: Any) -> Callable[[Any], Any]:
    def convert(name: Any) -> Any:
        return default if name is None else presets[name]

    return convert


def build_parser(name: str, command: Command, prog: str | None = None,
                 description: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``logel run <name>``: the generated options plus the common ones."""
    parser = Parser(prog=prog or f"logel run {name}", description=description)
    for opt in config_options(command):
        if opt.flags[0].startswith("-"):
            parser.add_argument(*opt.flags, dest=opt.name, **opt.kwargs)
        else:
            parser.add_argument(*opt.flags, **opt.kwargs)
    if command.seeds is not None:
        parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds(command.seeds),
                            help=f"seeds, a range or a list: 0-19, 1,5,7 or 0-4,9 "
                                 f"(default: {command.seeds})")
    for common in command.options:
        if common not in COMMON_OPTIONS:
            raise ValueError(f"unknown common option {common!r}; choose from {COMMON_OPTIONS}")
    if "n_jobs" in command.options:
        parser.add_argument("--n-jobs", type=_positive_int, default=1, metavar="N",
                            help="worker processes (results are identical for any number; "
                                 "default: 1)")
    if "backend" in command.options:
        parser.add_argument("--backend", choices=["loky", "ray"], default="loky",
                            help="joblib backend of the worker processes (default: loky)")
    if "progress" in command.options:
        parser.add_argument("--progress", action="store_true", help="show a progress bar")
    return parser


def build_config(command: Command, args: argparse.Namespace) -> Any:
    """The configuration the parsed ``args`` describe (the dataclass defaults for every option
    left out)."""
    values = {opt.name: opt.convert(getattr(args, opt.name))
              for opt in config_options(command)}
    return command.config(**values)


def load_command(name: str) -> Command:
    """The :class:`Command` of ``logel run <name>`` (imports the experiment's module)."""
    module = importlib.import_module(RUNS[name][0])
    command = getattr(module, "COMMAND", None)
    if not isinstance(command, Command):
        raise TypeError(f"{RUNS[name][0]} defines no COMMAND")
    return command


def run(name: str, argv: Sequence[str] | None = None) -> int:
    """``logel run <name> <argv>``: parse, build the configuration and execute it (the entry
    point of ``python -m logel.experiments.<name>``, with the error policy of :func:`guarded`)."""
    return guarded(lambda rest: _run(name, rest), list(argv or []))


def _run(name: str, argv: Sequence[str] | None = None) -> int:
    if name not in RUNS:
        _run_parser().error(f"argument experiment: invalid choice {name!r} "
                            f"(choose from {', '.join(RUNS)})")
    command = load_command(name)
    module_doc = sys.modules[RUNS[name][0]].__doc__ or RUNS[name][1]
    parser = build_parser(name, command, description=module_doc.split("\n\n")[0])
    args = parser.parse_args(list(argv or []))
    try:
        config = build_config(command, args)
    except (TypeError, ValueError) as err:
        message = str(err)
        for opt in config_options(command):  # name the option, not the (Class.)field
            if opt.flags[0].startswith("--"):
                message = re.sub(rf"(?<![\w-])(?:[A-Z]\w*\.)?{opt.name}(?!\w)", opt.flags[0],
                                 message)
        parser.error(message)
    status = command.execute(config, args)
    return 0 if status is None else int(status)


# ---------------------------------------------------------------------------------- logel


def _run_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="logel run", description="Run one experiment and print its summary; "
        "`logel run <experiment> --help` lists its options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="experiments:\n" + "\n".join(f"  {n:<22s}{h}" for n, (_, h) in RUNS.items()))
    parser.add_argument("experiment", choices=list(RUNS), metavar="experiment",
                        help="one of the experiments below")
    return parser


def _parser() -> argparse.ArgumentParser:
    from logel.reproduce import EXPERIMENTS

    parser = Parser(
        prog="logel", description="LOGEL's command line: run one experiment, rerun "
        "experiments and check their claims, or check artifact folders.")
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help="show the traceback of an error (anywhere on the command line)")
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{run,reproduce,artifacts,verify}", parser_class=Parser)
    sub.add_parser("run", help="run one experiment (logel run <experiment> --help)",
                   add_help=False)
    art = sub.add_parser("artifacts", help="verify artifact folders, or seal old ones")
    art.add_argument("action", choices=["verify", "seal"],
                     help="verify: check every file and the manifest digest; seal: verify, "
                          "then write the manifest digest (manifest.sha256) if missing")
    art.add_argument("folders", nargs="+", type=Path, metavar="folder",
                     help="artifact folder(s) holding a manifest.json")
    art.add_argument("--recursive", action="store_true",
                     help="every folder with a manifest.json below each given folder")
    ver = sub.add_parser("verify", help="check every committed artifact and rerun cheap key "
                         "numbers (logel.verify); one line each, status 1 on any mismatch")
    ver.add_argument("--no-rerun", action="store_true", help="check the artifacts only")
    rep = sub.add_parser("reproduce", help="rerun experiments and check their claims")
    rep.add_argument("experiment", nargs="+", choices=[*EXPERIMENTS, "all"],
                     help="experiment name(s), or 'all'")
    rep.add_argument("--budget", choices=BUDGETS, default="smoke")
    rep.add_argument("--n-jobs", type=_positive_int, default=1)
    rep.add_argument("--backend", choices=["loky", "ray"], default="loky")
    rep.add_argument("--out", type=output_folder, default=None,
                     help="artifact root (default: $LOGEL_ARTIFACTS or <repo>/artifacts)")
    rep.add_argument("--no-progress", action="store_true", help="no per-job progress bars")
    rep.add_argument("--no-publish", action="store_true",
                     help="do not update book/results/ and the README's results block "
                     "(published at the book and paper budgets)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``logel`` console script and of ``python -m logel``; returns the exit
    status (errors: one line and status 2, :func:`guarded`)."""
    return guarded(_main, list(sys.argv[1:] if argv is None else argv))


def artifacts_command(action: str, folders: Sequence[Path], recursive: bool = False) -> int:
    """``logel artifacts verify|seal <folder>...``: one line per folder; returns 0, or raises
    ``logel.artifacts.ArtifactError`` at the first folder that does not verify."""
    import warnings

    from logel import artifacts

    targets: list[Path] = []
    for folder in folders:
        if recursive:
            if not folder.is_dir():
                raise artifacts.ArtifactError(f"{folder}: no such folder")
            found = sorted(p.parent for p in folder.rglob(artifacts.MANIFEST))
            if not found:
                raise artifacts.ArtifactError(f"{folder}: no {artifacts.MANIFEST} below it")
            targets.extend(found)
        else:
            targets.append(folder)
    for folder in targets:
        if action == "seal":
            sealed = (folder / artifacts.DIGEST).exists()
            artifacts.seal(folder)
            print(f"{'already sealed' if sealed else 'sealed'}: {folder}")
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", artifacts.MissingDigestWarning)
                manifest = artifacts.verify(folder)
            note = " (no manifest digest: run `logel artifacts seal`)" if caught else ""
            print(f"ok: {folder} ({len(manifest['files'])} files){note}")
    return 0


def _main(argv: list[str]) -> int:
    if argv and argv[0] == "run":
        rest = argv[1:]
        if not rest or rest[0].startswith("-"):
            _run_parser().parse_args(rest[:1])  # prints the help, or the missing-argument error
        return _run(rest[0], rest[1:])
    args = _parser().parse_args(argv)
    if args.command == "artifacts":
        return artifacts_command(args.action, args.folders, args.recursive)
    if args.command == "verify":
        from logel.verify import command

        return command(rerun=not args.no_rerun)
    from logel.reproduce import EXPERIMENTS, reproduce, summarise, summary_table

    names = list(EXPERIMENTS) if "all" in args.experiment else list(dict.fromkeys(args.experiment))
    reports = reproduce(names, args.budget, args.n_jobs, args.backend, args.out,
                        progress=not args.no_progress)
    print()
    print(summary_table(reports))
    summarise(reports, args.budget, args.out, publish=not args.no_publish)
    return 1 if any(c.verdict == "fails" for r in reports for c in r.claims) else 0


if __name__ == "__main__":  # ``python -m logel.cli``: the importable module's main (one Command
    from logel.cli import main as _main  # class, the one the experiment modules import)

    sys.exit(_main())
