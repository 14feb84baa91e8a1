"""Compiled expression trees to Python closures: the request-time features of one row.

Why closures, compiled once per server: a single-row request must not pay for walking the
tree (the interpreter, `contract/interpret.py`) or for building a polars frame per request
(~0.1-0.3 ms, more than the rest of the request). Each tree becomes a nest of closures,
built when the server starts; a row then costs one call per node (about a microsecond for
a typical feature). bench/online_serve.py (`--features-only`) measures closures against
one polars `select` over a micro-batch frame for batches of 1..64 rows, which is why
`OnlineVector` takes closures up to `POLARS_FROM_ROWS` rows and polars above.

Semantics: those of the data backend the offline path uses (`runtime/data/expr_polars.py`:
`compute_features`, `add_features`), so an online row equals the offline row bit for bit.
That backend is held to the one interpreter by a property test; the closures reuse the
interpreter's own operations (`_binary`, `_compare`, `_STRICT`, ...) so they are the
interpreter's semantics by construction, with the one documented difference of the data
backend applied here too: `round` is half-to-even on the decimal value (polars), not on
the binary value (Python). The result of a tree is cast to the tree's type, as
`to_polars` casts it (a clipped `0` of a float feature is `0.0`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from specops.contract import interpret as _i

__all__ = ["RowFn", "compile_row", "round_half_even"]

RowFn = Callable[[Mapping[str, Any]], Any]
_MAX_DEPTH = 200


def round_half_even(x: Any, n: Any = 0) -> Any:
    """`round` as the data backend computes it: half to even on the decimal value."""
    if isinstance(x, int) or not math.isfinite(x):
        return x
    digits = int(n or 0)
    q = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(x)).quantize(q, rounding=ROUND_HALF_EVEN))


def _cast(t: str | None) -> Callable[[Any], Any] | None:
    if t == "float64":
        return lambda v: None if v is None else float(v)
    if t == "int64":
        return lambda v: None if v is None else int(v)
    if t == "bool":
        return lambda v: None if v is None else bool(v)
    return None


def compile_row(tree: Mapping[str, Any]) -> RowFn:
    """A function of one row (column name -> value, None = null) computing `tree`."""
    fn = _node(tree, 0)
    cast = _cast(tree.get("type"))
    if cast is None:
        return fn
    return lambda row: cast(fn(row))


def _node(node: Mapping[str, Any], depth: int) -> RowFn:
    if depth > _MAX_DEPTH:
        raise ValueError("expression tree too deep")
    op = node.get("op")
    d = depth + 1
    if op == "col":
        name = node["name"]
        nan = _i._nan_to_null
        return lambda row: nan(row[name])
    if op == "lit":
        value = node.get("value")
        return lambda row: value
    if op == "binary":
        return _binary(node["fn"], _node(node["left"], d), _node(node["right"], d))
    if op == "compare":
        fn, left, right = node["fn"], _node(node["left"], d), _node(node["right"], d)
        cmp = _i._compare
        return lambda row: cmp(fn, left(row), right(row))
    if op == "unary":
        arg = _node(node["arg"], d)
        if node["fn"] == "not":
            return lambda row: None if (v := arg(row)) is None else (not v)
        if node["fn"] == "neg":
            return lambda row: None if (v := arg(row)) is None else -v
        raise ValueError(f"unknown unary function {node['fn']!r}")
    if op == "logical":
        return _logical(node["fn"], [_node(a, d) for a in node["args"]])
    if op == "call":
        return _call(node["fn"], [_node(a, d) for a in node["args"]], node["args"])
    raise ValueError(f"expression node {op!r} cannot be computed on a request row")


def _binary(fn: str, left: RowFn, right: RowFn) -> RowFn:
    nan, binary = _i._nan_to_null, _i._binary
    if fn == "add":   # the common cases without the generic dispatch
        return lambda row: nan(None if (a := left(row)) is None or (b := right(row)) is None
                               else a + b)
    if fn == "div":
        def div(row: Mapping[str, Any]) -> Any:
            a, b = left(row), right(row)
            if a is None or b is None or b == 0:
                return None
            return nan(a / b)
        return div
    return lambda row: nan(binary(fn, left(row), right(row)))


def _logical(fn: str, args: list[RowFn]) -> RowFn:
    if fn not in ("and", "or"):
        raise ValueError(f"unknown logical function {fn!r}")
    decisive = fn == "or"

    def kleene(row: Mapping[str, Any]) -> Any:
        unknown = False
        for a in args:
            v = a(row)
            if v is None:
                unknown = True
            elif bool(v) is decisive:
                return decisive
        return None if unknown else not decisive
    return kleene


def _call(fn: str, args: list[RowFn], nodes: list[Mapping[str, Any]]) -> RowFn:
    nan = _i._nan_to_null
    if fn == "coalesce":
        def coalesce(row: Mapping[str, Any]) -> Any:
            for a in args:
                v = a(row)
                if v is not None:
                    return v
            return None
        return coalesce
    if fn == "if_else":
        c, t, e = args
        return lambda row: t(row) if c(row) else e(row)
    if fn == "is_null":
        x = args[0]
        return lambda row: x(row) is None
    if fn in ("min", "max"):
        pick = min if fn == "min" else max

        def extreme(row: Mapping[str, Any]) -> Any:
            present = [v for a in args if (v := a(row)) is not None]
            return pick(present) if present else None
        return extreme
    if fn == "round":
        if len(nodes) > 1 and nodes[1].get("op") != "lit":
            raise ValueError("round(x, n) needs a literal n")
        impl: Callable[..., Any] = round_half_even
    else:
        found = _i._STRICT.get(fn)
        if found is None:
            raise ValueError(f"unknown function {fn!r} in a feature expression")
        impl = found
    two = fn == "days_between"

    def strict(row: Mapping[str, Any]) -> Any:
        vals = [a(row) for a in args]
        if vals[0] is None or (two and vals[1] is None):
            return None
        try:
            return nan(impl(*vals))
        except (OverflowError, ValueError):
            return None
    return strict
