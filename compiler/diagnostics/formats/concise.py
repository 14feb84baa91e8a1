"""One line per diagnostic: `file:line:col: CODE [severity] message`."""

from __future__ import annotations

from collections.abc import Sequence

from specops.compiler.diagnostics.diagnostic import Diagnostic

__all__ = ["render_concise"]


def _one_line(text: str) -> str:
    """Keep one diagnostic per line so grep and editors' problem matchers can parse it."""
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def render_concise(diags: Sequence[Diagnostic]) -> str:
    lines = []
    for d in diags:
        lines.append(f"{d.location()}: {d.code} [{d.severity.label}] {_one_line(d.message)}")
        # A related location is its own line, indented so `file:line:col: CODE` parsers
        # (problem matchers, grep for the code) never take it for a second finding.
        lines.extend(f"    {rel.location()}: note: {_one_line(rel.message)}"
                     for rel in d.related)
    return "\n".join(lines) + ("\n" if lines else "")
