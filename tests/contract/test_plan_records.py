"""The plan records: golden plans round-trip byte for byte, every node gets its op's
params record, bad params are refused, records are frozen, and fingerprints are taken
over exactly what the records write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from specops.contract.canonical import sha256_of
from specops.contract.op_catalog import OPS, params_record
from specops.contract.op_params import ExportOnnxParams, GateParams, OpParams, TrainParams
from specops.contract.plan_records import FINGERPRINT_VERSION, FORMAT_VERSION, Plan, parse_params

REPO = Path(__file__).resolve().parents[2]
GOLDEN = sorted((REPO / "tests" / "fixtures" / "plans").glob("*.plan.json"))


def _raw(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_plan_round_trips_byte_for_byte(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    plan = Plan.model_validate_json(text)
    assert plan.format_version == FORMAT_VERSION
    assert plan.to_json() == text


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_every_node_gets_its_ops_record(path: Path) -> None:
    plan = Plan.model_validate(_raw(path))
    for node in plan.nodes:
        assert type(node.params) is OPS[node.op].params, node.id


def test_the_golden_plans_cover_every_op() -> None:
    ops = {n["op"] for path in GOLDEN for n in _raw(path)["nodes"]}
    assert ops == set(OPS)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_fingerprints_cover_the_params_the_records_write(path: Path) -> None:
    plan = Plan.model_validate(_raw(path))
    fps = {n.id: n.fingerprint for n in plan.nodes}
    for node in plan.nodes:
        params = node.params.model_dump(mode="json", by_alias=True)  # type: ignore[union-attr]
        expected = sha256_of({"op": node.op, "params": params,
                              "inputs": [fps[i] for i in node.inputs],
                              "format_version": FINGERPRINT_VERSION})
        assert node.fingerprint == expected, node.id


def test_aliases_are_written_as_the_plan_spells_them() -> None:
    plan = Plan.model_validate(_raw(GOLDEN[0]))
    train = next(n for n in plan.nodes if n.op == "train")
    assert isinstance(train.params, TrainParams)
    assert train.params.estimator.class_
    dumped = train.params.model_dump(mode="json", by_alias=True)
    assert "class" in dumped["estimator"] and "class_" not in dumped["estimator"]


def _train_params() -> dict:
    plan = _raw(GOLDEN[0])
    return next(n for n in plan["nodes"] if n["op"] == "train")["params"]


@pytest.mark.parametrize(("change", "loc"), [
    (lambda p: p.update(task="clustering"), ("task",)),
    (lambda p: p["estimator"].pop("cv"), ("estimator", "cv")),
    (lambda p: p["estimator"].update(cv="five"), ("estimator", "cv")),
    (lambda p: p.update(surprise=1), ("surprise",)),
    (lambda p: p["inputs"][0].update(role="ordinal"), ("inputs", 0, "role")),
])
def test_params_that_do_not_fit_are_refused(change, loc) -> None:
    params = _train_params()
    change(params)
    with pytest.raises(ValidationError) as info:
        parse_params("train", params)
    assert loc in [e["loc"] for e in info.value.errors()]


def test_records_are_frozen() -> None:
    record = parse_params("train", _train_params())
    assert isinstance(record, TrainParams)
    with pytest.raises(ValidationError):
        record.task = "regression"  # type: ignore[misc]
    plan = Plan.model_validate(_raw(GOLDEN[0]))
    with pytest.raises(ValidationError):
        plan.nodes[0].fingerprint = "sha256:" + "0" * 64  # type: ignore[misc]


def test_ops_outside_the_catalog_keep_plain_params() -> None:
    assert params_record("test.write") is None
    assert parse_params("test.write", {"text": "x"}) == {"text": "x"}
    with pytest.raises(ValueError, match="object"):
        parse_params("test.write", ["not", "an", "object"])


def test_format_2_carries_what_the_runtime_used_to_decide() -> None:
    """The values the runtime used to pick itself are required fields now."""
    for record, field in ((ExportOnnxParams, "tolerance"), (GateParams, "require_champion")):
        assert record.model_fields[field].is_required()
    plan = Plan.model_validate(_raw(GOLDEN[0]))
    onnx = next(n.params for n in plan.nodes if n.op == "export_onnx")
    assert isinstance(onnx, ExportOnnxParams) and onnx.tolerance == 1e-4


def test_every_catalog_op_names_a_record_and_a_runtime_function() -> None:
    for op, info in OPS.items():
        assert issubclass(info.params, OpParams) and info.params is not OpParams, op
        module, _, function = info.runtime.partition(":")
        assert module.startswith("specops.runtime.") and function, op


def test_the_plan_record_accepts_exactly_the_current_format() -> None:
    from typing import get_args

    assert get_args(Plan.model_fields["format_version"].annotation) == (FORMAT_VERSION,)
