"""GitHub Actions workflow commands, escaped as actions/toolkit does.

Why escaping matters: an unescaped `,` or `:` in a property, or a newline in the message,
silently truncates or breaks the annotation. Why most severe first: GitHub shows at most
10 annotations of each level per step (50 per job), so errors must not be crowded out.
Columns are sent only for single-line spans; actions/toolkit documents that `col` and
`endColumn` cannot be sent when `line` and `endLine` differ.
"""

from __future__ import annotations

from collections.abc import Sequence

from specops.compiler.diagnostics.diagnostic import Diagnostic
from specops.compiler.diagnostics.formats.paths import repo_relative

__all__ = ["SUMMARY_ROWS", "escape_data", "escape_property", "render_github",
           "render_summary"]

SUMMARY_ROWS = 500   # the step summary is capped at 1 MiB; keep it readable well below

_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diags: Sequence[Diagnostic]) -> str:
    ordered = sorted(diags, key=lambda d: -int(d.severity))  # most severe first (caps)
    lines = []
    for d in ordered:
        props = [f"file={escape_property(repo_relative(d.file))}", f"line={d.span.line}",
                 f"endLine={d.span.end_line}"]
        if d.span.end_line == d.span.line:  # columns are refused on multi-line annotations
            props += [f"col={d.span.col}", f"endColumn={d.span.end_col}"]
        props.append(f"title={escape_property(f'{d.code} {d.slug}')}")
        message = d.message + (f"\n{d.help}" if d.help else "")
        # Annotations carry one position, so the other parties are named in the text.
        message += "".join(f"\nnote: {repo_relative(r.file)}:{r.span.line}:{r.span.col}: "
                           f"{r.message}" for r in d.related)
        lines.append(f"::{_LEVEL[d.severity.label]} {','.join(props)}::{escape_data(message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_summary(diags: Sequence[Diagnostic]) -> str:
    """A Markdown table for `$GITHUB_STEP_SUMMARY`: every finding, also those past the
    annotation caps, most severe first."""
    ordered = sorted(diags, key=lambda d: -int(d.severity))
    counts = {label: sum(1 for d in diags if d.severity.label == label)
              for label in ("error", "warning", "info")}
    head = ", ".join(f"{n} {label}{'s' * (n != 1)}" for label, n in counts.items())
    lines = ["### specops lint", "", head if diags else "No findings.", ""]
    if diags:
        lines += ["| severity | code | location | message |", "|---|---|---|---|"]
        for d in ordered[:SUMMARY_ROWS]:
            where = f"{repo_relative(d.file)}:{d.span.line}:{d.span.col}"
            lines.append(f"| {d.severity.label} | {d.code} {d.slug} | `{_cell(where)}` | "
                         f"{_cell(d.message)} |")
        if len(ordered) > SUMMARY_ROWS:
            lines += ["", f"… and {len(ordered) - SUMMARY_ROWS} more; run `specops lint` "
                      "locally for the full list."]
    return "\n".join(lines) + "\n"
