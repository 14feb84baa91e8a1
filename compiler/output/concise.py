"""One line per diagnostic: `file:line:col: CODE [severity] message`."""

from __future__ import annotations

from collections.abc import Sequence

from ..diagnostics import Diagnostic

__all__ = ["render_concise"]


def render_concise(diags: Sequence[Diagnostic]) -> str:
    lines = [f"{d.location()}: {d.code} [{d.severity.label}] {d.message}" for d in diags]
    return "\n".join(lines) + ("\n" if lines else "")
