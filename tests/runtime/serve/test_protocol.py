"""The OIP wire format as pure functions (no socket): conversions and responses."""

from __future__ import annotations

import numpy as np
import pytest

from specops.runtime.serve.wire.protocol import (
    ProtocolError,
    infer_response,
    metadata,
    parse_infer,
    parse_records,
    predict_response,
)
from specops.runtime.training.preprocess import MISSING_CATEGORY

INPUTS = [{"name": "income", "datatype": "FP32", "shape": [-1, 1]},
          {"name": "region", "datatype": "BYTES", "shape": [-1, 1]}]
OUTPUTS = [{"name": "label", "datatype": "INT64", "shape": [-1]},
           {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}]


def test_numeric_datatypes_cast_to_fp32_and_nulls_mean_missing() -> None:
    req = parse_infer({"id": 7, "inputs": [
        {"name": "region", "datatype": "BYTES", "shape": [3], "data": ["a", None, "b"]},
        {"name": "income", "datatype": "INT64", "shape": [3, 1], "data": [[1], [None], [3]]},
    ]}, INPUTS, OUTPUTS)
    assert req.rows == 3 and req.id == "7" and req.outputs is None
    assert req.feeds["income"].dtype == np.float32 and req.feeds["income"].shape == (3, 1)
    assert np.isnan(req.feeds["income"][1, 0])
    assert req.feeds["region"][:, 0].tolist() == ["a", MISSING_CATEGORY, "b"]


@pytest.mark.parametrize(("body", "status", "fragment"), [
    ({"inputs": [{"name": "income", "datatype": "BYTES", "shape": [1], "data": ["1"]}]},
     400, "has datatype 'BYTES'; the model takes FP32"),
    ({"inputs": [{"name": "income", "datatype": "FP32", "shape": [1], "data": [True]}]},
     400, "numeric values must be numbers"),
    ({"inputs": [{"name": "income", "datatype": "FP32", "shape": [1], "data": [1.0]}]},
     400, "missing input(s): region"),
    ({"inputs": [{"name": "income", "datatype": "FP32", "shape": [0], "data": []},
                 {"name": "region", "datatype": "BYTES", "shape": [0], "data": []}]},
     400, "zero rows"),
    ({"inputs": [{"name": "income", "datatype": "FP32", "shape": [200_001],
                  "data": [1.0] * 200_001},
                 {"name": "region", "datatype": "BYTES", "shape": [200_001],
                  "data": ["a"] * 200_001}]}, 413, "exceed the limit"),
])
def test_refusals_name_the_problem(body: dict, status: int, fragment: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_infer(body, INPUTS, OUTPUTS)
    assert err.value.status == status and fragment in err.value.reason


def test_records_ignore_extra_keys_and_responses_follow_oip() -> None:
    req = parse_records(b'{"records": [{"id": 1, "income": 2.5, "region": "n"}]}', INPUTS)
    assert req.rows == 1 and set(req.feeds) == {"income", "region"}
    result = {"label": np.array([1], dtype=np.int64),
              "probabilities": np.array([[0.25, 0.75]], dtype=np.float32)}
    doc = infer_response("m", 3, result, parse_infer(
        {"id": "x", "outputs": [{"name": "probabilities"}], "inputs": [
            {"name": "income", "datatype": "FP32", "shape": [1], "data": [1]},
            {"name": "region", "datatype": "BYTES", "shape": [1], "data": ["n"]}]},
        INPUTS, OUTPUTS))
    assert doc == {"model_name": "m", "model_version": "3", "id": "x", "outputs": [
        {"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": [0.25, 0.75]}]}
    assert predict_response("m", 3, result, [0, 1])["predictions"] == [
        {"label": 1, "probabilities": {"0": 0.25, "1": 0.75}}]
    meta = metadata("m", 3, INPUTS, OUTPUTS)
    assert meta["versions"] == ["3"] and meta["inputs"] == INPUTS
