"""The browser page check's HTML rules (scripts/check_book_pages.py), without a browser."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_book_pages.py"


def _module():
    spec = importlib.util.spec_from_file_location("check_book_pages", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_raw_markdown_tables_are_reported_outside_code_only():
    parse_html = _module().parse_html
    raw = "<div class='output'><p>| a | b |\n|—|—|\n| 1 | 2 |</p></div>"
    assert parse_html(raw).raw_tables == 1
    assert parse_html("<p>| a |\n|---|---|</p>").raw_tables == 1
    rendered = "<table><tr><th>a</th></tr><tr><td>1</td></tr></table>"
    assert parse_html(rendered).raw_tables == 0
    in_code = "<pre><code>rows = ['|---|---|']</code></pre><p>x | y</p>"
    assert parse_html(in_code).raw_tables == 0


def test_built_page_with_a_raw_table_fails(tmp_path):
    check_page = _module().check_page
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>|---|---|</p></body></html>")
    assert check_page(tmp_path, page, page.read_text()) == [
        "1 Markdown table(s) shown as raw text"]
