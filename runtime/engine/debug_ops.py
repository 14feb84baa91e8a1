"""Small ops for the runtime's own tests and for debugging a cluster (`test.*`, `noop`).

Why they ship in the package rather than in tests/: a Ray worker or a `specops run`
subprocess resolves ops by importing them, and only package modules are importable there.
They touch nothing outside their output directory except `test.read_file`, which reads a
project file and reports its hash like a real source op.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from specops.runtime.engine.datahash import hash_path
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult

__all__ = ["crash", "fail", "fanout", "noop", "read_file", "sleep", "square", "write"]


def _inputs_summary(ctx: OpContext) -> dict[str, str]:
    """Each input's `out.txt` (when present), so outputs depend on inputs' contents."""
    seen = {}
    for nid, path in sorted(ctx.inputs.items()):
        f = path / "out.txt"
        seen[nid] = f.read_text() if f.is_file() else ""
    return seen


def noop(ctx: OpContext) -> OpResult:
    return OpResult(message="nothing to do")


def write(ctx: OpContext) -> OpResult:
    """Write `params.text` plus the inputs' text to `out.txt`; report `params.metrics`."""
    text = str(ctx.params.get("text", ctx.node_id))
    body = json.dumps({"text": text, "inputs": _inputs_summary(ctx)}, sort_keys=True)
    (ctx.out_dir / "out.txt").write_text(body)
    log = ctx.params.get("log")
    if log:  # counts executions, so tests can tell a cache hit from a recomputation
        with open(ctx.project_root / str(log), "a") as fh:
            fh.write(ctx.node_id + "\n")
    return OpResult(metrics={k: float(v) for k, v in ctx.params.get("metrics", {}).items()},
                    report={"bytes": len(body)})


def sleep(ctx: OpContext) -> OpResult:
    """`write`, after sleeping `params.seconds`."""
    time.sleep(float(ctx.params.get("seconds", 1.0)))
    return write(ctx)


def fail(ctx: OpContext) -> OpResult:
    """A user-facing failure (OpError): reported, never retried."""
    raise OpError(str(ctx.params.get("message", "failed on purpose")))


def crash(ctx: OpContext) -> OpResult:
    """Fail like infrastructure until the marker file has `params.times` lines.

    `mode: exit` kills the worker process (a Ray worker crash); `mode: raise` raises an
    internal error. Either way the runtime retries with backoff.
    """
    marker = ctx.project_root / str(ctx.params.get("marker", "crash.marker"))
    done = marker.read_text().count("\n") if marker.exists() else 0
    if done < int(ctx.params.get("times", 1)):
        with open(marker, "a") as fh:
            fh.write("x\n")
        if ctx.params.get("mode", "raise") == "exit":
            os._exit(1)
        raise RuntimeError("simulated infrastructure failure")
    return write(ctx)


def read_file(ctx: OpContext) -> OpResult:
    """Copy a project file to `out.txt` and report its hash (an external input)."""
    rel = str(ctx.params["path"])
    src = ctx.project_root / rel
    if not src.is_file():
        raise OpError(f"{ctx.node_id}: no such file {rel}")
    Path(ctx.out_dir / "out.txt").write_bytes(src.read_bytes())
    return OpResult(data_hashes={rel: hash_path(ctx.project_root, rel)})


def square(x: int) -> int:
    return x * x


def fanout(ctx: OpContext) -> OpResult:
    """Square `params.n` numbers through `ctx.extra["map"]` (Ray tasks on Ray, a loop
    elsewhere) and write the results; shows how ops fan out."""
    items = list(range(int(ctx.params.get("n", 4))))
    mapper = ctx.extra.get("map")
    results = mapper(square, items, num_cpus=1) if mapper else [square(i) for i in items]
    (ctx.out_dir / "out.txt").write_text(json.dumps(results))
    return OpResult(metrics={"total": float(sum(results))},
                    report={"mapped": mapper is not None})

