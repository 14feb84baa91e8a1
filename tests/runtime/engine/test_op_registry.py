"""The op registry: table entries, unknown ops, run-time registration."""

from __future__ import annotations

import sys

import pytest

from specops.runtime.engine.op_registry import (
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
    assert all(t.startswith("specops.runtime.") and ":" in t for t in OPS.values())


def test_resolution_and_unknown_ops():
    from specops.runtime.engine.debug_ops import write

    assert resolve_op("test.write") is write
    assert op_target("train") == "specops.runtime.training.train:train"
    with pytest.raises(UnknownOpError, match="unknown op 'frobnicate'"):
        op_target("frobnicate")
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
        "frobnicate": "unknown op 'frobnicate'"}


def test_check_ops_imports_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "specops.runtime.engine.debug_ops", raising=False)
    assert check_ops(["test.write"]) == {}
    assert "specops.runtime.engine.debug_ops" not in sys.modules
