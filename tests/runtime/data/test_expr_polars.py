"""expr_polars against the compiler's reference evaluator, row by row.

The test (not the runtime) imports the compiler: it is the one place that can check the
two halves agree on what a tree means.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from specops.compiler.expr import compile_expression, feature_env
from specops.contract.interpret import evaluate
from specops.runtime.data.expr_polars import ExprError, to_polars, tree_columns

COLUMNS = {"x": "float64", "y": "float64", "n": "int64", "m": "int64", "s": "string",
           "ok": "bool", "d": "datetime", "e": "date"}

EXPRESSIONS = [
    "log(x)", "log1p(x)", "exp(y)", "sqrt(x)", "abs(n)", "abs(x)", "clip(x, 0, 2)",
    "clip(n, -1, 1)", "coalesce(x, y, 0.0)", "coalesce(null, n)", "if_else(x > y, x, y)",
    "if_else(ok, n, m)", "is_null(x)", "round(x, 1)", "round(n)", "floor(x)", "ceil(x)",
    "floor(n)", "min(x, y)", "max(n, m)", "min(n, x)", "year(d)", "month(d)", "day(e)",
    "weekday(d)", "weekday(e)", "hour(d)", "days_between(d, e)", "days_between(e, d)",
    "lower(s)", "upper(s)", "length(s)", "x / y", "n / m", "n // m", "n % m", "x // y",
    "x % y", "x ** y", "n ** 2", "n + m * 2 - 1", "-x", "not ok", "ok and x > 0",
    "ok or x > 0", "x in [1.0, 2.0]", "s not in ['a', 'b']", "0 < n <= 2", "x == y",
    "s == 'ab'", "n != m", "x / (y + 1)",
    "clip(x / (y + 1), 0, 2)", "log1p(coalesce(x, 0.0)) + n",
]


def _data(n: int = 400) -> pl.DataFrame:
    rng = np.random.default_rng(1)

    def nulls(values: list) -> list:
        return [None if rng.random() < 0.15 else v for v in values]

    base = datetime(2024, 1, 1, tzinfo=UTC)
    return pl.DataFrame({
        "x": nulls(list(rng.choice([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.7, 1e3], n))),
        "y": nulls(list(rng.choice([-1.5, 0.0, 0.5, 2.0, 800.0], n))),
        "n": nulls([int(v) for v in rng.integers(-3, 4, n)]),
        "m": nulls([int(v) for v in rng.integers(-2, 3, n)]),
        "s": nulls(list(rng.choice(["a", "AB", "ab", "Straße", ""], n))),
        "ok": nulls([bool(v) for v in rng.integers(0, 2, n)]),
        "d": nulls([base.replace(hour=int(h)) + timedelta(days=int(k), minutes=int(k) * 7)
                    for h, k in zip(rng.integers(0, 24, n), rng.integers(-40, 40, n),
                                    strict=True)]),
        "e": nulls([date(2024, 1, 1) + timedelta(days=int(k))
                    for k in rng.integers(-40, 40, n)]),
    }, schema={"x": pl.Float64, "y": pl.Float64, "n": pl.Int64, "m": pl.Int64,
               "s": pl.String, "ok": pl.Boolean, "d": pl.Datetime("us", "UTC"),
               "e": pl.Date})


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        fa, fb = float(a), float(b)  # type: ignore[arg-type]
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=1e-12, abs_tol=1e-12) or fa == fb
    return a == b


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_matches_reference_evaluator(text: str) -> None:
    res = compile_expression(text, feature_env(COLUMNS))
    assert not res.issues, res.issues
    tree = res.tree
    df = _data()
    got = df.select(to_polars(tree).alias("out")).get_column("out").to_list()
    for row, value in zip(df.to_dicts(), got, strict=True):
        # the evaluator cannot mix aware datetimes with dates; sources are UTC, so naive is
        # the same instant
        row = {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v
               for k, v in row.items()}
        want = evaluate(tree, row)
        assert _same(value, want), (text, row, value, want)


def test_tree_columns_and_unknown_nodes() -> None:
    tree = compile_expression("clip(x / (y + 1), 0, n)", feature_env(COLUMNS)).tree
    assert tree_columns(tree) == {"x", "y", "n"}
    with pytest.raises(ExprError):
        to_polars({"op": "metric", "name": "roc_auc", "type": "float64"})
    with pytest.raises(ExprError):
        to_polars({"op": "call", "fn": "nope", "args": [], "type": "float64"})


def test_result_has_tree_type() -> None:
    tree = compile_expression("n + 1", feature_env(COLUMNS)).tree
    out = _data().select(to_polars(tree).alias("o"))
    assert out.schema["o"] == pl.Int64
    tree = compile_expression("if_else(ok, n, 0.5)", feature_env(COLUMNS)).tree
    assert _data().select(to_polars(tree).alias("o")).schema["o"] == pl.Float64
