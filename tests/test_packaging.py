"""Consistency checks between pyproject.toml, environment.yml and the book configuration."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SYNCED_EXTRAS = ("test", "book")


def _key(req: Requirement) -> tuple[str, frozenset[str]]:
    return canonicalize_name(req.name), frozenset(req.extras)


def _index(requirements: list[str], source: str) -> dict[tuple[str, frozenset[str]], SpecifierSet]:
    """Map (name, extras) -> specifier; the same package listed twice must agree."""
    out: dict[tuple[str, frozenset[str]], SpecifierSet] = {}
    for line in requirements:
        req = Requirement(line)
        key = _key(req)
        if key in out:
            assert out[key] == req.specifier, f"{source}: conflicting specifiers for {req.name}"
        out[key] = req.specifier
    return out


def _pyproject_requirements() -> dict[tuple[str, frozenset[str]], SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in SYNCED_EXTRAS:
        lines.extend(project["optional-dependencies"][extra])
    return _index(lines, "pyproject.toml")


def _environment_pip_requirements() -> dict[tuple[str, frozenset[str]], SpecifierSet]:
    """Plain parse of the `- ` items of the `pip:` list in environment.yml (no YAML dependency)."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    items: list[str] = []
    pip_indent: int | None = None
    for raw in lines:
        text = raw.split(" #", 1)[0].rstrip()
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(text) - len(text.lstrip())
        if pip_indent is None:
            if re.fullmatch(r"-\s*pip:", stripped):
                pip_indent = indent
            continue
        if indent <= pip_indent:
            break
        assert stripped.startswith("- "), f"unexpected line under pip: {raw!r}"
        items.append(stripped[2:].strip().strip("'\""))
    assert pip_indent is not None, "environment.yml has no pip: section"
    assert items, "environment.yml pip: section is empty"
    return _index(items, "environment.yml")


def test_environment_matches_pyproject() -> None:
    pyproject = _pyproject_requirements()
    environment = _environment_pip_requirements()
    missing = sorted(k[0] for k in pyproject.keys() - environment.keys())
    extra = sorted(k[0] for k in environment.keys() - pyproject.keys())
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"
    differing = {
        k[0]: (str(pyproject[k]), str(environment[k]))
        for k in pyproject
        if pyproject[k] != environment[k]
    }
    assert not differing, f"specifiers differ (pyproject, environment): {differing}"


def test_pins() -> None:
    for name, reqs in (
        ("pyproject.toml", _pyproject_requirements()),
        ("environment.yml", _environment_pip_requirements()),
    ):
        assert reqs[("torch", frozenset())] == SpecifierSet("==2.13.0"), name
        assert reqs[("jupyter-book", frozenset())] == SpecifierSet(">=1,<2"), name


def _toc_entries() -> list[str]:
    text = (ROOT / "_toc.yml").read_text()
    return re.findall(r"^\s*(?:-\s*)?(?:root|file):\s*([^\s#]+)", text, flags=re.MULTILINE)


def test_toc_files_exist() -> None:
    entries = _toc_entries()
    assert entries and entries[0] == "book/intro"
    for entry in entries:
        candidates = (
            [ROOT / entry]
            if Path(entry).suffix
            else [
                ROOT / f"{entry}.md",
                ROOT / f"{entry}.ipynb",
            ]
        )
        assert any(p.is_file() for p in candidates), f"_toc.yml entry {entry!r} has no file"


def _top_level_flow_list(text: str, key: str) -> list[str]:
    """Parse a top-level ``key: [ "a", "b" ]`` flow list (double-quoted items, JSON-compatible)."""
    match = re.search(rf"^{re.escape(key)}:\s*(\[[^\]]*\])", text, flags=re.MULTILINE)
    assert match, f"_config.yml: no top-level flow list {key!r}"
    return json.loads(match.group(1))


def test_book_config() -> None:
    text = (ROOT / "_config.yml").read_text()
    assert re.search(r"^only_build_toc_files:\s*true\b", text, flags=re.MULTILINE)
    patterns = _top_level_flow_list(text, "exclude_patterns")
    assert "*.ipynb" in patterns
    assert "**/*.ipynb" in patterns
    assert "_build" in patterns
    # CI must never reuse stale notebook outputs.
    assert re.search(r"^\s+execute_notebooks:\s*force\b", text, flags=re.MULTILINE)
