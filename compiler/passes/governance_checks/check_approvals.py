"""Decide which approval rule applies to each model and prove it can be satisfied.

Under separation of duties the model's owner and authors cannot approve, and every
required approval needs a distinct person. A rule nobody can satisfy would block the
model forever at run time; here it fails the pull request instead (SPEC503).

Where: the field that must change is the rule's `require:` entry (or the people in
specops.yaml), not the model that happens to use the rule, so SPEC503 and SPEC521 are
located there; the model, the people who cause it and `permissions.approve` are related
locations. Every rule is checked on its own too, so a rule no model uses yet cannot wait
until the first model adopts it (a quorum larger than the role's holders, a role without
the `approve` permission).
"""

from __future__ import annotations

from typing import Any

from specops.compiler.diagnostics.diagnostic import Related
from specops.compiler.expr import EvaluationError, approval_env, check_spec_expression
from specops.compiler.facts.eligibility import (
    competing_roles,
    conflicted_people,
    eligible_people,
    fill_roles,
)
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import ApprovalSpec, ModelSpec
from specops.compiler.kinds.common import duration_seconds
from specops.compiler.passes.context import Context
from specops.contract.interpret import evaluate

__all__ = ["check_approvals"]

# runtime/governance/permissions.py DEFAULT_PERMISSIONS["approve"]: compiler code does not
# import the runtime, and tests/compiler/passes/test_approval_permissions.py pins the two equal.
DEFAULT_APPROVE = ("model_risk_officer", "validator", "business_owner")


def _rule_trees(ctx: Context, loaded: LoadedSpec) -> list[dict[str, Any] | None]:
    if loaded.name not in ctx.approval_trees:
        spec: ApprovalSpec = loaded.spec
        env = approval_env()
        ctx.approval_trees[loaded.name] = [
            None if loaded.reported("rules", i, "when") else   # a failed template
            check_spec_expression(ctx, loaded, r.when, env, "rules", i, "when")
            for i, r in enumerate(spec.rules)]
    return ctx.approval_trees[loaded.name]


def _applicable(ctx: Context, loaded: LoadedSpec, model: ModelSpec) -> int | None:
    values = {"risk_tier": model.risk_tier, "task": model.task, "owner": model.owner,
              "name": model.name, "environment": "production"}
    for i, tree in enumerate(_rule_trees(ctx, loaded)):
        if tree is None:
            return -1   # a broken condition: already reported
        try:
            if evaluate(tree, values) is True:
                return i
        except EvaluationError:
            return -1
    return None


def _person(ctx: Context, name: str, why: str) -> list[Related]:
    cfg = ctx.project.config_file
    if cfg is None or not cfg.documents:
        return []
    doc = cfg.documents[0]
    return [Related(doc.file, doc.key_span(("people", name)), why)]


def _check_rules(ctx: Context) -> set[tuple[str, int, str]]:
    """Every rule of every approval, whether a model uses it or not. Returns the (approval,
    rule, role) entries already reported, so the per-model check does not repeat them."""
    config = ctx.config
    done: set[tuple[str, int, str]] = set()
    if config is None:
        return done
    people = config.people
    allowed = config.permissions.get("approve", list(DEFAULT_APPROVE))
    cfg = ctx.project.config_file
    perm: list[Related] = []
    if cfg is not None and cfg.documents and "approve" in config.permissions:
        doc = cfg.documents[0]
        perm = [Related(doc.file, doc.value_span(("permissions", "approve")),
                        "`permissions.approve` lists the roles that may approve")]
    for aloaded, approval in ctx.approvals():
        for i, rule in enumerate(approval.rules):
            for role, need in rule.require.items():
                holders = sorted(n for n, p in people.items() if role in p.roles)
                if not holders:
                    continue   # SPEC307 already says nobody holds this role
                if role not in allowed:
                    done.add((approval.name, i, role))
                    ctx.error("SPEC521", f"approval `{approval.name}` rule {i + 1} requires "
                              f"role `{role}`, which may not approve", aloaded, "rules", i,
                              "require", role, key=True, related=perm,
                              help=f"add `{role}` to `permissions.approve` in specops.yaml, "
                                   "or require a role that may approve")
                elif len(holders) < need:
                    done.add((approval.name, i, role))
                    rel = [r for h in holders
                           for r in _person(ctx, h, f"`{h}` holds role `{role}`")]
                    ctx.error("SPEC503", f"approval `{approval.name}` rule {i + 1} needs {need} "
                              f"distinct `{role}` approvers, and only {len(holders)} "
                              f"{'person holds' if len(holders) == 1 else 'people hold'} "
                              "the role", aloaded, "rules", i, "require", role, related=rel,
                              help=f"add people with role `{role}` in specops.yaml or lower "
                                   "the requirement")
    return done


def _check_model(ctx: Context, mloaded: LoadedSpec, model: ModelSpec,
                 done: set[tuple[str, int, str]]) -> None:
    if model.approval is None or model.approval not in ctx.index.approvals:
        return
    aloaded = ctx.index.approvals[model.approval]
    approval: ApprovalSpec = aloaded.spec
    index = _applicable(ctx, aloaded, model)
    if index == -1:
        return
    if index is None:
        ctx.error("SPEC503", f"no rule of approval `{approval.name}` applies to model "
                  f"`{model.name}` (risk_tier {model.risk_tier}), so it can never be "
                  "approved", mloaded, "approval",
                  help="add a rule whose `when` covers this model, e.g. `when: \"true\"`")
        return
    rule = approval.rules[index]
    people = ctx.config.people if ctx.config else {}
    candidates = {role: eligible_people(role, model, people, rule.separation_of_duties)
                  for role in rule.require}
    assignment, missing = fill_roles(rule.require, candidates)
    excluded = sorted(conflicted_people(model, people)) if rule.separation_of_duties else []
    held = {r for person in people.values() for r in person.roles}
    for role, short in sorted(missing.items()):
        if role not in held or (approval.name, index, role) in done:
            continue   # SPEC307 says nobody holds this role; _check_rules said the rest
        need = rule.require[role]
        have = len(candidates[role])
        if have < need:
            reason = f"{have} eligible"
        else:
            roles, holders = competing_roles(role, candidates, assignment)
            slots = sum(rule.require[r] for r in roles)
            reason = (f"roles {', '.join(sorted(roles))} need {slots} distinct people, and "
                      f"only {', '.join(sorted(holders))} "
                      f"{'holds' if len(holders) == 1 else 'hold'} any of them")
        ctx.error("SPEC503", f"approval `{approval.name}` rule {index + 1} needs {need} "
                  f"`{role}` approver{'s' * (need != 1)} for model `{model.name}`, and "
                  f"only {need - short} can be found ({reason})", aloaded, "rules", index,
                  "require", role,
                  related=[ctx.related(f"model `{model.name}` uses this approval", mloaded,
                                       "approval"),
                           *(r for p in excluded if p in people and role in people[p].roles
                             for r in _person(ctx, p, f"`{p}` is excluded: owner or author "
                                                      f"of `{model.name}`"))],
                  help=(f"excluded under separation of duties: {', '.join(excluded)}; "
                        if excluded else "") + f"add people with role `{role}` in "
                                              "specops.yaml or lower the requirement")
    ctx.approval_plans[model.name] = {
        "approval": approval.name,
        "rule": index,
        "require": dict(sorted(rule.require.items())),
        "separation_of_duties": rule.separation_of_duties,
        "auto_approve": rule.auto_approve,
        "expires_s": duration_seconds(rule.expires) if rule.expires else None,
        "eligible": {role: people_ for role, people_ in sorted(candidates.items())},
        "excluded": excluded,
        "environments": list(approval.environments),
        "satisfiable": not missing,
        "example_assignment": {r: p for r, p in sorted(assignment.items())},
    }


def check_approvals(ctx: Context) -> None:
    for loaded in ctx.index.approvals.values():
        _rule_trees(ctx, loaded)
    done = _check_rules(ctx)
    for loaded, model in ctx.models():
        _check_model(ctx, loaded, model, done)
