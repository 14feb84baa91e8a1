"""`schemas/plan.schema.json`, generated from the plan records.

Why generated: the records in `plan_records.py` and `op_params.py` are what the compiler
writes and the runtime reads; a hand-written schema was checked only on the compiler side
and could say one thing while the runtime did another. `specops schema` writes this file
with the spec schemas, and a test fails when the committed file is stale.

Two parts are not records and are spelled out here: expression trees (their interpreter,
`interpret.py`, works on plain JSON) and the per-model governance table (`models`), which
the governance services read as JSON.

Each node's `params` is tied to its op with `if`/`then` (`op` const -> that op's params
record), which every draft 2020-12 validator applies; the node id prefix is checked the
same way.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic.json_schema import models_json_schema

from specops.contract.op_catalog import OPS
from specops.contract.op_params import TREE_MARK, OpParams, ValueType
from specops.contract.plan_records import FORMAT_VERSION, Plan, PlanNode

__all__ = ["PLAN_SCHEMA_NAME", "plan_schema"]

PLAN_SCHEMA_NAME = "plan.schema.json"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_REF = "#/$defs/{model}"
_EXPR = {"$ref": "#/$defs/expr"}
_STR = {"type": "string"}
_TYPES: list[str] = list(get_args(ValueType))


def _tree(op: str, **props: Any) -> dict[str, Any]:
    properties = {"op": {"const": op}, "type": {"enum": _TYPES}, **props}
    return {"type": "object", "properties": properties, "required": sorted(properties)}


def _expr_schema() -> dict[str, Any]:
    """docs/plan.md, "Expression trees"."""
    args = {"type": "array", "items": _EXPR}
    return {
        "description": "A compiled expression tree (docs/plan.md). `raw` appears only in "
                       "plans from compilers without the expression checker.",
        "oneOf": [
            _tree("col", name=_STR),
            _tree("lit", value={"type": ["string", "number", "boolean", "null"]}),
            _tree("call", fn=_STR, args=args),
            _tree("binary", fn={"enum": ["add", "sub", "mul", "div", "floordiv", "mod",
                                         "pow"]}, left=_EXPR, right=_EXPR),
            _tree("compare", fn={"enum": ["eq", "ne", "lt", "le", "gt", "ge"]}, left=_EXPR,
                  right=_EXPR),
            _tree("logical", fn={"enum": ["and", "or"]}, args=args),
            _tree("unary", fn={"enum": ["not", "neg"]}, arg=_EXPR),
            _tree("metric", name=_STR),
            _tree("slice_metric", fn=_STR, metric=_STR, by=_STR),
            _tree("fairness", fn=_STR, attribute=_STR),
            _tree("champion", metric=_STR),
            {"type": "object", "properties": {"op": {"const": "raw"}, "text": _STR},
             "required": ["op", "text"]},
        ],
    }


def _model_facts_schema() -> dict[str, Any]:
    """docs/plan.md, "The `models` table" (governance facts, not fingerprinted)."""
    text = {"type": ["string", "null"]}
    strings = {"type": "array", "items": _STR}
    approval = {"type": "object", "properties": {
        "name": _STR, "environments": strings,
        "rules": {"type": "array", "items": {"type": "object"}},
    }, "required": ["environments", "name", "rules"]}
    verdict = {"type": ["boolean", "null"]}
    policy = {"type": "object", "properties": {"policy": _STR, "rule": _STR,
                                               "applies": verdict, "holds": verdict},
              "required": ["applies", "holds", "policy", "rule"]}
    return {"type": "object", "properties": {
        "owner": _STR, "risk_tier": {"enum": ["high", "medium", "low"]},
        "task": {"enum": ["binary_classification", "multiclass_classification",
                          "regression"]},
        "description": text, "intended_use": text, "limitations": text, "assumptions": text,
        "authors": strings, "validator": text,
        "review_cadence_s": {"type": ["integer", "null"], "minimum": 0},
        "gates": strings, "protected": strings,
        "approval": {"oneOf": [{"type": "null"}, approval]},
        "serving": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/Serving"}]},
        "monitoring": {"type": ["object", "null"]},
        "nodes": {"type": "array", "items": _STR, "uniqueItems": True},
        "facts": {"type": ["object", "null"]},
        "policies": {"type": "array", "items": policy},
    }, "required": ["approval", "nodes", "owner", "risk_tier", "task"]}


def _tidy(node: Any) -> Any:
    """Every expression-tree field (marked by `op_params.Tree`) as a `$ref` to `expr`, and
    without pydantic's generated titles (the field name already says it)."""
    if isinstance(node, dict):
        if all(node.get(k) == v for k, v in TREE_MARK.items()):
            return dict(_EXPR)
        return {k: _tidy(v) for k, v in node.items()
                if not (k == "title" and isinstance(v, str))}
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def plan_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a plan in the current format."""
    records = sorted({info.params for info in OPS.values()}, key=lambda r: r.__name__)
    keys, top = models_json_schema([(Plan, "validation"),
                                    *((r, "validation") for r in records)],
                                   ref_template=_REF)
    defs: dict[str, Any] = top["$defs"]
    plan = defs.pop(Plan.__name__)
    node = defs[PlanNode.__name__]
    node["properties"]["params"] = {"type": "object"}
    node["properties"]["op"] = {"enum": sorted(OPS)}
    node["allOf"] = [
        {"if": {"properties": {"op": {"const": op}}, "required": ["op"]},
         "then": {"properties": {"id": {"pattern": f"^{info.prefix}:"},
                                 "params": keys[(info.params, "validation")]}}}
        for op, info in sorted(OPS.items())]
    plan["properties"]["models"] = {"type": "object",
                                    "additionalProperties": {"$ref": "#/$defs/model_facts"}}
    defs.pop(OpParams.__name__, None)   # only the (replaced) catch-all `params` named it
    defs = _tidy(defs)
    plan = _tidy(plan)
    defs["expr"] = _expr_schema()
    defs["model_facts"] = _model_facts_schema()
    description = ("The one contract between the specops compiler and runtime "
                   f"(docs/plan.md), format_version {FORMAT_VERSION}, as read: a plan file "
                   "stores repeated structures once under `shared`, and readers resolve "
                   "them first (contract/plan_pack.py). Generated from the "
                   "records in specops.contract (plan_records.py, op_params.py) by "
                   "`specops schema`; do not edit.")
    return {
        "$schema": _DIALECT,
        "$id": "https://specops.dev/schemas/plan.schema.json",
        "title": "specops execution plan",
        "description": description,
        "markdownDescription": description,
        **{k: v for k, v in plan.items() if k not in ("title", "description")},
        "$defs": dict(sorted(defs.items())),
    }
