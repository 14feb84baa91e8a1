"""Machine-readable diagnostics: a JSON object with counts and one record per finding.

Why a published schema (`REPORT_SCHEMA`, shipped as schemas/lint-report.schema.json):
scripts and bots parse this output; the schema is the promise of what they may rely on.
`version` changes only when a field is removed or changes meaning; new fields may be added.
Positions are 1-based; `end_column` is exclusive.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic

__all__ = ["REPORT_SCHEMA", "diagnostic_record", "render_json"]

_POSITIVE = {"type": "integer", "minimum": 1}
_OPTIONAL_TEXT = {"type": ["string", "null"]}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "specops lint --format json",
    "description": "The report written by `specops lint --format json`.",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "counts", "diagnostics"],
    "properties": {
        "version": {"const": 1},
        "counts": {
            "type": "object",
            "additionalProperties": False,
            "required": ["error", "warning", "info"],
            "properties": {k: {"type": "integer", "minimum": 0}
                           for k in ("error", "warning", "info")},
        },
        "diagnostics": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "slug", "severity", "message", "file", "line", "column",
                             "end_line", "end_column", "help", "suggestion", "notes",
                             "related"],
                "properties": {
                    "code": {"type": "string", "pattern": "^SPEC[0-9]{3}$"},
                    "slug": {"type": "string", "pattern": "^[a-z0-9-]+$"},
                    "severity": {"enum": ["error", "warning", "info"]},
                    "message": {"type": "string"},
                    "file": {"type": "string"},
                    "line": _POSITIVE,
                    "column": _POSITIVE,
                    "end_line": _POSITIVE,
                    "end_column": _POSITIVE,
                    "help": _OPTIONAL_TEXT,
                    "suggestion": _OPTIONAL_TEXT,
                    "notes": {"type": "array", "items": {"type": "string"}},
                    "related": {"type": "array", "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["file", "line", "column", "end_line", "end_column",
                                     "message"],
                        "properties": {
                            "file": {"type": "string"},
                            "line": _POSITIVE,
                            "column": _POSITIVE,
                            "end_line": _POSITIVE,
                            "end_column": _POSITIVE,
                            "message": {"type": "string"},
                        },
                    }},
                },
            },
        },
    },
}


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
        "notes": list(d.notes),
        "related": [{"file": r.file, "line": r.span.line, "column": r.span.col,
                     "end_line": r.span.end_line, "end_column": r.span.end_col,
                     "message": r.message} for r in d.related],
    }


def render_json(diags: Sequence[Diagnostic]) -> str:
    counts = {"error": 0, "warning": 0, "info": 0}
    for d in diags:
        counts[d.severity.label] += 1
    doc = {"version": 1, "counts": counts, "diagnostics": [diagnostic_record(d) for d in diags]}
    return json.dumps(doc, indent=2) + "\n"
