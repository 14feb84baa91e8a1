"""Finding an upstream output by file name among a node's input directories.

Why by file name: the compiler decides which node ids feed an op (`train:<model>`,
`training_set:<model>`, …); the ops only need "the directory holding `model.joblib`". Looking
for the file keeps the ops independent of id spelling while still failing loudly when zero
or several inputs provide it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from specops.runtime.engine.op_interface import OpContext, OpError

__all__ = ["find_input_file", "optional_input_file", "read_json"]


def optional_input_file(ctx: OpContext, name: str) -> Path | None:
    hits = sorted((nid, d / name) for nid, d in ctx.inputs.items() if (d / name).is_file())
    if len(hits) > 1:
        raise OpError(f"{ctx.node_id}: several inputs provide {name}: "
                      f"{', '.join(nid for nid, _ in hits)}")
    return hits[0][1] if hits else None


def find_input_file(ctx: OpContext, name: str) -> Path:
    path = optional_input_file(ctx, name)
    if path is None:
        raise OpError(f"{ctx.node_id}: no input provides {name} (inputs: "
                      f"{', '.join(sorted(ctx.inputs)) or 'none'})")
    return path


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
