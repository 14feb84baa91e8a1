"""`rollout:` rules and `monitoring.on_breach` in the model spec: lint locates every
malformed rule (SPEC711-714) at the field to change, and a clean block reaches the plan's
`models` table (what `specops rollout evaluate` and `specops monitor` read), which still
validates against the plan schema."""

from __future__ import annotations

import sys
from pathlib import Path

import jsonschema

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile_helpers import copy_example, edit, plan_of

from specops.compiler.passes.lint import lint_paths
from specops.contract.plan_schema import plan_schema

GOOD = """rollout:
  promote_when:
    - {metric: error_rate, below: 0.01}
    - {test: ks, p_above: 0.01}
  rollback_when:
    - {metric: p99_latency_ms, above: 50}
    - {metric: error_rate, above_champion_by: 0.01}
    - {test: errors, p_below: 0.01}
    - {metric: roc_auc, below_champion_by: 0.02}
  min_requests: 500
  min_duration: 30m
  window: 2h
review_cadence: 52w"""


def _project(tmp_path: Path, block: str, on_breach: bool = False) -> Path:
    root = copy_example(tmp_path / "p")
    model = root / "specs" / "model.yaml"
    edit(model, "review_cadence: 52w", block)
    if on_breach:
        edit(model, "  cooldown: 7d\n", "  cooldown: 7d\n  on_breach: rollback\n")
    return root


def _found(root: Path) -> list[tuple[str, int, str]]:
    return sorted((d.code, d.span.line, d.message)
                  for d in lint_paths([root], base=root).diagnostics
                  if d.code.startswith("SPEC71"))


def _line(root: Path, text: str) -> int:
    lines = (root / "specs" / "model.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_clean_rules_reach_the_plan(tmp_path: Path) -> None:
    root = _project(tmp_path, GOOD, on_breach=True)
    assert _found(root) == []
    plan = plan_of(root)
    facts = plan["models"]["credit_default"]
    assert facts["monitoring"]["on_breach"] == "rollback"
    assert facts["rollout"] == {
        "promote_when": [{"metric": "error_rate", "below": 0.01},
                         {"test": "ks", "p_above": 0.01}],
        "rollback_when": [{"metric": "p99_latency_ms", "above": 50.0},
                          {"metric": "error_rate", "above_champion_by": 0.01},
                          {"test": "errors", "p_below": 0.01},
                          {"metric": "roc_auc", "below_champion_by": 0.02}],
        "min_requests": 500, "min_duration_s": 1800, "window_s": 7200}
    jsonschema.Draft202012Validator(plan_schema()).validate(plan)


def test_the_example_plan_has_no_rollout_facts(tmp_path: Path) -> None:
    """Specs without `rollout:` / `on_breach` compile to the plan they always did."""
    facts = plan_of(copy_example(tmp_path / "p"))["models"]["credit_default"]
    assert "rollout" not in facts and "on_breach" not in facts["monitoring"]


def test_malformed_rules_are_located(tmp_path: Path) -> None:
    root = _project(tmp_path, """rollout:
  rollback_when:
    - {metric: p99_latency_ms, above: 50, below: 10}
    - {metric: p99_latncy_ms, above: 50}
    - {test: ks}
    - {test: ks, p_below: 0.01, above: 3}
    - {above: 3}
    - {metric: error_rate}
review_cadence: 52w""")
    found = _found(root)
    assert found == sorted([
        ("SPEC711", _line(root, "above: 50, below: 10"),
         "a `metric` rule takes exactly one of above, below, above_champion_by, "
         "below_champion_by (it has above, below)"),
        ("SPEC712", _line(root, "p99_latncy_ms"), "unknown rollout metric `p99_latncy_ms`"),
        ("SPEC711", _line(root, "{test: ks}"),
         "a `test` rule takes exactly one of p_below, p_above"),
        ("SPEC711", _line(root, "p_below: 0.01, above: 3"),
         "a `test` rule takes exactly one of p_below, p_above (it has above, p_below)"),
        ("SPEC711", _line(root, "{above: 3}"),
         "a rollout rule names exactly one of `metric` or `test`"),
        ("SPEC711", _line(root, "{metric: error_rate}"),
         "a `metric` rule takes exactly one of above, below, above_champion_by, "
         "below_champion_by"),
    ])


def test_rules_that_cannot_decide_or_read(tmp_path: Path) -> None:
    root = _project(tmp_path, "rollout: {min_requests: 10}\nreview_cadence: 52w")
    assert [c for c, _, _ in _found(root)] == ["SPEC713"]
    root = _project(tmp_path / "b", "rollout:\n"
                    "  rollback_when: [{metric: error_rate, above: 0.05}]\n"
                    "review_cadence: 52w")
    edit(root / "specs" / "model.yaml", "serving: {format: onnx,",
         "serving: {log_predictions: false, format: onnx,")
    assert [(c, line) for c, line, _ in _found(root)] == [
        ("SPEC714", _line(root, "rollout:"))]
