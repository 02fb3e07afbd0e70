"""Generate the book's notebooks, list the published tree, and check launch links.

The book's MyST ``.md`` files are the only committed notebook sources. This script turns them
into ``.ipynb`` files (``make notebooks``) with one extra first code cell, the *setup cell*, which
installs ``logel`` at the book's commit when it is not importable (Colab; a no-op locally, in CI
and on Binder, where the package is installed). The book workflow publishes those notebooks,
outputs stripped, next to the package source on the ``notebooks`` branch, and the launch buttons
(``_config.yml``: ``repository.url``, ``repository.branch``) point there.

The repository URL is set in one place: ``repository.url`` in ``_config.yml``
(:data:`REPOSITORY_SETTING`). The workflows read it through ``python scripts/notebooks.py
setting``.

Commands::

    python scripts/notebooks.py generate [--commit SHA]   # book/**/*.ipynb, setup cell first
    python scripts/notebooks.py setting                   # print the repository URL
    python scripts/notebooks.py tree DEST                 # copy the published tree into DEST
    python scripts/notebooks.py check-links _build/html   # every launch link -> a published path
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY_SETTING = "repository.url"
"""The one setting naming the repository (in ``_config.yml``)."""
SETUP_TAG = "logel-setup"
"""Cell tag of the generated setup cell (tests find the cell by it)."""
SETUP_MARKER = "# logel setup cell"


@dataclass(frozen=True)
class Settings:
    """What the launch buttons and the setup cell need from ``_config.yml``.

    Attributes:
        url: the repository URL (``repository.url``), e.g. ``https://github.com/org/logel``.
        branch: the branch the launch buttons open (``repository.branch``): the published one.
        path_to_book: the book's folder inside the repository (``repository.path_to_book``).
        binderhub_url: ``launch_buttons.binderhub_url`` (empty: no Binder button).
        colab_url: ``launch_buttons.colab_url`` (empty: no Colab button).
        notebook_interface: ``launch_buttons.notebook_interface`` (``classic`` or ``jupyterlab``).
    """

    url: str
    branch: str
    path_to_book: str = ""
    binderhub_url: str = ""
    colab_url: str = ""
    notebook_interface: str = "classic"

    @property
    def org_repo(self) -> tuple[str, str]:
        """``(org, repo)`` of a GitHub URL."""
        parts = urlparse(self.url).path.strip("/").removesuffix(".git").split("/")
        if len(parts) != 2:
            raise ValueError(f"{REPOSITORY_SETTING} must be https://github.com/<org>/<repo>, "
                             f"got {self.url!r}")
        return parts[0], parts[1]


def read_settings(root: Path = ROOT) -> Settings:
    """Read :class:`Settings` from ``<root>/_config.yml``."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config.get("repository") or {}
    launch = config.get("launch_buttons") or {}
    if not repo.get("url"):
        raise ValueError(f"_config.yml has no {REPOSITORY_SETTING}")
    return Settings(url=str(repo["url"]).rstrip("/"), branch=str(repo.get("branch", "main")),
                    path_to_book=str(repo.get("path_to_book", "") or "").strip("/"),
                    binderhub_url=str(launch.get("binderhub_url", "") or "").rstrip("/"),
                    colab_url=str(launch.get("colab_url", "") or "").rstrip("/"),
                    notebook_interface=str(launch.get("notebook_interface", "classic")))


def git_commit(root: Path = ROOT) -> str:
    """The checked-out commit (``git rev-parse HEAD``); outside a git checkout (a source
    archive), ``$GITHUB_SHA`` or else ``main``."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, text=True,
                              capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("GITHUB_SHA", "main")


def setup_source(url: str, commit: str) -> str:
    """Source of the setup cell: install ``logel`` at ``commit`` unless it is importable.

    It clones the repository at the book's commit (the artifacts the chapters load come with
    it), installs the package from the clone and points ``LOGEL_ARTIFACTS`` at the clone's
    artifacts. Where ``logel`` is importable (a local checkout, CI, Binder) it does nothing.
    """
    return "\n".join([
        f"{SETUP_MARKER}: installs logel at the book's commit where it is missing (Colab);",
        "# it does nothing where logel is already installed (locally, in CI, on Binder).",
        "import importlib.util",
        "",
        'if importlib.util.find_spec("logel") is None:',
        "    import os, pathlib, subprocess, sys",
        "",
        f'    REPOSITORY, COMMIT = "{url}", "{commit}"',
        '    src = pathlib.Path("logel-src").resolve()',
        "    if not src.exists():",
        '        subprocess.run(["git", "clone", "--quiet", "--filter=blob:none", REPOSITORY,',
        "                        str(src)], check=True)",
        '        subprocess.run(["git", "-C", str(src), "checkout", "--quiet", COMMIT], check=True)',
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", f"{src}[mujoco]"],',
        "                   check=True)",
        '    os.environ.setdefault("LOGEL_ARTIFACTS", str(src / "artifacts"))',
        "    importlib.invalidate_caches()",
    ])


def notebook_sources(root: Path = ROOT) -> list[Path]:
    """Every jupytext MyST notebook under ``book/`` (front matter with a ``jupytext:`` key)."""
    out = []
    for path in sorted((root / "book").rglob("*.md")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if text.startswith("---") and re.search(r"^jupytext:", text.split("\n---", 1)[0], re.M):
            out.append(path)
    return out


def with_setup_cell(nb: object, url: str, commit: str) -> object:
    """The notebook with the setup cell before its first cell, outputs stripped."""
    import nbformat

    cells = [c for c in nb.cells if SETUP_TAG not in c.get("metadata", {}).get("tags", [])]
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    setup = nbformat.v4.new_code_cell(setup_source(url, commit),
                                      metadata={"tags": [SETUP_TAG]})
    setup.pop("id", None)
    nb.cells = [setup, *cells]
    return nb


def build_notebook(md: Path, url: str, commit: str) -> object:
    """The notebook of one MyST source (jupytext), setup cell first, outputs stripped, cell ids
    stable (no churn between generations), validated."""
    import jupytext
    import nbformat

    nb = with_setup_cell(jupytext.read(md), url, commit)
    nb.metadata.pop("jupytext", None)  # no pairing metadata: the .md stays the only source
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    nbformat.validate(nb)
    return nb


def generate(root: Path = ROOT, commit: str | None = None,
             repository: str | None = None) -> list[Path]:
    """Write ``<chapter>.ipynb`` beside every notebook source, setup cell first.

    Args:
        root: the repository root.
        commit: the commit the setup cell installs (default: ``git rev-parse HEAD``).
        repository: the repository the setup cell clones (default: the setting,
            :data:`REPOSITORY_SETTING`; the scheduled workflow passes the repository it runs in
            while the setting is a placeholder).

    Returns:
        The written notebooks.
    """
    import nbformat

    settings = read_settings(root)
    commit = commit or git_commit(root)
    written = []
    for md in notebook_sources(root):
        nb = build_notebook(md, repository or settings.url, commit)
        out = md.with_suffix(".ipynb")
        tmp = out.with_name(f".{out.name}.tmp")
        nbformat.write(nb, str(tmp))
        tmp.replace(out)
        written.append(out)
    return written


def tracked_files(root: Path = ROOT) -> list[str]:
    """Files tracked by git (``git ls-files``), relative to the root."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True,
                         capture_output=True).stdout.decode()
    return [p for p in out.split("\0") if p]


def published_files(root: Path = ROOT) -> set[str]:
    """The tree the book workflow publishes on the launch branch: the tracked files (package
    source, artifacts, Binder environment) plus one generated notebook per notebook source."""
    files = set(tracked_files(root))
    files.update(p.with_suffix(".ipynb").relative_to(root).as_posix()
                 for p in notebook_sources(root))
    return files


def copy_tree(dest: Path, root: Path = ROOT) -> int:
    """Copy the published tree into ``dest`` (run :func:`generate` first); returns the count."""
    n = 0
    for rel in sorted(published_files(root)):
        src = root / rel
        if not src.is_file():
            raise FileNotFoundError(f"{rel} is not there: run `make notebooks` first")
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        n += 1
    return n


def expected_launch_links(settings: Settings, pagename: str) -> list[str]:
    """The Binder and Colab links of a notebook page, as sphinx-book-theme builds them when
    the page's ``.ipynb`` exists beside its source (``make book`` generates them first)."""
    org, repo = settings.org_repo
    prefix = f"{settings.path_to_book}/" if settings.path_to_book else ""
    path = f"{prefix}{pagename}.ipynb"
    ui = {"classic": "tree", "jupyterlab": "lab/tree"}[settings.notebook_interface]
    links = []
    if settings.binderhub_url:
        links.append(f"{settings.binderhub_url}/v2/gh/{org}/{repo}/{settings.branch}"
                     f"?urlpath={ui}/{path}")
    if settings.colab_url:
        links.append(f"{settings.colab_url}/github/{org}/{repo}/blob/{settings.branch}/{path}")
    return links


def link_target(url: str, settings: Settings) -> str:
    """The repository path a Binder or Colab launch link opens, checking its repository and
    branch against the settings.

    Raises:
        ValueError: a link to another repository or branch, or of an unknown kind.
    """
    org, repo = settings.org_repo
    parsed = urlparse(url)
    binder = f"/v2/gh/{org}/{repo}/{settings.branch}"
    colab = f"/github/{org}/{repo}/blob/{settings.branch}/"
    if settings.binderhub_url and url.startswith(settings.binderhub_url):
        if parsed.path.rstrip("/") != binder:
            raise ValueError(f"Binder link {url} does not open {org}/{repo}@{settings.branch}")
        urlpath = parse_qs(parsed.query).get("urlpath", [""])[0]
        return re.sub(r"^(lab/)?tree/", "", urlpath)
    if settings.colab_url and url.startswith(settings.colab_url):
        if not parsed.path.startswith(colab):
            raise ValueError(f"Colab link {url} does not open {org}/{repo}@{settings.branch}")
        return parsed.path[len(colab):]
    raise ValueError(f"not a launch link: {url}")


_LAUNCH_HREF = re.compile(r'href="([^"]+)"')


def launch_links_in_html(html: str, settings: Settings) -> list[str]:
    """The Binder and Colab links in a built page."""
    import html as html_lib

    prefixes = tuple(p for p in (settings.binderhub_url, settings.colab_url) if p)
    return [html_lib.unescape(h) for h in _LAUNCH_HREF.findall(html)
            if prefixes and html_lib.unescape(h).startswith(prefixes)]


def check_links(html_dir: Path, root: Path = ROOT) -> list[str]:
    """Problems with the launch links of a built book: links to another repository or branch,
    or to a path that is not in the published tree. Empty when every link is good."""
    settings = read_settings(root)
    tree = published_files(root)
    problems = []
    n = 0
    for page in sorted(html_dir.rglob("*.html")):
        for url in launch_links_in_html(page.read_text(encoding="utf-8"), settings):
            n += 1
            try:
                target = link_target(url, settings)
            except ValueError as err:
                problems.append(f"{page.relative_to(html_dir)}: {err}")
                continue
            if target not in tree:
                problems.append(f"{page.relative_to(html_dir)}: {url} opens {target}, "
                                "which is not in the published tree")
    if n == 0:
        problems.append(f"no launch links found under {html_dir}")
    return problems


def main(argv: Iterable[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write book/**/*.ipynb with the setup cell")
    gen.add_argument("--commit", help="commit the setup cell installs (default: HEAD)")
    gen.add_argument("--repository", help=f"repository the setup cell clones (default: "
                     f"{REPOSITORY_SETTING} in _config.yml)")
    sub.add_parser("setting", help=f"print {REPOSITORY_SETTING} from _config.yml")
    tree = sub.add_parser("tree", help="copy the published tree into DEST")
    tree.add_argument("dest", type=Path)
    check = sub.add_parser("check-links", help="check the launch links of a built book")
    check.add_argument("html_dir", type=Path)
    args = parser.parse_args(None if argv is None else list(argv))
    if args.command == "generate":
        for path in generate(ROOT, args.commit, args.repository):
            print(path.relative_to(ROOT))
    elif args.command == "setting":
        print(read_settings(ROOT).url)
    elif args.command == "tree":
        print(f"{copy_tree(args.dest)} files copied to {args.dest}")
    else:
        problems = check_links(args.html_dir)
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            return 1
        print("every launch link opens a published notebook")
    return 0


if __name__ == "__main__":
    sys.exit(main())
