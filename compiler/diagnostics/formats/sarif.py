"""SARIF 2.1.0 for GitHub code scanning.

Follows GitHub's required fields: rules with short/full description and help, results with
repo-relative `artifactLocation.uri`, full regions, and a `partialFingerprints` hash so alerts
stay stable across runs.

Why the occurrence counter in fingerprints: two findings of the same code on identical
lines of one file (two `source: raw` lines, say) would otherwise share a fingerprint and
GitHub would merge them into one alert; GitHub's own `primaryLocationLineHash` appends
`:n` for the n-th occurrence for the same reason. Why percent-encoding: `uri` is a URI
reference, so a space or `#` in a file name must be escaped or GitHub cannot place it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, Span
from specops.compiler.diagnostics.formats.paths import repo_relative
from specops.compiler.diagnostics.rules import RULES, Rule

__all__ = ["SARIF_SCHEMA", "artifact_location", "render_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_DOCS = "https://github.com/specops/specops/blob/main/docs/rules.md"


def artifact_location(file: str) -> dict[str, str]:
    """Repo-relative paths resolve against %SRCROOT%; absolute ones become file: URIs.

    Inside GitHub Actions, paths are first rebased onto GITHUB_WORKSPACE."""
    posix = repo_relative(file).replace("\\", "/")
    if PurePosixPath(posix).is_absolute():
        return {"uri": "file://" + quote(posix, safe="/")}
    return {"uri": quote(posix, safe="/"), "uriBaseId": "%SRCROOT%"}


def _rule(code: str, severity: str) -> dict[str, Any]:
    r = RULES.get(code)
    if r is None:  # a pass emitted a code missing from the table: still valid SARIF
        r = Rule(code, "unknown", Severity.parse(severity), f"{code}", f"{code}")
    return {
        "id": code,
        "name": r.slug,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.explanation},
        "help": {"text": r.explanation, "markdown": f"**{code} {r.slug}**: {r.explanation}"},
        "helpUri": f"{_DOCS}#{code.lower()}",
        "defaultConfiguration": {"level": _LEVEL[r.severity.label]},
    }


def _fingerprints(diags: Sequence[Diagnostic],
                  sources: Mapping[str, Sequence[str]]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for d in diags:
        lines = sources.get(d.file)
        text = ""
        if lines and 0 < d.span.line <= len(lines):
            text = " ".join(lines[d.span.line - 1].split())
        digest = hashlib.sha256(f"{d.code}:{d.file}:{text}".encode()).hexdigest()[:32]
        seen[digest] = seen.get(digest, 0) + 1
        out.append(f"{digest}:{seen[digest]}")
    return out


def _region(span: Span) -> dict[str, int]:
    return {
        "startLine": max(span.line, 1),
        "startColumn": max(span.col, 1),
        "endLine": max(span.end_line, span.line, 1),
        "endColumn": max(span.end_col, 1),
    }


def _related_locations(d: Diagnostic) -> list[dict[str, Any]]:
    """SARIF `relatedLocations`: ids are unique within the result (SARIF 3.33.2), so the
    message may link to them as `[text](n)`; code scanning shows them as links."""
    return [{"id": i,
             "physicalLocation": {"artifactLocation": artifact_location(r.file),
                                  "region": _region(r.span)},
             "message": {"text": r.message}}
            for i, r in enumerate(d.related, start=1)]


def render_sarif(diags: Sequence[Diagnostic], sources: Mapping[str, Sequence[str]],
                 version: str) -> str:
    first_level: dict[str, str] = {}
    for d in diags:
        first_level.setdefault(d.code, d.severity.label)
    used = sorted(first_level)
    rule_index = {code: i for i, code in enumerate(used)}
    rules = [_rule(code, first_level[code]) for code in used]
    results = []
    for d, fingerprint in zip(diags, _fingerprints(diags, sources), strict=True):
        message = d.message + (f" ({d.help})" if d.help else "")
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": rule_index[d.code],
            "level": _LEVEL[d.severity.label],
            "message": {"text": message},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": artifact_location(d.file),
                    "region": _region(d.span),
                }
            }],
            "partialFingerprints": {"primaryLocationLineHash": fingerprint},
        }
        if d.related:
            result["relatedLocations"] = _related_locations(d)
        results.append(result)
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
