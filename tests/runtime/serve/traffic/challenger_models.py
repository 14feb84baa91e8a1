"""Challengers for rollout tests: real second versions of the served model, registered
in the project's real registry (signed manifest), whose ONNX graph is the champion's with
a change that shows only when it runs:

- `same`: another doc string (other bytes, other digest, identical answers);
- `slow`: the answers plus 0 x (a chain of 400x400 matrix products that depends on the
  input, so onnxruntime cannot fold it away): equal answers, real extra latency;
- `failing`: the answers plus a tensor reshaped to the batch's shape from 6 values, which
  fails at run time for every batch but 3 rows (onnxruntime raises; the server answers
  500 for the challenger).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from specops.runtime.registry import Registry

__all__ = ["add_challenger", "changed_onnx"]


def _rewire(graph: onnx.GraphProto, output: str) -> str:
    raw = f"{output}__raw"
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name == output:
                node.output[i] = raw
        for i, name in enumerate(node.input):
            if name == output:
                node.input[i] = raw
    return raw


def changed_onnx(data: bytes, kind: str) -> bytes:
    model = onnx.load_from_string(data)
    model.doc_string = f"challenger ({kind})"
    g = model.graph
    if kind == "same":
        return bytes(model.SerializeToString())
    raw = _rewire(g, "probabilities")
    nodes: list[onnx.NodeProto] = []
    if kind == "slow":
        g.initializer.append(numpy_helper.from_array(np.zeros((), dtype=np.float32),
                                                     "ch_zero"))
        nodes.append(helper.make_node("ReduceSum", [raw], ["ch_sum"], keepdims=0))
        w = np.random.default_rng(0).random((400, 400), dtype=np.float32) / 400
        g.initializer.append(numpy_helper.from_array(w, "ch_w"))
        nodes += [helper.make_node("Mul", ["ch_sum", "ch_zero"], ["ch_s0"]),
                  helper.make_node("Add", ["ch_w", "ch_s0"], ["ch_a0"])]
        for i in range(12):
            nodes.append(helper.make_node("MatMul", [f"ch_a{i}", "ch_w"], [f"ch_a{i + 1}"]))
        nodes += [helper.make_node("ReduceSum", ["ch_a12"], ["ch_big"], keepdims=0),
                  helper.make_node("Mul", ["ch_big", "ch_zero"], ["ch_delta"])]
    elif kind == "failing":
        g.initializer.append(numpy_helper.from_array(np.zeros(6, dtype=np.float32),
                                                     "ch_six"))
        nodes += [helper.make_node("Shape", [raw], ["ch_shape"]),
                  helper.make_node("Reshape", ["ch_six", "ch_shape"], ["ch_delta"])]
    else:
        raise ValueError(kind)
    nodes.append(helper.make_node("Add", [raw, "ch_delta"], ["probabilities"]))
    g.node.extend(nodes)
    return bytes(model.SerializeToString())


def add_challenger(root: Path, kind: str, model: str = "credit", base: int = 1) -> int:
    """Register `kind` of model@base as a new version; returns its number."""
    reg = Registry.open(root)
    try:
        vdir = reg.root / model / str(base)
        manifest = json.loads((vdir / "manifest.json").read_bytes())
        stash = root.parent / f"challenger-{kind}"
        shutil.rmtree(stash, ignore_errors=True)
        files: dict[str, Path] = {}
        for name in manifest["artifacts"]:
            dest = stash / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            data = (vdir / name).read_bytes()
            dest.write_bytes(changed_onnx(data, kind) if name == "model.onnx" else data)
            files[name] = dest
        v = reg.register(model, files, manifest.get("lineage") or {})
    finally:
        reg.close()
    return int(v.version)
