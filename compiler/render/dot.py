"""`specops graph --format dot`: a hand-written Graphviz emitter (no pydot dependency).

Why by hand: DOT is a small grammar, and quoting every id as a string (escaping `\\` and
`"`) is all that node ids such as `features:view@2` need.
"""

from __future__ import annotations

from specops.compiler.plan.dag import NodeInfo
from specops.contract.op_catalog import STAGES

__all__ = ["quote", "render_dot"]

_SHAPES = {"data": "cylinder", "validation": "diamond", "gates": "hexagon",
           "governance": "note", "deployment": "component", "monitoring": "ellipse"}


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(nodes: list[NodeInfo], edges: list[tuple[str, str]]) -> str:
    lines = ["digraph specops {", "  rankdir=LR;",
             '  node [shape=box, fontname="Helvetica", fontsize=10];']
    by_stage: dict[str, list[NodeInfo]] = {}
    for n in nodes:
        by_stage.setdefault(n.stage, []).append(n)
    for i, stage in enumerate(s for s in STAGES if s in by_stage):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={quote(stage)}; style=rounded; color=gray70;")
        for n in sorted(by_stage[stage], key=lambda n: n.id):
            shape = _SHAPES.get(stage, "box")
            lines.append(f"    {quote(n.id)} [label={quote(n.id)}, shape={shape}];")
        lines.append("  }")
    lines.extend(f"  {quote(u)} -> {quote(v)};" for u, v in sorted(edges))
    lines.append("}")
    return "\n".join(lines) + "\n"
