"""The lean server for real on 127.0.0.1: protocol, parity with batch scoring and the
registry, malformed requests, refusal of tampered models, prediction log, metrics."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_helpers import copy_project, oip_body

from specops.runtime.serve.batch import predict_file
from specops.runtime.serve.lean import LeanServer, build_service
from specops.runtime.serve.served_model import ModelRefused, ModelSource, load_model, resolve
from specops.runtime.serve.staging import MALFORMED


@pytest.fixture(scope="module")
def server(served_project: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[LeanServer, Path]]:
    root = copy_project(served_project, tmp_path_factory.mktemp("srv") / "proj")
    with LeanServer(build_service(resolve(root, None, "credit", None), log=True)) as s:
        yield s, root


@pytest.fixture(scope="module")
def client(server: tuple[LeanServer, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].url, timeout=30) as c:
        yield c


def test_health_and_metadata_follow_the_signature(client: httpx.Client,
                                                  served_project: dict[str, Any]) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2/models/credit/ready").json() == {"name": "credit", "ready": True}
    meta = client.get("/v2/models/credit").json()
    assert meta == client.get("/v2/models/credit/versions/1").json()
    assert meta["name"] == "credit" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "income", "datatype": "FP32", "shape": [-1, 1]},
                              {"name": "age", "datatype": "FP32", "shape": [-1, 1]},
                              {"name": "region", "datatype": "BYTES", "shape": [-1, 1]}]
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert meta["outputs"][1]["datatype"] == "FP32"


def test_infer_round_trip_equals_batch_scoring_and_the_registry(
        client: httpx.Client, server: tuple[LeanServer, Path], tmp_path: Path) -> None:
    root = server[1]
    model = load_model(resolve(root, None, "credit", None))
    recorded = pl.read_parquet(model.path / "test_rows.parquet")
    body = {**oip_body(recorded), "id": "rt-1"}
    r = client.post("/v2/models/credit/versions/1/infer", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["id"] == "rt-1" and doc["model_name"] == "credit"
    out = {o["name"]: o for o in doc["outputs"]}
    assert out["probabilities"]["shape"] == [recorded.height, 2]
    served = np.asarray(out["probabilities"]["data"]).reshape(-1, 2)
    expected = np.asarray(recorded.get_column("output:probabilities").to_list())
    tolerance = json.loads((model.path / "signature.json").read_text())["tolerance"]
    assert np.abs(served - expected).max() <= tolerance
    assert out["label"]["data"] == recorded.get_column("output:label").to_list()
    # batch scoring of the same rows gives the same numbers
    src = tmp_path / "rows.parquet"
    recorded.with_row_index("key").write_parquet(src)
    predict_file(resolve(root, None, "credit", None), src, tmp_path / "scored.parquet",
                 keep=["key"])
    scored = pl.read_parquet(tmp_path / "scored.parquet")
    assert scored.get_column("key").to_list() == list(range(recorded.height))
    assert scored.get_column("label").to_list() == out["label"]["data"]
    np.testing.assert_array_equal(scored.get_column("probability_1").to_numpy(),
                                  served[:, 1].astype(np.float32))
    # single rows answer as in the batch
    for i in (0, 5, 17):
        one = client.post("/v2/models/credit/infer", json=oip_body(recorded.slice(i, 1)))
        probs = {o["name"]: o for o in one.json()["outputs"]}["probabilities"]["data"]
        assert probs == pytest.approx(served[i].tolist(), abs=1e-6)


def test_predict_takes_feature_records(client: httpx.Client,
                                       served_project: dict[str, Any]) -> None:
    rows = served_project["test"].head(3).select("id", "income", "age", "region")
    records = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
               for r in rows.iter_rows(named=True)]
    r = client.post("/v2/models/credit/predict", json=records)
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert len(preds) == 3 and set(preds[0]["probabilities"]) == {"0", "1"}
    infer = client.post("/v2/models/credit/infer", json=oip_body(rows)).json()
    probs = {o["name"]: o for o in infer["outputs"]}["probabilities"]["data"]
    assert [p["probabilities"]["1"] for p in preds] == probs[1::2]


def _malformed_cases() -> list[tuple[str, str, str, Any]]:
    inputs = [{"name": "income", "datatype": "FP32", "shape": [-1, 1]},
              {"name": "age", "datatype": "FP32", "shape": [-1, 1]},
              {"name": "region", "datatype": "BYTES", "shape": [-1, 1]}]
    good = oip_body(pl.DataFrame({"income": [1.0], "age": [30], "region": ["north"]}))
    extra: list[tuple[str, str, str, Any]] = [
        ("empty body", "POST", "/v2/models/credit/infer", b""),
        ("inputs not a list", "POST", "/v2/models/credit/infer", {"inputs": {"a": 1}}),
        ("tensor not an object", "POST", "/v2/models/credit/infer", {"inputs": [1]}),
        ("rows differ between inputs", "POST", "/v2/models/credit/infer",
         {"inputs": [{**good["inputs"][0], "shape": [2, 1], "data": [1.0, 2.0]},
                     *good["inputs"][1:]]}),
        ("number in a BYTES input", "POST", "/v2/models/credit/infer",
         {"inputs": [*good["inputs"][:2], {**good["inputs"][2], "data": [3]}]}),
        ("data nested three deep", "POST", "/v2/models/credit/infer",
         {"inputs": [{**good["inputs"][0], "data": [[[1.0]]]}, *good["inputs"][1:]]}),
        ("negative shape", "POST", "/v2/models/credit/infer",
         {"inputs": [{**good["inputs"][0], "shape": [-1, 1]}, *good["inputs"][1:]]}),
        ("value beyond FP32", "POST", "/v2/models/credit/infer",
         {"inputs": [{**good["inputs"][0], "data": [1e300]}, *good["inputs"][1:]]}),
        ("unknown output requested", "POST", "/v2/models/credit/infer",
         {**good, "outputs": [{"name": "nope"}]}),
        ("predict: empty list", "POST", "/v2/models/credit/predict", []),
        ("predict: record not an object", "POST", "/v2/models/credit/predict", [1]),
        ("predict: string income", "POST", "/v2/models/credit/predict",
         [{"income": "12", "age": 3, "region": "north"}]),
        ("unknown route", "GET", "/v2/nope", None),
        ("DELETE metadata", "DELETE", "/v2/models/credit", None),
        # hostile input: each was a 500 (and a model failure in the metrics) before
        ("integer of 10^400", "POST", "/v2/models/credit/infer",
         json.dumps({"inputs": [{**good["inputs"][0], "data": [0]}, *good["inputs"][1:]]})
         .replace('"data": [0]', '"data": [1' + "0" * 400 + "]").encode()),
        ("integer of 10^400 in a record", "POST", "/v2/models/credit/predict",
         b'[{"income": 1' + b"0" * 400 + b', "age": 3, "region": "n"}]'),
        ("lone surrogate in a text input", "POST", "/v2/models/credit/infer",
         json.dumps({"inputs": [*good["inputs"][:2], {**good["inputs"][2],
                                                       "data": ["\ud800"]}]}).encode()),
        ("100k-deep JSON", "POST", "/v2/models/credit/infer", b"[" * 100_000 + b"]" * 100_000),
        ("100k-deep JSON inside an object", "POST", "/v2/models/credit/infer",
         b'{"inputs": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_001),
        ("NaN literal", "POST", "/v2/models/credit/infer",
         json.dumps({"inputs": [{**good["inputs"][0], "data": [float("nan")]},
                                *good["inputs"][1:]]}).encode()),
        ("Infinity literal", "POST", "/v2/models/credit/predict",
         b'[{"income": -Infinity, "age": 3, "region": "n"}]'),
        ("1 MB request id", "POST", "/v2/models/credit/infer", {**good, "id": "x" * 1_000_000}),
        ("request id with a newline", "POST", "/v2/models/credit/infer",
         {**good, "id": "a\nb"}),
        ("request id an object", "POST", "/v2/models/credit/infer", {**good, "id": {"a": 1}}),
        ("parameters not an object", "POST", "/v2/models/credit/infer",
         {**good, "parameters": [1]}),
        ("Triton load (not supported)", "POST", "/v2/repository/models/credit/load", None),
        ("Triton statistics (at /metrics)", "GET", "/v2/models/credit/stats", None),
        ("GET repository index", "GET", "/v2/repository/index", None),
    ]
    return [*MALFORMED("credit", inputs), *extra]


@pytest.mark.parametrize("case", _malformed_cases(), ids=lambda c: c[0])
def test_malformed_requests_get_4xx_with_a_reason(client: httpx.Client,
                                                  case: tuple[str, str, str, Any]) -> None:
    _name, method, path, body = case
    content = body if isinstance(body, bytes) else (
        json.dumps(body).encode() if body is not None else None)
    r = client.request(method, path, content=content)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]


def test_malformed_requests_are_client_errors_not_model_failures(
        client: httpx.Client) -> None:
    for _name, method, path, body in _malformed_cases():
        content = body if isinstance(body, bytes) else (
            json.dumps(body).encode() if body is not None else None)
        client.request(method, path, content=content)
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    codes = {s.labels["code"] for s in families["specops_requests"].samples}
    assert codes and not any(c.startswith("5") for c in codes)
    assert not [s for s in families["specops_model_failures"].samples if s.value]
    errors = sum(s.value for s in families["specops_request_errors"].samples)
    assert errors >= len(_malformed_cases())


def test_metrics_are_prometheus_text(client: httpx.Client) -> None:
    client.post("/v2/models/credit/infer", content=b"nope")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert {"specops_requests", "specops_request_errors", "specops_rows_scored",
            "specops_request_duration_seconds", "specops_model_duration_seconds",
            "specops_in_flight_requests", "specops_model_failures", "specops_build_info",
            "process_resident_memory_bytes"} <= set(families)
    inflight = families["specops_in_flight_requests"].samples[0].value
    assert inflight == 1     # the /metrics request itself
    model = families["specops_model_duration_seconds"].samples
    request = families["specops_request_duration_seconds"].samples
    model_sum = next(s.value for s in model if s.name.endswith("_sum"))
    request_sum = sum(s.value for s in request if s.name.endswith("_sum"))
    assert 0 < model_sum < request_sum
    codes = {(s.labels["endpoint"], s.labels["code"]) for s in families["specops_requests"]
             .samples if s.name == "specops_requests_total"}
    assert ("infer", "200") in codes and ("infer", "400") in codes
    buckets = [s for s in families["specops_request_duration_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["endpoint"] == "infer"]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value >= 2


def test_prediction_log_holds_every_request_after_shutdown(
        served_project: dict[str, Any], tmp_path: Path) -> None:
    root = copy_project(served_project, tmp_path / "proj")
    service = build_service(resolve(root, None, "credit", None), log=True,
                            log_batch_rows=7)
    rows = served_project["test"].head(10)
    ids = []
    with LeanServer(service) as s, httpx.Client(base_url=s.url) as c:
        for i in range(25):
            rid = f"req-{i}"
            ids.append(rid)
            n = 1 + i % 3
            r = c.post("/v2/models/credit/infer", json={**oip_body(rows.head(n)), "id": rid})
            assert r.status_code == 200
        assert c.post("/v2/models/credit/infer", content=b"[").status_code == 400
    log = pl.read_parquet(root / ".specops/predictions/model=credit/**/*.parquet",
                          hive_partitioning=True)
    assert sorted(set(log.get_column("request_id"))) == sorted(ids)
    assert log.height == sum(1 + i % 3 for i in range(25))
    assert {"time", "model", "version", "digest", "latency_ms", "income", "age", "region",
            "label", "probabilities", "date"} <= set(log.columns)
    assert log.get_column("digest").unique().to_list() == [service.model.model_digest]
    assert (log.get_column("latency_ms") > 0).all()
    assert len(list((root / ".specops/predictions/model=credit").glob("date=*"))) >= 1


def test_tampered_model_is_refused_at_start(served_project: dict[str, Any],
                                            tmp_path: Path) -> None:
    root = copy_project(served_project, tmp_path / "proj")
    onnx = next(root.glob(".specops/artifacts/registry/credit/1/model.onnx"))
    os.chmod(onnx, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0x01
    onnx.write_bytes(bytes(data))
    with pytest.raises(ModelRefused, match=r"verification failed: model\.onnx: content changed"):
        build_service(resolve(root, None, "credit", None))
    assert not (root / ".specops/predictions").exists()


def test_production_serves_only_the_deployed_version(served_project: dict[str, Any],
                                                     tmp_path: Path) -> None:
    from governed import approve_and_deploy, governed

    from specops.runtime.registry import Registry

    root = governed(served_project, tmp_path / "proj")
    with pytest.raises(ModelRefused, match="not deployed to production"):
        resolve(root, None, "credit", "production")
    reg = Registry.open(root)
    reg.set_alias("credit", "production", 1, actor="test")   # an alias is not a deploy
    reg.close()
    with pytest.raises(ModelRefused, match="not deployed to production"):
        resolve(root, None, "credit@1", "production")
    approve_and_deploy(root)
    assert resolve(root, None, "credit@1", "production").version == 1
    src = resolve(root, None, "credit", "production")
    assert isinstance(src, ModelSource) and src.version == 1
    assert src.environment == "production"
