"""Launching the book's notebooks (issue 18, item 1): every generated notebook starts with the
setup cell, and every launch link opens a notebook of the published tree
(scripts/notebooks.py, the ``notebooks`` branch)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "notebooks.py"

pytest.importorskip("jupytext")
yaml = pytest.importorskip("yaml")


def _module():
    spec = importlib.util.spec_from_file_location("logel_notebooks_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


nbs = _module()


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [c["file"] for c in part.get("chapters", [])]
    return pages


def test_the_repository_is_named_once_and_launch_buttons_open_the_published_branch():
    settings = nbs.read_settings(ROOT)
    assert settings.org_repo  # a github.com/<org>/<repo> URL
    assert settings.branch == "notebooks"
    assert settings.binderhub_url and settings.colab_url
    # the one setting: no workflow or Binder file spells the URL out itself
    for path in [*(ROOT / ".github").rglob("*.yml"), *(ROOT / "binder").glob("*")]:
        assert settings.url not in path.read_text(encoding="utf-8"), path


def test_every_generated_notebook_starts_with_the_setup_cell():
    settings = nbs.read_settings(ROOT)
    sources = nbs.notebook_sources(ROOT)
    pages = {p for p in _toc_pages() if (ROOT / f"{p}.md").exists()}
    assert {s.relative_to(ROOT).with_suffix("").as_posix() for s in sources} >= {
        p for p in pages if (ROOT / f"{p}.md").read_text(encoding="utf-8").startswith("---\njupytext")}
    commit = "0123456789abcdef0123456789abcdef01234567"
    for md in sources:
        nb = nbs.build_notebook(md, settings.url, commit)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert first is nb.cells[0], md
        assert nbs.SETUP_TAG in first.metadata["tags"]
        assert f'"{settings.url}", "{commit}"' in first.source
        assert 'find_spec("logel") is None' in first.source
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), md
        assert sum(nbs.SETUP_TAG in c.metadata.get("tags", []) for c in nb.cells) == 1


def test_the_setup_cell_is_a_no_op_where_logel_is_installed():
    source = nbs.setup_source("https://github.com/org/repo", "abc")
    namespace: dict = {}
    exec(compile(source, "<setup cell>", "exec"), namespace)  # logel is importable here
    assert "REPOSITORY" not in namespace and "src" not in namespace


def test_every_launch_link_opens_a_file_of_the_published_tree():
    settings = nbs.read_settings(ROOT)
    tree = nbs.published_files(ROOT)
    assert {"pyproject.toml", "binder/postBuild", "binder/requirements.txt",
            "logel/__init__.py"} <= tree
    notebook_pages = {s.relative_to(ROOT).with_suffix("").as_posix()
                      for s in nbs.notebook_sources(ROOT)}
    links = [url for page in _toc_pages() if page in notebook_pages
             for url in nbs.expected_launch_links(settings, page)]
    assert len(links) == 2 * len([p for p in _toc_pages() if p in notebook_pages]) > 0
    for url in links:
        target = nbs.link_target(url, settings)
        assert target.endswith(".ipynb") and target in tree, url


def test_links_to_another_repository_or_branch_are_rejected():
    settings = nbs.read_settings(ROOT)
    org, repo = settings.org_repo
    bad = [f"{settings.binderhub_url}/v2/gh/{org}/{repo}/main?urlpath=tree/book/intro.ipynb",
           f"{settings.colab_url}/github/other/{repo}/blob/{settings.branch}/book/intro.ipynb"]
    for url in bad:
        with pytest.raises(ValueError):
            nbs.link_target(url, settings)
    html = (f'<a href="{bad[0].replace("&", "&amp;")}">Binder</a>'
            f'<a href="{nbs.expected_launch_links(settings, "book/intro")[1]}">Colab</a>')
    assert len(nbs.launch_links_in_html(html, settings)) == 2


@pytest.mark.skipif(not (ROOT / "_build" / "html" / "index.html").exists(),
                    reason="no built book (_build/html): run `make book`")
def test_launch_links_of_the_built_book():
    assert nbs.check_links(ROOT / "_build" / "html", ROOT) == []
