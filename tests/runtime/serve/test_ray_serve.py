"""Ray Serve runs the same service: one bounded round trip on the session's Ray."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from serve_helpers import copy_project, oip_body

from specops.runtime.serve.lean import free_port
from specops.runtime.serve.served_model import resolve

pytestmark = pytest.mark.ray


def test_ray_serve_round_trip_with_batching(ray_local: str, served_project: dict[str, Any],
                                            tmp_path: Path) -> None:
    from ray import serve

    from specops.runtime.serve.lean import LeanServer, build_service
    from specops.runtime.serve.ray_serve import build_deployment

    root = copy_project(served_project, tmp_path / "proj")
    source = resolve(root, None, "credit", None)
    rows = served_project["test"].head(8)
    with LeanServer(build_service(source, log=False)) as lean, \
            httpx.Client(base_url=lean.url) as c:
        expected = c.post("/v2/models/credit/infer", json=oip_body(rows)).json()
        meta = c.get("/v2/models/credit").json()
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(build_deployment(source, {"batching": {"max_batch_size": 4, "wait_ms": 5}}),
                  name="credit", route_prefix="/")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            assert c.get("/v2/models/credit").json() == meta
            got = c.post("/v2/models/credit/infer", json=oip_body(rows)).json()
            assert got == expected
            singles = [c.post("/v2/models/credit/infer", json=oip_body(rows.slice(i, 1)))
                       for i in range(4)]
            assert all(r.status_code == 200 for r in singles)
            bad = c.post("/v2/models/credit/infer", json={"inputs": []})
            assert bad.status_code == 400 and bad.json()["error"]
            assert "specops_requests_total" in c.get("/metrics").text
    finally:
        serve.shutdown()
    deadline = time.monotonic() + 30
    pattern = str(root / ".specops/predictions/model=credit/**/*.parquet")
    while time.monotonic() < deadline and not list(
            (root / ".specops/predictions").rglob("*.parquet")):
        time.sleep(0.5)
    log = pl.read_parquet(pattern, hive_partitioning=True)
    assert log.height == 8 + 4   # flushed when Serve shut the replica down


def test_batch_partitions_score_as_ray_tasks(ray_local: str, served_project: dict[str, Any],
                                             tmp_path: Path) -> None:
    from specops.runtime.engine.executors.ray_executor import ray_map
    from specops.runtime.serve.batch import predict_file

    source = resolve(served_project["root"], None, "credit", None)
    src = tmp_path / "in.parquet"
    served_project["test"].write_parquet(src)
    inline = predict_file(source, src, tmp_path / "inline.parquet", keep=["id", "ts"])
    tasks = predict_file(source, src, tmp_path / "ray.parquet", keep=["id", "ts"],
                         partitions=3, mapper=ray_map)
    assert tasks["partitions"] == 3 and tasks["rows"] == inline["rows"]
    assert pl.read_parquet(tmp_path / "ray.parquet").equals(
        pl.read_parquet(tmp_path / "inline.parquet"))
