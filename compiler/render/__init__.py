"""Graph renderers: Mermaid (for pull requests), Graphviz DOT and JSON.

Renderers take plain `NodeInfo` records and edge pairs, never a networkx graph, so they can
be tested with hand-written inputs and stay free of graph-library details.
"""

from __future__ import annotations

from specops.compiler.plan.dag import NodeInfo
from specops.compiler.render.dot import render_dot
from specops.compiler.render.json_graph import render_json_graph
from specops.compiler.render.mermaid import MAX_CHARS, MAX_EDGES, render_mermaid

__all__ = ["GRAPH_FORMATS", "MAX_CHARS", "MAX_EDGES", "render_dot", "render_graph",
           "render_json_graph", "render_mermaid"]

GRAPH_FORMATS = ("mermaid", "dot", "json")


def render_graph(fmt: str, nodes: list[NodeInfo], edges: list[tuple[str, str]]) -> str:
    if fmt == "mermaid":
        return render_mermaid(nodes, edges)
    if fmt == "dot":
        return render_dot(nodes, edges)
    if fmt == "json":
        return render_json_graph(nodes, edges)
    raise ValueError(f"unknown graph format {fmt!r}")
