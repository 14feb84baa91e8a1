"""Decide every policy rule for every spec it applies to, at compile time.

Policies come from built-in packs named in specops.yaml (`packs:`) and from user `policy`
specs. A violation is reported at the offending spec, naming the rule id and where the
rule is written; a rule that cannot be evaluated is reported at the rule.
"""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..diagnostics import Severity
from ..expr import EvaluationError, check_spec_expression, evaluate, policy_env
from ..kinds import FeatureSpec, PolicySpec, SourceSpec
from ..model_facts import model_facts
from ..packs import available_packs, load_pack
from ..suggest import did_you_mean
from ..validate import LoadedSpec

__all__ = ["check_policies"]


def _policies(ctx: Context) -> list[LoadedSpec]:
    found: list[LoadedSpec] = []
    config = ctx.config
    if config is not None and ctx.project.config_file is not None:
        cfg_doc = ctx.project.config_file.documents[0]
        for i, name in enumerate(config.packs):
            specs, diags = load_pack(name)
            ctx.diagnostics.extend(diags)
            if not specs:
                from ..diagnostics import Diagnostic

                ctx.diagnostics.append(Diagnostic(
                    "SPEC309", f"unknown policy pack `{name}`", cfg_doc.file,
                    cfg_doc.value_span(("packs", i)),
                    help=did_you_mean(name, available_packs()) or
                    f"built-in packs: {', '.join(available_packs())}"))
            found.extend(specs)
    found.extend(ctx.index.policies.values())
    return found


def _feature_facts(view: FeatureSpec) -> dict[str, Any]:
    fields = {"name": view.name, "version": view.version, "owner": view.owner or "",
              "access": view.access, "description": view.description or "",
              "pii": view.pii, "deprecated": bool(view.deprecated),
              "has_ttl": view.ttl is not None, "has_owner": view.owner is not None,
              "n_features": len(view.features), "n_grants": len(view.grants)}
    facts: dict[str, Any] = {f"feature.{k}": v for k, v in fields.items()}
    facts.update({"feature.has_grant": sorted(view.grants), "feature.has_tag": sorted(view.tags),
                  "feature.has_feature": sorted(view.features)})
    return facts


def _source_facts(src: SourceSpec) -> dict[str, Any]:
    cols = src.columns
    fields = {"name": src.name, "owner": src.owner or "", "description": src.description or "",
              "format": src.format or src.path.rsplit(".", 1)[-1], "has_checks":
              src.checks is not None, "has_owner": src.owner is not None,
              "has_pii": any(c.pii for c in cols.values()),
              "has_timestamp": src.timestamp is not None, "n_columns": len(cols),
              "n_protected": sum(c.protected for c in cols.values()),
              "n_pii": sum(c.pii for c in cols.values())}
    facts: dict[str, Any] = {f"source.{k}": v for k, v in fields.items()}
    facts.update({"source.has_column": sorted(cols), "source.has_tag": sorted(src.tags)})
    return facts


def _subjects(ctx: Context, applies_to: str) -> list[tuple[LoadedSpec, dict[str, Any]]]:
    if applies_to == "model":
        return [(loaded, ctx.model_facts[m.name]) for loaded, m in ctx.models()
                if m.name in ctx.model_facts]
    if applies_to == "feature":
        return [(loaded, _feature_facts(loaded.spec)) for versions in
                ctx.index.features.values() for loaded in versions.values()]
    return [(loaded, _source_facts(loaded.spec)) for loaded in ctx.index.sources.values()]


def _decide(ctx: Context, policy: LoadedSpec) -> None:
    spec: PolicySpec = policy.spec
    for i, rule in enumerate(spec.rules):
        env = policy_env(rule.applies_to)
        when = check_spec_expression(ctx, policy, rule.when, env, "rules", i, "when")
        require = check_spec_expression(ctx, policy, rule.require, env, "rules", i, "require")
        if when is None or require is None:
            continue
        where = f"{policy.file}:{policy.span('rules', i, 'id').line}"
        for subject, facts in _subjects(ctx, rule.applies_to):
            try:
                applies = evaluate(when, facts) is True
                holds = (evaluate(require, facts) is True) if applies else True
            except EvaluationError as exc:
                ctx.error("SPEC506", f"policy rule `{rule.id}` cannot be evaluated: {exc}",
                          policy, "rules", i, "require")
                break
            ctx.policy_results.setdefault(f"{subject.kind}:{subject.name}", []).append(
                {"policy": spec.name, "rule": rule.id, "applies": applies, "holds": holds})
            if not holds:
                severity = Severity.WARNING if rule.severity == "warning" else Severity.ERROR
                ctx.error("SPEC505", f"[{rule.id}] {rule.message}", subject, "name",
                          severity=severity,
                          help=f"policy `{spec.name}` rule `{rule.id}` ({where}) requires "
                               f"`{rule.require}`" + (f" when `{rule.when}`"
                                                       if rule.when != "true" else ""))


def check_policies(ctx: Context) -> None:
    for _loaded, model in ctx.models():
        trees = {g: ctx.gate_trees.get((model.name, g), []) for g in model.gates}
        plan = ctx.approval_plans.get(model.name, {})
        ctx.model_facts[model.name] = model_facts(ctx, model, trees,
                                                  bool(plan.get("auto_approve")))
    for policy in _policies(ctx):
        _decide(ctx, policy)
