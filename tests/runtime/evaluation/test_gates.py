"""Gates: check trees against results; no-champion explicit; failures block and record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ml_helpers import make_ctx, run_pipeline

from specops.runtime.engine.op_interface import OpError
from specops.runtime.evaluation.gate import gate
from specops.runtime.evaluation.gate_checks import evaluate_check, evaluate_gate
from specops.runtime.registry import Registry


def lit(v: Any) -> dict[str, Any]:
    return {"op": "lit", "value": v, "type": "float64"}


def metric(name: str) -> dict[str, Any]:
    return {"op": "metric", "name": name, "type": "float64"}


def cmp(fn: str, left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {"op": "compare", "fn": fn, "left": left, "right": right, "type": "bool"}


def check(expr: dict[str, Any], cid: str = "c", severity: str = "blocking") -> dict[str, Any]:
    return {"id": cid, "text": cid, "expr": expr, "severity": severity, "message": None}


RESULTS: dict[str, Any] = {
    "metrics": {"roc_auc": 0.81, "latency_p99_ms": 0.02, "model_size_mb": 0.5,
                "onnx_max_abs_diff": 3e-7},
    "slices": {"region": {"north": {"n": 50, "metrics": {"roc_auc": 0.72}},
                          "south": {"n": 60, "metrics": {"roc_auc": 0.79}},
                          "tiny": {"n": 3, "skipped": "fewer than 30 rows"}}},
    "fairness": {"sex": {"disparate_impact": 0.85, "equalized_odds_difference": 0.12}},
    "champion": None,
}

CHAMPION = cmp("ge", metric("roc_auc"),
               {"op": "binary", "fn": "sub", "left": {"op": "champion", "metric": "roc_auc"},
                "right": lit(0.01)})


def test_metric_slice_fairness_latency_size_parity_checks() -> None:
    r = evaluate_check(check(cmp("ge", metric("roc_auc"), lit(0.75))), RESULTS)
    assert (r.status, r.value, r.threshold, r.comparator) == ("pass", 0.81, 0.75, ">=")
    sl = {"op": "slice_metric", "fn": "min", "metric": "roc_auc", "by": "region"}
    r = evaluate_check(check(cmp("ge", sl, lit(0.75))), RESULTS)
    assert r.status == "fail" and r.value == 0.72 and r.values["min(roc_auc by region).group"] \
        == "north"
    fair = {"op": "fairness", "fn": "equalized_odds_difference", "attribute": "sex"}
    assert evaluate_check(check(cmp("le", fair, lit(0.1))), RESULTS).status == "fail"
    di = {"op": "fairness", "fn": "disparate_impact", "attribute": "sex"}
    assert evaluate_check(check(cmp("ge", di, lit(0.8))), RESULTS).status == "pass"
    assert evaluate_check(check(cmp("le", metric("latency_p99_ms"), lit(5))), RESULTS).status \
        == "pass"
    assert evaluate_check(check(cmp("le", metric("model_size_mb"), lit(0.1))), RESULTS).status \
        == "fail"
    assert evaluate_check(check(cmp("le", metric("onnx_max_abs_diff"), lit(1e-4))),
                          RESULTS).status == "pass"


def test_missing_values_are_errors_not_passes() -> None:
    r = evaluate_check(check(cmp("ge", metric("pr_auc"), lit(0.5))), RESULTS)
    assert r.status == "error" and "pr_auc" in r.detail
    undefined = {"metrics": {}, "fairness": {"sex": {"disparate_impact": None,
                                                     "note": "fewer than two groups"}}}
    di = {"op": "fairness", "fn": "disparate_impact", "attribute": "sex"}
    r = evaluate_check(check(cmp("ge", di, lit(0.8))), undefined)
    assert r.status == "error" and "fewer than two" in r.detail


def test_no_champion_is_explicit_and_configurable() -> None:
    r = evaluate_check(check(CHAMPION), RESULTS)
    assert r.status == "no_champion" and "no champion in production" in r.detail
    report = evaluate_gate([check(CHAMPION, "vs_champion")], RESULTS)
    assert report["passed"] and report["no_champion"] == ["vs_champion"]
    strict = evaluate_gate([check(CHAMPION, "vs_champion")], RESULTS, require_champion=True)
    assert not strict["passed"]
    with_champ = {**RESULTS, "champion": {"roc_auc": 0.83}}
    r = evaluate_check(check(CHAMPION), with_champ)
    assert r.status == "fail" and r.threshold == pytest.approx(0.82)
    assert evaluate_check(check(CHAMPION), {**RESULTS, "champion": {"roc_auc": 0.8}}).status \
        == "pass"


def test_warnings_do_not_block_and_kleene_logic() -> None:
    report = evaluate_gate([check(cmp("ge", metric("roc_auc"), lit(0.9)), "w", "warning")],
                           RESULTS)
    assert report["passed"] and report["warnings"] == ["w"]
    either = {"op": "logical", "fn": "or", "type": "bool",
              "args": [cmp("ge", metric("nope"), lit(1)), cmp("ge", metric("roc_auc"), lit(0.5))]}
    assert evaluate_check(check(either), RESULTS).status == "pass"


def _gate_ctx(tmp: Path, dirs: dict[str, Path], checks: list[dict[str, Any]],
              name: str = "quality", **extra: Any) -> Any:
    return make_ctx(tmp / "gates" / name, f"gate:m:{name}", "gate",
                    {"gate": name, "checks": checks, "blocking": True, "min_group_size": 30,
                     "require_champion": False},
                    {"evaluate:m": dirs["evaluate"], "benchmark:m": dirs["benchmark"]},
                    extra=extra)


def test_gate_op_failure_blocks_and_records_rejection(tmp_path: Path) -> None:
    dirs = run_pipeline(tmp_path, "LogisticRegression")
    ok = _gate_ctx(tmp_path, dirs, [check(cmp("ge", metric("roc_auc"), lit(0.5)), "auc"),
                                    check(CHAMPION, "vs_champion")], "ok")
    result = gate(ok)
    rep = json.loads((ok.out_dir / "gate_report.json").read_text())
    assert rep["passed"] and rep["champion"]["status"] == "none"
    assert {c["id"]: c["status"] for c in rep["checks"]} == {
        "auc": "pass", "vs_champion": "no_champion", "onnx_parity": "pass"}
    assert "skipped (no champion in production)" in result.message

    bad = _gate_ctx(tmp_path, dirs, [check(cmp("ge", metric("roc_auc"), lit(0.99)), "auc")],
                    "strict")
    with pytest.raises(OpError, match="auc") as exc:
        gate(bad)
    assert "rejected" in str(exc.value)
    rep = json.loads((bad.out_dir / "gate_report.json").read_text())
    assert not rep["passed"] and rep["failed"] == ["auc"]
    reg = Registry.for_context(bad)
    [v] = reg.versions("m")
    assert v.status == "rejected" and "auc" in v.reasons[0]
    assert reg.verify("m", v.version)["ok"]
    assert reg.aliases("m") == {}


def test_gate_blocks_on_parity_failure(tmp_path: Path) -> None:
    dirs = run_pipeline(tmp_path, "LogisticRegression")
    parity_path = dirs["benchmark"] / "parity.json"
    parity = json.loads(parity_path.read_text())
    parity.update({"passed": False, "reasons": ["3 label mismatch(es)"]})
    parity_path.write_text(json.dumps(parity))
    ctx = _gate_ctx(tmp_path, dirs, [], "p", record_rejections=False)
    with pytest.raises(OpError, match="onnx_parity"):
        gate(ctx)


def test_parity_check_shows_the_value_compared_with_the_tolerance(tmp_path: Path) -> None:
    # a regression's parity is judged on the difference relative to max(|y|, 1): the
    # report must show that figure, not the absolute one (which read "1.4e-4 <= 1e-4: pass")
    dirs = run_pipeline(tmp_path, "LogisticRegression")
    parity_path = dirs["benchmark"] / "parity.json"
    parity = json.loads(parity_path.read_text())
    parity.update({"passed": True, "max_abs_diff": 1.448e-4, "max_rel_diff": 2e-6,
                   "tolerance": 1e-4})
    parity_path.write_text(json.dumps(parity))
    ctx = _gate_ctx(tmp_path, dirs, [], "rel", record_rejections=False)
    gate(ctx)
    rep = json.loads((ctx.out_dir / "gate_report.json").read_text())
    [built_in] = [c for c in rep["checks"] if c["id"] == "onnx_parity"]
    assert built_in["value"] == 2e-6 and built_in["value"] <= built_in["threshold"]
    assert "relative" in built_in["text"]
