"""Graph + params -> the plan dict, with fingerprints, spec hash and governance table.

Why fingerprints are computed here, in topological order: a node's fingerprint covers its
op, its params and its inputs' fingerprints (docs/plan.md), so a change anywhere upstream
reaches exactly the nodes that depend on it and nothing else. Resources, retry and the
spec's identity are left out so that tuning a cluster or moving a spec between files
never invalidates a cache or voids an approval.

Why every node goes through the contract records (contract/plan_records.py) before it is
written: the records are what the runtime reads, so a param the builder gets wrong (a
missing key, a wrong type) fails here, at compile time, with the node named, rather than
in a worker halfway through a run. The fingerprint is taken over the params as the record
writes them, so what is hashed is exactly what the runtime will read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import networkx as nx

from specops.compiler.diagnostics.diagnostic import Diagnostic
from specops.compiler.passes.context import Context
from specops.compiler.plan.governance_facts import models_table
from specops.compiler.plan.job_schedules import NOT_IN_SPEC_HASH, plan_schedules
from specops.compiler.plan.params import Dep, ParamBuilder
from specops.contract.canonical import compact_json, sha256_of
from specops.contract.op_catalog import OPS
from specops.contract.op_params import OpParams
from specops.contract.plan_pack import Packer, fingerprint_of, pack, packed_text
from specops.contract.plan_records import FINGERPRINT_VERSION, FORMAT_VERSION, parse_params
from specops.contract.plan_records import Plan as PlanRecord

__all__ = ["FORMAT_VERSION", "Plan", "build_plan", "fingerprint", "spec_hash"]


@dataclass(slots=True)
class Plan:
    """The plan dict plus, per node, what its fingerprint depends on (for `explain`)."""

    data: dict[str, Any]
    deps: dict[str, list[Dep]] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)   # compile refuses if any
    # the params texts the fingerprints were computed from, reused by `text()` (so the
    # plan's data must not be changed after it is built)
    packer: Packer = field(default_factory=Packer)

    def text(self) -> str:
        """The plan file: shared structures stored once (contract/plan_pack.py)."""
        return packed_text(pack(self.data, self.packer))

    def nodes(self) -> dict[str, dict[str, Any]]:
        return {n["id"]: n for n in self.data["nodes"]}


def _specops_version() -> str:
    try:
        return metadata.version("specops")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0.0.0"


def fingerprint(op: str, params: Any, input_fingerprints: list[str]) -> str:
    """sha256 of canonical {op, params, inputs (fingerprints, by sorted input id), version}
    (the node format version, FINGERPRINT_VERSION: unchanged by format 3's packing)."""
    return fingerprint_of(op, compact_json(params), input_fingerprints, FINGERPRINT_VERSION)


# Fields added after plan format 2 that enter the spec hash only when set. Why: approvals
# bind to the spec hash, so a spec that does not use a newer field must hash exactly as it
# did before that field existed; upgrading specops then voids no approval. Set, they are
# part of what was approved (a rollout rule decides what the pipeline may do on its own).
HASHED_WHEN_SET: dict[str, tuple[tuple[str, ...], ...]] = {
    "model": (("rollout",), ("monitoring", "on_breach")),
}
# specops.yaml settings that say where operational output goes (the online store's URL, the
# OpenLineage endpoint), not what a model is: never part of what an approver signs.
CONFIG_NOT_IN_SPEC_HASH = {"online_store", "lineage"}


def _drop_unset(doc: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    for path in paths:
        holder: Any = doc
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and holder.get(path[-1], 0) is None:
            del holder[path[-1]]
    return doc


def spec_hash(ctx: Context) -> str:
    """A hash over every spec document (and specops.yaml), independent of file layout."""
    docs = [sha256_of(_drop_unset(ls.spec.model_dump(mode="json", by_alias=True,
                                                     exclude=NOT_IN_SPEC_HASH.get(ls.kind)),
                                  HASHED_WHEN_SET.get(ls.kind, ())))
            for ls in ctx.project.specs]
    if ctx.config is not None:
        docs.append(sha256_of(ctx.config.model_dump(mode="json", by_alias=True,
                                                    exclude=CONFIG_NOT_IN_SPEC_HASH)))
    return sha256_of(sorted(docs))


def build_plan(ctx: Context, graph: nx.DiGraph[str]) -> Plan:
    """Build the plan for a linted context whose graph is acyclic."""
    root = ctx.project.root
    builder = ParamBuilder(ctx, Path(root) if root is not None else None)
    fps: dict[str, str] = {}
    nodes: list[dict[str, Any]] = []
    records: dict[str, OpParams | dict[str, Any]] = {}
    deps: dict[str, list[Dep]] = {}
    model_nodes: dict[str, list[str]] = {}
    packer = Packer()
    same = _SameParams()
    for node_id in nx.topological_sort(graph):  # inputs first; output is sorted by id
        attrs = graph.nodes[node_id]
        op = attrs["op"]
        info = OPS[op]
        loaded = attrs["spec"]
        raw_params, node_deps = builder.params(node_id, op, loaded)
        key = None if builder.problems else same.key(op, raw_params)
        hit = same.get(key)
        if hit is not None:
            record, params, text = hit[0], packer.alias(hit[1]), hit[2]
        else:
            record = raw_params if builder.problems else \
                _through_record(node_id, op, raw_params)
            params = record if isinstance(record, dict) else \
                record.model_dump(mode="json", by_alias=True)
            text = packer.assemble(params)
            same.put(key, (record, params, text))
        records[node_id] = record
        inputs = sorted(graph.predecessors(node_id))
        fp = fingerprint_of(op, text, [fps[i] for i in inputs], FINGERPRINT_VERSION)
        fps[node_id] = fp
        deps[node_id] = node_deps
        if attrs["model"] is not None:
            model_nodes.setdefault(attrs["model"], []).append(node_id)
        nodes.append({
            "id": node_id, "op": op, "params": params, "inputs": inputs,
            "resources": {"num_cpus": info.num_cpus, "memory_mb": info.memory_mb},
            "retry": {"max_attempts": info.max_attempts, "backoff_s": info.backoff_s},
            "manual": info.manual,
            "spec": {"kind": loaded.kind, "name": loaded.name},
            "fingerprint": fp,
        })
    nodes.sort(key=lambda n: str(n["id"]))
    config = ctx.config
    data = {
        "format_version": FORMAT_VERSION,
        "specops_version": _specops_version(),
        "project": {"name": ctx.project.name,
                    "store": config.store if config else "sqlite:///.specops/store.db",
                    "artifacts": config.artifacts if config else ".specops/artifacts",
                    "ray_address": config.ray.address if config else None},
        "spec_hash": spec_hash(ctx),
        "models": models_table(ctx, model_nodes, builder.condition),
        "nodes": nodes,
        "schedules": plan_schedules(ctx, model_nodes, nodes),
    }
    if not builder.problems:   # with problems, compile refuses to write the plan anyway
        # the envelope too; params are records already (validated once, not twice)
        PlanRecord.model_validate({**data, "nodes": [{**n, "params": records[n["id"]]}
                                                     for n in nodes]})
    return Plan(data, deps, builder.problems, packer)


def _through_record(node_id: str, op: str, params: dict[str, Any]
                    ) -> OpParams | dict[str, Any]:
    """`params` as the op's record; a builder bug names the node."""
    try:
        record = parse_params(op, params)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise RuntimeError(f"internal error: params of plan node {node_id} do not fit the "
                           f"{op} record: {exc}") from exc
    return record


_Built = tuple[OpParams | dict[str, Any], dict[str, Any], str]


class _SameParams:
    """The record, params and params text of each distinct (op, raw params) built so far.

    Why: most nodes of a large project repeat another node's params exactly (every model
    of one task evaluates, exports and benchmarks alike; 2,000 gate nodes hold 200
    distinct check lists), and validating, dumping and serialising them again was most of
    the cost of building the plan. The key is the raw params' compact canonical JSON,
    which is what validation depends on (pydantic's result is a function of the content).
    An op whose first `_TRIES` nodes all differ stops being keyed (its params name the
    model: the key would cost without ever paying off)."""

    _TRIES = 32

    def __init__(self) -> None:
        self.built: dict[tuple[str, str], _Built] = {}
        self.tries: dict[str, int] = {}
        self.hits: dict[str, int] = {}

    def key(self, op: str, raw: dict[str, Any]) -> tuple[str, str] | None:
        if self.tries.get(op, 0) >= self._TRIES and not self.hits.get(op):
            return None
        self.tries[op] = self.tries.get(op, 0) + 1
        try:
            return (op, compact_json(raw))
        except (TypeError, ValueError):   # not plain JSON (or NaN): validated on its own
            return None

    def get(self, key: tuple[str, str] | None) -> _Built | None:
        if key is None:
            return None
        hit = self.built.get(key)
        if hit is not None:
            self.hits[key[0]] = self.hits.get(key[0], 0) + 1
        return hit

    def put(self, key: tuple[str, str] | None, built: _Built) -> None:
        if key is not None:
            self.built[key] = built
