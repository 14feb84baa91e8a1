"""`specops graph --format json`: nodes and edges as canonical JSON for other tools."""

from __future__ import annotations

from specops.compiler.plan.dag import NodeInfo
from specops.contract.canonical import canonical_json

__all__ = ["render_json_graph"]


def render_json_graph(nodes: list[NodeInfo], edges: list[tuple[str, str]]) -> str:
    return canonical_json({
        "nodes": [{"id": n.id, "op": n.op, "stage": n.stage, "name": n.name,
                   "model": n.model} for n in sorted(nodes, key=lambda n: n.id)],
        "edges": [{"from": u, "to": v} for u, v in sorted(edges)],
    })
