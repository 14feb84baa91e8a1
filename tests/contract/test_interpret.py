"""evaluate(): compile-then-interpret round trips, null logic, and its import purity."""

from __future__ import annotations

import ast
import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest

from specops.compiler.expr import (
    Env,
    EvaluationError,
    approval_env,
    compile_expression,
    feature_env,
    gate_env,
    policy_env,
)
from specops.contract import interpret
from specops.contract.interpret import evaluate

FEATURE = feature_env({"income": "float64", "age": "int64", "region": "string",
                       "at": "datetime", "on": "date", "flag": "bool"})
ROW: dict[str, Any] = {"income": 1000.0, "age": 40, "region": "North",
                       "at": dt.datetime(2024, 3, 5, 14, 30), "on": dt.date(2024, 1, 1),
                       "flag": True}


def _run(text: str, env: Env, values: dict[str, Any]) -> Any:
    result = compile_expression(text, env)
    assert result.tree is not None, result.issues
    return evaluate(result.tree, values)


@pytest.mark.parametrize(("text", "expected"), [
    ("income / 4 + age", 290.0), ("age // 7", 5), ("age % 7", 5), ("2 ** 10", 1024.0),
    ("-age", -40), ("+age", 40), ("abs(-3)", 3), ("clip(age, 0, 18)", 18),
    ("clip(income, 0.0, null)", 1000.0), ("coalesce(null, age)", 40),
    ("if_else(age > 30, 'old', 'young')", "old"), ("if_else(null, 1, 2)", 2),
    ("is_null(null)", True), ("round(2.5)", 2.0), ("round(1.2345, 2)", 1.23),
    ("floor(2.7)", 2.0), ("ceil(age)", 40), ("min(age, null)", 40), ("max(1, 2.5)", 2.5),
    ("year(at)", 2024), ("month(at)", 3), ("day(on)", 1), ("weekday(at)", 2),
    ("hour(at)", 14), ("days_between(on, at)", 64), ("days_between(at, on)", -64),
    ("lower(region)", "north"), ("upper(region)", "NORTH"), ("length(region)", 5),
    ("region in ['North', 'South']", True), ("region not in ['North']", False),
    ("1 < age < 50", True), ("not flag", False), ("log(0)", None), ("sqrt(-1)", None),
    ("income / 0", None), ("age // 0", None), ("log1p(0)", 0.0), ("exp(1000)", None),
])
def test_feature_round_trip(text: str, expected: Any) -> None:
    assert _run(text, FEATURE, ROW) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("null_col > 1 and false", False), ("null_col > 1 and true", None),
    ("null_col > 1 or true", True), ("null_col > 1 or false", None),
    ("not (null_col > 1)", None), ("null_col + 1", None), ("is_null(null_col)", True),
    ("log1p(null_col)", None), ("coalesce(null_col, 2.0)", 2.0),
])
def test_three_valued_logic(text: str, expected: Any) -> None:
    env = feature_env({"null_col": "float64"})
    assert _run(text, env, {"null_col": None}) == expected


def test_gate_values() -> None:
    env = gate_env("binary_classification", slices=["region"], protected=["sex"])
    values = {"roc_auc": 0.81, "roc_auc by region": {"north": 0.72, "south": 0.79},
              "disparate_impact(sex)": 0.85, "champion.roc_auc": 0.815}
    assert _run("min(roc_auc by region) >= 0.70", env, values) is True
    assert _run("mean(roc_auc by region) > 0.76", env, values) is False
    assert _run("max(roc_auc by region) == 0.79", env, values) is True
    assert _run("disparate_impact(sex) >= 0.8", env, values) is True
    assert _run("roc_auc >= champion.roc_auc - 0.01", env, values) is True
    # No champion yet: the check is undecided (None); the gate runner decides policy.
    assert _run("roc_auc >= champion.roc_auc - 0.01", env, {"roc_auc": 0.8}) is None
    with pytest.raises(EvaluationError, match="pr_auc"):
        _run("pr_auc > 0.5", env, values)


def test_approval_and_policy_values() -> None:
    assert _run("risk_tier == 'high' and environment == 'production'", approval_env(),
                {"risk_tier": "high", "environment": "production"}) is True
    values = {"model.risk_tier": "high", "model.has_check": {"performance"},
              "model.n_gates": 1}
    env = policy_env("model")
    assert _run('model.risk_tier == "high"', env, values) is True
    assert _run('model.has_check("fairness")', env, values) is False
    assert _run('model.has_check("performance") and model.n_gates >= 1', env,
                values) is True


def test_malformed_trees_raise() -> None:
    with pytest.raises(EvaluationError):
        evaluate({"op": "exec", "code": "1"}, {})
    with pytest.raises(EvaluationError):
        evaluate({"op": "call", "fn": "eval", "args": [{"op": "lit", "value": "1"}]}, {})
    with pytest.raises(EvaluationError):
        evaluate({"op": "compare", "fn": "lt", "left": {"op": "lit", "value": 1},
                  "right": {"op": "lit", "value": "a"}}, {})
    with pytest.raises(EvaluationError):
        evaluate({"op": "binary", "fn": "add"}, {})
    with pytest.raises(EvaluationError):
        evaluate({"op": "call", "fn": "year", "args": [{"op": "lit", "value": 1}]}, {})
    deep: dict[str, Any] = {"op": "lit", "value": 1}
    for _ in range(500):
        deep = {"op": "unary", "fn": "neg", "arg": deep}
    with pytest.raises(EvaluationError, match="too deep"):
        evaluate(deep, {})


def test_evaluate_imports_nothing_from_specops() -> None:
    """The runtime mirrors evaluate.py, so it must stand alone (standard library only)."""
    path = Path(interpret.__file__)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("specops"), \
                ast.unparse(node)
            assert node.module in {"__future__", "collections.abc", "typing"}
        elif isinstance(node, ast.Import):
            assert all(a.name in {"math", "datetime"} for a in node.names)


def _tree(text: str, env: Env) -> dict[str, Any]:
    result = compile_expression(text, env)
    assert result.tree is not None, result.issues
    return dict(result.tree)


class _Lazy(dict[str, Any]):
    """A lookup hook: every key reads as null and is remembered (as gate reports need)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def __missing__(self, key: str) -> Any:
        self.asked.append(key)
        return None


def test_a_mapping_is_the_lookup_hook() -> None:
    env = gate_env("binary_classification")
    lazy = _Lazy()
    # a missing value read as null keeps Kleene logic for the other operand
    assert evaluate(_tree("pr_auc >= 0.5 or roc_auc > 0.5", env), lazy) is None
    assert lazy.asked == ["pr_auc", "roc_auc"]
    lazy["roc_auc"] = 0.9
    assert evaluate(_tree("pr_auc >= 0.5 or roc_auc > 0.5", env), lazy) is True


def test_not_yet_known_defers_to_a_deciding_operand() -> None:
    class CompileTime(dict[str, Any]):
        def __missing__(self, key: str) -> Any:
            raise interpret.NotYetKnown(key)

    facts = CompileTime(risk_tier="low", owner="team")
    env = approval_env()
    # `and` decided by a false operand, `or` by a true one, whichever order
    for text in ("environment == 'prod' and risk_tier == 'high'",
                 "risk_tier == 'high' and environment == 'prod'"):
        assert evaluate(_tree(text, env), facts) is False
    assert evaluate(_tree("environment == 'x' or risk_tier == 'low'", env), facts) is True
    # otherwise "cannot decide yet" is its own answer, never null, never false
    for text in ("environment == 'prod' and risk_tier == 'low'",
                 "environment == 'prod' or risk_tier == 'high'",
                 "is_null(environment)", "not (environment == 'prod')",
                 "coalesce(environment, 'x') == 'x'"):
        with pytest.raises(interpret.NotYetKnown):
            evaluate(_tree(text, env), facts)
    # a deferred operand does not hide a null: and(unknown, null) is still undecided
    with pytest.raises(interpret.NotYetKnown):
        evaluate(_tree("environment == 'p' and length(owner) // 0 == 1", env), facts)


def test_trace_records_values_and_the_deciding_slice_group() -> None:
    env = gate_env("binary_classification", slices=["region"], protected=["sex"])
    values = {"roc_auc": 0.81, "roc_auc by region": {"south": 0.72, "north": 0.72, "x": None,
                                                      "west": 0.9},
              "disparate_impact(sex)": 0.85}
    trace: dict[str, Any] = {}
    text = ("min(roc_auc by region) >= 0.7 and disparate_impact(sex) > 0.8 and "
            "roc_auc >= champion.roc_auc")
    assert evaluate(_tree(text, env), values, trace) is None   # no champion: null
    assert trace == {"min(roc_auc by region)": 0.72, "min(roc_auc by region).group": "north",
                     "disparate_impact(sex)": 0.85, "roc_auc": 0.81, "champion.roc_auc": None}
    trace.clear()
    assert evaluate(_tree("max(roc_auc by region) > 0.8", env), values, trace) is True
    assert trace["max(roc_auc by region).group"] == "west"
    trace.clear()
    assert evaluate(_tree("mean(roc_auc by region) > 0.8", env), {"roc_auc by region": {}},
                    trace) is None
    assert trace == {"mean(roc_auc by region)": None}


def test_non_tree_is_refused() -> None:
    with pytest.raises(EvaluationError, match="not an expression tree"):
        evaluate("true", {})  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="raw"):
        evaluate({"op": "raw", "text": "true"}, {})


@pytest.mark.parametrize(("text", "x", "expected"), [
    ("x + 1.0", math.nan, None), ("is_null(x)", math.nan, True),      # NaN is null
    ("x - x", math.inf, None), ("x * 0.0", math.inf, None),          # NaN made -> null
    ("x // 2.0", math.inf, None), ("2.0 % x", math.inf, None),       # Python != IEEE there
    ("-2.0 // x", math.inf, None), ("floor(x)", math.inf, math.inf),
    ("ceil(x)", -math.inf, -math.inf), ("x > 1e3", math.inf, True),
    ("x ** 0.5", -math.inf, math.inf), ("coalesce(x, 1.0)", math.nan, 1.0),
])
def test_nan_is_null_and_infinities(text: str, x: float, expected: Any) -> None:
    assert _run(text, feature_env({"x": "float64"}), {"x": x}) == expected


def test_nan_metric_and_slice_group_are_null() -> None:
    env = gate_env("binary_classification", slices=["region"])
    trace: dict[str, Any] = {}
    values = {"roc_auc": math.nan, "roc_auc by region": {"a": math.nan, "b": 0.7}}
    assert evaluate(_tree("roc_auc >= 0.5 or min(roc_auc by region) >= 0.6", env), values,
                    trace) is True
    assert trace == {"roc_auc": None, "min(roc_auc by region)": 0.7,
                     "min(roc_auc by region).group": "b"}
