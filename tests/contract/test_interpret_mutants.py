"""The interpreter's edge cases that mutation testing found unchecked (contract/interpret.py):
the depth limit, slices given as sequences and ties, null-skipping functions, datetime
arithmetic, arithmetic domain errors, and the message of each malformed-tree error.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from specops.contract.interpret import MAX_TREE_DEPTH, EvaluationError, evaluate


def lit(v: Any) -> dict[str, Any]:
    return {"op": "lit", "value": v}


def call(fn: str, *args: Any) -> dict[str, Any]:
    return {"op": "call", "fn": fn, "args": [lit(a) for a in args]}


def binary(fn: str, a: Any, b: Any) -> dict[str, Any]:
    return {"op": "binary", "fn": fn, "left": lit(a), "right": lit(b)}


def _chain(n: int) -> dict[str, Any]:
    """`n` nodes: n - 1 negations around a literal."""
    tree: dict[str, Any] = lit(1)
    for _ in range(n - 1):
        tree = {"op": "unary", "fn": "neg", "arg": tree}
    return tree


def test_depth_limit_is_exactly_max_tree_depth() -> None:
    deepest = MAX_TREE_DEPTH + 1          # depths 0..MAX_TREE_DEPTH
    assert evaluate(_chain(deepest), {}) == (-1) ** (deepest - 1)
    with pytest.raises(EvaluationError, match=r"^expression tree is too deep$"):
        evaluate(_chain(deepest + 1), {})


def test_slice_of_a_sequence_and_ties() -> None:
    node = {"op": "slice_metric", "fn": "min", "metric": "auc", "by": "r"}
    trace: dict[str, Any] = {}
    assert evaluate(node, {"auc by r": [0.7, None, 0.6, float("nan")]}, trace) == 0.6
    assert trace["min(auc by r).group"] == "2"
    trace = {}
    assert evaluate(node, {"auc by r": {"a": 0.9, "b": 0.1, "c": 0.5}}, trace) == 0.1
    assert trace["min(auc by r).group"] == "b"
    mean = {**node, "fn": "mean"}
    trace = {}
    assert evaluate(mean, {"auc by r": {"a": 0.5, "b": 1.0}}, trace) == 0.75
    assert trace["mean(auc by r).group"] == "*"
    with pytest.raises(EvaluationError, match="unknown slice function 'median'"):
        evaluate({**node, "fn": "median"}, {"auc by r": {"a": 0.5}})


def test_null_skipping_functions() -> None:
    assert evaluate(call("coalesce", None, None), {}) is None
    assert evaluate(call("coalesce", None, 3), {}) == 3
    assert evaluate(call("min", 3, None, 1), {}) == 1
    assert evaluate(call("max", 3, None, 1), {}) == 3
    assert evaluate(call("min", None, None), {}) is None


def test_clip_bounds() -> None:
    assert evaluate(call("clip", -1, 0, 1), {}) == 0
    assert evaluate(call("clip", 2, 0, 1), {}) == 1
    assert evaluate(call("clip", 0.5, None, None), {}) == 0.5


def test_days_between_uses_times_and_null_second_argument() -> None:
    late = dt.datetime(2024, 1, 1, 23, 0)
    early_next = dt.datetime(2024, 1, 2, 1, 0)
    assert evaluate(call("days_between", late, early_next), {}) == 0
    assert evaluate(call("days_between", dt.date(2024, 1, 3), dt.date(2024, 1, 1)), {}) == -2
    assert evaluate(call("days_between", late, None), {}) is None


def test_arithmetic_domain() -> None:
    assert evaluate(binary("floordiv", 7, 2), {}) == 3
    assert evaluate(binary("floordiv", 7.5, 2), {}) == 3.0
    assert evaluate(binary("floordiv", math.inf, 2), {}) is None
    assert evaluate(binary("mod", 7, math.inf), {}) is None
    assert evaluate(binary("pow", -8.0, 1 / 3), {}) is None
    assert evaluate(binary("pow", 2, 10), {}) == 1024.0
    assert evaluate(binary("mul", 3, 4), {}) == 12
    assert evaluate(binary("div", 3, 4), {}) == 0.75
    assert evaluate(binary("sub", 3, 4), {}) == -1


@pytest.mark.parametrize(("tree", "message"), [
    ({"op": "binary", "fn": "xor", "left": lit(1), "right": lit(2)},
     "unknown binary function 'xor'"),
    ({"op": "compare", "fn": "like", "left": lit(1), "right": lit(2)},
     "unknown comparison 'like'"),
    ({"op": "call", "fn": "median", "args": [lit(1)]}, "unknown function 'median'"),
    ({"op": "metric"}, "malformed tree or value: 'name'"),
])
def test_malformed_tree_messages(tree: dict[str, Any], message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        evaluate(tree, {})


def test_not_a_tree_names_its_type() -> None:
    with pytest.raises(EvaluationError, match=r"^not an expression tree: list$"):
        evaluate([], {})  # type: ignore[arg-type]
