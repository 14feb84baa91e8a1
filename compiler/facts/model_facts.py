"""The facts about a model that policies and approval conditions can see.

Why facts and not the raw spec: policies must be stable when the spec language grows,
and some facts are derived across specs (does any gate compare with the champion? is the
validator independent of the owner?). Built-in packs and user policies read exactly this
dictionary, and the plan records it so reviewers can see what a policy decided on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from specops.compiler.facts.eligibility import conflicted_people, principal_members
from specops.compiler.kinds import ModelSpec
from specops.compiler.kinds.common import duration_seconds
from specops.compiler.passes.context import Context

__all__ = ["CHECK_CATEGORIES", "check_categories", "model_facts"]

_PERFORMANCE = {"roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss",
                "brier", "ece", "rmse", "mae", "r2"}
_LATENCY = {"latency_p50_ms", "latency_p99_ms", "model_size_mb", "throughput_rps"}
_PARITY = {"onnx_max_abs_diff", "onnx_label_mismatch"}
_CALIBRATION = {"brier", "ece"}   # also performance metrics

CHECK_CATEGORIES = ("fairness", "performance", "latency", "parity", "champion", "calibration",
                    "slice")


def _walk(tree: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(tree, Mapping):
        yield tree
        for value in tree.values():
            yield from _walk(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from _walk(item)


def check_categories(tree: Any) -> set[str]:
    """What a compiled gate check tests: fairness, performance, latency, parity, ..."""
    out: set[str] = set()
    for node in _walk(tree):
        op = node.get("op")
        if op == "fairness":
            out.add("fairness")
        elif op == "champion":
            out.add("champion")
        elif op == "slice_metric":
            out.update(("slice", "performance"))
            if node.get("metric") in _CALIBRATION:
                out.add("calibration")
        elif op == "metric":
            name = node.get("name")
            if name in _PERFORMANCE:
                out.add("performance")
                if name in _CALIBRATION:
                    out.add("calibration")
            elif name in _LATENCY:
                out.add("latency")
            elif name in _PARITY:
                out.add("parity")
    return out


def _reads_restricted(ctx: Context, key: tuple[str, int]) -> bool:
    """The view, or a view it is derived from (`source: other_view@1`), is restricted."""
    seen: set[tuple[str, int]] = set()
    while key not in seen and key[1] in ctx.index.features.get(key[0], {}):
        seen.add(key)
        if ctx.index.features[key[0]][key[1]].spec.access == "restricted":
            return True
        origin = ctx.view_sources.get(key)
        if origin is None or origin[0] != "view":
            return False
        key = (origin[1], origin[2] or 0)
    return False


def _categories_of(check: Any, memo: dict[int, tuple[Any, set[str]]] | None) -> set[str]:
    """`check_categories` of one compiled check; with `memo`, once per expression tree.

    Why by the tree under `expr`: check_gates compiles a gate check once per environment
    and every model sharing it holds the same tree object, so a 1,000-model project walks
    a few hundred trees instead of 6,600. The wrapper's other values are strings (no
    `op`/`name` keys to find), and the memo keeps the tree alive so its id is stable."""
    expr = check.get("expr") if isinstance(check, Mapping) else None
    if memo is None or not isinstance(expr, Mapping) or "op" in check or "name" in check:
        return check_categories(check)
    hit = memo.get(id(expr))
    if hit is not None and hit[0] is expr:
        return hit[1]
    found = check_categories(check)
    memo[id(expr)] = (expr, found)
    return found


def model_facts(ctx: Context, model: ModelSpec, gate_trees: Mapping[str, list[Any]],
                auto_approved: bool, memo: dict[int, tuple[Any, set[str]]] | None = None
                ) -> dict[str, Any]:
    """Field values and predicate sets of `model`, keyed as policies name them (`memo`:
    categories per shared check tree, kept by the caller across models)."""
    people = ctx.config.people if ctx.config else {}
    categories: set[str] = set()
    blocking_gates = 0
    for trees in gate_trees.values():
        for tree in trees:
            categories |= _categories_of(tree, memo)
        if any(t.get("severity") == "blocking" for t in trees):
            blocking_gates += 1
    validator = model.validator or ""
    validators = principal_members(validator, people) if validator else set()
    independent = bool(validator) and (not people or not validators or
                                       not validators & conflicted_people(model, people))
    cadence = model.review_cadence or (ctx.config.review_cadence if ctx.config else None)
    restricted = deprecated = False
    views: set[str] = set()
    for ref in ctx.inputs.get(model.name, []):
        views.add(ref.text)
        if ref.kind == "view" and ref.version is not None:
            view = ctx.index.features[ref.name][ref.version].spec
            restricted |= _reads_restricted(ctx, (ref.name, ref.version))
            deprecated |= bool(view.deprecated)
            views.update((ref.name, f"{ref.name}@{ref.version}"))
    monitoring = model.monitoring
    fields: dict[str, Any] = {
        "name": model.name,
        "owner": model.owner,
        "risk_tier": model.risk_tier,
        "task": model.task,
        # absent fields are null, as docs/expressions.md promises (`is_null(...)`); an
        # empty string would make `is_null(model.description)` silently never hold
        "description": model.description,
        "intended_use": model.intended_use,
        "limitations": model.limitations,
        "assumptions": model.assumptions,
        "validator": model.validator,
        "approval": model.approval,
        "estimator": model.estimator.class_,
        "review_cadence_days": (duration_seconds(cadence) // 86400) if cadence else 0,
        "has_monitoring": monitoring is not None,
        "has_approval": model.approval is not None,
        "has_serving": model.serving is not None,
        "has_validator": bool(validator),
        "validator_independent": independent,
        "retrains_on_drift": bool(monitoring and {"data_drift", "prediction_drift"}
                                  & set(monitoring.retrain_on)),
        "auto_approved": auto_approved,
        "logs_predictions": bool(model.serving is None or model.serving.log_predictions),
        "uses_restricted": restricted,
        "uses_deprecated": deprecated,
        "n_gates": len(model.gates),
        "n_blocking_gates": blocking_gates,
        "n_protected": len(model.training.protected),
        "n_features": len(model.training.features),
        "n_authors": len(model.authors),
        "n_slices": len(model.slices),
    }
    facts: dict[str, Any] = {f"model.{k}": v for k, v in fields.items()}
    facts["model.has_check"] = sorted(categories)
    facts["model.has_gate"] = sorted(model.gates)
    facts["model.has_tag"] = sorted(model.tags)
    facts["model.uses_feature"] = sorted(views)
    facts["model.has_author"] = sorted(model.authors)
    return facts
