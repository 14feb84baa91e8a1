"""Serving on Ray for real: binary OIP through Ray Serve's proxy (the request headers reach
the service), and direct-ingress replicas on a two-node cluster (one per node, sharing
the port, each counting its own requests and writing its own prediction log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_helpers import copy_project, oip_body

from specops.runtime.serve.lean import LeanServer, build_service, free_port
from specops.runtime.serve.served_model import resolve

pytestmark = [pytest.mark.ray, pytest.mark.slow]
httpclient = pytest.importorskip("tritonclient.http")


def _binary_probabilities(url: str, frame: pl.DataFrame) -> np.ndarray:
    """Infer with every input and output as binary tensor data (the Triton client's
    default), which needs the `Inference-Header-Content-Length` header to arrive."""
    n = frame.height
    income = np.array([np.nan if v is None else v for v in frame.get_column("income")],
                      dtype=np.float32).reshape(n, 1)
    age = frame.get_column("age").to_numpy().astype(np.float32).reshape(n, 1)
    region = np.array(frame.get_column("region").to_list(), dtype=object).reshape(n, 1)
    inputs = []
    for name, arr, dtype in (("income", income, "FP32"), ("age", age, "FP32"),
                             ("region", region, "BYTES")):
        t = httpclient.InferInput(name, list(arr.shape), dtype)
        t.set_data_from_numpy(arr, binary_data=True)
        inputs.append(t)
    client = httpclient.InferenceServerClient(url.removeprefix("http://"),
                                              network_timeout=60.0)
    try:
        out: np.ndarray = client.infer("credit", inputs).as_numpy("probabilities")
    finally:
        client.close()
    return out


def _expected(source: Any, rows: pl.DataFrame) -> tuple[dict[str, Any], np.ndarray]:
    with LeanServer(build_service(source, log=False)) as lean, \
            httpx.Client(base_url=lean.url) as c:
        doc = c.post("/v2/models/credit/infer", json=oip_body(rows)).json()
        return doc, _binary_probabilities(lean.url, rows)


def test_binary_oip_through_ray_serve(ray_local: str, served_project: dict[str, Any],
                                      tmp_path: Path) -> None:
    from ray import serve

    from specops.runtime.serve.ray_serve import build_deployment

    root = copy_project(served_project, tmp_path / "proj")
    source = resolve(root, None, "credit", None)
    rows = served_project["test"].head(5)
    _, expected = _expected(source, rows)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(build_deployment(source, {}, log=False), name="credit", route_prefix="/")
        url = f"http://127.0.0.1:{port}"
        np.testing.assert_array_equal(_binary_probabilities(url, rows), expected)
        with httpx.Client(base_url=url, timeout=60) as c:   # a malformed binary body: 400
            bad = c.post("/v2/models/credit/infer", content=b'{"inputs": []}xx',
                         headers={"Inference-Header-Content-Length": "99"})
            assert bad.status_code == 400 and bad.json()["error"]
    finally:
        serve.shutdown()


def _rows_scored(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    fam = {f.name: f for f in text_string_to_metric_families(text)}
    return sum(s.value for s in fam["specops_rows_scored"].samples
               if s.name == "specops_rows_scored_total")


def test_direct_replicas_on_two_nodes_share_the_port(second_ray_node: str,
                                                     served_project: dict[str, Any],
                                                     tmp_path: Path) -> None:
    from specops.runtime.serve.ray_serve import start_replicas

    root = copy_project(served_project, tmp_path / "proj")
    source = resolve(root, None, "credit", None)
    rows = served_project["test"].head(8)
    expected_doc, expected_probs = _expected(source, rows)
    port = free_port()
    replicas = start_replicas(source, 2, "127.0.0.1", port, log=True)
    url = f"http://127.0.0.1:{port}"
    sent = 0
    try:
        assert len({r["node_id"] for r in replicas.info}) == 2     # one replica per node
        assert len({r["url"] for r in replicas.info} | {url}) == 3
        with httpx.Client(base_url=url, timeout=60) as c:
            assert c.post("/v2/models/credit/infer", json=oip_body(rows)).json() == \
                expected_doc
        np.testing.assert_array_equal(_binary_probabilities(url, rows), expected_probs)
        sent += 2 * rows.height
        # one new connection per request: the kernel spreads connections over both
        for i in range(40):
            with httpx.Client(base_url=url, timeout=60) as c:
                r = c.post("/v2/models/credit/infer", json=oip_body(rows.slice(i % 8, 1)))
                assert r.status_code == 200
                sent += 1
        per_replica = [_rows_scored(r["url"]) for r in replicas.info]
        assert all(n > 0 for n in per_replica) and sum(per_replica) == sent
    finally:
        replicas.stop()
    log = pl.read_parquet(root / ".specops/predictions/model=credit/**/*.parquet",
                          hive_partitioning=True)
    assert log.height == sent     # each replica flushed its own files when stopped
