"""The model's `fairness:` block from spec to plan, and the fairness lint that accepts
what can be evaluated (the refusals are semantic fixtures: fairness_*).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compile_helpers import copy_example, edit, fingerprints, plan_of

from specops.compiler.passes.lint import lint_paths


def _evaluate(plan: dict[str, Any]) -> dict[str, Any]:
    node = next(n for n in plan["nodes"] if n["op"] == "evaluate")
    return dict(node["params"])


def test_example_plan_measures_approval_rates_with_age_bands(tmp_path: Path) -> None:
    params = _evaluate(plan_of(copy_example(tmp_path / "p")))
    assert params["fairness"] == {"favorable": 0, "threshold": 0.5,
                                  "bands": {"age": [25.0, 40.0, 60.0]}}
    assert params["protected"] == ["age", "sex"]


def test_band_keys_name_the_column_either_way_and_change_the_fingerprint(
        tmp_path: Path) -> None:
    a = copy_example(tmp_path / "a")
    b = copy_example(tmp_path / "b")
    edit(b / "specs" / "model.yaml", "bands: {age: [25, 40, 60]}",
         "bands: {applications.age: {quantiles: 4}}")
    pa, pb = plan_of(a), plan_of(b)
    assert _evaluate(pb)["fairness"]["bands"] == {"age": {"quantiles": 4}}
    fa, fb = fingerprints(pa), fingerprints(pb)
    assert fa["evaluate:credit_default"] != fb["evaluate:credit_default"]
    assert fa["train:credit_default"] == fb["train:credit_default"]   # no retraining


def test_a_model_without_the_block_keeps_its_plan_shape(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    edit(p / "specs" / "model.yaml", "fairness:\n  favorable: 0", "x_fairness:\n  favorable: 0")
    text = (p / "specs" / "model.yaml").read_text(encoding="utf-8")
    start = text.index("x_fairness:")
    end = text.index("gates:", start)
    (p / "specs" / "model.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    # age is int64 without `in:`: without bands it is refused (SPEC510) ...
    codes = {d.code for d in lint_paths([p], base=p).diagnostics}
    assert "SPEC510" in codes
    # ... and with its values listed it is a categorical attribute, and the plan has no
    # fairness params (what a plan without the block always meant)
    edit(p / "specs" / "sources.yaml", "age: {type: int64, min: 18, max: 100, protected: true}",
         "age: {type: int64, in: [18, 30, 50, 70], protected: true}")
    assert "fairness" not in _evaluate(plan_of(p))


def test_regression_with_a_direction_and_threshold_lints_clean(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    model = p / "specs" / "model.yaml"
    edit(model, "task: binary_classification", "task: regression")
    edit(model, "class: HistGradientBoostingClassifier", "class: HistGradientBoostingRegressor")
    edit(model, "favorable: 0 ", "favorable: lower_score ")
    edit(model, "gates: [quality, fair_lending, serving_budget]", "gates: [fair_di]")
    (p / "specs" / "fair_di.yaml").write_text(
        "kind: gate\nname: fair_di\nchecks:\n  - \"disparate_impact(sex) >= 0.8\"\n"
        "  - \"demographic_parity_difference(age) <= 0.1\"\n", encoding="utf-8")
    found = [(d.code, d.message) for d in lint_paths([p], base=p).diagnostics
             if d.code in ("SPEC510", "SPEC411")]
    assert found == []
    # without the threshold the same checks cannot be evaluated
    edit(model, "  threshold: 0.5 ", "  # no threshold ")
    found = [d.code for d in lint_paths([p], base=p).diagnostics if d.code == "SPEC510"]
    assert found == ["SPEC510", "SPEC510"]
