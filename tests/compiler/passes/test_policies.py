"""Policies decided at compile time: every rule of the built-in packs fires on a model that
breaks it and stays quiet on the credit-risk example; results are recorded per subject."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from specops.compiler.diagnostics.diagnostic import Severity
from specops.compiler.expr import compile_expression, policy_env
from specops.compiler.facts.model_facts import CHECK_CATEGORIES, check_categories
from specops.compiler.frontend.packs import available_packs, load_pack
from specops.compiler.passes.lint import LintResult, lint_paths
from specops.contract.interpret import evaluate

check_policies_module = importlib.import_module(
    "specops.compiler.passes.governance_checks.check_policies")
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "credit-risk"
PACK_RULES = {rule.id: (pack, rule) for pack in available_packs()
              for spec in load_pack(pack)[0] for rule in spec.spec.rules}


def _project(tmp_path: Path, edits: list[tuple[str, str, str]]) -> Path:
    root = tmp_path / "credit-risk"
    shutil.copytree(EXAMPLE, root)
    for rel, old, new in edits:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


def _lint(root: Path) -> LintResult:
    return lint_paths([root], {}, base=root)


def _violations(result: LintResult) -> set[str]:
    return {d.message[1:].split("]", 1)[0] for d in result.diagnostics if d.code == "SPEC505"}


def test_packs_ship_the_documented_rules() -> None:
    assert available_packs() == ["eu-ai-act-high-risk", "sr11-7"]
    for pack in available_packs():
        specs, diags = load_pack(pack)
        assert diags == [] and len(specs) == 1 and specs[0].name == pack
    assert load_pack("no-such-pack") == ([], [])
    assert len(PACK_RULES) == 14


def test_credit_risk_satisfies_every_rule() -> None:
    result = _lint(EXAMPLE)
    assert result.diagnostics == []
    results = result.context.policy_results["model:credit_default"]
    decided = {r["rule"]: r for r in results}
    assert set(PACK_RULES) <= set(decided)
    assert all(r["applies"] and r["holds"] for r in results)


MODEL = "specs/model.yaml"
GATES = "specs/gates.yaml"
GOVERNANCE = "specs/governance.yaml"

_MONITORING = ("monitoring:\n"
               "  drift: {method: psi, warn: 0.1, alert: 0.25, bins: 10, binning: quantile}\n"
               "  window: 7d\n  label_delay: 30d\n  consecutive_windows: 2\n"
               "  retrain_on: [data_drift]\n  cooldown: 7d\n")

# (rule the edit is aimed at, edits, every rule the edited model then breaks)
BREAKS: list[tuple[str, list[tuple[str, str, str]], set[str]]] = [
    ("SR117-02-documented", [(MODEL, "intended_use: Rank", "assumptions2: Rank")],
     {"AIACT-11-documentation"}),
    ("SR117-03-limitations", [(MODEL, "limitations: Trained", "assumptions2: Trained")],
     {"AIACT-11-documentation", "lending-needs-limitations"}),
    ("SR117-04-independent-validation", [(MODEL, "validator: bob", "validator: alice")],
     set()),
    ("SR117-05-monitoring", [(MODEL, _MONITORING, "")],
     {"AIACT-72-post-market", "lending-monitors-drift"}),
    ("SR117-06-outcomes", [(GATES, "roc_auc >= champion.roc_auc - 0.01",
                            "roc_auc >= 0.5")], set()),
    ("SR117-07-review-cadence", [(MODEL, "review_cadence: 52w", "review_cadence: 104w")],
     set()),
    ("SR117-08-approval", [(MODEL, "approval: risk_tiered\n", "")],
     {"AIACT-14-human-oversight"}),
    ("AIACT-09-fairness", [(MODEL, "gates: [quality, fair_lending, serving_budget]",
                            "gates: [quality, serving_budget]")], set()),
    ("AIACT-11-documentation", [(MODEL, "description: Probability", "assumptions2: P")],
     {"SR117-02-documented"}),
    ("AIACT-12-logging", [(MODEL, "serving: {format: onnx,",
                           "serving: {log_predictions: false, format: onnx,")], set()),
    ("AIACT-14-human-oversight", [(GOVERNANCE, "    expires: 90d\n",
                                   "    expires: 90d\n    auto_approve: true\n")], set()),
    ("AIACT-15-accuracy", [(MODEL, "gates: [quality, fair_lending, serving_budget]",
                            "gates: [quality, fair_lending]")], set()),
    ("AIACT-72-post-market", [(MODEL, "retrain_on: [data_drift]", "retrain_on: [performance]")],
     set()),
]


# Where each violation is located: the field the rule reads (the one to change); the
# model's `name:` (3:7) only when that field is absent.
AT_FIELD: dict[str, str] = {
    "SR117-04-independent-validation": "specs/model.yaml:7:12",   # validator: alice
    "SR117-06-outcomes": "specs/model.yaml:33:8",                 # gates: [...]
    "SR117-07-review-cadence": "specs/model.yaml:43:17",          # review_cadence: 104w
    "AIACT-09-fairness": "specs/model.yaml:33:8",                 # gates: [...]
    "AIACT-12-logging": "specs/model.yaml:35:28",                 # log_predictions: false
    "AIACT-14-human-oversight": "specs/model.yaml:34:11",         # approval: risk_tiered
    "AIACT-15-accuracy": "specs/model.yaml:33:8",                 # gates: [...]
    "AIACT-72-post-market": "specs/model.yaml:41:15",             # retrain_on: [performance]
}


def _fix_yaml(edits: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    # `assumptions2` is not a model key: rename the key the edit removes instead
    return [(f, old, new.replace("assumptions2: ", "# removed: ")) for f, old, new in edits]


@pytest.mark.parametrize(("rule", "edits", "also"), BREAKS, ids=[b[0] for b in BREAKS])
def test_each_pack_rule_fires(rule: str, edits: list[tuple[str, str, str]], also: set[str],
                              tmp_path: Path) -> None:
    result = _lint(_project(tmp_path, _fix_yaml(edits)))
    assert _violations(result) == {rule} | also
    pack, spec_rule = PACK_RULES[rule]
    diag = next(d for d in result.diagnostics if d.message.startswith(f"[{rule}]"))
    assert diag.file == MODEL and diag.location() == AT_FIELD.get(rule, "specs/model.yaml:3:7")
    # the rule itself is the related location: its `require:` in the pack
    assert [r.message for r in diag.related] == [f"policy `{pack}` rule `{rule}` requires this"]
    assert diag.message == f"[{rule}] {spec_rule.message}"
    assert diag.severity == Severity.ERROR
    assert diag.help is not None and f"policy `{pack}` rule `{rule}`" in diag.help
    assert f"<specops>/packs/{pack}.yaml:" in diag.help
    others = [d for d in result.diagnostics if d.code not in ("SPEC505", "SPEC507")]
    assert others == []
    holds = {r["rule"]: r["holds"] for r in result.context.policy_results["model:credit_default"]}
    assert holds[rule] is False


def test_owner_rule_on_facts() -> None:
    """SR117-01 cannot be broken from a spec (owner is required); decide it on facts."""
    facts = _lint(EXAMPLE).context.model_facts["credit_default"]
    _pack, rule = PACK_RULES["SR117-01-owner"]
    tree = compile_expression(rule.require, policy_env("model")).tree
    assert tree is not None
    assert evaluate(tree, facts) is True
    assert evaluate(tree, {**facts, "model.owner": ""}) is False


@pytest.mark.parametrize("rule_id", sorted(PACK_RULES))
def test_every_pack_rule_compiles_and_holds_on_the_example(rule_id: str) -> None:
    facts = _lint(EXAMPLE).context.model_facts["credit_default"]
    _pack, rule = PACK_RULES[rule_id]
    env = policy_env(rule.applies_to)
    when = compile_expression(rule.when, env)
    require = compile_expression(rule.require, env)
    assert when.issues == () and require.issues == ()
    assert when.tree is not None and require.tree is not None
    assert evaluate(when.tree, facts) is True   # the example is high risk: all apply
    assert evaluate(require.tree, facts) is True


def test_rules_for_material_models_do_not_apply_to_low_risk(tmp_path: Path) -> None:
    root = _project(tmp_path, [(MODEL, "risk_tier: high", "risk_tier: low")])
    result = _lint(root)
    assert result.diagnostics == []
    decided = {r["rule"]: r for r in result.context.policy_results["model:credit_default"]}
    for rule_id in ("SR117-03-limitations", "SR117-06-outcomes", "AIACT-09-fairness",
                    "AIACT-72-post-market"):
        assert decided[rule_id] == {"policy": PACK_RULES[rule_id][0], "rule": rule_id,
                                    "applies": False, "holds": True}
    assert decided["SR117-05-monitoring"]["applies"] is True


def test_policy_results_per_subject_kind(tmp_path: Path) -> None:
    root = _project(tmp_path, [])
    (root / "specs" / "data_rules.yaml").write_text(
        "kind: policy\nname: data_rules\nrules:\n"
        "  - id: views-owned\n    applies_to: feature\n    require: \"feature.has_owner\"\n"
        "    message: views have owners\n"
        "  - id: sources-checked\n    applies_to: source\n    when: \"source.has_pii\"\n"
        "    require: \"source.has_checks\"\n    message: checked\n", encoding="utf-8")
    result = _lint(root)
    assert result.diagnostics == []
    res = result.context.policy_results
    # each version of a view is its own subject
    assert {"feature:bureau_history@1", "feature:bureau_history@2",
            "feature:application_features@1"} <= set(res)
    assert res["feature:bureau_history@1"] == [
        {"policy": "data_rules", "rule": "views-owned", "applies": True, "holds": True}]
    assert res["source:outcomes"] == [
        {"policy": "data_rules", "rule": "sources-checked", "applies": False, "holds": True}]


def test_check_categories_include_calibration() -> None:
    assert "calibration" in CHECK_CATEGORIES
    env_tree = {"op": "compare", "fn": "le", "type": "bool",
                "left": {"op": "metric", "name": "brier", "type": "float64"},
                "right": {"op": "lit", "value": 0.25, "type": "float64"}}
    assert check_categories(env_tree) == {"performance", "calibration"}
    roc = {**env_tree, "left": {"op": "metric", "name": "roc_auc", "type": "float64"}}
    assert check_categories(roc) == {"performance"}
    facts = _lint(EXAMPLE).context.model_facts["credit_default"]
    assert set(facts["model.has_check"]) == {"calibration", "champion", "fairness", "latency",
                                             "parity", "performance", "slice"}


def test_unevaluable_rule_is_spec506_at_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """No spec can make a fact go missing; simulate it to pin SPEC506's report."""
    real = check_policies_module.model_facts

    def without_monitoring(*args: Any, **kwargs: Any) -> dict[str, Any]:
        facts = dict(real(*args, **kwargs))
        del facts["model.has_monitoring"]
        return facts

    monkeypatch.setattr(check_policies_module, "model_facts", without_monitoring)
    result = _lint(EXAMPLE)
    got = {(d.file, d.code) for d in result.diagnostics}
    assert got == {("<specops>/packs/sr11-7.yaml", "SPEC506"),
                   ("<specops>/packs/eu-ai-act-high-risk.yaml", "SPEC506"),
                   ("specs/governance.yaml", "SPEC506")}
    msgs = sorted(d.message for d in result.diagnostics)
    assert all("cannot be evaluated for model `credit_default`" in m for m in msgs)
    assert any("`SR117-05-monitoring`" in m for m in msgs)
    assert any("`lending-monitors-drift`" in m for m in msgs)
