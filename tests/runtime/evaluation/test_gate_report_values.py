"""The gate report on top of contract.interpret: thresholds, missing values, Kleene logic,
the no-champion case and the values a report shows, for trees the compiler writes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from specops.compiler.expr import compile_expression, gate_env
from specops.runtime.evaluation.gate_checks import GateError, evaluate_check, evaluate_gate

ENV = gate_env("binary_classification", slices=["region"], protected=["sex"])
RESULTS: dict[str, Any] = {
    "metrics": {"roc_auc": 0.8, "f1": math.nan, "latency_p99_ms": 4.0},
    "slices": {"region": {"north": {"n": 50, "metrics": {"roc_auc": 0.7}},
                          "south": {"n": 60, "metrics": {"roc_auc": 0.7}},
                          "east": {"n": 60, "metrics": {"roc_auc": 0.9}},
                          "tiny": {"n": 3, "skipped": "fewer than 30 rows"}}},
    "fairness": {"sex": {"disparate_impact": 0.85, "equalized_odds_difference": None,
                         "note": "fewer than two groups with both classes"}},
    "champion": None,
}


def _check(text: str, cid: str = "c") -> dict[str, Any]:
    result = compile_expression(text, ENV)
    assert result.tree is not None, result.issues
    return {"id": cid, "text": text, "expr": dict(result.tree)}


def _status(text: str, results: dict[str, Any] = RESULTS) -> str:
    return evaluate_check(_check(text), results).status


def test_at_the_threshold_ge_passes_and_gt_fails() -> None:
    r = evaluate_check(_check("roc_auc >= 0.8"), RESULTS)
    assert (r.status, r.value, r.threshold, r.comparator) == ("pass", 0.8, 0.8, ">=")
    r = evaluate_check(_check("roc_auc > 0.8"), RESULTS)
    assert r.status == "fail" and r.detail == "0.8 > 0.8 is false"


def test_missing_values_block_with_their_reason() -> None:
    cases = {
        "pr_auc >= 0.5": "metric pr_auc was not computed",
        "f1 >= 0.5": "metric f1 was not computed",                       # NaN is missing
        "equalized_odds_difference(sex) <= 0.1": "fewer than two groups with both classes",
        "min(roc_auc by region) >= 0.5": "no slice metrics by region",
    }
    no_slices = {**RESULTS, "slices": {}}
    for text, why in cases.items():
        r = evaluate_check(_check(text), no_slices)
        assert r.status == "error" and why in r.detail, (text, r)
        assert r.blocking_failure
    only_small = {**RESULTS, "slices": {"region": {"tiny": {"n": 3, "skipped": "small"}}}}
    r = evaluate_check(_check("min(roc_auc by region) >= 0.5"), only_small)
    assert r.status == "error" and "no group of region has roc_auc" in r.detail
    report = evaluate_gate([_check("pr_auc >= 0.5", "p"), _check("roc_auc >= 0.5", "a")],
                           RESULTS)
    assert not report["passed"] and report["failed"] == ["p"]


def test_kleene_logic_with_missing_operands() -> None:
    assert _status("pr_auc >= 0.5 or roc_auc >= 0.5") == "pass"     # true or null
    assert _status("pr_auc >= 0.5 and roc_auc >= 0.9") == "fail"    # null and false
    assert _status("pr_auc >= 0.5 and roc_auc >= 0.5") == "error"   # null and true
    assert _status("pr_auc >= 0.5 or roc_auc >= 0.9") == "error"    # null or false
    assert _status("coalesce(pr_auc, roc_auc) >= 0.8") == "pass"


def test_unknown_champion_is_null_and_reported() -> None:
    text = "roc_auc >= champion.roc_auc - 0.01"
    r = evaluate_check(_check(text), RESULTS)
    assert r.status == "no_champion" and r.values["champion.roc_auc"] is None
    assert evaluate_check(_check(text), RESULTS, require_champion=True).status == "fail"
    # a champion without the metric is a missing value, not "no champion"
    r = evaluate_check(_check(text), {**RESULTS, "champion": {"f1": 0.5}})
    assert r.status == "error" and "production version has no roc_auc" in r.detail
    # `or` decided without the champion passes even with none
    assert _status("roc_auc >= champion.roc_auc or roc_auc >= 0.5") == "pass"


def test_report_values_name_the_deciding_group() -> None:
    r = evaluate_check(_check("min(roc_auc by region) >= 0.75"), RESULTS)
    assert r.status == "fail" and r.value == 0.7
    assert r.values == {"min(roc_auc by region)": 0.7, "min(roc_auc by region).group": "north"}
    r = evaluate_check(_check("max(roc_auc by region) <= 0.95"), RESULTS)
    assert r.values["max(roc_auc by region).group"] == "east" and r.status == "pass"
    r = evaluate_check(_check("disparate_impact(sex) >= 0.8 and latency_p99_ms <= 5"), RESULTS)
    assert r.status == "pass" and r.value is True
    assert r.values == {"disparate_impact(sex)": 0.85, "latency_p99_ms": 4.0}


def test_null_arithmetic_fails_with_its_reason() -> None:
    r = evaluate_check(_check("roc_auc / (latency_p99_ms - 4.0) >= 1"), RESULTS)
    assert r.status == "fail" and "undefined" in r.detail


def test_malformed_tree_is_a_gate_error() -> None:
    with pytest.raises(GateError, match="malformed"):
        evaluate_check({"id": "x", "expr": {"op": "exec", "code": "1"}}, RESULTS)
    with pytest.raises(GateError):
        evaluate_check({"id": "x", "expr": {"op": "compare", "fn": "spaceship",
                                            "left": {"op": "lit", "value": 1},
                                            "right": {"op": "lit", "value": 1}}}, RESULTS)
