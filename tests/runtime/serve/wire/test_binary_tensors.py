"""Binary tensor data encoding against the Triton client's own (de)serialisers: every
datatype a signature can use, BYTES included, both directions."""

from __future__ import annotations

import numpy as np
import pytest

from specops.runtime.serve.wire.binary_tensors import decode_request, encode_response
from specops.runtime.serve.wire.protocol import ProtocolError

utils = pytest.importorskip("tritonclient.utils")


@pytest.mark.parametrize("dtype", ["FP32", "FP64", "FP16", "INT8", "INT16", "INT32", "INT64",
                                   "UINT8", "UINT16", "UINT32", "UINT64", "BOOL", "BYTES"])
def test_response_outputs_decode_with_the_triton_client(dtype: str) -> None:
    if dtype == "BYTES":
        arr = np.array(["a", "", "ünï", "x" * 300], dtype=object)
    else:
        arr = (np.arange(4) % 2).astype(utils.triton_to_np_dtype(dtype))
    doc = {"model_name": "m", "outputs": [
        {"name": "y", "datatype": dtype, "shape": [4], "data": arr.tolist()},
        {"name": "z", "datatype": "FP32", "shape": [1], "data": [0.5]}]}
    body, n = encode_response(doc, {"y": arr, "z": np.array([0.5], np.float32)},
                              frozenset({"y"}))
    import json
    header = json.loads(body[:n])
    y, z = header["outputs"]
    assert "data" not in y and z["data"] == [0.5]
    raw = body[n:n + y["parameters"]["binary_data_size"]]
    assert n + len(raw) == len(body)
    got = (utils.deserialize_bytes_tensor(raw) if dtype == "BYTES"
           else np.frombuffer(raw, dtype=utils.triton_to_np_dtype(dtype)))
    if dtype == "BYTES":
        assert [b.decode() for b in got] == arr.tolist()
    else:
        np.testing.assert_array_equal(got, arr)


def test_request_bytes_decode_from_the_triton_serialiser() -> None:
    values = np.array(["north", "", "süd"], dtype=object)
    raw = utils.serialize_byte_tensor(values).item()
    import json
    head = json.dumps({"inputs": [{"name": "r", "datatype": "BYTES", "shape": [3],
                                   "parameters": {"binary_data_size": len(raw)}}]}).encode()
    doc = decode_request(head + raw, str(len(head)))
    assert doc["inputs"][0]["data"].tolist() == ["north", "", "süd"]
    with pytest.raises(ProtocolError, match="holds 3 BYTES element"):
        bad = head.replace(b"[3]", b"[4]")
        decode_request(bad + raw, str(len(bad)))
