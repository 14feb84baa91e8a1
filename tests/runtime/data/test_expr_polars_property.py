"""Property: the polars backend computes, row for row, what the one interpreter
(`specops.contract.interpret`) says, on generated well-typed trees and rows with nulls.

Why generated text rather than generated trees: the compiler is what writes trees, so the
generator produces typed expression text (one strategy per result type) and the compiler
checks it; only trees it accepts are compared. Rows come from small value sets that hit
the edges (zero, negatives, a large value, infinities and NaN, empty and non-ASCII strings)
with nulls in every column.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from specops.compiler.expr import compile_expression, feature_env
from specops.contract.interpret import evaluate
from specops.runtime.data.expr_polars import to_polars

COLUMNS = {"x": "float64", "y": "float64", "n": "int64", "m": "int64", "s": "string",
           "t": "string", "ok": "bool", "no": "bool", "d": "datetime", "e": "date"}
SCHEMA = {"x": pl.Float64, "y": pl.Float64, "n": pl.Int64, "m": pl.Int64, "s": pl.String,
          "t": pl.String, "ok": pl.Boolean, "no": pl.Boolean,
          "d": pl.Datetime("us", "UTC"), "e": pl.Date}
ENV = feature_env(COLUMNS)

FLOATS = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.5, 3.7, 1e3, math.inf, -math.inf, math.nan]
_BASE = datetime(2024, 2, 28, tzinfo=UTC)

_LEAVES: dict[str, list[str]] = {
    "float": ["x", "y", "0.0", "0.5", "-1.5", "2.0", "1e3"],
    "int": ["n", "m", "0", "1", "2", "-3"],
    "bool": ["ok", "no", "true", "false"],
    "string": ["s", "t", "'a'", "'AB'", "''"],
}


def _expr(kind: str, depth: int) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(_LEAVES[kind])
    if depth == 0:
        return leaf
    f, i, b, s = (_expr(k, depth - 1) for k in ("float", "int", "bool", "string"))
    num = st.one_of(f, i)
    if kind == "float":
        options = [
            st.tuples(num, st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]), f)
            .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(i, i).map(lambda t: f"({t[0]} / {t[1]})"),
            st.tuples(st.sampled_from(["log", "log1p", "exp", "sqrt", "abs", "floor", "ceil",
                                       "round"]), f).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(f, f).map(lambda t: f"clip({t[0]}, -1.0, {t[1]})"),
            st.tuples(st.sampled_from(["min", "max", "coalesce"]), f, num)
            .map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
            st.tuples(b, f, num).map(lambda t: f"if_else({t[0]}, {t[1]}, {t[2]})"),
            f.map(lambda e: f"-{e}"),
            # the edges where Python raises and polars gives inf/nan: overflow, 0 ** -1,
            # a negative base with a fractional exponent
            st.sampled_from(["exp(x)", "exp(y * 2.0)", "(x ** y)", "(y ** x)", "(1e3 ** x)",
                             "(x ** -1.0)", "floor(exp(x))"]),
        ]
    elif kind == "int":
        options = [
            st.tuples(i, st.sampled_from(["+", "-", "*", "//", "%"]), i)
            .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(["abs", "floor", "ceil", "round"]), i)
            .map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["min", "max", "coalesce"]), i, i)
            .map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
            st.tuples(b, i, i).map(lambda t: f"if_else({t[0]}, {t[1]}, {t[2]})"),
            i.map(lambda e: f"clip({e}, -1, 1)"),
            s.map(lambda e: f"length({e})"),
            st.sampled_from(["year(d)", "month(e)", "day(d)", "weekday(e)", "weekday(d)",
                             "hour(d)", "days_between(d, e)", "days_between(e, d)"]),
            i.map(lambda e: f"-{e}"),
        ]
    elif kind == "bool":
        cmp = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
        options = [
            st.tuples(num, cmp, num).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(s, cmp, s).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(b, st.sampled_from(["and", "or"]), b)
            .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            b.map(lambda e: f"(not {e})"),
            st.one_of(f, i, s, b).map(lambda e: f"is_null({e})"),
            f.map(lambda e: f"({e} in [0.0, 0.5, 2.0])"),
            s.map(lambda e: f"({e} not in ['a', ''])"),
            i.map(lambda e: f"(0 < {e} <= 2)"),
            st.tuples(b, b, b).map(lambda t: f"if_else({t[0]}, {t[1]}, {t[2]})"),
        ]
    else:
        options = [
            st.tuples(st.sampled_from(["lower", "upper"]), s).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(s, s).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
            st.tuples(b, s, s).map(lambda t: f"if_else({t[0]}, {t[1]}, {t[2]})"),
        ]
    return st.one_of(leaf, *options)


def _nullable(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values)


ROW = st.fixed_dictionaries({
    "x": _nullable(st.sampled_from(FLOATS)),
    "y": _nullable(st.sampled_from(FLOATS)),
    "n": _nullable(st.integers(-3, 3)),
    "m": _nullable(st.integers(-2, 2)),
    "s": _nullable(st.sampled_from(["a", "AB", "ab", "Straße", ""])),
    "t": _nullable(st.sampled_from(["a", "b", "É"])),
    "ok": _nullable(st.booleans()),
    "no": _nullable(st.booleans()),
    "d": _nullable(st.integers(-2000, 2000).map(lambda h: _BASE + timedelta(hours=h,
                                                                            minutes=h % 59))),
    "e": _nullable(st.integers(-90, 90).map(lambda k: date(2024, 2, 28) + timedelta(days=k))),
})
TEXT = st.sampled_from(["float", "int", "bool", "string"]).flatmap(lambda k: _expr(k, 3))


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return fa == fb or math.isclose(fa, fb, rel_tol=1e-12, abs_tol=1e-12)
    return bool(a == b)


def _python_row(row: dict[str, Any]) -> dict[str, Any]:
    # the interpreter cannot mix aware datetimes with dates; sources are UTC, so naive is
    # the same instant
    return {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in row.items()}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(text=TEXT, rows=st.lists(ROW, min_size=1, max_size=12))
def test_polars_matches_the_interpreter_row_for_row(text: str, rows: list[dict[str, Any]]
                                                    ) -> None:
    result = compile_expression(text, ENV)
    assume(result.tree is not None)
    tree = result.tree
    assert tree is not None
    # with_columns, as compute_features does: a literal tree broadcasts to every row
    got = pl.DataFrame(rows, schema=SCHEMA).with_columns(to_polars(tree).alias("__out"))
    for row, value in zip(rows, got.get_column("__out").to_list(), strict=True):
        want = evaluate(tree, _python_row(row))
        assert _same(value, want), (text, row, value, want)


def test_the_generator_reaches_every_result_type() -> None:
    """Guards the property test itself: generated text compiles for each type."""
    seen: set[str] = set()

    @settings(max_examples=60, deadline=None)
    @given(TEXT)
    def collect(text: str) -> None:
        result = compile_expression(text, ENV)
        if result.tree is not None:
            seen.add(str(result.tree.get("type")))

    collect()
    assert {"float64", "int64", "bool", "string"} <= seen
