"""Sphinx helper for the API appendix: keep napoleon from misreading attribute docstrings.

For attributes (e.g. dataclass fields documented by a string under the field), napoleon's
Google style reads the first line as ``type: description`` whenever it contains a colon, so
``"Probability of a random move (the paper's stochastic option: 0.3)."`` would render with the
type "Probability of a random move (...". The fields already carry real type annotations, which
autodoc shows, so for such docstrings we put an empty RST comment first: napoleon then finds no
inline type and the text renders unchanged.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.ext.napoleon.docstring import _single_colon_regex, _xref_or_code_regex


def _has_inline_type(line: str) -> bool:
    """True if napoleon would split ``line`` at a colon (outside code and roles)."""
    parts = _xref_or_code_regex.split(line)
    return any(_single_colon_regex.search(part) for part in parts[::2])


def _protect_attribute_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any,
                                 lines: list[str]) -> None:
    if what not in ("attribute", "data", "property"):
        return
    first = next((line for line in lines if line.strip()), None)
    if first is not None and _has_inline_type(first):
        lines[:0] = ["..", ""]


def setup(app: Sphinx) -> dict[str, Any]:
    # napoleon listens with the default priority 500; lower numbers run first.
    app.connect("autodoc-process-docstring", _protect_attribute_docstring, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
