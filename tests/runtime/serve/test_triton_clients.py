"""The official Triton clients (`tritonclient[http]`) against the lean server: metadata,
model config, repository index, and infer with binary inputs and outputs (BYTES
included) equal to batch scoring; malformed binary bodies get a 400 with a reason."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest
from serve_helpers import copy_project, oip_body

from specops.runtime.serve.batch import predict_file
from specops.runtime.serve.lean import LeanServer, build_service
from specops.runtime.serve.served_model import load_model, resolve

httpclient = pytest.importorskip("tritonclient.http")


@pytest.fixture(scope="module")
def server(served_project: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[LeanServer, Path]]:
    root = copy_project(served_project, tmp_path_factory.mktemp("triton") / "proj")
    with LeanServer(build_service(resolve(root, None, "credit", None), log=True)) as s:
        yield s, root


@pytest.fixture(scope="module")
def rows(server: tuple[LeanServer, Path]) -> pl.DataFrame:
    model = load_model(resolve(server[1], None, "credit", None))
    return pl.read_parquet(model.path / "test_rows.parquet")


def _inputs(frame: pl.DataFrame, binary: set[str]) -> list[Any]:
    n = frame.height
    income = np.array([np.nan if v is None else v for v in frame.get_column("income")],
                      dtype=np.float32).reshape(n, 1)
    age = frame.get_column("age").to_numpy().astype(np.float32).reshape(n, 1)
    region = np.array(frame.get_column("region").to_list(), dtype=object).reshape(n, 1)
    out = []
    for name, arr, dtype in (("income", income, "FP32"), ("age", age, "FP32"),
                             ("region", region, "BYTES")):
        t = httpclient.InferInput(name, list(arr.shape), dtype)
        t.set_data_from_numpy(arr, binary_data=name in binary)
        out.append(t)
    return out


def test_metadata_config_and_index_through_the_client(server: tuple[LeanServer, Path]
                                                      ) -> None:
    client = httpclient.InferenceServerClient(server[0].url.removeprefix("http://"))
    assert client.is_server_live() and client.is_model_ready("credit")
    meta = client.get_model_metadata("credit")
    assert meta["versions"] == ["1"]
    assert [(t["name"], t["datatype"]) for t in meta["inputs"]] == [
        ("income", "FP32"), ("age", "FP32"), ("region", "BYTES")]
    config = client.get_model_config("credit")
    assert config["platform"] == "onnxruntime_onnx" and config["max_batch_size"] == 0
    assert [(t["name"], t["data_type"]) for t in config["input"]] == [
        ("income", "TYPE_FP32"), ("age", "TYPE_FP32"), ("region", "TYPE_STRING")]
    assert client.get_model_repository_index() == [
        {"name": "credit", "version": "1", "state": "READY"}]
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    client.close()


def test_binary_infer_equals_json_infer_and_batch_scoring(
        server: tuple[LeanServer, Path], rows: pl.DataFrame, tmp_path: Path) -> None:
    client = httpclient.InferenceServerClient(server[0].url.removeprefix("http://"))
    result = client.infer("credit", _inputs(rows, {"income", "age", "region"}), request_id="bin-1")
    probs = result.as_numpy("probabilities")
    labels = result.as_numpy("label")
    assert probs.dtype == np.float32 and probs.shape == (rows.height, 2)
    # JSON tensors in (but income: JSON has no NaN, and the client would write a NaN
    # literal, which is refused), binary or JSON out per requested output
    mixed = client.infer("credit", _inputs(rows, {"income"}), outputs=[
        httpclient.InferRequestedOutput("probabilities", binary_data=True),
        httpclient.InferRequestedOutput("label", binary_data=False)])
    np.testing.assert_array_equal(mixed.as_numpy("probabilities"), probs)
    assert mixed.get_output("label")["data"] == labels.reshape(-1).tolist()
    assert "parameters" in mixed.get_output("probabilities")
    client.close()
    with httpx.Client(base_url=server[0].url) as c:
        doc = c.post("/v2/models/credit/infer", json=oip_body(rows)).json()
    out = {o["name"]: o for o in doc["outputs"]}
    np.testing.assert_array_equal(
        np.asarray(out["probabilities"]["data"], dtype=np.float32).reshape(-1, 2), probs)
    src = tmp_path / "rows.parquet"
    rows.with_row_index("key").write_parquet(src)
    predict_file(resolve(server[1], None, "credit", None), src, tmp_path / "s.parquet",
                 keep=["key"])
    scored = pl.read_parquet(tmp_path / "s.parquet")
    np.testing.assert_array_equal(scored.get_column("probability_1").to_numpy(), probs[:, 1])
    assert scored.get_column("label").to_list() == labels.reshape(-1).tolist()


def _binary_body(header: dict[str, Any], blobs: list[bytes]) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + b"".join(blobs), {"Inference-Header-Content-Length": str(len(head))}


def _tensor(name: str, dtype: str, size: int) -> dict[str, Any]:
    return {"name": name, "datatype": dtype, "shape": [1, 1],
            "parameters": {"binary_data_size": size}}


GOOD = [_tensor("income", "FP32", 4), _tensor("age", "FP32", 4),
        _tensor("region", "BYTES", 9)]
GOOD_BLOBS = [struct.pack("<f", 1.0), struct.pack("<f", 30.0), struct.pack("<I", 5) + b"north"]


@pytest.mark.parametrize(("case", "header", "blobs", "length", "fragment"), [
    ("header length not a number", {"inputs": GOOD}, GOOD_BLOBS, "x", "must be an integer"),
    ("header length past the body", {"inputs": GOOD}, GOOD_BLOBS, "99999", "outside the body"),
    ("binary size past the body", {"inputs": [*GOOD[:2], _tensor("region", "BYTES", 90)]},
     GOOD_BLOBS, None, "overruns the body"),
    ("trailing bytes", {"inputs": GOOD}, [*GOOD_BLOBS, b"junk"], None, "after the last"),
    ("size does not match shape", {"inputs": [_tensor("income", "FP32", 8), *GOOD[1:]]},
     [b"\0" * 8, *GOOD_BLOBS[1:]], None, "does not match shape"),
    ("BYTES length overruns", {"inputs": GOOD},
     [*GOOD_BLOBS[:2], struct.pack("<I", 50) + b"north"], None, "overruns the data"),
    ("BYTES not UTF-8", {"inputs": GOOD},
     [*GOOD_BLOBS[:2], struct.pack("<I", 5) + b"\xff\xfe\x80ab"], None, "not valid UTF-8"),
    ("infinity in binary FP32", {"inputs": GOOD},
     [struct.pack("<f", float("inf")), *GOOD_BLOBS[1:]], None, "out of FP32 range"),
    ("BYTES for a numeric input", {"inputs": [_tensor("income", "BYTES", 5), *GOOD[1:]]},
     [struct.pack("<I", 1) + b"1", *GOOD_BLOBS[1:]], None, "datatype 'BYTES'"),
    ("data and binary size", {"inputs": [{**GOOD[0], "data": [1.0]}, *GOOD[1:]]},
     GOOD_BLOBS, None, "both data and binary_data_size"),
    ("negative binary size", {"inputs": [_tensor("income", "FP32", -4), *GOOD[1:]]},
     GOOD_BLOBS, None, "non-negative integer"),
    ("header not JSON", None, [b"{nope", *GOOD_BLOBS], "5", "not valid JSON"),
])
def test_malformed_binary_bodies_get_400(server: tuple[LeanServer, Path], case: str,
                                         header: dict[str, Any] | None, blobs: list[bytes],
                                         length: str | None, fragment: str) -> None:
    if header is None:
        body, headers = b"".join(blobs), {}
    else:
        body, headers = _binary_body(header, blobs)
    if length is not None:
        headers = {"Inference-Header-Content-Length": length}
    with httpx.Client(base_url=server[0].url) as c:
        r = c.post("/v2/models/credit/infer", content=body, headers=headers)
        good, good_headers = _binary_body({"inputs": GOOD}, GOOD_BLOBS)
        ok = c.post("/v2/models/credit/infer", content=good, headers=good_headers)
    assert r.status_code == 400, (case, r.text)
    assert fragment in r.json()["error"], (case, r.json())
    assert ok.status_code == 200 and ok.json()["outputs"][1]["shape"] == [1, 2]
