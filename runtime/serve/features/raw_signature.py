"""The raw request signature of a model, derived from the compiled plan.

Why derived, never declared: the request a client sends in online mode is exactly what
the training set joined its features from, so it follows from the model's
`training_set:<model>` node and the views and sources it names:

- **entity views** (a view over another source, e.g. credit-risk's `bureau_history`):
  their values come from the online store by the view's entity key, so the key column
  (`applicant_id`) is a field of the request;
- **request-time views** (a view over the training spine's own source, e.g.
  `application_features` over `applications`): offline, the point-in-time join finds the
  spine row itself, so online their expressions run on the request's own fields
  (`income`, `loan_amount`, ...), every column their trees read is a field. A tree that
  reads the spine's timestamp gets the request time (the server's clock) instead; a
  windowed aggregate there has no history to aggregate online and is refused at start;
- **spine columns** the model takes as they are (`region`) are fields too.

Field types and nullability come from the spine source's declared columns (a view's own
source for an entity key). A model input no view and no spine column provides cannot be
served from raw fields: `RawSignatureError` names it and the server refuses to start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from specops.runtime.data.expr_polars import tree_columns

__all__ = ["EntityView", "RawField", "RawSignature", "RawSignatureError", "RequestView",
           "raw_signature"]

# OIP datatypes of raw fields (what metadata shows and `infer` accepts)
OIP_TYPES = {"int64": "INT64", "float64": "FP64", "bool": "BOOL", "string": "BYTES",
             "datetime": "BYTES", "date": "BYTES"}


class RawSignatureError(ValueError):
    """The model's inputs cannot be computed from raw request fields."""


@dataclass(frozen=True)
class RawField:
    name: str
    type: str               # int64 | float64 | bool | string | datetime | date
    nullable: bool
    role: str               # "entity" (a key of the online store) | "request"

    def as_tensor(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": OIP_TYPES.get(self.type, "BYTES"),
                "shape": [-1, 1], "parameters": {"role": self.role, "type": self.type,
                                                 "nullable": self.nullable}}


@dataclass(frozen=True)
class EntityView:
    """A view read from the online store (`key` as the store's `view@version`)."""

    key: str
    entity: str                         # the request field holding the entity key
    features: tuple[str, ...]           # the view's feature names
    columns: tuple[str, ...]            # the model input each feature becomes (rename)
    ttl_us: int | None
    created_cutoff: bool


@dataclass(frozen=True)
class RequestView:
    """A view computed from the request row itself: (model input, compiled tree)."""

    key: str
    features: tuple[tuple[str, dict[str, Any]], ...]


@dataclass
class RawSignature:
    fields: list[RawField]
    entity_views: list[EntityView]
    request_views: list[RequestView]
    passthrough: list[str]              # spine columns the model takes as they are
    timestamp: str                      # the spine's timestamp (= the request time)
    inputs: list[dict[str, Any]] = field(default_factory=list)   # OIP tensors

    def by_name(self) -> dict[str, RawField]:
        return {f.name: f for f in self.fields}


def _view_node(plan: Any, node_id: str) -> Any:
    node = plan.by_id.get(node_id)
    if node is None:
        raise RawSignatureError(f"the plan has no node {node_id}")
    return node


def _columns(plan: Any, source_node: str) -> dict[str, dict[str, Any]]:
    src = plan.by_id.get(source_node)
    return dict((src.params.get("columns") if src is not None else None) or {})


def is_request_time(view_params: dict[str, Any], spine_source: str) -> bool:
    """A view over the spine's own source: computed from the request (the same rule as
    `request_views` in runtime/store/online/materialize.py, which does not store them)."""
    return view_params.get("source") == f"source:{spine_source}"


def raw_signature(plan: Any, model: str, model_inputs: list[str]) -> RawSignature:
    """The raw request of `model` (whose ONNX inputs are `model_inputs`)."""
    ts_node = plan.by_id.get(f"training_set:{model}") if plan is not None else None
    if ts_node is None:
        raise RawSignatureError(f"the plan has no training set for {model}; online "
                                "features need the project's plan")
    params = ts_node.params
    spine = params["spine"]
    spine_cols = _columns(plan, f"source:{spine['source']}")
    wanted = set(model_inputs)
    fields: dict[str, RawField] = {}
    entity_views: list[EntityView] = []
    request_views: list[RequestView] = []
    provided: set[str] = set()

    def add(name: str, spec: dict[str, Any], role: str) -> None:
        if name == spine["timestamp"]:
            return      # the request time: the server's clock
        prev = fields.get(name)
        if prev is not None and (prev.role == "entity" or role != "entity"):
            return
        fields[name] = RawField(name, str(spec.get("type") or "float64"),
                                bool(spec.get("nullable", True)), role)

    for v in params.get("views") or []:
        rename = v.get("rename") or {}
        feats = [f for f in v["features"] if rename.get(f, f) in wanted]
        if not feats:
            continue
        node = _view_node(plan, v["node"])
        key = str(v["node"]).split(":", 1)[1]
        if is_request_time(node.params, spine["source"]):
            aggs = [f["name"] for f in node.params["features"] if f.get("agg")]
            if aggs:
                raise RawSignatureError(f"{key}: windowed aggregate(s) {', '.join(aggs)} "
                                        "over the spine source cannot be computed from "
                                        "one request")
            trees = {f["name"]: f["expr"] for f in node.params["features"]}
            request_views.append(RequestView(key, tuple(
                (rename.get(f, f), trees[f]) for f in feats)))
            for f in feats:
                for col in sorted(tree_columns(trees[f])):
                    add(col, spine_cols.get(col) or {}, "request")
        else:
            src_cols = _columns(plan, str(node.params.get("source")))
            spec = spine_cols.get(v["entity"]) or src_cols.get(v["entity"]) or {}
            add(v["entity"], {**spec, "nullable": False}, "entity")
            ttl = v.get("ttl_s")
            entity_views.append(EntityView(
                key, v["entity"], tuple(feats), tuple(rename.get(f, f) for f in feats),
                round(float(ttl) * 1_000_000) if ttl else None,
                bool(params.get("created_time_cutoff")) and bool(v.get("created_timestamp"))))
        provided.update(rename.get(f, f) for f in feats)
    passthrough = [c for c in model_inputs if c not in provided]
    unknown = [c for c in passthrough if c not in spine_cols]
    if unknown:
        raise RawSignatureError(f"model input(s) {', '.join(unknown)} come from no feature "
                                f"view and no column of the spine source {spine['source']}")
    for c in passthrough:
        add(c, spine_cols[c], "request")
    ordered = sorted(fields.values(), key=lambda f: (f.role != "entity", f.name))
    sig = RawSignature(ordered, entity_views, request_views, passthrough,
                       spine["timestamp"])
    sig.inputs = [f.as_tensor() for f in ordered]
    return sig
