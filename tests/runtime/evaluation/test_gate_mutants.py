"""Gate decisions that a one-character bug would flip (issue 14's surviving mutants).

Each test is named for the behaviour it protects, and each was checked to fail with the bug
planted by hand: a missing metric that no longer blocks (`CheckResult.blocking_failure`),
`>=` evaluated as `>` at the threshold (`interpret._COMPARE`), and an unknown operand no
longer giving null in Kleene `and`/`or` (`interpret._Interpreter.logical`).
"""

from __future__ import annotations

from typing import Any

import pytest

from specops.contract.interpret import EvaluationError, NotYetKnown, evaluate
from specops.runtime.evaluation.gate_checks import (
    CheckResult,
    GateError,
    evaluate_check,
    evaluate_gate,
    render_tree,
)


def lit(v: Any) -> dict[str, Any]:
    return {"op": "lit", "value": v}


def metric(name: str) -> dict[str, Any]:
    return {"op": "metric", "name": name}


def cmp(fn: str, left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {"op": "compare", "fn": fn, "left": left, "right": right}


def logical(fn: str, *args: dict[str, Any]) -> dict[str, Any]:
    return {"op": "logical", "fn": fn, "args": list(args)}


def check(expr: dict[str, Any], cid: str = "c", severity: str = "blocking") -> dict[str, Any]:
    return {"id": cid, "expr": expr, "severity": severity}


# -- threshold equality ---------------------------------------------------------------------
@pytest.mark.parametrize(("fn", "expected"), [("ge", True), ("le", True), ("eq", True),
                                               ("gt", False), ("lt", False), ("ne", False)])
def test_threshold_equality_each_comparator(fn: str, expected: bool) -> None:
    assert evaluate(cmp(fn, lit(0.8), lit(0.8)), {}) is expected


@pytest.mark.parametrize(("fn", "below", "above"), [
    ("ge", False, True), ("gt", False, True), ("le", True, False), ("lt", True, False),
    ("eq", False, False), ("ne", True, True)])
def test_comparators_either_side_of_the_threshold(fn: str, below: bool, above: bool) -> None:
    assert evaluate(cmp(fn, lit(0.79), lit(0.8)), {}) is below
    assert evaluate(cmp(fn, lit(0.81), lit(0.8)), {}) is above


def test_threshold_equality_passes_a_ge_gate() -> None:
    """roc_auc exactly at `roc_auc >= 0.8` passes the gate (the spec says "at least")."""
    gate = evaluate_gate([check(cmp("ge", metric("roc_auc"), lit(0.8)), "auc")],
                         {"metrics": {"roc_auc": 0.8}})
    assert gate["passed"] is True and gate["failed"] == []
    row = gate["checks"][0]
    assert (row["status"], row["value"], row["threshold"], row["comparator"]) == \
        ("pass", 0.8, 0.8, ">=")


def test_threshold_equality_fails_a_gt_gate_with_detail() -> None:
    r = evaluate_check(check(cmp("gt", metric("roc_auc"), lit(0.8))),
                       {"metrics": {"roc_auc": 0.8}})
    assert r.status == "fail" and r.detail == "0.8 > 0.8 is false"


# -- missing metric blocks ------------------------------------------------------------------
def test_missing_metric_blocks_the_gate() -> None:
    gate = evaluate_gate([check(cmp("ge", metric("recall"), lit(0.5)), "recall")],
                         {"metrics": {"roc_auc": 0.9}})
    assert gate["passed"] is False and gate["failed"] == ["recall"]
    row = gate["checks"][0]
    assert row["status"] == "error" and row["passed"] is False
    assert row["detail"] == "metric recall was not computed"


def test_nan_metric_blocks_like_a_missing_one() -> None:
    gate = evaluate_gate([check(cmp("ge", metric("roc_auc"), lit(0.5)), "auc")],
                         {"metrics": {"roc_auc": float("nan")}})
    assert gate["passed"] is False and gate["checks"][0]["status"] == "error"


@pytest.mark.parametrize(("severity", "status", "blocks"), [
    ("blocking", "error", True), ("blocking", "fail", True), ("blocking", "pass", False),
    ("blocking", "no_champion", False), ("warning", "error", False),
    ("warning", "fail", False)])
def test_missing_metric_blocks_only_blocking_checks(severity: str, status: str,
                                                    blocks: bool) -> None:
    assert CheckResult("c", "t", severity, status).blocking_failure is blocks


def test_missing_metric_in_a_warning_is_a_warning_not_a_failure() -> None:
    gate = evaluate_gate([check(cmp("ge", metric("recall"), lit(0.5)), "w", "warning"),
                          check(cmp("ge", metric("auc"), lit(0.5)), "b")],
                         {"metrics": {"auc": 0.7}})
    assert gate["passed"] is True and gate["failed"] == [] and gate["warnings"] == ["w"]


def test_missing_fairness_and_slice_values_name_their_reason() -> None:
    fair = {"op": "fairness", "fn": "disparate_impact", "attribute": "sex"}
    sl = {"op": "slice_metric", "fn": "min", "metric": "roc_auc", "by": "region"}
    results = {"metrics": {}, "fairness": {"sex": {"note": "fewer than two groups"}},
               "slices": {"region": {"n": {"n": 3, "metrics": {}}}}}
    r1 = evaluate_check(check(cmp("ge", fair, lit(0.8))), results)
    assert (r1.status, r1.detail) == ("error", "fewer than two groups")
    r2 = evaluate_check(check(cmp("ge", sl, lit(0.7))), results)
    assert r2.status == "error" and r2.detail == (
        "no group of region has roc_auc (groups below the minimum size or with one class "
        "only)")
    r3 = evaluate_check(check(cmp("ge", fair, lit(0.8))), {"metrics": {}})
    assert r3.detail == "no fairness report for sex"
    r4 = evaluate_check(check(cmp("ge", sl, lit(0.7))), {"metrics": {}})
    assert r4.detail == "no slice metrics by region"


def test_present_fairness_and_slice_values_decide() -> None:
    fair = {"op": "fairness", "fn": "disparate_impact", "attribute": "sex"}
    sl = {"op": "slice_metric", "fn": "min", "metric": "roc_auc", "by": "region"}
    results = {"fairness": {"sex": {"disparate_impact": 0.85, "note": "x"}},
               "slices": {"region": {"n": {"metrics": {"roc_auc": 0.72}},
                                     "s": {"metrics": {"roc_auc": 0.9}}}}}
    assert evaluate_check(check(cmp("ge", fair, lit(0.8))), results).status == "pass"
    r = evaluate_check(check(cmp("ge", sl, lit(0.75))), results)
    assert r.status == "fail" and r.value == 0.72
    assert r.values["min(roc_auc by region).group"] == "n"


def test_no_champion_does_not_block_unless_required() -> None:
    tree = cmp("ge", metric("auc"), {"op": "champion", "metric": "auc"})
    free = evaluate_gate([check(tree)], {"metrics": {"auc": 0.7}, "champion": None})
    assert free["passed"] is True and free["no_champion"] == ["c"]
    assert free["checks"][0]["detail"] == "skipped: no champion in production (first model)"
    strict = evaluate_gate([check(tree)], {"metrics": {"auc": 0.7}, "champion": None},
                           require_champion=True)
    assert strict["passed"] is False and strict["failed"] == ["c"]
    gap = evaluate_check(check(tree), {"metrics": {"auc": 0.7}, "champion": {"f1": 0.5}})
    assert gap.status == "error" and gap.detail == "the production version has no auc"
    won = evaluate_check(check(tree), {"metrics": {"auc": 0.7}, "champion": {"auc": 0.6}})
    assert won.status == "pass" and won.threshold == 0.6


def test_null_arithmetic_is_a_failure_not_a_pass() -> None:
    tree = cmp("ge", {"op": "binary", "fn": "div", "left": lit(1), "right": lit(0)}, lit(0))
    r = evaluate_check(check(tree), {})
    assert r.status == "fail" and r.blocking_failure
    assert r.detail == "check is undefined (null arithmetic, e.g. division by zero)"


def test_malformed_tree_is_a_gate_error() -> None:
    with pytest.raises(GateError, match="malformed check tree"):
        evaluate_check(check({"op": "nonsense"}), {})


# -- Kleene and/or --------------------------------------------------------------------------
T, F, N = lit(True), lit(False), lit(None)


@pytest.mark.parametrize(("fn", "args", "expected"), [
    ("and", (T, N), None), ("and", (N, T), None), ("and", (F, N), False),
    ("and", (N, F), False), ("and", (T, T), True), ("and", (N, N), None),
    ("or", (F, N), None), ("or", (N, F), None), ("or", (T, N), True), ("or", (N, T), True),
    ("or", (F, F), False), ("or", (N, N), None)])
def test_kleene_and_or_truth_table(fn: str, args: tuple[dict[str, Any], ...],
                                   expected: bool | None) -> None:
    assert evaluate(logical(fn, *args), {}) is expected


def test_kleene_and_with_missing_metric_is_an_error_not_a_pass() -> None:
    tree = logical("and", cmp("ge", metric("auc"), lit(0.5)),
                   cmp("ge", metric("recall"), lit(0.5)))
    r = evaluate_check(check(tree), {"metrics": {"auc": 0.9}})
    assert r.status == "error" and r.blocking_failure
    assert r.detail == "metric recall was not computed"


def test_kleene_or_with_missing_metric_passes_on_the_other_operand() -> None:
    tree = logical("or", cmp("ge", metric("recall"), lit(1)),
                   cmp("ge", metric("auc"), lit(0.5)))
    assert evaluate_check(check(tree), {"metrics": {"auc": 0.9}}).status == "pass"
    assert evaluate_check(check(tree), {"metrics": {"auc": 0.1}}).status == "error"


class _Later(dict[str, Any]):
    def __getitem__(self, key: str) -> Any:
        if key == "later":
            raise NotYetKnown("known at run time")
        return super().__getitem__(key)


def test_not_yet_known_defers_unless_another_operand_decides() -> None:
    values = _Later(x=1)
    later = metric("later")
    assert evaluate(logical("or", later, T), values) is True
    assert evaluate(logical("and", later, F), values) is False
    with pytest.raises(NotYetKnown):
        evaluate(logical("and", later, T), values)
    with pytest.raises(NotYetKnown):
        evaluate(logical("or", later, F), values)


def test_unknown_logical_function_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="unknown logical function"):
        evaluate(logical("xor", T, F), {})


# -- report rendering -----------------------------------------------------------------------
def test_render_tree_gives_the_check_text() -> None:
    tree = logical("and", cmp("ge", metric("auc"), lit(0.8)),
                   {"op": "unary", "fn": "not", "arg": {"op": "call", "fn": "is_null",
                                                        "args": [metric("f1")]}},
                   cmp("lt", {"op": "fairness", "fn": "dp", "attribute": "sex"},
                       {"op": "champion", "metric": "auc"}),
                   cmp("gt", {"op": "slice_metric", "fn": "min", "metric": "auc",
                              "by": "r"},
                       {"op": "unary", "fn": "neg", "arg": lit(1)}))
    assert render_tree(tree) == ("(auc >= 0.8) and (not is_null(f1)) and "
                                 "(dp(sex) < champion.auc) and (min(auc by r) > -1)")
    assert evaluate_check(check(tree) | {"text": None}, {}).text == render_tree(tree)


# -- the report rows (mutation survivors of gate_checks.py) ---------------------------------
def test_report_row_carries_every_field() -> None:
    spec = {"id": "auc", "text": "roc_auc >= 0.8", "severity": "blocking",
            "message": "discrimination too weak", "expr": cmp("ge", metric("roc_auc"),
                                                               lit(0.8))}
    row = evaluate_gate([spec], {"metrics": {"roc_auc": 0.9}})["checks"][0]
    assert row == {"id": "auc", "text": "roc_auc >= 0.8", "severity": "blocking",
                   "status": "pass", "passed": True, "value": 0.9, "threshold": 0.8,
                   "comparator": ">=", "detail": "", "message": "discrimination too weak",
                   "values": {"roc_auc": 0.9}}


def test_report_row_defaults_when_the_check_names_nothing() -> None:
    row = evaluate_gate([{"expr": cmp("lt", metric("brier"), lit(0.25))}],
                        {"metrics": {"brier": 0.3}})["checks"][0]
    assert (row["id"], row["text"], row["severity"], row["message"]) == \
        ("check", "brier < 0.25", "blocking", None)
    assert row["status"] == "fail" and row["passed"] is False


def test_no_champion_row_counts_as_passed_and_says_why() -> None:
    tree = cmp("ge", metric("auc"), {"op": "champion", "metric": "auc"})
    row = evaluate_gate([check(tree)], {"metrics": {"auc": 0.7}})["checks"][0]
    assert row["status"] == "no_champion" and row["passed"] is True
    strict = evaluate_check(check(tree), {"metrics": {"auc": 0.7}}, require_champion=True)
    assert strict.status == "fail"
    assert strict.detail == "skipped: no champion in production (this gate requires one)"


def test_every_missing_value_is_named_once_in_the_detail() -> None:
    tree = logical("and", cmp("ge", metric("a"), lit(1)), cmp("ge", metric("b"), lit(1)),
                   cmp("ge", metric("a"), lit(2)))
    r = evaluate_check(check(tree), {"metrics": {}})
    assert r.detail == "metric a was not computed; metric b was not computed"


def test_false_check_without_a_comparison_says_check_is_false() -> None:
    tree = logical("or", cmp("ge", metric("a"), lit(1)), cmp("ge", metric("b"), lit(1)))
    r = evaluate_check(check(tree), {"metrics": {"a": 0, "b": 0}})
    assert (r.status, r.detail, r.comparator, r.value) == ("fail", "check is false", None,
                                                           False)


def test_blocking_failures_are_not_listed_as_warnings() -> None:
    gate = evaluate_gate([check(cmp("ge", metric("a"), lit(1)), "hard"),
                          check(cmp("ge", metric("a"), lit(0)), "soft_ok", "warning"),
                          check(cmp("ge", metric("a"), lit(1)), "soft", "warning")],
                         {"metrics": {"a": 0.5}})
    assert gate["failed"] == ["hard"] and gate["warnings"] == ["soft"]


def test_render_tree_of_arithmetic_calls_and_unknown_nodes() -> None:
    tree = cmp("ge", metric("roc_auc"),
               {"op": "binary", "fn": "sub", "left": {"op": "champion", "metric": "roc_auc"},
                "right": lit(0.01)})
    assert render_tree(tree) == "roc_auc >= champion.roc_auc - 0.01"
    call = {"op": "call", "fn": "coalesce", "args": [metric("a"), lit(0)]}
    assert render_tree(call) == "coalesce(a, 0)"
    assert render_tree({"op": "future_node"}) == "future_node"


def test_report_row_keeps_the_spec_text_not_a_rendering() -> None:
    spec = {"id": "auc", "text": "roc_auc >= {{ min_auc }}",
            "expr": cmp("ge", metric("roc_auc"), lit(0.8))}
    assert evaluate_check(spec, {"metrics": {"roc_auc": 0.9}}).text == \
        "roc_auc >= {{ min_auc }}"
