"""Helpers for the data-op tests: build an OpContext and run an op into a temp dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from specops.runtime.engine.op_interface import OpContext, OpResult


def run_op(op: Any, tmp: Path, node_id: str, params: dict[str, Any],
           inputs: dict[str, Path] | None = None, root: Path | None = None
           ) -> tuple[OpResult, Path]:
    out = tmp / "out" / node_id.replace(":", "_").replace("@", "_")
    out.mkdir(parents=True, exist_ok=True)
    ctx = OpContext(node_id=node_id, op=node_id.split(":")[0], params=params,
                    project_root=root or tmp, out_dir=out, inputs=inputs or {},
                    run_id="test", fingerprint="sha256:test")
    return op(ctx), out
