"""Inline suppressions: `# specops: ignore[CODE, CODE] reason`.

Why a required reason: a suppression is a decision someone will audit later (checkov and
kube-linter habit). A trailing comment covers its own line; a comment alone on a line
covers the next line. Unused suppressions are reported so they cannot pile up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, Span
from specops.compiler.diagnostics.rules import RULES

__all__ = ["Suppression", "apply_suppressions", "parse_suppressions"]

# A YAML comment starts a line or follows whitespace; `a#b` is part of a plain scalar.
_COMMENT = re.compile(r"(?:^|(?<=\s))#\s*specops:\s*ignore\[(?P<codes>[^\]]*)\](?P<reason>.*)$")


@dataclass(slots=True)
class Suppression:
    file: str
    line: int          # line of the comment
    target: int        # line it covers
    col: int
    codes: tuple[str, ...]
    reason: str
    used: set[str] = field(default_factory=set)


def parse_suppressions(file: str, text: str) -> tuple[list[Suppression], list[Diagnostic]]:
    sups: list[Suppression] = []
    diags: list[Diagnostic] = []
    if "specops:" not in text:
        return sups, diags
    lines = text.splitlines()
    for i, line in enumerate(lines, start=1):
        m = _COMMENT.search(line)
        if not m:
            continue
        col = m.start() + 1
        span = Span(i, col, i, len(line) + 1)
        codes = tuple(c.strip().upper() for c in m.group("codes").split(",") if c.strip())
        reason = m.group("reason").strip()
        if not codes:
            diags.append(Diagnostic("SPEC903", "suppression names no code", file, span,
                                    help="name the codes: # specops: ignore[SPEC308] reason"))
            continue
        for code in codes:
            if code not in RULES:
                diags.append(Diagnostic("SPEC903", f"suppression names unknown code `{code}`",
                                        file, span))
        if not reason:
            diags.append(Diagnostic("SPEC902", "suppression has no reason", file, span,
                                    help="add why after the bracket: "
                                         "# specops: ignore[SPEC308] migrating in Q3"))
            continue
        standalone = line[: m.start()].strip() == ""
        target = i
        if standalone:
            target = next((j for j in range(i + 1, len(lines) + 1)
                           if lines[j - 1].strip() and not lines[j - 1].lstrip().startswith("#")),
                          i)
        sups.append(Suppression(file, i, target, col, codes, reason))
    return sups, diags


def apply_suppressions(diags: list[Diagnostic],
                       sups: list[Suppression]) -> list[Diagnostic]:
    """Drop suppressed diagnostics, then add a warning for each unused suppression."""
    index: dict[tuple[str, int], list[Suppression]] = {}
    for s in sups:
        index.setdefault((s.file, s.target), []).append(s)
    kept: list[Diagnostic] = []
    for d in diags:
        hit = False
        if d.code not in ("SPEC902", "SPEC903"):
            for s in index.get((d.file, d.span.line), ()):
                if d.code in s.codes:
                    s.used.add(d.code)
                    hit = True
        if not hit:
            kept.append(d)
    for s in sups:
        for code in s.codes:
            if code in RULES and code not in s.used:
                kept.append(Diagnostic("SPEC901", f"suppression of {code} matched nothing",
                                       s.file, Span(s.line, s.col, s.line, s.col + 1),
                                       Severity.WARNING,
                                       help="remove the stale suppression"))
    return kept
