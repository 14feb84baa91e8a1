"""SARIF 2.1.0 for GitHub code scanning.

Follows GitHub's required fields: rules with short/full description and help, results with
repo-relative `artifactLocation.uri`, full regions, and a `partialFingerprints` hash so alerts
stay stable across runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..diagnostics import Diagnostic
from ..rules import RULES

__all__ = ["SARIF_SCHEMA", "render_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_DOCS = "https://github.com/specops/specops/blob/main/docs/rules.md"


def _fingerprint(d: Diagnostic, lines: Sequence[str] | None) -> str:
    text = ""
    if lines and 0 < d.span.line <= len(lines):
        text = lines[d.span.line - 1].strip()
    return hashlib.sha256(f"{d.code}:{d.file}:{text}".encode()).hexdigest()[:32] + ":1"


def render_sarif(diags: Sequence[Diagnostic], sources: Mapping[str, Sequence[str]],
                 version: str) -> str:
    used = sorted({d.code for d in diags})
    rule_index = {code: i for i, code in enumerate(used)}
    rules: list[dict[str, Any]] = []
    for code in used:
        r = RULES[code]
        rules.append({
            "id": code,
            "name": r.slug,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": r.explanation},
            "help": {"text": r.explanation, "markdown": f"**{code} {r.slug}**: {r.explanation}"},
            "helpUri": f"{_DOCS}#{code.lower()}",
            "defaultConfiguration": {"level": _LEVEL[r.severity.label]},
        })
    results = []
    for d in diags:
        message = d.message + (f" ({d.help})" if d.help else "")
        results.append({
            "ruleId": d.code,
            "ruleIndex": rule_index[d.code],
            "level": _LEVEL[d.severity.label],
            "message": {"text": message},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": d.file, "uriBaseId": "%SRCROOT%"},
                    "region": {
                        "startLine": d.span.line,
                        "startColumn": d.span.col,
                        "endLine": d.span.end_line,
                        "endColumn": d.span.end_col,
                    },
                }
            }],
            "partialFingerprints": {"primaryLocationLineHash": _fingerprint(
                d, sources.get(d.file))},
        })
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "specops", "version": version,
                                "informationUri": "https://github.com/specops/specops",
                                "rules": rules}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }
    return json.dumps(doc, indent=2) + "\n"
