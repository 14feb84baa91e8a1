"""OIP over gRPC with the real `tritonclient[grpc]`: metadata, infer with raw binary
inputs and typed contents (BYTES included) equal to HTTP infer and batch scoring, the
same checks (INVALID_ARGUMENT with the reason), prediction log and metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from serve_helpers import copy_project

from specops.runtime.serve.batch import predict_file
from specops.runtime.serve.lean import build_service, free_port
from specops.runtime.serve.served_model import load_model, resolve
from specops.runtime.serve.wire.grpc_server import GrpcServer

grpcclient = pytest.importorskip("tritonclient.grpc")
from tritonclient.utils import InferenceServerException  # noqa: E402


@pytest.fixture(scope="module")
def grpc_server(served_project: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[GrpcServer, Path]]:
    root = copy_project(served_project, tmp_path_factory.mktemp("grpc") / "proj")
    service = build_service(resolve(root, None, "credit", None), log=True, log_batch_rows=1)
    with GrpcServer(service, port=free_port()) as s:
        yield s, root
    service.close()


def _inputs(frame: pl.DataFrame) -> list[Any]:
    n = frame.height
    income = np.array([np.nan if v is None else v for v in frame.get_column("income")],
                      dtype=np.float32).reshape(n, 1)
    age = frame.get_column("age").to_numpy().astype(np.float32).reshape(n, 1)
    region = np.array(frame.get_column("region").to_list(), dtype=object).reshape(n, 1)
    out = []
    for name, arr, dtype in (("income", income, "FP32"), ("age", age, "FP32"),
                             ("region", region, "BYTES")):
        t = grpcclient.InferInput(name, list(arr.shape), dtype)
        t.set_data_from_numpy(arr)
        out.append(t)
    return out


def test_grpc_metadata_and_infer_equal_batch_scoring(
        grpc_server: tuple[GrpcServer, Path], tmp_path: Path) -> None:
    server, root = grpc_server
    rows = pl.read_parquet(load_model(resolve(root, None, "credit", None)).path
                           / "test_rows.parquet")
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    assert client.is_server_live() and client.is_model_ready("credit")
    assert not client.is_model_ready("credit", "7")
    meta = client.get_model_metadata("credit", as_json=True)
    assert meta["versions"] == ["1"]
    assert [(t["name"], t["datatype"]) for t in meta["inputs"]] == [
        ("income", "FP32"), ("age", "FP32"), ("region", "BYTES")]
    result = client.infer("credit", _inputs(rows), request_id="g-1")
    probs, labels = result.as_numpy("probabilities"), result.as_numpy("label")
    assert probs.shape == (rows.height, 2) and result.get_response().id == "g-1"
    src = tmp_path / "rows.parquet"
    rows.with_row_index("key").write_parquet(src)
    predict_file(resolve(root, None, "credit", None), src, tmp_path / "s.parquet",
                 keep=["key"])
    scored = pl.read_parquet(tmp_path / "s.parquet")
    np.testing.assert_array_equal(scored.get_column("probability_1").to_numpy(), probs[:, 1])
    assert scored.get_column("label").to_list() == labels.reshape(-1).tolist()
    # typed contents (no raw bytes) answer the same, one output requested
    from tritonclient.grpc import service_pb2
    req = service_pb2.ModelInferRequest(model_name="credit", id="typed")
    first = rows.head(2)
    for name in ("income", "age"):
        t = req.inputs.add(name=name, datatype="FP32", shape=[2, 1])
        vals = first.get_column(name).cast(pl.Float32).fill_null(float("nan")).to_list()
        t.contents.fp32_contents.extend(vals)
    t = req.inputs.add(name="region", datatype="BYTES", shape=[2, 1])
    t.contents.bytes_contents.extend([v.encode() for v in first.get_column("region")])
    req.outputs.add(name="probabilities")
    reply = client._client_stub.ModelInfer(req)
    assert [o.name for o in reply.outputs] == ["probabilities"]
    got = np.frombuffer(reply.raw_output_contents[0], dtype="<f4").reshape(2, 2)
    np.testing.assert_array_equal(got, probs[:2])
    client.close()


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda ins: ins[:2], "missing input(s): region"),
    (lambda ins: [*ins, ins[0]], "given twice"),
])
def test_grpc_refusals_carry_the_reason(grpc_server: tuple[GrpcServer, Path],
                                        mutate: Any, fragment: str) -> None:
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_server[0].port}")
    frame = pl.DataFrame({"income": [1.0], "age": [3], "region": ["north"]})
    with pytest.raises(InferenceServerException) as info:
        client.infer("credit", mutate(_inputs(frame)))
    assert "INVALID_ARGUMENT" in str(info.value.status()) and fragment in info.value.message()
    with pytest.raises(InferenceServerException, match="not served here"):
        client.infer("other", _inputs(frame))
    bad = grpcclient.InferInput("income", [1, 1], "FP32")
    bad.set_data_from_numpy(np.array([[np.inf]], dtype=np.float32))
    with pytest.raises(InferenceServerException, match="out of FP32 range"):
        client.infer("credit", [bad, *_inputs(frame)[1:]])
    with pytest.raises(InferenceServerException, match="printable ASCII"):
        client.infer("credit", _inputs(frame), request_id="x" * 1000)
    client.close()


def test_grpc_requests_reach_the_metrics_and_the_log(grpc_server: tuple[GrpcServer, Path]
                                                     ) -> None:
    server, root = grpc_server
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    frame = pl.DataFrame({"income": [1.0], "age": [3], "region": ["north"]})
    client.infer("credit", _inputs(frame), request_id="logged-1")
    client.close()
    text = server.service.metrics.render()
    assert 'code="200",endpoint="grpc_infer"' in text     # prometheus_client sorts labels
    assert 'code="400",endpoint="grpc_infer"' in text
    assert "specops_model_failures_total{" not in text
    server.service.log.close() if server.service.log else None
    log = pl.read_parquet(root / ".specops/predictions/model=credit/**/*.parquet",
                          hive_partitioning=True)
    assert "logged-1" in log.get_column("request_id").to_list()
