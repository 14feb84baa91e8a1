"""The runtime's own reader of `plan.json` (docs/plan.md).

Why no compiler import: the plan is the only contract between the halves, so the runtime
must run a plan written by another specops version on another machine with nothing but
this file and the contract package (`specops.contract`), which both halves import. It
checks `format_version` first: a missing, unknown or newer one is refused with a message
that says what to do, an older one is upgraded (contract/plan_upgrade.py). Then every
node's params are validated through its op's record (contract/op_params.py), so a plan
that does not fit fails before anything runs and each op gets typed params (`Node.typed`)
holding exactly the values the compiler decided. Last, the graph (unique ids, known
inputs, no cycles) is checked so the scheduler can trust it.
"""

from __future__ import annotations

import fnmatch
import gc
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from specops.contract.op_params import OpParams
from specops.contract.plan_records import FORMAT_VERSION, parse_params
from specops.contract.plan_upgrade import PlanUpgradeError, upgrade

__all__ = ["SUPPORTED_FORMAT_VERSION", "Node", "Plan", "PlanError", "ProjectInfo", "Retry",
           "load_plan", "parse_plan"]

SUPPORTED_FORMAT_VERSION = FORMAT_VERSION


class PlanError(ValueError):
    """The plan cannot be run as written (a user-facing, one-line message)."""


@dataclass(frozen=True)
class Retry:
    max_attempts: int = 3
    backoff_s: float = 1.0


@dataclass(frozen=True)
class Node:
    id: str
    op: str
    params: Mapping[str, Any]
    inputs: tuple[str, ...]
    fingerprint: str
    resources: Mapping[str, Any] = field(default_factory=dict)
    retry: Retry = Retry()
    manual: bool = False
    spec: Mapping[str, Any] = field(default_factory=dict)
    typed: OpParams | None = None     # the op's params record; None outside the catalog

    def where(self) -> str:
        """`specs/model.yaml:12` when the plan says where the node came from."""
        f = self.spec.get("file")
        return f"{f}:{self.spec.get('line', 1)}" if f else ""


@dataclass(frozen=True)
class ProjectInfo:
    name: str = ""
    store: str | None = None
    artifacts: str | None = None
    ray_address: str | None = None


@dataclass(frozen=True)
class Plan:
    format_version: int
    nodes: tuple[Node, ...]
    project: ProjectInfo = ProjectInfo()
    specops_version: str = ""
    spec_hash: str = ""
    models: Mapping[str, Any] = field(default_factory=dict)

    @property
    def by_id(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    def children(self) -> dict[str, list[str]]:
        kids: dict[str, list[str]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                kids[i].append(n.id)
        return kids

    def ancestors(self, ids: Iterable[str]) -> set[str]:
        by_id, seen, stack = self.by_id, set(), list(ids)
        while stack:
            for i in by_id[stack.pop()].inputs:
                if i not in seen:
                    seen.add(i)
                    stack.append(i)
        return seen

    def descendants(self, ids: Iterable[str]) -> set[str]:
        kids, seen, stack = self.children(), set(), list(ids)
        while stack:
            for c in kids[stack.pop()]:
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        return seen

    def select(self, selectors: str | Iterable[str] | None = None) -> list[str]:
        """Node ids to run, in plan order.

        A selector is a node id or a glob over ids (`train:*`); a trailing `+` adds its
        descendants. Ancestors of what is selected are always included (their outputs are
        the inputs; unchanged ones are cache hits). Manual nodes (deploy, monitor) and what
        depends on them run only when named exactly.
        """
        by_id = self.by_id
        if selectors is None or selectors == "" or selectors == []:
            chosen = set(by_id)
            named: set[str] = set()
        else:
            items = ([s for s in selectors.split(",")] if isinstance(selectors, str)
                     else list(selectors))
            chosen, named = set(), set()
            for raw in (s.strip() for s in items):
                if not raw:
                    continue
                plus = raw.endswith("+")
                pattern = raw.rstrip("+")
                hits = ({pattern} if pattern in by_id
                        else {i for i in by_id if fnmatch.fnmatchcase(i, pattern)})
                if not hits:
                    raise PlanError(f"--select {raw!r} matches no node "
                                    f"(ids look like {self.nodes[0].id if self.nodes else '?'})")
                if pattern in by_id:
                    named.add(pattern)
                chosen |= hits
                if plus:
                    chosen |= self.descendants(hits)
        manual = {n.id for n in self.nodes if n.manual and n.id not in named}
        blocked = manual | self.descendants(manual)
        chosen = {i for i in chosen if i not in blocked or i in named}
        chosen |= self.ancestors(chosen)
        return [n.id for n in self.nodes if n.id in chosen]


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise PlanError(msg)


def _node(raw: Any, index: int) -> Node:
    _require(isinstance(raw, dict), f"plan node #{index} is not an object")
    for key in ("id", "op"):
        _require(isinstance(raw.get(key), str) and raw[key] != "",
                 f"plan node #{index} has no {key!r}")
    nid = raw["id"]
    inputs = raw.get("inputs", [])
    _require(isinstance(inputs, list) and all(isinstance(i, str) for i in inputs),
             f"plan node {nid}: 'inputs' must be a list of node ids")
    params = raw.get("params", {})
    _require(isinstance(params, dict), f"plan node {nid}: 'params' must be an object")
    typed = _typed_params(nid, raw["op"], params)
    if typed is not None:   # what the op reads is what the record holds
        params = typed.model_dump(mode="json", by_alias=True)
    resources = raw.get("resources") or {}
    _require(isinstance(resources, dict), f"plan node {nid}: 'resources' must be an object")
    retry_raw = raw.get("retry") or {}
    _require(isinstance(retry_raw, dict), f"plan node {nid}: 'retry' must be an object")
    try:
        retry = Retry(max_attempts=max(1, int(retry_raw.get("max_attempts", 3))),
                      backoff_s=max(0.0, float(retry_raw.get("backoff_s", 1.0))))
    except (TypeError, ValueError):
        raise PlanError(f"plan node {nid}: 'retry' needs numbers") from None
    fingerprint = raw.get("fingerprint")
    _require(isinstance(fingerprint, str) and fingerprint != "",
             f"plan node {nid} has no fingerprint; regenerate the plan with `specops compile`")
    spec = raw.get("spec") or {}
    return Node(id=nid, op=raw["op"], params=params, inputs=tuple(inputs),
                fingerprint=fingerprint, resources=resources, retry=retry,
                manual=bool(raw.get("manual", False)),
                spec=spec if isinstance(spec, dict) else {}, typed=typed)


def _typed_params(nid: str, op: str, params: dict[str, Any]) -> OpParams | None:
    try:
        record = parse_params(op, params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PlanError(f"plan node {nid}: params.{where}: {first['msg']}{more}; the plan "
                        f"does not fit the {op} op of this runtime (recompile it with "
                        "`specops compile`)") from None
    return record if isinstance(record, OpParams) else None


def _check_graph(nodes: list[Node]) -> None:
    ids: set[str] = set()
    for n in nodes:
        _require(n.id not in ids, f"plan has two nodes with id {n.id}")
        ids.add(n.id)
    for n in nodes:
        for i in n.inputs:
            _require(i in ids, f"plan node {n.id}: input {i} is not a node of the plan")
    # Kahn's algorithm: what is left over sits on a cycle.
    indeg = {n.id: len(set(n.inputs)) for n in nodes}
    kids: dict[str, list[str]] = {n.id: [] for n in nodes}
    for n in nodes:
        for i in set(n.inputs):
            kids[i].append(n.id)
    ready = [i for i, d in indeg.items() if d == 0]
    while ready:
        for c in kids[ready.pop()]:
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(c)
    cyclic = sorted(i for i, d in indeg.items() if d > 0)
    _require(not cyclic, f"plan has a cycle through {', '.join(cyclic)}")


def parse_plan(data: Any) -> Plan:
    """A `Plan` from decoded JSON; `PlanError` says what is wrong and what to do.

    The cyclic garbage collector is paused meanwhile: validating a large plan allocates
    hundreds of thousands of long-lived objects and no garbage cycles, and collections
    tripled the time (13,100 nodes: 1.2 s of CPU with them, 0.4 s without)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_plan(data)
    finally:
        if was_enabled:
            gc.enable()


def _parse_plan(data: Any) -> Plan:
    try:
        data = upgrade(data)
    except PlanUpgradeError as exc:
        raise PlanError(str(exc)) from None
    fv = data["format_version"]
    raw_nodes = data.get("nodes")
    _require(isinstance(raw_nodes, list), "plan has no 'nodes' list")
    nodes = [_node(raw, i) for i, raw in enumerate(raw_nodes)]
    _check_graph(nodes)
    proj = data.get("project") or {}
    _require(isinstance(proj, dict), "plan 'project' must be an object")
    project = ProjectInfo(name=str(proj.get("name", "")), store=proj.get("store"),
                          artifacts=proj.get("artifacts"), ray_address=proj.get("ray_address"))
    models = data.get("models") or {}
    return Plan(format_version=fv, nodes=tuple(nodes), project=project,
                specops_version=str(data.get("specops_version", "")),
                spec_hash=str(data.get("spec_hash", "")),
                models=models if isinstance(models, dict) else {})


def load_plan(path: Path | str) -> Plan:
    """Read and parse a plan file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"no plan file {p} (write one with `specops compile -o {p}`)") from None
    except OSError as exc:
        raise PlanError(f"cannot read plan {p}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{p}:{exc.lineno}:{exc.colno}: plan is not valid JSON: {exc.msg}") \
            from None
    return parse_plan(data)
