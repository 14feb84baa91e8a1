"""Governance facts in the plan: resolved approval rules, serving and monitoring config,
and the top-level `models` table.

Why resolve approval rules at compile time: "every policy that can be decided statically is
decided at compile time". A rule whose `when` is false for the model is dropped from the
plan; one that is true is marked `applies: true`; only conditions the compiler cannot
decide are left for the runtime (`applies: null`). The people eligible per role go into the
top-level `models` table (not into node params) so that a new colleague joining a team
does not void existing approvals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from specops.compiler.facts.eligibility import eligible_people
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import ApprovalSpec, ModelSpec
from specops.compiler.kinds.common import duration_seconds
from specops.compiler.kinds.model_kind import Monitoring, Serving
from specops.compiler.passes.context import Context

__all__ = ["approval_rules", "decide", "models_table", "monitoring_params", "serving_params"]

_SIMPLE = re.compile(r"""^\s*(?:model\.)?(?P<name>\w+)\s*(?P<op>==|!=)\s*(?P<q>['"])"""
                     r"""(?P<value>[^'"]*)(?P=q)\s*$""")
_COMPARE = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b}


def _model_scope(model: ModelSpec) -> dict[str, Any]:
    return {"name": model.name, "risk_tier": model.risk_tier, "task": model.task,
            "owner": model.owner}


def decide(tree: Mapping[str, Any], scope: Mapping[str, Any]) -> bool | None:
    """Evaluate a condition tree over static model facts; None when it cannot be decided."""
    op = tree.get("op")
    if op == "raw":
        text = str(tree.get("text", "")).strip()
        if text in ("true", "True"):
            return True
        if text in ("false", "False"):
            return False
        m = _SIMPLE.match(text)
        if m and m.group("name") in scope:
            equal = scope[m.group("name")] == m.group("value")
            return equal if m.group("op") == "==" else not equal
        return None
    if op == "lit" and isinstance(tree.get("value"), bool):
        return bool(tree["value"])
    if op == "compare" and tree.get("fn") in _COMPARE:
        left, right = _value(tree.get("left"), scope), _value(tree.get("right"), scope)
        if left is _UNKNOWN or right is _UNKNOWN:
            return None
        return bool(_COMPARE[str(tree["fn"])](left, right))
    if op == "logical":
        values = [decide(a, scope) for a in tree.get("args", [])]
        if tree.get("fn") == "and":
            return False if False in values else (None if None in values else True)
        return True if True in values else (None if None in values else False)
    if op == "unary" and tree.get("fn") == "not":
        inner = decide(tree.get("arg", {}), scope)
        return None if inner is None else not inner
    return None


_UNKNOWN = object()


def _value(tree: Any, scope: Mapping[str, Any]) -> Any:
    if not isinstance(tree, Mapping):
        return _UNKNOWN
    if tree.get("op") == "lit":
        return tree.get("value")
    name = tree.get("name")
    if tree.get("op") in ("col", "fact", "attr") and isinstance(name, str):
        return scope.get(name.removeprefix("model."), _UNKNOWN)
    return _UNKNOWN


Condition = Callable[[LoadedSpec, int], dict[str, Any]]


def approval_rules(loaded: LoadedSpec, model: ModelSpec, ctx: Context,
                   condition: Condition, with_people: bool) -> list[dict[str, Any]]:
    """The rules of `approval` that apply to `model`, in declared order.

    The first rule whose `when` holds applies (lint's check_approvals decides it and
    proves it satisfiable); without that decision, every rule not statically false is
    kept. `condition(loaded, i)` gives rule i's compiled `when`."""
    approval: ApprovalSpec = loaded.spec
    config = ctx.config
    decided = ctx.approval_plans.get(model.name)
    chosen = decided.get("rule") if decided and decided.get("approval") == loaded.name \
        else None
    scope = _model_scope(model)
    people = config.people if config else {}
    out: list[dict[str, Any]] = []
    for i, rule in enumerate(approval.rules):
        if isinstance(chosen, int) and i != chosen:
            continue
        tree = condition(loaded, i)
        applies = True if isinstance(chosen, int) else decide(tree, scope)
        if applies is False:
            continue
        entry: dict[str, Any] = {
            "index": i, "when": tree, "applies": applies,
            "require": dict(sorted(rule.require.items())),
            "separation_of_duties": rule.separation_of_duties,
            "auto_approve": rule.auto_approve,
            "expires_s": duration_seconds(rule.expires) if rule.expires else None,
        }
        if with_people:
            entry["eligible"] = {role: eligible_people(role, model, people,
                                                       rule.separation_of_duties)
                                 for role in sorted(rule.require)}
        out.append(entry)
    return out


def serving_params(serving: Serving | None) -> dict[str, Any] | None:
    if serving is None:
        return None
    batching = serving.batching
    return {"format": serving.format, "replicas": serving.replicas,
            "batching": {"max_batch_size": batching.max_batch_size,
                         "wait_ms": batching.wait_ms} if batching else None,
            "log_predictions": serving.log_predictions}


def monitoring_params(mon: Monitoring | None) -> dict[str, Any]:
    if mon is None:
        return {}
    d = mon.drift
    return {
        "drift": {"method": d.method, "warn": d.warn, "alert": d.alert, "bins": d.bins,
                  "binning": d.binning, "epsilon": d.epsilon, "min_samples": d.min_samples,
                  "drift_share": d.drift_share},
        "window_s": duration_seconds(mon.window),
        "label_delay_s": duration_seconds(mon.label_delay) if mon.label_delay else None,
        "consecutive_windows": mon.consecutive_windows,
        "retrain_on": sorted(mon.retrain_on),
        "cooldown_s": duration_seconds(mon.cooldown),
        "performance": dict(sorted(mon.performance.items())),
        "webhook": mon.webhook,
    }


def models_table(ctx: Context, model_nodes: Mapping[str, list[str]],
                 condition: Condition) -> dict[str, Any]:
    """The top-level `models` object: governance facts per model (not fingerprinted)."""
    out: dict[str, Any] = {}
    config = ctx.config
    for name in sorted(ctx.index.models):
        model: ModelSpec = ctx.index.models[name].spec
        approval_loaded = ctx.index.approvals.get(model.approval) if model.approval else None
        approval: dict[str, Any] | None = None
        if approval_loaded is not None:
            spec: ApprovalSpec = approval_loaded.spec
            approval = {"name": spec.name, "environments": sorted(spec.environments),
                        "rules": approval_rules(approval_loaded, model, ctx, condition,
                                                with_people=True)}
            decided = ctx.approval_plans.get(name)
            if decided is not None:
                approval["satisfiable"] = decided.get("satisfiable")
                approval["excluded"] = decided.get("excluded", [])
        cadence = model.review_cadence or (config.review_cadence if config else None)
        out[name] = {
            "owner": model.owner, "risk_tier": model.risk_tier, "task": model.task,
            "description": model.description, "intended_use": model.intended_use,
            "limitations": model.limitations, "assumptions": model.assumptions,
            "authors": list(model.authors), "validator": model.validator,
            "review_cadence_s": duration_seconds(cadence) if cadence else None,
            "gates": [g for g in dict.fromkeys(model.gates)],
            "protected": list(model.training.protected),
            "approval": approval,
            "serving": serving_params(model.serving),
            "monitoring": monitoring_params(model.monitoring) or None,
            "nodes": sorted(model_nodes.get(name, ())),
            "facts": ctx.model_facts.get(name),
            "policies": sorted(ctx.policy_results.get(f"model:{name}", []),
                               key=lambda r: (str(r.get("policy")), str(r.get("rule")))),
        }
    return out

