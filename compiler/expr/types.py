"""The expression language's types and the few rules that combine them.

Why so few: expressions compile to polars (features) or plain Python (gates, policies),
so the types are the ones both sides share exactly. Integers and floats are 64-bit; a
source's int32/float32/category columns widen to int64/float64/string, which is what the
runtime computes in anyway. `null` is the type of the literal `None`; every type is
nullable, so `null` combines with anything.
"""

from __future__ import annotations

import enum

__all__ = [
    "ExprType",
    "column_type",
    "is_numeric",
    "is_temporal",
    "unify",
]


class ExprType(enum.StrEnum):
    """The type written into every node of the JSON tree (`"type": "float64"`)."""

    INT64 = "int64"
    FLOAT64 = "float64"
    BOOL = "bool"
    STRING = "string"
    DATETIME = "datetime"
    DATE = "date"
    NULL = "null"


_COLUMN_TYPES: dict[str, ExprType] = {
    "int64": ExprType.INT64,
    "int32": ExprType.INT64,
    "float64": ExprType.FLOAT64,
    "float32": ExprType.FLOAT64,
    "bool": ExprType.BOOL,
    "string": ExprType.STRING,
    "category": ExprType.STRING,
    "date": ExprType.DATE,
    "datetime": ExprType.DATETIME,
}


def column_type(declared: str) -> ExprType:
    """Map a source column type (`compiler/kinds/common.py` ColumnType) to an ExprType."""
    return _COLUMN_TYPES[declared]


def is_numeric(t: ExprType) -> bool:
    """int64 and float64 (and null, which fits anywhere a number does)."""
    return t in (ExprType.INT64, ExprType.FLOAT64, ExprType.NULL)


def is_temporal(t: ExprType) -> bool:
    return t in (ExprType.DATETIME, ExprType.DATE, ExprType.NULL)


def unify(a: ExprType, b: ExprType) -> ExprType | None:
    """The common type of two values (if_else branches, coalesce, min, comparisons).

    int64 widens to float64; null takes the other side's type; anything else must match.
    None means the two cannot be combined.
    """
    if a == b:
        return a
    if a == ExprType.NULL:
        return b
    if b == ExprType.NULL:
        return a
    if {a, b} == {ExprType.INT64, ExprType.FLOAT64}:
        return ExprType.FLOAT64
    return None
