"""The pipeline DAG: nodes and edges, selection, cycle paths and the renderers' limits."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import networkx as nx
import pytest
from compile_helpers import EXAMPLE, compiled

from specops.compiler.plan.dag import (
    NodeInfo,
    SelectionError,
    cycle_diagnostic,
    find_cycle,
    graph_data,
    select,
)
from specops.compiler.render import MAX_CHARS, MAX_EDGES, render_dot, render_mermaid
from specops.compiler.render.mermaid import label, sanitize


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph[str]:
    g = compiled(EXAMPLE).graph
    assert g is not None
    return g


def test_every_stage_of_the_pipeline_is_a_node(graph: nx.DiGraph[str]) -> None:
    ops = {d["op"] for _, d in graph.nodes(data=True)}
    assert ops == {"load_source", "validate_data", "compute_features", "build_training_set",
                   "train", "evaluate", "export_onnx", "benchmark", "gate", "register",
                   "request_approval", "deploy", "monitor"}
    assert graph.has_edge("validate:applications", "training_set:credit_default")
    assert graph.has_edge("features:bureau_history@2", "training_set:credit_default")
    assert not graph.has_edge("features:bureau_history@1", "training_set:credit_default")
    assert graph.has_edge("gate:credit_default:fair_lending", "register:credit_default")
    assert nx.is_directed_acyclic_graph(graph)


def test_select_node_upstream_and_downstream(graph: nx.DiGraph[str]) -> None:
    assert select(graph, "train:credit_default") == {"train:credit_default"}
    up = select(graph, "+train:credit_default")
    assert {"source:bureau_reports", "features:bureau_history@2",
            "training_set:credit_default"} <= up
    assert "evaluate:credit_default" not in up and "features:bureau_history@1" not in up
    down = select(graph, "features:bureau_history@2+")
    assert {"train:credit_default", "deploy:credit_default:production"} <= down
    assert "source:bureau_reports" not in down
    both = select(graph, "+train:credit_default+")
    assert up | down - {"features:bureau_history@2"} <= both | {"features:bureau_history@2"}
    assert "monitor:credit_default" in both


def test_select_by_spec_name_and_several(graph: nx.DiGraph[str]) -> None:
    model = select(graph, "credit_default")
    assert "train:credit_default" in model and "gate:credit_default:quality" in model
    assert "source:applications" not in model
    assert select(graph, "bureau_history") == {"features:bureau_history@1",
                                               "features:bureau_history@2"}
    assert select(graph, "bureau_history@2") == {"features:bureau_history@2"}
    assert select(graph, "applications,outcomes") == {
        "source:applications", "validate:applications", "source:outcomes",
        "validate:outcomes"}


def test_unknown_selection_suggests_a_name(graph: nx.DiGraph[str]) -> None:
    with pytest.raises(SelectionError, match="did you mean `credit_default`"):
        select(graph, "credit_defualt+")
    with pytest.raises(SelectionError):
        select(graph, "+")


def test_cycle_is_reported_with_its_full_path() -> None:
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_edges_from([("features:a@1", "features:b@1"), ("features:b@1", "features:c@1"),
                      ("features:c@1", "features:a@1"), ("source:s", "features:a@1")])
    cycle = find_cycle(g)
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) == 4
    assert set(cycle) == {"features:a@1", "features:b@1", "features:c@1"}
    diag = cycle_diagnostic(g, cycle)
    assert diag.code == "SPEC601"
    assert " -> ".join(cycle) in diag.message
    assert find_cycle(nx.DiGraph([("a", "b")])) is None


def _edges(text: str) -> int:
    return sum(1 for line in text.splitlines() if "-->" in line)


def test_mermaid_small_graph_is_complete_and_safe(graph: nx.DiGraph[str]) -> None:
    nodes, edges = graph_data(graph)
    text = render_mermaid(nodes, edges)
    assert "flowchart LR" in text.splitlines()[:2]
    assert _edges(text) == len(edges)
    assert 'n_features_bureau_history_2["features:bureau_history@2"]' in text
    assert "subgraph" in text
    for line in text.splitlines():
        if "-->" in line:
            assert re.fullmatch(r"  n_\w+ --> n_\w+", line), line
    assert sanitize('a"b c@1') == "n_a_b_c_1"
    assert label('say "hi" <b>') == '"say #quot;hi#quot; #lt;b#gt;"'


def _synthetic(models: int) -> tuple[list[NodeInfo], list[tuple[str, str]]]:
    nodes = [NodeInfo("source:s", "load_source", "data", "s", None),
             NodeInfo("validate:s", "validate_data", "validation", "s", None)]
    edges = [("source:s", "validate:s")]
    steps = ("training_set", "train", "evaluate", "export_onnx", "benchmark", "register")
    ops = ("build_training_set", "train", "evaluate", "export_onnx", "benchmark", "register")
    for m in range(models):
        view = f"features:v{m}@1"
        nodes.append(NodeInfo(view, "compute_features", "features", f"v{m}", None))
        edges += [("source:s", view), ("validate:s", view)]
        prev = view
        for step, op in zip(steps, ops, strict=True):
            nid = f"{step}:m{m}"
            nodes.append(NodeInfo(nid, op, "training", f"m{m}", f"m{m}"))
            edges.append((prev, nid))
            prev = nid
    return nodes, edges


def test_mermaid_collapses_large_graphs_per_model() -> None:
    nodes, edges = _synthetic(120)
    assert len(edges) > MAX_EDGES
    text = render_mermaid(nodes, edges)
    assert text.startswith("%% collapsed:")
    assert len(text) <= MAX_CHARS and _edges(text) <= MAX_EDGES
    assert '"model m7 (6 steps)"' in text


def test_mermaid_collapses_huge_graphs_to_stages() -> None:
    nodes, edges = _synthetic(1500)
    text = render_mermaid(nodes, edges)
    assert text.startswith("%% collapsed to stages")
    assert len(text) <= MAX_CHARS and _edges(text) <= MAX_EDGES


def test_dot_quotes_ids() -> None:
    nodes = [NodeInfo('features:a"b@1', "compute_features", "features", "a", None),
             NodeInfo("source:s", "load_source", "data", "s", None)]
    text = render_dot(nodes, [("source:s", 'features:a"b@1')])
    assert text.startswith("digraph specops {")
    assert '"source:s" -> "features:a\\"b@1";' in text
    assert text.count("subgraph cluster_") == 2


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", *args],
                          capture_output=True, text=True, check=False)


def test_cli_graph_formats_and_selection() -> None:
    proc = _cli("graph", str(EXAMPLE), "--format", "json", "--select", "+train:credit_default")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    ids = {n["id"] for n in data["nodes"]}
    assert "train:credit_default" in ids and "evaluate:credit_default" not in ids
    assert all(e["from"] in ids and e["to"] in ids for e in data["edges"])
    proc = _cli("graph", str(EXAMPLE), "--format", "dot")
    assert proc.returncode == 0 and proc.stdout.startswith("digraph")
    proc = _cli("graph", str(EXAMPLE), "--select", "nope+")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "matches no node" in proc.stderr
