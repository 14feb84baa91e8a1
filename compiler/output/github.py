"""GitHub Actions workflow commands, escaped as actions/toolkit does.

Why escaping matters: an unescaped `,` or `:` in a property, or a newline in the message,
silently truncates or breaks the annotation. Why most severe first: GitHub shows at most
10 annotations of each level per step (50 per job), so errors must not be crowded out.
Columns are sent only for single-line spans; actions/toolkit documents that `col` and
`endColumn` cannot be sent when `line` and `endLine` differ.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..diagnostics import Diagnostic

__all__ = ["escape_data", "escape_property", "render_github"]

_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diags: Sequence[Diagnostic]) -> str:
    ordered = sorted(diags, key=lambda d: -int(d.severity))  # most severe first (caps)
    lines = []
    for d in ordered:
        props = [f"file={escape_property(d.file)}", f"line={d.span.line}",
                 f"endLine={d.span.end_line}"]
        if d.span.end_line == d.span.line:  # columns are refused on multi-line annotations
            props += [f"col={d.span.col}", f"endColumn={d.span.end_col}"]
        props.append(f"title={escape_property(f'{d.code} {d.slug}')}")
        message = d.message + (f"\n{d.help}" if d.help else "")
        lines.append(f"::{_LEVEL[d.severity.label]} {','.join(props)}::{escape_data(message)}")
    return "\n".join(lines) + ("\n" if lines else "")
