"""The one diagnostic record every check produces.

Why one record: every output format (terminal, JSON, GitHub annotations, SARIF) and every
consumer (tests, suppression, exit codes) reads the same fields, so a check never has to
know how it will be shown. Positions are 1-based lines and columns, as editors, GitHub and
SARIF expect; the loader converts PyYAML's 0-based marks once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

__all__ = ["Diagnostic", "Related", "Severity", "Span", "sort_key"]


class Severity(enum.IntEnum):
    """Ordered so that `--fail-on` can compare with `>=`."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a file: 1-based, end column exclusive (points one past the last char)."""

    line: int
    col: int
    end_line: int
    end_col: int

    @classmethod
    def point(cls, line: int, col: int) -> Span:
        return cls(line, col, line, col + 1)

    def shifted(self, dcol: int, length: int) -> Span:
        """A sub-span inside a single-line value, e.g. one token of an expression string."""
        start = self.col + dcol
        return Span(self.line, start, self.line, start + max(length, 1))


@dataclass(frozen=True, slots=True)
class Related:
    """Another place that takes part in a finding: the person, the rule, the column.

    Why a separate location and not text in the message: the primary span marks the field
    that must change; the other party often lives in another file, and editors and GitHub
    code scanning can only link to it when it is a position (SARIF `relatedLocations`).
    """

    file: str
    span: Span
    message: str

    def location(self) -> str:
        return f"{self.file}:{self.span.line}:{self.span.col}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    file: str
    span: Span
    severity: Severity = Severity.ERROR
    help: str | None = None
    suggestion: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    related: tuple[Related, ...] = field(default_factory=tuple)

    @property
    def slug(self) -> str:
        from specops.compiler.diagnostics.rules import RULES

        rule = RULES.get(self.code)
        return rule.slug if rule else "unknown"

    def with_severity(self, severity: Severity) -> Diagnostic:
        return replace(self, severity=severity)

    def location(self) -> str:
        return f"{self.file}:{self.span.line}:{self.span.col}"


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.file, d.span.line, d.span.col, d.code)
