"""Compare two plans: which nodes were added, removed or changed, why, and what that means.

Why diff plans and not specs: the plan already knows what depends on what, so "this edit
retrains 3 models and voids 2 approvals" falls out of fingerprints. A node whose own op,
params or inputs changed is a *direct* change (with the changed params as reasons); one
whose only change is an upstream fingerprint is *indirect* (SQLMesh's directly/indirectly
modified). Impact is then stated in the user's terms: features recomputed, training sets
rebuilt, models retrained, gates re-evaluated, approvals voided, deployments affected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from specops.compiler.render.tree_text import tree_text
from specops.contract.plan_pack import PlanPackError, unpack

__all__ = ["IMPACT_LABELS", "NodeChange", "PlanDiff", "PlanDiffError", "diff_plans"]

MAX_REASONS = 12
IMPACT_LABELS: dict[str, str] = {
    "features_recomputed": "features recomputed",
    "training_sets_rebuilt": "training sets rebuilt",
    "models_retrained": "models retrained",
    "gates_reevaluated": "gates re-evaluated",
    "approvals_voided": "approvals voided",
    "approval_rules_changed": "approval rules changed",
    "deployments_affected": "deployments affected",
    "models_added": "models added",
    "models_removed": "models removed",
}


class PlanDiffError(ValueError):
    """The two plans cannot be compared (one-line user error)."""


@dataclass(slots=True)
class NodeChange:
    id: str
    op: str
    status: str                  # "added", "removed" or "changed"
    direct: bool = True          # False: only an upstream fingerprint changed
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, "status": self.status, "direct": self.direct,
                "reasons": self.reasons}


@dataclass(slots=True)
class PlanDiff:
    changes: list[NodeChange]
    impact: dict[str, list[str]]
    models_changed: dict[str, list[str]]     # governance facts that changed, per model
    project_changed: list[str]
    spec_hash_changed: bool

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.models_changed or self.project_changed)

    def by_status(self, status: str) -> list[NodeChange]:
        return [c for c in self.changes if c.status == status]

    def to_json(self) -> dict[str, Any]:
        return {
            "has_changes": self.has_changes,
            "summary": {s: len(self.by_status(s)) for s in ("added", "removed", "changed")},
            "impact": self.impact,
            "nodes": [c.to_json() for c in self.changes],
            "models_changed": self.models_changed,
            "project_changed": self.project_changed,
            "spec_hash_changed": self.spec_hash_changed,
        }


def _short(value: Any, limit: int = 60) -> str:
    if _is_tree(value):
        text = tree_text(value)
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_tree(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("op"), str) and (
        "type" in value or value.get("op") == "raw")


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """A list of objects with a unique name/id/node key, as a mapping (else None)."""
    for key in ("name", "id", "node"):
        if items and all(isinstance(i, dict) and isinstance(i.get(key), str) for i in items):
            keys = [i[key] for i in items]
            if len(set(keys)) == len(keys):
                return dict(zip(keys, items, strict=True))
    return None


def _walk(old: Any, new: Any, path: str, out: list[str]) -> None:
    if old == new:
        return
    if _is_tree(old) or _is_tree(new):
        out.append(f"{path}: {_short(old)} → {_short(new)}")
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"{sub}: added ({_short(new[key])})")
            elif key not in new:
                out.append(f"{sub}: removed (was {_short(old[key])})")
            else:
                _walk(old[key], new[key], sub, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        ko, kn = _keyed(old), _keyed(new)
        if ko is not None and kn is not None:
            for key in sorted(set(ko) | set(kn)):
                sub = f"{path}[{key}]"
                if key not in ko:
                    out.append(f"{sub}: added")
                elif key not in kn:
                    out.append(f"{sub}: removed")
                else:
                    _walk(ko[key], kn[key], sub, out)
            return
        if all(not isinstance(v, (dict, list)) for v in (*old, *new)):
            gone = [v for v in old if v not in new]
            came = [v for v in new if v not in old]
            parts = ([f"+{_short(v, 30)}" for v in came] + [f"-{_short(v, 30)}" for v in gone])
            out.append(f"{path}: " + (", ".join(parts) if parts else "reordered"))
            return
    out.append(f"{path}: {_short(old)} → {_short(new)}")


def _node_change(old: dict[str, Any], new: dict[str, Any], changed_ids: set[str]
                 ) -> NodeChange:
    reasons: list[str] = []
    if old.get("op") != new.get("op"):
        reasons.append(f"op: {old.get('op')} → {new.get('op')}")
    _walk(old.get("params"), new.get("params"), "params", reasons)
    old_in, new_in = set(old.get("inputs", [])), set(new.get("inputs", []))
    reasons += [f"new input {i}" for i in sorted(new_in - old_in)]
    reasons += [f"input {i} removed" for i in sorted(old_in - new_in)]
    direct = bool(reasons)
    if not direct:
        upstream = sorted(i for i in new_in if i in changed_ids)
        reasons.append("upstream changed: " + (", ".join(upstream) if upstream else
                                               "plan format or an input's fingerprint"))
    if len(reasons) > MAX_REASONS:
        reasons = [*reasons[:MAX_REASONS], f"… and {len(reasons) - MAX_REASONS} more"]
    return NodeChange(str(new["id"]), str(new["op"]), "changed", direct, reasons)


def _model_of(node_id: str) -> str:
    return node_id.split(":")[1]


def _impact(changes: list[NodeChange]) -> dict[str, list[str]]:
    impact: dict[str, set[str]] = {k: set() for k in IMPACT_LABELS}
    for c in changes:
        prefix = c.id.split(":", 1)[0]
        live = c.status != "removed"
        if prefix == "features" and live:
            impact["features_recomputed"].add(c.id.split(":", 1)[1])
        elif prefix == "training_set" and live:
            impact["training_sets_rebuilt"].add(_model_of(c.id))
        elif prefix == "train":
            if c.status == "changed":
                impact["models_retrained"].add(_model_of(c.id))
            elif c.status == "added":
                impact["models_added"].add(_model_of(c.id))
            else:
                impact["models_removed"].add(_model_of(c.id))
        elif prefix == "gate" and live:
            impact["gates_reevaluated"].add(c.id.split(":", 1)[1])
        elif prefix == "register" and c.status != "added":
            impact["approvals_voided"].add(_model_of(c.id))
        elif prefix == "approval" and c.status == "changed" and c.direct:
            impact["approval_rules_changed"].add(_model_of(c.id))
        elif prefix == "deploy":
            _, model, env = c.id.split(":", 2)
            impact["deployments_affected"].add(f"{model} ({env})")
    return {k: sorted(v) for k, v in impact.items()}


def diff_plans(old: dict[str, Any], new: dict[str, Any]) -> PlanDiff:
    """What changed from plan `old` to plan `new` (both decoded plan JSON; a packed plan
    file is read with its shared structures resolved, contract/plan_pack.py)."""
    for side, plan in (("old", old), ("new", new)):
        if not isinstance(plan, dict) or not isinstance(plan.get("nodes"), list):
            raise PlanDiffError(f"the {side} plan is not a specops plan (no `nodes` list)")
        try:
            unpacked = unpack(plan)
        except PlanPackError as exc:
            raise PlanDiffError(f"the {side} plan: {exc}") from None
        if side == "old":
            old = unpacked
        else:
            new = unpacked
    if old.get("format_version") != new.get("format_version"):
        raise PlanDiffError(f"cannot compare plan format_version {old.get('format_version')} "
                            f"with {new.get('format_version')}; recompile both with the same "
                            "specops")
    old_nodes = {n["id"]: n for n in old["nodes"]}
    new_nodes = {n["id"]: n for n in new["nodes"]}
    changed_ids = {i for i in old_nodes.keys() & new_nodes.keys()
                   if old_nodes[i].get("fingerprint") != new_nodes[i].get("fingerprint")}
    changes: list[NodeChange] = []
    for nid in sorted(old_nodes.keys() | new_nodes.keys()):
        if nid not in old_nodes:
            changes.append(NodeChange(nid, new_nodes[nid]["op"], "added"))
        elif nid not in new_nodes:
            changes.append(NodeChange(nid, old_nodes[nid]["op"], "removed"))
        elif nid in changed_ids:
            changes.append(_node_change(old_nodes[nid], new_nodes[nid], changed_ids))
    models_changed: dict[str, list[str]] = {}
    old_models, new_models = old.get("models") or {}, new.get("models") or {}
    for name in sorted(old_models.keys() & new_models.keys()):
        reasons: list[str] = []
        _walk(old_models[name], new_models[name], "", reasons)
        reasons = [r for r in reasons if not r.startswith("nodes")]
        if reasons:
            models_changed[name] = reasons
    project_changed: list[str] = []
    _walk(old.get("project"), new.get("project"), "project", project_changed)
    return PlanDiff(changes, _impact(changes), models_changed,
                    project_changed, old.get("spec_hash") != new.get("spec_hash"))
