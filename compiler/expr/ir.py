"""The parsed expression before type checking: a small tree of plain dataclasses.

Why our own tree and not Python's `ast`: the checker and the docs then only have to know
the dozen constructs the language has, each node carries character offsets into the
original text (Python's are UTF-8 byte offsets), and nothing downstream can be handed a
construct the whitelist did not admit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "Attr",
    "Binary",
    "Call",
    "Compare",
    "ExprNode",
    "InList",
    "Lit",
    "Logical",
    "Name",
    "SliceOf",
    "Unary",
]

LitValue: TypeAlias = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class Lit:
    value: LitValue
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Attr:
    """`base.attr`, one level deep on a plain name (`champion.roc_auc`, `model.owner`)."""

    base: Name
    attr: str
    attr_start: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Call:
    """`fn(args)`, or `base.fn(args)` when `receiver` is set (policy predicates)."""

    fn: str
    fn_start: int
    fn_end: int
    args: tuple[ExprNode, ...]
    receiver: Name | None
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SliceOf:
    """`metric by column`: only meaningful as the one argument of min/max/mean in gates."""

    metric: ExprNode
    by: ExprNode
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # add sub mul div floordiv mod pow
    left: ExprNode
    right: ExprNode
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # not neg pos
    arg: ExprNode
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # eq ne lt le gt ge
    left: ExprNode
    right: ExprNode
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class InList:
    """`x in [a, b]` / `x not in (a, b)` with literal members."""

    arg: ExprNode
    items: tuple[Lit, ...]
    negate: bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Logical:
    op: str  # and or
    args: tuple[ExprNode, ...]
    start: int
    end: int


ExprNode: TypeAlias = (Lit | Name | Attr | Call | SliceOf | Binary | Unary | Compare | InList
                       | Logical)
