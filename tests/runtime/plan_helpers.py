"""Plan builders for the runtime tests (hand-written plans using the `test.*` ops)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def node(nid: str, op: str = "test.write", inputs: list[str] | None = None,
         **params: Any) -> dict[str, Any]:
    """A plan node whose fingerprint follows its op, params and inputs (like the compiler's)."""
    return {"id": nid, "op": op, "params": params, "inputs": sorted(inputs or []),
            "fingerprint": "",
            "resources": {"num_cpus": 1, "memory_mb": 64},
            "retry": {"max_attempts": 2, "backoff_s": 0.01}}


def stable_fp(n: dict[str, Any]) -> dict[str, Any]:
    import hashlib

    body = json.dumps({"op": n["op"], "params": n["params"], "inputs": n["inputs"]},
                      sort_keys=True)
    n["fingerprint"] = "sha256:" + hashlib.sha256(body.encode()).hexdigest()
    return n


def plan_dict(*nodes: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"format_version": 1, "specops_version": "test",
            "project": {"name": "t", "store": "sqlite:///.specops/store.db",
                        "artifacts": ".specops/artifacts", "ray_address": None},
            "spec_hash": "sha256:test", "models": {},
            "nodes": sorted((stable_fp(dict(n)) for n in nodes), key=lambda n: n["id"]),
            **top}


def write_plan(root: Path, data: dict[str, Any]) -> Path:
    path = root / "plan.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
