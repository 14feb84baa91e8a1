"""Type checking: golden JSON trees, type errors at the offending operand, envs."""

from __future__ import annotations

import json

import pytest

from specops.compiler.expr import (
    Env,
    approval_env,
    compile_expression,
    feature_env,
    gate_env,
    policy_env,
)

COLUMNS = {"income": "float64", "age": "int32", "region": "category", "late": "int64",
           "applied_at": "datetime", "opened_on": "date", "active": "bool",
           "name": "string", "limit": "float32"}
FEATURE = feature_env(COLUMNS)
GATE = gate_env("binary_classification", slices=["region", "age_band"], protected=["sex"])
REGRESSOR = gate_env("regression", slices=["region"], protected=[])


def _tree(text: str, env: Env) -> object:
    result = compile_expression(text, env)
    assert result.issues == (), result.issues
    return result.tree


def _first(text: str, env: Env) -> tuple[str, int, int]:
    result = compile_expression(text, env)
    assert result.tree is None
    i = result.issues[0]
    return i.code, i.start, i.end


def _col(name: str, t: str) -> dict[str, object]:
    return {"op": "col", "name": name, "type": t}


def _lit(v: object, t: str) -> dict[str, object]:
    return {"op": "lit", "value": v, "type": t}


# -- golden trees --------------------------------------------------------------------------

def test_golden_feature_tree() -> None:
    tree = _tree("log1p(income) / clip(age, 1, 100)", FEATURE)
    assert tree == {
        "op": "binary", "fn": "div", "type": "float64",
        "left": {"op": "call", "fn": "log1p", "args": [_col("income", "float64")],
                 "type": "float64"},
        "right": {"op": "call", "fn": "clip", "type": "int64",
                  "args": [_col("age", "int64"), _lit(1, "int64"), _lit(100, "int64")]},
    }


def test_golden_gate_trees() -> None:
    assert _tree("min(roc_auc by region) >= 0.70", GATE) == {
        "op": "compare", "fn": "ge", "type": "bool",
        "left": {"op": "slice_metric", "fn": "min", "metric": "roc_auc", "by": "region",
                 "type": "float64"},
        "right": _lit(0.7, "float64")}
    assert _tree("disparate_impact(sex) >= 0.8", GATE)["left"] == {  # type: ignore[index]
        "op": "fairness", "fn": "disparate_impact", "attribute": "sex", "type": "float64"}
    assert _tree("roc_auc >= champion.roc_auc - 0.01", GATE) == {
        "op": "compare", "fn": "ge", "type": "bool",
        "left": {"op": "metric", "name": "roc_auc", "type": "float64"},
        "right": {"op": "binary", "fn": "sub", "type": "float64",
                  "left": {"op": "champion", "metric": "roc_auc", "type": "float64"},
                  "right": _lit(0.01, "float64")}}


def test_golden_logic_and_in() -> None:
    assert _tree("not active or region not in ['n', 's']", FEATURE) == {
        "op": "logical", "fn": "or", "type": "bool", "args": [
            {"op": "unary", "fn": "not", "arg": _col("active", "bool"), "type": "bool"},
            {"op": "logical", "fn": "and", "type": "bool", "args": [
                {"op": "compare", "fn": "ne", "left": _col("region", "string"),
                 "right": _lit("n", "string"), "type": "bool"},
                {"op": "compare", "fn": "ne", "left": _col("region", "string"),
                 "right": _lit("s", "string"), "type": "bool"}]}]}


def test_every_node_has_a_type_and_trees_are_json() -> None:
    texts = ["if_else(is_null(income), 0.0, income) ** 2", "-age + +late",
             "year(applied_at) * 100 + month(opened_on)", "lower(region) == 'north'",
             "days_between(opened_on, applied_at) // 7 % 4", "coalesce(null, limit, 0)",
             "round(income, 2) > floor(age) and 1 < age < 99"]
    for text in texts:
        tree = _tree(text, FEATURE)
        stack = [tree]
        while stack:
            node = stack.pop()
            assert isinstance(node, dict) and node["type"] in (
                "int64", "float64", "bool", "string", "datetime", "date", "null")
            for key in ("left", "right", "arg"):
                if key in node:
                    stack.append(node[key])
            stack.extend(node.get("args", []))
        assert json.loads(json.dumps(tree)) == tree


@pytest.mark.parametrize(("text", "type_"), [
    ("age + late", "int64"), ("age + income", "float64"), ("age / late", "float64"),
    ("age // late", "int64"), ("age ** 2", "float64"), ("abs(age)", "int64"),
    ("-income", "float64"), ("limit", "float64"), ("if_else(active, age, income)", "float64"),
    ("coalesce(age, null)", "int64"), ("hour(applied_at)", "int64"), ("length(name)", "int64"),
    ("is_null(region)", "bool"), ("min(age, income)", "float64"), ("upper(region)", "string"),
])
def test_inferred_types(text: str, type_: str) -> None:
    tree = _tree(text, FEATURE)
    assert tree["type"] == type_  # type: ignore[index]


# -- errors at the exact offending column ---------------------------------------------------

@pytest.mark.parametrize(("text", "code", "start", "end"), [
    ("log1p(region)", "SPEC404", 6, 12),
    ("region + 1", "SPEC404", 0, 6),
    ("1 + region", "SPEC404", 4, 10),
    ("income * 'x'", "SPEC404", 9, 12),
    ("region > 5", "SPEC404", 9, 10),
    ("5 < region", "SPEC404", 0, 1),
    ("income == 'high'", "SPEC404", 10, 16),
    ("active + 1", "SPEC404", 0, 6),
    ("applied_at - opened_on", "SPEC404", 0, 10),
    ("not income", "SPEC404", 4, 10),
    ("income and active", "SPEC404", 0, 6),
    ("if_else(income, 1, 2)", "SPEC404", 8, 14),
    ("if_else(active, 1, 'a')", "SPEC404", 19, 22),
    ("round(income, 1.5)", "SPEC404", 14, 17),
    ("hour(opened_on)", "SPEC404", 5, 14),
    ("region in [1, 2]", "SPEC404", 11, 12),
    ("income == None", "SPEC404", 10, 14),
    ("applied_at > opened_on", "SPEC404", 13, 22),
    ("active < true", "SPEC404", 9, 13),
    ("incme * 2", "SPEC403", 0, 5),
    ("log1p(incom)", "SPEC403", 6, 11),
    ("lg(income)", "SPEC405", 0, 2),
    ("disparate_impact(region)", "SPEC405", 0, 16),
    ("log(income, 2)", "SPEC406", 0, 14),
    ("clip(income)", "SPEC406", 0, 12),
    ("coalesce(income)", "SPEC406", 0, 16),
    ("champion.roc_auc", "SPEC402", 0, 16),
    ("model.owner", "SPEC402", 0, 11),
    ("model.has_check('x')", "SPEC402", 0, 20),
    ("min(income by region)", "SPEC402", 4, 20),
])
def test_feature_errors(text: str, code: str, start: int, end: int) -> None:
    assert _first(text, FEATURE) == (code, start, end)


def test_did_you_mean() -> None:
    help_ = compile_expression("incme * 2", FEATURE).issues[0].help
    assert help_ == "did you mean `income`?"
    assert compile_expression("lg1p(income)", FEATURE).issues[0].help == \
        "did you mean `log1p`?"


def test_one_error_does_not_cascade_but_siblings_are_reported() -> None:
    issues = compile_expression("log1p(incme) + region + foo", FEATURE).issues
    assert [(i.code, i.start) for i in issues] == [("SPEC403", 6), ("SPEC403", 24)]


@pytest.mark.parametrize(("text", "env", "code", "start", "end"), [
    ("rmse < 3", GATE, "SPEC411", 0, 4),
    ("roc_auc > 0.7 and r2 > 0.5", GATE, "SPEC411", 18, 20),
    ("roc_auc > 0.7", REGRESSOR, "SPEC411", 0, 7),
    ("rmse <= champion.roc_auc", REGRESSOR, "SPEC411", 17, 24),
    ("min(rmse by region) > 1", GATE, "SPEC411", 4, 8),
    ("min(roc_auc by regoin) > 0.7", GATE, "SPEC403", 15, 21),
    ("min(roc_auc by sex) > 0.7", GATE, "SPEC403", 15, 18),
    ("min(roc_auc by region, 1) > 0.7", GATE, "SPEC402", 4, 21),
    ("sum(roc_auc by region) > 0.7", GATE, "SPEC402", 4, 21),
    ("min(1 by region) > 0.7", GATE, "SPEC404", 4, 5),
    ("min(roc_auc by 'x') > 0.7", GATE, "SPEC404", 15, 18),
    ("disparate_impact(age) > 0.8", GATE, "SPEC403", 17, 20),
    ("disparate_impact('sex') > 0.8", GATE, "SPEC404", 17, 22),
    ("disparate_impact(sex, sex) > 0.8", GATE, "SPEC406", 0, 26),
    ("roc_acu >= 0.7", GATE, "SPEC403", 0, 7),
    ("roc_auc", GATE, "SPEC408", 0, 7),
    ("roc_auc + 1", GATE, "SPEC408", 0, 11),
    ("champion.roc_acu < roc_auc", GATE, "SPEC403", 9, 16),
    ("champion > 1", GATE, "SPEC402", 0, 8),
    ("champion.roc_auc.x > 1", GATE, "SPEC402", 0, 18),
    ("foo.bar > 1", GATE, "SPEC402", 0, 7),
    ("year(roc_auc) > 1", GATE, "SPEC405", 0, 4),
    ("disparte_impact(sex) > 0.8", GATE, "SPEC405", 0, 15),
])
def test_gate_errors(text: str, env: Env, code: str, start: int, end: int) -> None:
    assert _first(text, env) == (code, start, end)


def test_gate_accepts_the_design_examples() -> None:
    for text in ["roc_auc >= 0.75", "min(roc_auc by region) >= 0.70",
                 "disparate_impact(sex) >= 0.8", "equalized_odds_difference(sex) <= 0.1",
                 "latency_p99_ms <= 5", "onnx_max_abs_diff <= 1e-4",
                 "roc_auc >= champion.roc_auc - 0.01", "mean(f1 by age_band) > 0.5",
                 "max(ece by region) < 0.05", "onnx_label_mismatch == 0",
                 "min(roc_auc, pr_auc) > 0.5", "abs(roc_auc - champion.roc_auc) < 0.02"]:
        _tree(text, GATE)
    _tree("rmse <= champion.rmse * 1.05 and r2 > 0.3", REGRESSOR)
    assert compile_expression(
        "disparte_impact(sex) > 0.8", GATE).issues[0].help == "did you mean `disparate_impact`?"


def test_gate_without_champion() -> None:
    env = gate_env("binary_classification", champion=False)
    assert _first("roc_auc > champion.roc_auc", env)[0] == "SPEC402"


# -- approval and policy environments --------------------------------------------------------

def test_approval_conditions() -> None:
    env = approval_env()
    assert _tree('risk_tier == "high"', env) == {
        "op": "compare", "fn": "eq", "type": "bool",
        "left": _col("risk_tier", "string"), "right": _lit("high", "string")}
    _tree("true", env)
    _tree("risk_tier in ['high', 'medium'] and environment == 'production'", env)
    assert _first("risk_teir == 'high'", env)[:2] == ("SPEC403", 0)
    assert _first("risk_tier", env)[0] == "SPEC408"
    assert _first("roc_auc > 1", env)[0] == "SPEC403"


def test_policy_rules() -> None:
    env = policy_env("model")
    assert _tree('model.has_check("fairness")', env) == {
        "op": "call", "fn": "model.has_check", "args": [_lit("fairness", "string")],
        "type": "bool"}
    assert _tree('model.risk_tier == "high" and model.n_gates >= 1', env)["args"][0][  # type: ignore[index]
        "left"] == _col("model.risk_tier", "string")
    _tree("not model.uses_restricted or model.has_approval", env)
    _tree("length(model.description) > 20", env)
    _tree("model.has_gate('fair_lending') and model.has_tag('credit')", env)


@pytest.mark.parametrize(("text", "code", "start", "end"), [
    ("model.riks_tier == 'high'", "SPEC403", 6, 15),
    ("modl.risk_tier == 'high'", "SPEC403", 0, 4),
    ("model.has_check('fairnes')", "SPEC404", 16, 25),
    ("model.has_check(1)", "SPEC404", 16, 17),
    ("model.has_check(model.name)", "SPEC404", 16, 26),
    ("model.has_check()", "SPEC406", 0, 17),
    ("model.has_chek('fairness')", "SPEC405", 6, 14),
    ("model.has_check", "SPEC402", 6, 15),
    ("model.owner('x')", "SPEC405", 6, 11),
    ("model", "SPEC402", 0, 5),
    ("model.risk_tier", "SPEC408", 0, 15),
    ("feature.pii", "SPEC403", 0, 7),
    ("model.__class__", "SPEC402", 6, 15),
    ("model.owner.__class__", "SPEC402", 12, 21),
    ("model.has_check.__call__('x')", "SPEC402", 16, 24),
])
def test_policy_errors(text: str, code: str, start: int, end: int) -> None:
    assert _first(text, policy_env("model")) == (code, start, end)


def test_policy_other_objects() -> None:
    _tree("feature.access == 'restricted' and feature.n_grants > 0", policy_env("feature"))
    _tree("source.has_checks or not source.has_pii", policy_env("source"))


def test_gate_hints_for_columns_and_slice_forms() -> None:
    issue = compile_expression("sex == 'F'", GATE).issues[0]
    assert (issue.code, issue.start) == ("SPEC403", 0) and "disparate_impact(sex)" in \
        issue.message
    issue = compile_expression("region == 'n'", GATE).issues[0]
    assert "min(metric by region)" in issue.message
    issue = compile_expression("mean(roc_auc) > 0.5", GATE).issues[0]
    assert issue.code == "SPEC406" and issue.help == \
        "write mean(metric by column), e.g. mean(roc_auc by region)"
    assert compile_expression("min(roc_auc) > 0.5", GATE).issues[0].code == "SPEC406"
