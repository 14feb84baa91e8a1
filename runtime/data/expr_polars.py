"""Compiled expression trees (docs/plan.md, docs/expressions.md) to polars expressions.

Why a translator rather than an interpreter: feature expressions run on millions of rows,
so each tree becomes one vectorised polars expression: a second backend, not a second
interpreter. Its semantics are those of the one interpreter (`contract/interpret.py`) row
for row; a hypothesis property test (tests/runtime/data/test_expr_polars_property.py)
checks them against each other on generated well-typed trees and rows with nulls.

Null semantics (SQL three-valued logic, as the interpreter):
- arithmetic, comparisons and most functions with a null operand give null;
- `and`/`or` are Kleene (`false and null` is false, `true or null` is true);
- `if_else` treats a null condition as false (takes the else branch);
- `coalesce`, `min(a, b)`, `max(a, b)` skip nulls; `is_null` is never null;
- division, floor division and modulo by zero give null (not inf), and so do math domain
  errors: `log(x <= 0)`, `log1p(x <= -1)`, `sqrt(x < 0)`, `pow` with a negative base and
  a fractional exponent, and `exp`/`pow` overflowing to infinity from finite inputs.
- `//` and `%` follow Python (floor division; the remainder has the divisor's sign); with
  an infinite operand they give null.
- NaN is null: a NaN read from a float column or made by arithmetic (`inf - inf`) becomes
  null; `floor`/`ceil`/`round` of an infinity is that infinity.
- `round` is half-to-even on the decimal value (polars); Python's `round` works on the
  binary value, so `round(2.675, 2)` is 2.68 here and 2.67 in Python. Nothing else differs.
- `hour`, `day`, ... read datetimes in UTC (sources normalise every datetime to UTC).
- `days_between(a, b)` is whole days from a to b, truncated toward zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

__all__ = ["DTYPES", "ExprError", "to_polars", "tree_columns"]

DTYPES: dict[str, pl.DataType] = {
    "int64": pl.Int64(), "float64": pl.Float64(), "bool": pl.Boolean(), "string": pl.String(),
    "datetime": pl.Datetime("us", "UTC"), "date": pl.Date(), "null": pl.Null(),
}
_MAX_DEPTH = 200


class ExprError(ValueError):
    """A tree this runtime cannot translate (a newer plan, or a non-feature node)."""


def tree_columns(tree: Mapping[str, Any]) -> set[str]:
    """The column names a tree reads."""
    out: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.get("op") == "col":
            out.add(node["name"])
        for key in ("left", "right", "arg"):
            if key in node:
                stack.append(node[key])
        stack.extend(node.get("args", ()))
    return out


def to_polars(tree: Mapping[str, Any]) -> pl.Expr:
    """The polars expression computing `tree`; its result is cast to the tree's type."""
    expr = _tr(tree, 0)
    t = tree.get("type")
    return expr.cast(DTYPES[t]) if t in DTYPES and t != "null" else expr


def _null() -> pl.Expr:
    return pl.lit(None)


def _tr(node: Mapping[str, Any], depth: int) -> pl.Expr:
    if depth > _MAX_DEPTH:
        raise ExprError("expression tree too deep")
    op = node.get("op")
    d = depth + 1
    if op == "col":
        col = pl.col(node["name"])
        return col.fill_nan(None) if node.get("type") == "float64" else col
    if op == "lit":
        t = node.get("type")
        value = node.get("value")
        if value is None:
            return pl.lit(None, dtype=DTYPES.get(t or "null", pl.Null()))
        return pl.lit(value, dtype=DTYPES[t]) if t in ("int64", "float64", "bool", "string") \
            else pl.lit(value)
    if op == "binary":
        return _no_nan(_binary(node["fn"], _tr(node["left"], d), _tr(node["right"], d)), node)
    if op == "compare":
        return _compare(node["fn"], _tr(node["left"], d), _tr(node["right"], d))
    if op == "logical":
        args = [_tr(a, d) for a in node["args"]]
        out = args[0]
        for a in args[1:]:
            out = (out & a) if node["fn"] == "and" else (out | a)
        if node["fn"] not in ("and", "or"):
            raise ExprError(f"unknown logical function {node['fn']!r}")
        return out
    if op == "unary":
        arg = _tr(node["arg"], d)
        if node["fn"] == "not":
            return ~arg
        if node["fn"] == "neg":
            return -arg
        raise ExprError(f"unknown unary function {node['fn']!r}")
    if op == "call":
        return _no_nan(_call(node["fn"], [_tr(a, d) for a in node["args"]], node["args"]),
                       node)
    raise ExprError(f"expression node {op!r} cannot be computed on data "
                    "(metrics, slices and fairness belong to gates)")


def _no_nan(expr: pl.Expr, node: Mapping[str, Any]) -> pl.Expr:
    """NaN is null, as in the interpreter (only a float result can be NaN)."""
    return expr.fill_nan(None) if node.get("type") == "float64" else expr


def _finite_or_null(result: pl.Expr, *inputs: pl.Expr) -> pl.Expr:
    """Null where `result` overflowed to +-inf from finite inputs (Python raises there)."""
    finite_in = pl.all_horizontal([i.cast(pl.Float64).is_finite() for i in inputs])
    return pl.when(result.is_infinite() & finite_in).then(None).otherwise(result)


def _binary(fn: str, a: pl.Expr, b: pl.Expr) -> pl.Expr:
    if fn == "add":
        return a + b
    if fn == "sub":
        return a - b
    if fn == "mul":
        return a * b
    if fn == "div":
        return pl.when(b == 0).then(None).otherwise(a.cast(pl.Float64) / b)
    if fn in ("floordiv", "mod"):
        res = a // b if fn == "floordiv" else a % b
        infinite = a.cast(pl.Float64).is_infinite() | b.cast(pl.Float64).is_infinite()
        return pl.when((b == 0) | infinite).then(None).otherwise(res)
    if fn == "pow":
        af, bf = a.cast(pl.Float64), b.cast(pl.Float64)
        res = af.pow(bf)
        bad = (af < 0) & af.is_finite() & (bf != bf.floor())   # -inf ** 0.5 is inf (IEEE)
        return _finite_or_null(pl.when(bad).then(None).otherwise(res), af, bf)
    raise ExprError(f"unknown binary function {fn!r}")


_COMPARE: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


def _compare(fn: str, a: pl.Expr, b: pl.Expr) -> pl.Expr:
    if fn not in _COMPARE:
        raise ExprError(f"unknown comparison {fn!r}")
    return _COMPARE[fn](a, b)


def _as_datetime(e: pl.Expr, node: Mapping[str, Any]) -> pl.Expr:
    if node.get("type") == "date":
        return e.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return e


def _is_int(node: Mapping[str, Any]) -> bool:
    return node.get("type") == "int64"


def _call(fn: str, args: list[pl.Expr], nodes: list[Mapping[str, Any]]) -> pl.Expr:
    x = args[0] if args else _null()
    if fn == "log":
        return pl.when(x > 0).then(x.cast(pl.Float64).log())
    if fn == "log1p":
        return pl.when(x > -1).then(x.cast(pl.Float64).log1p())
    if fn == "exp":
        return _finite_or_null(x.cast(pl.Float64).exp(), x)
    if fn == "sqrt":
        return pl.when(x >= 0).then(x.cast(pl.Float64).sqrt())
    if fn == "abs":
        return x.abs()
    if fn == "clip":
        out = x
        lo, hi = args[1], args[2]
        out = pl.when(lo.is_not_null() & (out < lo)).then(lo).otherwise(out)
        return pl.when(hi.is_not_null() & (out > hi)).then(hi).otherwise(out)
    if fn == "coalesce":
        return pl.coalesce(args)
    if fn == "if_else":
        return pl.when(args[0]).then(args[1]).otherwise(args[2])
    if fn == "is_null":
        return x.is_null()
    if fn == "round":
        if _is_int(nodes[0]):
            return x
        n = nodes[1].get("value", 0) if len(nodes) > 1 else 0
        if len(nodes) > 1 and nodes[1].get("op") != "lit":
            raise ExprError("round(x, n) needs a literal n")
        return x.round(int(n or 0))
    if fn in ("floor", "ceil"):
        if _is_int(nodes[0]):
            return x
        return x.floor() if fn == "floor" else x.ceil()
    if fn in ("min", "max"):
        return pl.min_horizontal(args) if fn == "min" else pl.max_horizontal(args)
    if fn in ("year", "month", "day", "weekday", "hour"):
        dt = x.dt
        part = {"year": dt.year, "month": dt.month, "day": dt.day, "weekday": dt.weekday,
                "hour": dt.hour}[fn]()
        return part.cast(pl.Int64)
    if fn == "days_between":
        a, b = _as_datetime(args[0], nodes[0]), _as_datetime(args[1], nodes[1])
        us = (b - a).dt.total_microseconds()
        day = 86_400_000_000
        return pl.when(us >= 0).then(us // day).otherwise(-((-us) // day)).cast(pl.Int64)
    if fn == "lower":
        return x.str.to_lowercase()
    if fn == "upper":
        return x.str.to_uppercase()
    if fn == "length":
        return x.str.len_chars().cast(pl.Int64)
    raise ExprError(f"unknown function {fn!r} in a feature expression")
