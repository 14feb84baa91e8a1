"""`specops explain NODE`: what a node does and exactly what its fingerprint depends on.

Why: a cache key nobody can read is a cache nobody trusts (dbt's `state:modified`
complaints, DVC #1164). The answer lists the node's own spec values with `file:line`, then,
for every upstream node, the values that reach it through its inputs, and says what is
deliberately not part of the fingerprint.
"""

from __future__ import annotations

import json
from typing import Any

import networkx as nx

from specops.compiler.frontend.project import Project
from specops.compiler.plan import Dep, Plan
from specops.compiler.render.tree_text import tree_text
from specops.contract.op_catalog import OPS
from specops.contract.plan_records import FINGERPRINT_VERSION

__all__ = ["SIGNATURE_RULE", "describe_dep", "explain_node", "serving_signature",
           "summarize_params"]

SIGNATURE_RULE = ("each input is named by its feature (from a view) or its column (from a "
                  "source), exactly as written in `training.features`; two inputs with one "
                  "name are an error (SPEC524), never renamed")

_NOT_IN_FINGERPRINT = ("resources and retry policy", "where specs are written (file names, "
                       "lines, document order)", "descriptions, owners of data specs and tags",
                       "people and their roles (they decide who may approve, not what runs)")


def _location(dep: Dep, project: Project) -> str:
    if dep.spec is None:
        return ""
    source = project.files.get(dep.spec.file)
    file = source.rel if source is not None else dep.spec.file
    line = dep.spec.key_span(*dep.path).line if dep.path else dep.spec.doc.span.line
    return f"{file}:{line}"


def describe_dep(dep: Dep, project: Project) -> str:
    """`the expression of feature log_income in specs/features.yaml:12`."""
    where = _location(dep, project)
    return f"{dep.what} in {where}" if where else dep.what


def _short(value: Any, limit: int = 72) -> str:
    if isinstance(value, dict) and isinstance(value.get("op"), str) and "type" in value:
        text = tree_text(value)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        names = [str(v.get("name") or v.get("id") or v.get("node") or "") for v in value]
        text = f"{len(value)}: " + ", ".join(n for n in names if n)
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize_params(params: dict[str, Any]) -> list[str]:
    return [f"{key}: {_short(params[key])}" for key in sorted(params)]


def serving_signature(node: dict[str, Any], plan: Plan) -> list[str]:
    """The request fields a served model takes, with where each comes from.

    Why shown by explain: the input names are the serving contract clients code against;
    the user should see them, and the rule that made them, before anything is trained."""
    inputs = node["params"].get("inputs")
    if node["op"] not in ("train", "build_training_set") or not isinstance(inputs, list):
        return []
    origin: dict[str, str] = {}
    for other in plan.nodes().values():
        if other["op"] == "build_training_set" and other["spec"] == node["spec"]:
            spine = other["params"].get("spine", {})
            for col in spine.get("columns", []):
                origin.setdefault(col, f"source:{spine.get('source')}")
            for view in other["params"].get("views", []):
                for feature in view.get("features", []):
                    origin[feature] = str(view.get("node"))
    lines = ["", "Serving signature (the request fields, by name):", f"  rule: {SIGNATURE_RULE}"]
    for item in inputs:
        name = str(item.get("name"))
        where = origin.get(name)
        lines.append(f"  {name}: {item.get('type')} ({item.get('role')})"
                     + (f" <- {where}" if where else ""))
    return lines


def explain_node(node_id: str, plan: Plan, graph: nx.DiGraph[str], project: Project) -> str:
    node = plan.nodes()[node_id]
    info = OPS[node["op"]]
    spec = node["spec"]
    where = _location(Dep("", graph.nodes[node_id].get("spec"), ("name",)), project)
    lines = [f"{node_id}", f"  op: {node['op']} ({info.stage}){' [manual]' * info.manual}",
             f"  {info.summary}",
             f"  spec: {spec['kind']} {spec['name']}" + (f" ({where})" if where else "")]
    lines.append("  inputs: " + (", ".join(node["inputs"]) or "none"))
    lines.append("  params:")
    lines += [f"    {line}" for line in summarize_params(node["params"])]
    lines.append(f"  fingerprint: {node['fingerprint']}")
    lines += serving_signature(node, plan)
    lines.append("")
    lines.append("Its fingerprint depends on:")
    lines.append(f"  - the op `{node['op']}` and node format version {FINGERPRINT_VERSION}")
    lines += [f"  - {describe_dep(d, project)}" for d in plan.deps.get(node_id, [])]
    if node["inputs"]:
        lines.append("  - the fingerprints of its inputs: " + ", ".join(node["inputs"]))
    upstream = nx.ancestors(graph, node_id)
    if upstream:
        lines.append("")
        lines.append("and, through those inputs, on:")
        order = [n for n in nx.lexicographical_topological_sort(graph.subgraph(upstream))]
        for up in order:
            lines.append(f"  {up}")
            lines += [f"    - {describe_dep(d, project)}" for d in plan.deps.get(up, [])]
    lines.append("")
    lines.append("Not part of it: " + "; ".join(_NOT_IN_FINGERPRINT) + ".")
    return "\n".join(lines) + "\n"
