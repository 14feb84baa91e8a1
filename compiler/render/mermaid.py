"""`specops graph` default format: a Mermaid flowchart that GitHub renders in a PR.

Why the limits: GitHub's Mermaid refuses diagrams over 50,000 characters (`maxTextSize`)
and 500 edges (`maxEdges`) and shows an error box instead. A large project is therefore
drawn at a coarser level, and a `%%` comment says so and how to see the detail:
1. every node, grouped in one subgraph per stage;
2. one node per model pipeline (sources and feature views stay individual);
3. one node per stage, with counts.
The first level that fits is used. Ids are sanitised (`[A-Za-z0-9_]`) and every label is
quoted, so names with `@`, `:` or quotes cannot break the syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from specops.compiler.plan.dag import NodeInfo
from specops.contract.op_catalog import STAGES

__all__ = ["MAX_CHARS", "MAX_EDGES", "label", "render_mermaid", "sanitize"]

MAX_CHARS = 50_000
MAX_EDGES = 500
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_HEADER = "flowchart LR"


def sanitize(node_id: str) -> str:
    """A Mermaid-safe id (collisions are resolved by the caller)."""
    return "n_" + _UNSAFE.sub("_", node_id)


def label(text: str) -> str:
    """A quoted Mermaid label; quotes and angle brackets become entity codes."""
    safe = (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;"))
    return f'"{safe}"'


def _ids(names: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in sorted(names):
        base = sanitize(name)
        candidate, i = base, 1
        while candidate in used:
            i += 1
            candidate = f"{base}_{i}"
        used.add(candidate)
        out[name] = candidate
    return out


# Node shapes by stage: data is a cylinder, validation a rhombus, gates a hexagon.
_SHAPES = {"data": ("[(", ")]"), "validation": ("{", "}"), "gates": ("{{", "}}")}
_MANUAL_STAGES = ("deployment", "monitoring")


def _draw(groups: dict[str, list[tuple[str, str]]], edges: Iterable[tuple[str, str]],
          comments: list[str], stage_shapes: bool = False) -> tuple[str, int]:
    """groups: subgraph title -> [(node key, label)]; returns (text, edge count)."""
    ids = _ids(key for members in groups.values() for key, _ in members)
    lines = [f"%% {c}" for c in comments] + [_HEADER]
    manual: list[str] = []
    for i, (title, members) in enumerate(groups.items()):
        lines.append(f"  subgraph s{i}[{label(title)}]")
        left, right = _SHAPES.get(title, ("[", "]")) if stage_shapes else ("[", "]")
        lines.extend(f"    {ids[key]}{left}{label(text)}{right}"
                     for key, text in sorted(members))
        lines.append("  end")
        if stage_shapes and title in _MANUAL_STAGES:
            manual.extend(ids[key] for key, _ in sorted(members))
    unique = sorted(set(edges))
    lines.extend(f"  {ids[u]} --> {ids[v]}" for u, v in unique)
    if manual:  # run by people (specops deploy / monitor), not by `specops run`
        lines.append("  classDef manual stroke-dasharray: 5 5")
        lines.append(f"  class {','.join(manual)} manual")
    return "\n".join(lines) + "\n", len(unique)


def _fits(text: str, n_edges: int) -> bool:
    return len(text) <= MAX_CHARS and n_edges <= MAX_EDGES


def _full(nodes: list[NodeInfo], edges: list[tuple[str, str]]) -> tuple[str, int]:
    groups: dict[str, list[tuple[str, str]]] = {}
    stage_of = {n.id: n.stage for n in nodes}
    for stage in STAGES:
        members = [(n.id, n.id) for n in nodes if n.stage == stage]
        if members:
            groups[stage] = members
    comment = f"specops graph: {len(nodes)} nodes, {len(edges)} edges"
    kept = [(u, v) for u, v in edges if u in stage_of and v in stage_of]
    return _draw(groups, kept, [comment], stage_shapes=True)


def _by_model(nodes: list[NodeInfo], edges: list[tuple[str, str]]) -> tuple[str, int]:
    key: dict[str, str] = {}
    groups: dict[str, dict[str, str]] = {"data": {}, "features": {}, "models": {}}
    models: dict[str, int] = {}
    for n in nodes:
        if n.model is not None:
            key[n.id] = f"model:{n.model}"
            models[n.model] = models.get(n.model, 0) + 1
            groups["models"][key[n.id]] = f"model {n.model} ({models[n.model]} steps)"
        elif n.op in ("load_source", "validate_data"):
            key[n.id] = f"source:{n.name}"
            groups["data"][key[n.id]] = f"source:{n.name}"
        else:
            key[n.id] = n.id
            groups["features"][n.id] = n.id
    collapsed = {(key[u], key[v]) for u, v in edges
                 if u in key and v in key and key[u] != key[v]}
    comment = (f"collapsed: {len(nodes)} nodes and {len(edges)} edges exceed Mermaid's "
               f"limits ({MAX_EDGES} edges, {MAX_CHARS:,} characters); each of the "
               f"{len(models)} model pipelines is one node. Use --select MODEL+ for detail.")
    return _draw({t: sorted(m.items()) for t, m in groups.items() if m}, collapsed,
                 [comment])


def _by_stage(nodes: list[NodeInfo], edges: list[tuple[str, str]]) -> tuple[str, int]:
    counts: dict[str, int] = {}
    stage_of = {n.id: n.stage for n in nodes}
    for n in nodes:
        counts[n.stage] = counts.get(n.stage, 0) + 1
    members = [(s, f"{s} ({counts[s]} nodes)") for s in STAGES if s in counts]
    collapsed = {(stage_of[u], stage_of[v]) for u, v in edges
                 if u in stage_of and v in stage_of and stage_of[u] != stage_of[v]}
    comment = (f"collapsed to stages: {len(nodes)} nodes are too many for Mermaid even with "
               f"one node per model; use --select (e.g. --select +my_model+) or "
               f"--format dot for the full graph.")
    return _draw({"pipeline": members}, collapsed, [comment])


def render_mermaid(nodes: list[NodeInfo], edges: list[tuple[str, str]]) -> str:
    """The most detailed diagram that fits GitHub's Mermaid limits."""
    text = ""
    for level in (_full, _by_model, _by_stage):
        text, n_edges = level(nodes, edges)
        if _fits(text, n_edges):
            return text
    return text  # pragma: no cover - the stage view has at most ~10 nodes
