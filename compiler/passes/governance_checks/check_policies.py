"""Decide every policy rule for every spec it applies to, at compile time.

Policies come from built-in packs named in specops.yaml (`packs:`) and from user `policy`
specs. A violation is reported at the offending spec, naming the rule id and where the
rule is written; a rule that cannot be evaluated is reported at the rule.

Where a violation is located: at the field of the subject that the rule reads (a rule on
`model.limitations` points at `limitations:`, one on `model.n_gates` at `gates:`), since
that is what must change; only when the field is absent is it the subject's `name:`. The
rule's `require:` is the related location. A user policy named like a built-in pack is an
error (SPEC522): it would silently merge into the pack's results.
"""

from __future__ import annotations

from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, Span
from specops.compiler.diagnostics.suggest import did_you_mean
from specops.compiler.expr import EvaluationError, check_spec_expression, policy_env
from specops.compiler.facts.model_facts import model_facts
from specops.compiler.frontend.packs import available_packs, load_pack
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import FeatureSpec, PolicySpec, SourceSpec
from specops.compiler.passes.context import Context
from specops.contract.interpret import evaluate

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
                ctx.diagnostics.append(Diagnostic(
                    "SPEC309", f"unknown policy pack `{name}`", cfg_doc.file,
                    cfg_doc.value_span(("packs", i)),
                    help=did_you_mean(name, available_packs()) or
                    f"built-in packs: {', '.join(available_packs())}"))
            found.extend(specs)
    packs = set(available_packs())
    for loaded in ctx.index.policies.values():
        if loaded.name in packs:
            ctx.error("SPEC522", f"policy `{loaded.name}` has the name of a built-in pack",
                      loaded, "name",
                      help="rename the policy; to adopt the pack, list it under `packs:` in "
                           "specops.yaml")
            continue   # its results would be filed under the pack's name
        found.append(loaded)
    return found


# Facts whose name is not the field they are computed from (compiler/facts/model_facts.py).
_FACT_FIELDS: dict[str, tuple[str, ...]] = {
    "review_cadence_days": ("review_cadence",), "validator_independent": ("validator",),
    "retrains_on_drift": ("monitoring", "retrain_on"), "auto_approved": ("approval",),
    "logs_predictions": ("serving", "log_predictions"), "uses_restricted":
    ("training", "features"), "uses_deprecated": ("training", "features"), "uses_feature":
    ("training", "features"), "n_features": ("training", "features"), "n_protected":
    ("training", "protected"), "n_blocking_gates": ("gates",), "has_check": ("gates",),
    "has_gate": ("gates",), "has_author": ("authors",), "has_tag": ("tags",),
}


def _field_span(subject: LoadedSpec, names: set[str], facts: dict[str, Any]) -> Span:
    """The subject's field that a policy rule reads: `model.has_validator` -> `validator:`,
    `model.n_gates` -> `gates:`, `model.logs_predictions` -> `serving.log_predictions`
    (or `serving:` when that key is absent).

    Facts that are false, null or empty are the likely culprits and are tried first; when
    such a fact's field is absent from the spec, the field to add has no line yet, so the
    subject's `name:` is the place."""
    prefix = subject.kind + "."
    values = subject.doc.values
    read = sorted(f for f in names if f.startswith(prefix))
    falsy = [f for f in read if f in facts and not facts[f] and facts[f] is not True]
    for fact in falsy + [f for f in read if f not in falsy]:
        stem = fact[len(prefix):]
        bare = stem.removeprefix("has_").removeprefix("n_")
        paths = [_FACT_FIELDS[stem]] if stem in _FACT_FIELDS else []
        paths += [(stem,), (bare,), (bare + "s",)]
        for path in paths:
            for end in range(len(path), 0, -1):
                if path[0] != "name" and path[:end] in values:
                    return subject.span(*path[:end])
        if fact in falsy:
            break   # the missing field is the culprit: there is nothing to point at
    return subject.span("name")


def _feature_facts(view: FeatureSpec) -> dict[str, Any]:
    fields = {"name": view.name, "version": view.version, "owner": view.owner,
              "access": view.access, "description": view.description,
              "pii": view.pii, "deprecated": bool(view.deprecated),
              "has_ttl": view.ttl is not None, "has_owner": view.owner is not None,
              "n_features": len(view.features), "n_grants": len(view.grants)}
    facts: dict[str, Any] = {f"feature.{k}": v for k, v in fields.items()}
    facts.update({"feature.has_grant": sorted(view.grants), "feature.has_tag": sorted(view.tags),
                  "feature.has_feature": sorted(view.features)})
    return facts


def _source_facts(src: SourceSpec) -> dict[str, Any]:
    cols = src.columns
    fields = {"name": src.name, "owner": src.owner, "description": src.description,
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


# Facts derived from compiled gate checks: undecided while a check of the model fails to
# compile or a gate is unknown (already reported; a violation would only pile on).
_GATE_FACTS = {"model.has_check", "model.n_blocking_gates"}


def _reads(tree: Any) -> set[str]:
    out: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("op") == "col":
                out.add(str(node.get("name")))
            elif node.get("op") == "call":
                out.add(str(node.get("fn")))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _gates_incomplete(ctx: Context) -> set[str]:
    """Models whose gate facts are not fully known (an unknown gate, a broken check)."""
    out: set[str] = set()
    for _loaded, model in ctx.models():
        for g in model.gates:
            gate = ctx.index.gates.get(g)
            if gate is None or len(ctx.gate_trees.get((model.name, g), [])) != \
                    len(gate.spec.checks):
                out.add(model.name)
    return out


def _subject_key(subject: LoadedSpec) -> str:
    if subject.kind == "feature":
        return f"feature:{subject.name}@{subject.spec.version}"
    return f"{subject.kind}:{subject.name}"


def _decide(ctx: Context, policy: LoadedSpec, incomplete: set[str]) -> None:
    spec: PolicySpec = policy.spec
    for i, rule in enumerate(spec.rules):
        env = policy_env(rule.applies_to)
        when, require = (None if policy.reported("rules", i, part) else
                         check_spec_expression(ctx, policy, text, env, "rules", i, part)
                         for part, text in (("when", rule.when), ("require", rule.require)))
        if when is None or require is None:
            continue
        on_gates = bool(_GATE_FACTS & (_reads(when) | _reads(require)))
        where = f"{policy.file}:{policy.span('rules', i, 'id').line}"
        for subject, facts in _subjects(ctx, rule.applies_to):
            part = "when"
            try:
                applies = evaluate(when, facts) is True
                part = "require"
                holds = (evaluate(require, facts) is True) if applies else True
            except EvaluationError as exc:
                ctx.error("SPEC506", f"policy rule `{rule.id}` cannot be evaluated for "
                          f"{subject.kind} `{subject.name}`: {exc}", policy, "rules", i, part)
                break
            ctx.policy_results.setdefault(_subject_key(subject), []).append(
                {"policy": spec.name, "rule": rule.id, "applies": applies, "holds": holds})
            if on_gates and subject.kind == "model" and subject.name in incomplete:
                continue
            if not holds:
                severity = Severity.WARNING if rule.severity == "warning" else Severity.ERROR
                ctx.error("SPEC505", f"[{rule.id}] {rule.message}", subject,
                          span=_field_span(subject, _reads(require), facts), severity=severity,
                          related=[ctx.related(f"policy `{spec.name}` rule `{rule.id}` "
                                               "requires this", policy, "rules", i,
                                               "require")],
                          help=f"policy `{spec.name}` rule `{rule.id}` ({where}) requires "
                               f"`{rule.require}`" + (f" when `{rule.when}`"
                                                       if rule.when != "true" else ""))


def check_policies(ctx: Context) -> None:
    memo: dict[int, tuple[Any, set[str]]] = {}   # check categories per shared check tree
    for _loaded, model in ctx.models():
        trees = {g: ctx.gate_trees.get((model.name, g), []) for g in model.gates}
        plan = ctx.approval_plans.get(model.name, {})
        ctx.model_facts[model.name] = model_facts(ctx, model, trees,
                                                  bool(plan.get("auto_approve")), memo)
    incomplete = _gates_incomplete(ctx)
    for policy in _policies(ctx):
        _decide(ctx, policy, incomplete)
