"""The op registry: table entries, the naming convention, run-time registration."""

from __future__ import annotations

import sys

import pytest
from specops.runtime.ops import (
    OPS,
    OpResult,
    UnknownOpError,
    check_ops,
    op_target,
    register_op,
    resolve_op,
)


def test_every_plan_op_has_a_table_entry():
    plan_ops = {"load_source", "validate_data", "compute_features", "build_training_set",
                "train", "evaluate", "export_onnx", "benchmark", "gate", "register",
                "request_approval", "deploy", "monitor"}
    assert plan_ops <= set(OPS)
    assert all(t.startswith("specops.runtime.ops.") and ":" in t for t in OPS.values())


def test_resolution_and_convention():
    from specops.runtime.ops.testing import write

    assert resolve_op("test.write") is write
    assert op_target("frobnicate") == "specops.runtime.ops.frobnicate:frobnicate"
    with pytest.raises(UnknownOpError, match="unknown op 'frobnicate'"):
        resolve_op("frobnicate")
    with pytest.raises(UnknownOpError, match="unknown op 'a b'"):
        resolve_op("a b")


def test_register_op_overrides_for_this_process():
    def hello(ctx):
        return OpResult(message="hi")

    register_op("test.hello", hello)
    assert resolve_op("test.hello") is hello
    assert check_ops(["test.hello", "noop", "frobnicate"]) == {
        "frobnicate": "module specops.runtime.ops.frobnicate does not exist in this runtime"}


def test_check_ops_imports_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "specops.runtime.ops.testing", raising=False)
    assert check_ops(["test.write"]) == {}
    assert "specops.runtime.ops.testing" not in sys.modules
