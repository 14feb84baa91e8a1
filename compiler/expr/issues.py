"""A problem found in an expression, positioned by character offset inside the text.

Why offsets and not Diagnostics: parsing and checking know only the string; where that
string sits in a YAML file is the caller's business (`compiler/expr/api.py` turns offsets
into file columns). Keeping them apart lets the same checker serve lint, compile and tests.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ExprIssue"]


@dataclass(frozen=True, slots=True)
class ExprIssue:
    code: str        # SPEC4xx
    message: str
    start: int       # 0-based character offset into the expression text
    end: int         # exclusive
    help: str | None = None
