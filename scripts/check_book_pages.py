"""Check the built book in a headless browser: math, images and internal links.

Usage::

    python scripts/check_book_pages.py _build/html [--mathjax PATH] [--screenshots DIR]

The HTML folder is served on 127.0.0.1 (an ephemeral port) and every ``.html`` page is opened
in headless Chromium with ``--dump-dom``, i.e. the DOM *after* its scripts (MathJax) ran.
Each page must have

* no MathJax error node (``mjx-merror``, "Math input error") and, if it contains math, typeset
  math (``mjx-container``): math that MathJax never processed is reported too;
* no docutils ``problematic`` / ``system-message`` node;
* no Markdown table left as raw text (a delimiter row such as ``|---|`` outside code);
* every ``<img src>`` resolving to an existing file;
* every internal ``href`` (relative, not ``http``) resolving to an existing file, and its
  ``#fragment`` (if any) to an ``id`` in the target page.

The book loads MathJax from a CDN. Machines without that access (CI here) pass ``--mathjax``:
a directory holding MathJax 3's ``tex-mml-chtml.js`` (the ``es5`` folder), or a wheel/zip that
contains one (e.g. ``django-static-mathjax``); the server then rewrites the pages' MathJax URL
to that local copy. ``--screenshots DIR`` also saves a PNG of every book page (chapters,
appendix, introduction) for a human look.

Exit status 0 if every page passes, 1 otherwise (the failures are listed), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

BROWSER_CANDIDATES = ("/usr/bin/chromium", "chromium", "google-chrome", "google-chrome-stable",
                      "chromium-browser")
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                 "--mute-audio")
SKIPPED_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static", "reports",
                "jupyter_execute", "__mathjax__"}
MATHJAX_PREFIX = "/__mathjax__/"
MATHJAX_SRC = re.compile(r"""(src=["'])[^"']*?/es5/(tex-[A-Za-z-]+\.js)(["'])""")
MATH_ERROR_TEXT = ("Math input error", "Math output error", "Math Processing Error")
RAW_TABLE_ROW = re.compile(r"\|\s*:?(?:-{3,}|—+|–+):?\s*\|")
"""A Markdown table's delimiter row (``|---|``; Sphinx's smart quotes turn ``---`` into an em
dash) left as text: a table that was never parsed, e.g. a code cell's Markdown output rendered
as CommonMark."""


# --------------------------------------------------------------------------------------------
# HTML parsing
# --------------------------------------------------------------------------------------------

VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
             "source", "track", "wbr"}


@dataclass
class PageInfo:
    """What one parse of a page collected."""

    ids: set[str] = field(default_factory=set)
    images: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    math_errors: int = 0
    math_sources: int = 0
    untypeset_math: list[str] = field(default_factory=list)
    undefined_macros: list[str] = field(default_factory=list)
    problems: int = 0
    error_texts: list[str] = field(default_factory=list)
    raw_tables: int = 0
    redirect: str | None = None


class _Collector(HTMLParser):
    """One pass over a page; keeps a stack of open elements to know what is inside what."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.info = PageInfo()
        # open elements: [tag, kind, payload]; kind "math" -> payload [typeset?, source text],
        # kind "red" -> payload [text] (a red mtext: MathJax's mark for an undefined macro)
        self.stack: list[list] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        info = self.info
        if "id" in a:
            info.ids.add(a["id"])
        if tag == "a" and "name" in a:
            info.ids.add(a["name"])
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            _, _, target = a.get("content", "").partition("url=")
            info.redirect = target.strip() or None
        classes = a.get("class", "").split()
        if tag == "mjx-merror" or "data-mjx-error" in a:
            info.math_errors += 1
        if tag == "mjx-container":
            for entry in self.stack:
                if entry[1] == "math":
                    entry[2][0] = True
        if "problematic" in classes or "system-message" in classes:
            info.problems += 1
        if tag == "img" and a.get("src"):
            info.images.append(a["src"])
        if tag in ("a", "link") and a.get("href") and \
                a.get("rel", "") not in ("preconnect", "dns-prefetch"):
            info.links.append(a["href"])
        if tag in VOID_TAGS:
            return
        if "math" in classes and tag in ("span", "div") and \
                not any(entry[1] == "math" for entry in self.stack):
            info.math_sources += 1
            self.stack.append([tag, "math", [False, ""]])
        elif tag == "mtext" and a.get("mathcolor", "").lower() == "red":
            self.stack.append([tag, "red", [""]])
        else:
            self.stack.append([tag, "", None])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS and self.stack and self.stack[-1][0] == tag:
            self._close(self.stack.pop())

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_TAGS:
            return
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                while len(self.stack) > depth:
                    self._close(self.stack.pop())
                return

    def _close(self, entry: list) -> None:
        if entry[1] == "math" and not entry[2][0]:
            self.info.untypeset_math.append(" ".join(entry[2][1].split())[:80])
        elif entry[1] == "red":
            self.info.undefined_macros.append(entry[2][0].strip())

    def handle_data(self, data: str) -> None:
        for text in MATH_ERROR_TEXT:
            if text in data:
                self.info.error_texts.append(text)
        if RAW_TABLE_ROW.search(data) and not any(
                entry[0] in ("pre", "code", "script", "style", "textarea") or entry[1] == "math"
                for entry in self.stack):
            self.info.raw_tables += 1
        for entry in self.stack:
            if entry[1] == "math":
                entry[2][1] += data
            elif entry[1] == "red":
                entry[2][0] += data

    def close(self) -> None:
        super().close()
        while self.stack:
            self._close(self.stack.pop())


def parse_html(text: str) -> PageInfo:
    parser = _Collector()
    parser.feed(text)
    parser.close()
    return parser.info


@functools.cache
def static_ids(path: Path) -> frozenset[str]:
    """Ids (and ``<a name>``) defined in the HTML file at ``path``."""
    return frozenset(parse_html(path.read_text(encoding="utf-8", errors="replace")).ids)


# --------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------

def _handler(root: Path, mathjax_dir: Path | None) -> type[http.server.SimpleHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def translate_path(self, path: str) -> str:
            clean = urlsplit(path).path
            if mathjax_dir is not None and clean.startswith(MATHJAX_PREFIX):
                rel = posixpath.normpath(unquote(clean[len(MATHJAX_PREFIX):])).lstrip("/")
                return str(mathjax_dir / rel)
            return super().translate_path(path)

        def send_head(self):  # type: ignore[no-untyped-def]
            if mathjax_dir is None or not urlsplit(self.path).path.endswith(".html"):
                return super().send_head()
            local = Path(self.translate_path(self.path))
            if not local.is_file():
                return super().send_head()
            body = MATHJAX_SRC.sub(rf"\g<1>{MATHJAX_PREFIX}\g<2>\g<3>",
                                   local.read_text(encoding="utf-8", errors="replace"))
            data = body.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return io.BytesIO(data)

    return Handler


class Server:
    """``http.server`` on 127.0.0.1 with an ephemeral port, in a daemon thread."""

    def __init__(self, root: Path, mathjax_dir: Path | None) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     _handler(root, mathjax_dir))
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------

def find_browser(requested: str | None) -> str:
    candidates = [requested] if requested else [os.environ.get("CHROMIUM", ""),
                                                *BROWSER_CANDIDATES]
    for name in candidates:
        if not name:
            continue
        path = shutil.which(name) or (name if Path(name).is_file() else None)
        if path:
            return path
    raise SystemExit(f"error: no Chromium found (tried {', '.join(c for c in candidates if c)}); "
                     "install it (Debian: apt-get install -y chromium) or pass --browser")


def run_browser(browser: str, url: str, extra: list[str], timeout: float) -> str:
    """Run headless Chromium once with a fresh profile; return its stdout."""
    with tempfile.TemporaryDirectory(prefix="check-pages-profile-") as profile:
        cmd = [browser, *BROWSER_FLAGS, f"--user-data-dir={profile}", *extra, url]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"browser exited with {proc.returncode}: {tail}")
    return proc.stdout


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

def html_pages(root: Path) -> list[Path]:
    pages = []
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root)
        if SKIPPED_DIRS.intersection(rel.parts[:-1]):
            continue
        pages.append(path)
    return pages


def _is_internal(ref: str) -> bool:
    parts = urlsplit(ref)
    return not parts.scheme and not parts.netloc and not ref.startswith("//")


def _resolve(root: Path, page: Path, ref: str) -> tuple[Path, str]:
    """Local file and fragment that the relative reference ``ref`` on ``page`` points to."""
    parts = urlsplit(ref)
    if not parts.path:
        return page, unquote(parts.fragment)
    if parts.path.startswith("/"):
        target = root / unquote(parts.path).lstrip("/")
    else:
        target = page.parent / unquote(parts.path)
    target = Path(os.path.normpath(target))
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def check_page(root: Path, page: Path, dom: str) -> list[str]:
    """Problems found on one page, given its DOM after scripts ran."""
    info = parse_html(dom)
    problems = []
    if info.math_errors or info.error_texts:
        problems.append(f"MathJax errors: {info.math_errors} error node(s) "
                        f"{sorted(set(info.error_texts))}")
    if info.untypeset_math:
        hint = (" (MathJax did not run at all: offline? pass --mathjax)"
                if len(info.untypeset_math) == info.math_sources else "")
        problems.append(f"{len(info.untypeset_math)} of {info.math_sources} math element(s) "
                        f"not typeset{hint}, e.g. {info.untypeset_math[0]!r}")
    if info.undefined_macros:
        problems.append(f"undefined TeX macro(s): {sorted(set(info.undefined_macros))}")
    if info.problems:
        problems.append(f"{info.problems} docutils 'problematic'/'system-message' node(s)")
    if info.raw_tables:
        problems.append(f"{info.raw_tables} Markdown table(s) shown as raw text")
    for src in info.images:
        if src.startswith("data:") or not _is_internal(src):
            continue
        target, _ = _resolve(root, page, src)
        if not target.is_file():
            problems.append(f"missing image: {src}")
    own_ids = info.ids | static_ids(page)
    for href in sorted(set(info.links)):
        if not _is_internal(href) or href.startswith(("mailto:", "javascript:")):
            continue
        target, fragment = _resolve(root, page, href)
        if not target.exists():
            problems.append(f"broken link: {href}")
            continue
        if fragment and target.suffix == ".html":
            ids = own_ids if target == page else static_ids(target)
            if fragment not in ids:
                problems.append(f"missing anchor: {href}")
    return problems


def _mathjax_dir(spec: str | None, workdir: Path) -> Path | None:
    """A directory with ``tex-mml-chtml.js``, from a directory or a wheel/zip."""
    if spec is None:
        return None
    path = Path(spec)
    if path.is_dir():
        hits = [path] if (path / "tex-mml-chtml.js").is_file() else \
            [p.parent for p in path.rglob("es5/tex-mml-chtml.js")]
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if n.endswith("es5/tex-mml-chtml.js")]
            if members:
                prefix = members[0][: -len("tex-mml-chtml.js")]
                zf.extractall(workdir, [n for n in zf.namelist() if n.startswith(prefix)])
                hits = [workdir / prefix]
            else:
                hits = []
    else:
        raise SystemExit(f"error: --mathjax {spec}: no such directory or zip file")
    if not hits:
        raise SystemExit(f"error: --mathjax {spec}: no es5/tex-mml-chtml.js inside")
    return hits[0]


def _screenshot_name(root: Path, page: Path) -> str:
    return "__".join(page.relative_to(root).with_suffix("").parts) + ".png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path, nargs="?", default=Path("_build/html"))
    parser.add_argument("--browser", help="Chromium executable (default: auto-detect, or "
                        "the CHROMIUM environment variable)")
    parser.add_argument("--mathjax", help="local MathJax 3: es5 directory, or a wheel/zip "
                        "containing es5/tex-mml-chtml.js")
    parser.add_argument("--screenshots", type=Path, help="save a PNG of every book page here")
    parser.add_argument("--window-size", default="1280,2400",
                        help="screenshot size WIDTH,HEIGHT (default 1280,2400)")
    parser.add_argument("--virtual-time-budget", type=int, default=10000,
                        help="milliseconds of virtual time for scripts (default 10000)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds per browser run (default 120)")
    parser.add_argument("--jobs", type=int, default=2, help="pages checked in parallel")
    args = parser.parse_args(argv)

    root = args.html_dir.resolve()
    if not (root / "index.html").is_file() and not any(root.glob("*.html")):
        print(f"error: {root} has no HTML pages; build the book first (make book)",
              file=sys.stderr)
        return 2
    browser = find_browser(args.browser)
    pages = html_pages(root)
    budget = f"--virtual-time-budget={args.virtual_time_budget}"

    with tempfile.TemporaryDirectory(prefix="check-pages-") as work, \
            Server(root, _mathjax_dir(args.mathjax, Path(work))) as server:
        base = f"http://127.0.0.1:{server.port}/"

        def check(page: Path) -> tuple[Path, list[str]]:
            url = base + page.relative_to(root).as_posix()
            redirect = parse_html(page.read_text(encoding="utf-8", errors="replace")).redirect
            if redirect is not None:  # e.g. the root index.html: only its target must exist
                target, _ = _resolve(root, page, redirect)
                return page, [] if target.is_file() else [f"redirect to a missing page: {redirect}"]
            try:
                dom = run_browser(browser, url, ["--dump-dom", budget], args.timeout)
            except (RuntimeError, subprocess.TimeoutExpired) as err:
                return page, [f"could not load: {err}"]
            if not dom.strip():
                return page, ["empty DOM"]
            problems = check_page(root, page, dom)
            if args.screenshots and page.relative_to(root).parts[0] == "book":
                out = args.screenshots.resolve() / _screenshot_name(root, page)
                try:
                    run_browser(browser, url, [f"--screenshot={out}",
                                               f"--window-size={args.window_size}", budget],
                                args.timeout)
                except (RuntimeError, subprocess.TimeoutExpired) as err:
                    problems.append(f"screenshot failed: {err}")
            return page, problems

        if args.screenshots:
            args.screenshots.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(check, pages))

    failed = [(page, problems) for page, problems in results if problems]
    for page, problems in results:
        status = "FAIL" if problems else "ok"
        print(f"{status:>4}  {page.relative_to(root)}")
        for problem in problems:
            print(f"        - {problem}")
    if args.screenshots:
        print(f"screenshots: {args.screenshots}")
    print(f"check-pages: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
