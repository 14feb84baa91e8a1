"""The pipeline DAG: one node per op of the plan, built from a linted Context.

Why a separate graph (before params): selection (`specops graph --select`), cycle checks and
rendering need only structure, and the plan builder then fills params node by node in
topological order. This is the only module that imports networkx; everything else sees
`NodeInfo` records and edge pairs.

Node ids are `<prefix>:<name>` (see docs/plan.md). Which nodes exist:
- every source gets `source:` and `validate:`; every feature view version `features:v@n`
  (reading its source, or the view it is derived from);
- every model gets `training_set:`, `train:`, `evaluate:`, `export_onnx:`, `benchmark:`,
  one `gate:model:gate` per resolved gate, `register:`, `approval:` (when it names an
  approval), `deploy:model:staging|production` (when it has `serving`) and `monitor:`
  (when it has `monitoring`).
Consumers of a source list both `source:x` (the data) and `validate:x` (a blocking edge).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from specops.compiler.diagnostics.diagnostic import Diagnostic, Span
from specops.compiler.diagnostics.suggest import closest
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import ApprovalSpec, FeatureSpec, ModelSpec
from specops.compiler.passes.context import Context
from specops.contract.op_catalog import OPS

__all__ = [
    "ENVIRONMENTS",
    "NodeInfo",
    "SelectionError",
    "build_graph",
    "cycle_diagnostic",
    "find_cycle",
    "graph_data",
    "select",
    "topological",
    "view_id",
]

ENVIRONMENTS = ("staging", "production")
_PREFIX_OP = {info.prefix: info.op for info in OPS.values()}


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What renderers and selection need to know about a node, without networkx."""

    id: str
    op: str
    stage: str
    name: str                 # the spec name the node comes from
    model: str | None         # the model pipeline it belongs to, if any


class SelectionError(ValueError):
    """A `--select` expression names nothing in the graph (one-line user error)."""


def view_id(name: str, version: int) -> str:
    return f"features:{name}@{version}"


def _add(g: nx.DiGraph[str], node_id: str, spec: LoadedSpec, model: str | None = None) -> str:
    op = _PREFIX_OP[node_id.split(":", 1)[0]]
    g.add_node(node_id, op=op, stage=OPS[op].stage, name=spec.name, model=model, spec=spec)
    return node_id


def _source_edges(g: nx.DiGraph[str], ctx: Context, source: str, target: str) -> None:
    if source in ctx.index.sources:
        g.add_edge(f"source:{source}", target)
        g.add_edge(f"validate:{source}", target)


def _add_model(g: nx.DiGraph[str], ctx: Context, loaded: LoadedSpec) -> None:
    model: ModelSpec = loaded.spec
    m = model.name
    idx = ctx.index
    ts = _add(g, f"training_set:{m}", loaded, m)
    _source_edges(g, ctx, model.training.spine, ts)
    _source_edges(g, ctx, model.training.label.source, ts)
    for ref in (*ctx.inputs.get(m, ()), *ctx.protected.get(m, ())):
        if ref.kind == "view" and ref.version is not None:
            g.add_edge(view_id(ref.name, ref.version), ts)
        else:
            _source_edges(g, ctx, ref.name, ts)
    train = _add(g, f"train:{m}", loaded, m)
    g.add_edge(ts, train)
    evaluate = _add(g, f"evaluate:{m}", loaded, m)
    g.add_edges_from([(train, evaluate), (ts, evaluate)])
    onnx = _add(g, f"export_onnx:{m}", loaded, m)
    g.add_edge(train, onnx)
    bench = _add(g, f"benchmark:{m}", loaded, m)
    g.add_edges_from([(onnx, bench), (train, bench), (ts, bench)])
    register = _add(g, f"register:{m}", loaded, m)
    g.add_edges_from([(train, register), (onnx, register), (evaluate, register),
                      (bench, register)])
    for gate in dict.fromkeys(model.gates):
        if gate in idx.gates:
            gid = _add(g, f"gate:{m}:{gate}", idx.gates[gate], m)
            g.add_edges_from([(evaluate, gid), (bench, gid), (gid, register)])
    approval_loaded = idx.approvals.get(model.approval) if model.approval else None
    approval_node = None
    needs_approval: tuple[str, ...] = ()
    if approval_loaded is not None:
        approval_node = _add(g, f"approval:{m}", approval_loaded, m)
        g.add_edge(register, approval_node)
        approval: ApprovalSpec = approval_loaded.spec
        needs_approval = tuple(approval.environments)
    deployed = None
    if model.serving is not None:
        for env in ENVIRONMENTS:
            did = _add(g, f"deploy:{m}:{env}", loaded, m)
            upstream = approval_node if approval_node and env in needs_approval else register
            g.add_edge(upstream, did)
            deployed = did
    if model.monitoring is not None:
        mid = _add(g, f"monitor:{m}", loaded, m)
        g.add_edge(deployed or register, mid)


def build_graph(ctx: Context) -> nx.DiGraph[str]:
    """The DAG of every op the specs imply (nodes carry op, stage, name, model, spec)."""
    g: nx.DiGraph[str] = nx.DiGraph()
    idx = ctx.index
    for name in sorted(idx.sources):
        loaded = idx.sources[name]
        _add(g, f"source:{name}", loaded)
        _add(g, f"validate:{name}", loaded)
        g.add_edge(f"source:{name}", f"validate:{name}")
    for name in sorted(idx.features):
        for version in sorted(idx.features[name]):
            loaded = idx.features[name][version]
            view: FeatureSpec = loaded.spec
            fid = _add(g, view_id(name, version), loaded)
            kind, up, up_version = ctx.view_sources.get((name, version),
                                                        ("source", view.source, None))
            if kind == "view" and up_version is not None:
                g.add_edge(view_id(up, up_version), fid)
            else:
                _source_edges(g, ctx, up, fid)
    for name in sorted(idx.models):
        _add_model(g, ctx, idx.models[name])
    return g


def find_cycle(g: nx.DiGraph[str]) -> list[str] | None:
    """A cycle as a closed path [a, b, ..., a], or None when the graph is a DAG.

    Why Kahn's count first: on a 13,000-node plan networkx's search for a cycle cost more
    than building the graph; the count proves a DAG in one pass over the edges, and only a
    graph that has a cycle is searched for its path."""
    indegree = dict(g.in_degree())
    ready = [n for n, d in indegree.items() if d == 0]
    seen = 0
    succ = g.succ
    while ready:
        n = ready.pop()
        seen += 1
        for m in succ[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    if seen == len(indegree):
        return None
    try:
        edges = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return None
    path = [str(edges[0][0])]
    path.extend(str(e[1]) for e in edges)
    return path


def cycle_diagnostic(g: nx.DiGraph[str], cycle: list[str]) -> Diagnostic:
    """SPEC601 at the spec of the cycle's first node, with the whole path in the message."""
    first = g.nodes[cycle[0]].get("spec")
    file = first.file if isinstance(first, LoadedSpec) else "specops.yaml"
    span = first.span("name") if isinstance(first, LoadedSpec) else Span.point(1, 1)
    return Diagnostic("SPEC601", "the pipeline has a cycle: " + " -> ".join(cycle), file, span,
                      help="break the cycle: a node cannot depend on its own output")


def topological(g: nx.DiGraph[str]) -> list[str]:
    """A deterministic topological order (ties broken by node id)."""
    return [str(n) for n in nx.lexicographical_topological_sort(g)]


def graph_data(g: nx.DiGraph[str], nodes: Iterable[str] | None = None
               ) -> tuple[list[NodeInfo], list[tuple[str, str]]]:
    """Plain, sorted nodes and edges (restricted to `nodes` when given) for renderers."""
    keep = set(g.nodes) if nodes is None else set(nodes)
    nodes_data = g.nodes
    infos = []
    for n in sorted(keep):
        d = nodes_data[n]
        infos.append(NodeInfo(n, d["op"], d["stage"], d["name"], d["model"]))
    edges = sorted((str(u), str(v)) for u, v in g.edges if u in keep and v in keep)
    return infos, edges


def _match(g: nx.DiGraph[str], name: str) -> set[str]:
    if name in g:
        return {name}
    hits = {str(n) for n, d in g.nodes(data=True)
            if name in (d["name"], d["model"]) or str(n).split(":", 1)[1] == name}
    if hits:
        return hits
    candidates = {str(n) for n in g} | {str(d["name"]) for _, d in g.nodes(data=True)}
    near = closest(name, candidates)
    raise SelectionError(f"`{name}` matches no node" +
                         (f"; did you mean `{near}`?" if near else ""))


def select(g: nx.DiGraph[str], selectors: str | Iterable[str]) -> set[str]:
    """dbt-style selection: `x`, `+x` (with upstream), `x+` (with downstream), `+x+`.

    `x` is a node id (`train:credit_default`), the part after the prefix
    (`bureau_history@2`) or a spec name (`credit_default`: every node of that model).
    Several selectors (comma- or space-separated) select the union.
    """
    items = selectors.replace(",", " ").split() if isinstance(selectors, str) else \
        list(selectors)
    chosen: set[str] = set()
    for item in items:
        up, down = item.startswith("+"), item.endswith("+")
        name = item.strip("+")
        if not name:
            raise SelectionError(f"`{item}` selects nothing; write name, +name, name+ or +name+")
        hits = _match(g, name)
        chosen |= hits
        for hit in hits:
            if up:
                chosen |= {str(n) for n in nx.ancestors(g, hit)}
            if down:
                chosen |= {str(n) for n in nx.descendants(g, hit)}
    return chosen
