"""The op interface: what every plan op receives and returns.

Why files between ops: a node's outputs live in its own directory (parquet, json, onnx), so
any executor (inline, a Ray worker on this machine, a Ray worker on a cluster with a shared
filesystem) can run any op, and the artifact store can hash, cache and verify outputs
without knowing what an op does. An op never reads another node's state except through the
input directories it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from specops.contract.op_params import OpParams

P = TypeVar("P", bound=OpParams)

__all__ = ["Op", "OpContext", "OpError", "OpResult"]


@dataclass(frozen=True)
class OpContext:
    node_id: str
    op: str
    params: dict[str, Any]
    project_root: Path            # paths in params are relative to this
    out_dir: Path                 # empty directory this op writes its outputs into
    inputs: dict[str, Path]       # input node id -> that node's output directory
    run_id: str
    fingerprint: str
    resources: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)   # e.g. store url, actor, champion

    def typed(self, record: type[P]) -> P:
        """The params as the op's record (contract/op_params.py).

        Why ops read this rather than `params.get(key, default)`: every value an op needs
        is decided by the compiler and carried by the plan; a default picked here could
        disagree with it silently. The plan reader has already validated the params of a
        plan node, so this only fails for a hand-made context, with a one-line cause."""
        try:
            return record.model_validate(self.params)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "params"
            raise OpError(f"{self.node_id}: params.{where}: {first['msg']} (the {self.op} "
                          "op needs the params the compiler writes)") from None

    def input_dir(self, prefix: str) -> Path:
        """The single input whose node id starts with `prefix` (e.g. "training_set:")."""
        hits = [p for nid, p in self.inputs.items() if nid.startswith(prefix)]
        if len(hits) != 1:
            raise OpError(f"{self.node_id}: expected one input starting with {prefix!r}, "
                          f"got {sorted(self.inputs)}")
        return hits[0]


@dataclass
class OpResult:
    metrics: dict[str, float] = field(default_factory=dict)
    data_hashes: dict[str, str] = field(default_factory=dict)   # external inputs read
    report: dict[str, Any] = field(default_factory=dict)        # JSON-able summary
    message: str = ""


class OpError(Exception):
    """A failure the user can act on (bad data, failed validation, failed gate).

    The runtime reports its message as the node's cause without a traceback; any other
    exception is an internal error and keeps its traceback in the store.
    """

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report or {}


Op = Callable[[OpContext], OpResult]
