"""One interpreter: compile-time decisions, gates, approval conditions and policies all
decide through `specops.contract.interpret`, so a condition means the same on both sides.

The attack these tests stand for: an approval rule whose condition is null for a model (a
null fact, a division by zero) must not be "not applicable" to the compiler and
"applicable" to the runtime (or the reverse), since that picks a different set of
required approvers than the one the reviewer saw in the plan.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from specops.compiler.expr import approval_env, compile_expression
from specops.compiler.passes.lint import lint_paths
from specops.compiler.plan.governance_facts import decide
from specops.contract import interpret
from specops.runtime.evaluation.gate_checks import evaluate_check
from specops.runtime.governance.approvals import approval_plan
from specops.runtime.governance.errors import GovernanceError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "credit-risk"


def _tree(text: str) -> dict[str, Any]:
    result = compile_expression(text, approval_env())
    assert result.tree is not None, result.issues
    return dict(result.tree)


def _facts(tree: Any, **model: Any) -> dict[str, Any]:
    """The plan's `models[m]` with the rule left undecided (`applies: null`), then a
    catch-all rule requiring one approver."""
    rules = [{"index": 0, "applies": None, "when": tree, "require": {"model_risk_officer": 2}},
             {"index": 1, "applies": True, "require": {"model_risk_officer": 1}}]
    return {"owner": "team-risk", "risk_tier": "high", "task": "binary_classification",
            **model, "approval": {"name": "a", "environments": ["production"],
                                  "rules": rules}}


def _runtime_applies(tree: Any, **model: Any) -> bool:
    return approval_plan("m", _facts(tree, **model))["rule"] == 0  # type: ignore[index]


SCOPE = {"name": "m", "owner": "team-risk", "task": "binary_classification"}


@pytest.mark.parametrize(("text", "risk_tier", "expected"), [
    # null from arithmetic: `null or false` is null, which does not hold
    ("length(owner) // 0 == 1 or risk_tier == 'high'", "low", False),
    ("length(owner) // 0 == 1 or risk_tier == 'high'", "high", True),
    # a null fact: `not (null == 'low')` is null (the old runtime evaluator said true)
    ("not (risk_tier == 'low')", None, False),
    ("not (risk_tier == 'low')", "high", True),
    ("if_else(risk_tier == 'low', false, true)", None, True),   # null condition -> else
    ("is_null(risk_tier)", None, True),
])
def test_null_condition_decides_the_same_at_compile_and_run_time(
        text: str, risk_tier: str | None, expected: bool) -> None:
    tree = _tree(text)
    compile_time = decide(tree, {**SCOPE, "risk_tier": risk_tier})
    assert compile_time is expected
    assert _runtime_applies(tree, risk_tier=risk_tier) is expected


def test_compile_time_says_undecided_rather_than_guess() -> None:
    tree = _tree("environment == 'production' and risk_tier == 'high'")
    assert decide(tree, {**SCOPE, "risk_tier": "high"}) is None     # needs the environment
    assert decide(tree, {**SCOPE, "risk_tier": "low"}) is False     # decided without it
    assert _runtime_applies(tree, risk_tier="high") is True         # run time knows it
    assert decide({"op": "raw", "text": "risk_tier == 'high'"}, SCOPE) is None


def test_runtime_refuses_trees_the_compiler_never_writes() -> None:
    for bad in ({"op": "raw", "text": "true"}, None, "true",
                {"op": "col", "name": "model.risk_tier", "type": "string"}):
        with pytest.raises(GovernanceError):
            approval_plan("m", _facts(bad))


class _Spy:
    """Records the root tree of every evaluation by the one interpreter."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.roots: list[Mapping[str, Any]] = []
        real = interpret._Interpreter.eval

        def spy(self_: Any, node: Mapping[str, Any], depth: int) -> Any:
            if depth == 0:
                self.roots.append(node)
            return real(self_, node, depth)

        monkeypatch.setattr(interpret._Interpreter, "eval", spy)

    def names(self) -> Iterator[str]:
        stack = list(self.roots)
        while stack:
            node = stack.pop()
            if "name" in node:
                yield str(node["name"])
            if node.get("op") == "call":
                yield str(node["fn"])
            stack.extend(v for k, v in node.items() if k in ("left", "right", "arg"))
            stack.extend(node.get("args", ()))


def test_gates_approvals_and_policies_decide_through_the_interpreter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy(monkeypatch)
    check = {"id": "auc", "expr": {"op": "compare", "fn": "ge", "type": "bool",
                                   "left": {"op": "metric", "name": "roc_auc"},
                                   "right": {"op": "lit", "value": 0.8}}}
    assert evaluate_check(check, {"metrics": {"roc_auc": 0.8}}).status == "pass"
    assert check["expr"] in spy.roots
    tree = _tree("risk_tier == 'high'")
    assert _runtime_applies(tree) and decide(tree, {**SCOPE, "risk_tier": "high"})
    assert sum(root is tree for root in spy.roots) == 2
    spy.roots.clear()
    result = lint_paths([EXAMPLE], {}, base=EXAMPLE)
    assert not [d for d in result.diagnostics if d.code == "SPEC505"]
    names = set(spy.names())
    # the policy packs' rules (check_policies) and the approval decision (check_approvals)
    assert {"model.risk_tier", "model.has_check", "model.has_monitoring"} <= names
    assert "risk_tier" in names
