"""Machine-readable diagnostics: a JSON object with counts and one record per finding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..diagnostics import Diagnostic

__all__ = ["diagnostic_record", "render_json"]


def diagnostic_record(d: Diagnostic) -> dict[str, Any]:
    return {
        "code": d.code,
        "slug": d.slug,
        "severity": d.severity.label,
        "message": d.message,
        "file": d.file,
        "line": d.span.line,
        "column": d.span.col,
        "end_line": d.span.end_line,
        "end_column": d.span.end_col,
        "help": d.help,
        "suggestion": d.suggestion,
    }


def render_json(diags: Sequence[Diagnostic]) -> str:
    counts = {"error": 0, "warning": 0, "info": 0}
    for d in diags:
        counts[d.severity.label] += 1
    doc = {"version": 1, "counts": counts, "diagnostics": [diagnostic_record(d) for d in diags]}
    return json.dumps(doc, indent=2) + "\n"
