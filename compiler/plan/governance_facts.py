"""Governance facts in the plan: resolved approval rules, serving and monitoring config,
and the top-level `models` table.

Why resolve approval rules at compile time: "every policy that can be decided statically is
decided at compile time". A rule whose `when` is false (or null: SQL logic, a null
condition does not hold) for the model is dropped from the plan; one that is true is marked
`applies: true`; only conditions that need a value the compiler does not know (the
`environment`) are left for the runtime (`applies: null`). Both decisions go through the one
interpreter, `specops.contract.interpret`, which the runtime's approvals use too, so a
condition cannot mean one thing here and another at run time. The people eligible per role
go into the top-level `models` table (not into node params) so that a new colleague joining
a team does not void existing approvals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from specops.compiler.facts.eligibility import eligible_people
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import ApprovalSpec, ModelSpec
from specops.compiler.kinds.common import duration_seconds
from specops.compiler.kinds.model_kind import Monitoring, Serving
from specops.compiler.passes.context import Context
from specops.contract.interpret import EvaluationError, NotYetKnown, evaluate

__all__ = ["approval_rules", "decide", "models_table", "monitoring_params", "serving_params"]


def _model_scope(model: ModelSpec) -> dict[str, Any]:
    return {"name": model.name, "risk_tier": model.risk_tier, "task": model.task,
            "owner": model.owner}


class _StaticFacts(Mapping[str, Any]):
    """The model's static facts; any other name is known only at run time."""

    def __init__(self, scope: Mapping[str, Any]) -> None:
        self.scope = scope

    def __getitem__(self, key: str) -> Any:
        if key in self.scope:
            return self.scope[key]
        raise NotYetKnown(f"`{key}` is known only at run time")

    def __iter__(self) -> Iterator[str]:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)


def decide(tree: Mapping[str, Any], scope: Mapping[str, Any]) -> bool | None:
    """Whether a rule condition holds for the model, by the one interpreter.

    True: it holds; False: it is false or null (a null condition does not hold, exactly as
    the runtime decides it); None: it cannot be decided at compile time, because it needs a
    run-time value or the tree did not check (then `compile` refuses the plan anyway)."""
    try:
        result = evaluate(tree, _StaticFacts(scope))
    except EvaluationError:   # NotYetKnown included: say "undecided", never guess
        return None
    return result is True


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
        _add_rollout(out[name], model)
    return out


def _add_rollout(facts: dict[str, Any], model: ModelSpec) -> None:
    """`rollout:` rules and `monitoring.on_breach`, only where the spec sets them (plans of
    specs without them are unchanged): runtime/monitor/rollout_compare.py reads them."""
    mon = model.monitoring
    if mon is not None and mon.on_breach and facts.get("monitoring") is not None:
        facts["monitoring"]["on_breach"] = mon.on_breach
    r = model.rollout
    if r is None:
        return
    facts["rollout"] = {
        "promote_when": [c.model_dump(exclude_none=True) for c in r.promote_when],
        "rollback_when": [c.model_dump(exclude_none=True) for c in r.rollback_when],
        "min_requests": r.min_requests,
        "min_duration_s": duration_seconds(r.min_duration),
        "window_s": duration_seconds(r.window)}

