"""`/metrics` through prometheus_client: the exposition parses, and each series counts
what its name says (per-server registry, label children cached per endpoint and status,
model time apart from request time, build info with the served digest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_helpers import copy_project, oip_body

from specops.runtime.serve.lean import LeanServer, build_service
from specops.runtime.serve.prometheus import BUCKETS_S, Metrics
from specops.runtime.serve.served_model import resolve


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(fam: Any, suffix: str = "", **labels: str) -> float:
    """Sum of the samples named `fam.name + suffix` whose labels include `labels`."""
    return sum(s.value for s in fam.samples if s.name == fam.name + suffix
               and all(s.labels.get(k) == v for k, v in labels.items()))


def test_each_series_counts_what_it_names() -> None:
    m = Metrics("credit", 3, "sha256:" + "ab" * 32)
    m.in_flight(1)
    m.in_flight(1)
    m.in_flight(-1)
    for seconds in (0.0004, 0.002, 0.3):
        m.observe("infer", 200, seconds, rows=2)
    m.observe("infer", 400, 0.0001)
    m.observe("predict", 413, 0.0)
    m.observe("infer", 500, 0.01)
    m.model_failed("infer")
    m.observe_model(0.0002)
    m.observe_model(0.004)
    fam = _families(m.render())
    req = fam["specops_requests"]
    assert _value(req, "_total", endpoint="infer", code="200") == 3
    assert _value(req, "_total", endpoint="infer", code="400") == 1
    assert _value(req, "_total", endpoint="predict", code="413") == 1
    assert {s.labels["model"] for s in req.samples} == {"credit"}
    assert {s.labels["version"] for s in req.samples} == {"3"}
    errors = fam["specops_request_errors"]    # 4xx only: the 500 is not a client error
    assert _value(errors, "_total", endpoint="infer") == 1
    assert _value(errors, "_total", endpoint="predict") == 1
    assert _value(fam["specops_model_failures"], "_total", endpoint="infer") == 1
    assert _value(fam["specops_rows_scored"], "_total") == 6
    assert _value(fam["specops_in_flight_requests"]) == 1
    dur = fam["specops_request_duration_seconds"]
    ok = {"endpoint": "infer", "code": "200"}
    assert _value(dur, "_count", **ok) == 3
    assert _value(dur, "_sum", **ok) == pytest.approx(0.3024)
    assert _value(dur, "_bucket", le="0.0005", **ok) == 1     # cumulative buckets
    assert _value(dur, "_bucket", le="0.0025", **ok) == 2
    assert _value(dur, "_bucket", le="0.25", **ok) == 2
    assert _value(dur, "_bucket", le="+Inf", **ok) == 3
    les = [s.labels["le"] for s in dur.samples if s.name.endswith("_bucket")
           and s.labels["code"] == "200"]
    assert les == [*map(str, BUCKETS_S), "+Inf"]
    model = fam["specops_model_duration_seconds"]     # model time apart from request time
    assert _value(model, "_count") == 2
    assert _value(model, "_sum") == pytest.approx(0.0042)
    assert "endpoint" not in model.samples[0].labels
    build = fam["specops_build_info"].samples[0]
    assert build.name == "specops_build_info" and build.value == 1
    assert build.labels == {"version": build.labels["version"], "model": "credit",
                            "model_version": "3", "digest": "sha256:" + "ab" * 32}
    assert _value(fam["process_resident_memory_bytes"]) > 0
    assert "python_info" in fam


def test_each_server_has_its_own_registry() -> None:
    a, b = Metrics("a", 1), Metrics("b", 2)
    a.observe("infer", 200, 0.001, rows=5)
    fam_b = _families(b.render())
    assert _value(fam_b["specops_rows_scored"], "_total") == 0
    assert not [s for s in fam_b["specops_requests"].samples]
    assert _value(_families(a.render())["specops_rows_scored"], "_total") == 5


@pytest.fixture(scope="module")
def lean(served_project: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[LeanServer]:
    root: Path = copy_project(served_project, tmp_path_factory.mktemp("expo") / "proj")
    with LeanServer(build_service(resolve(root, None, "credit", None), log=False)) as s:
        yield s


def test_served_metrics_parse_and_name_the_served_digest(lean: LeanServer,
                                                         served_project: dict[str, Any]
                                                         ) -> None:
    rows = served_project["test"].head(3)
    with httpx.Client(base_url=lean.url, timeout=30) as c:
        assert c.post("/v2/models/credit/infer", json=oip_body(rows)).status_code == 200
        assert c.post("/v2/models/credit/infer", content=b"{").status_code == 400
        assert c.get("/v2/models/nope").status_code == 404
        r = c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    fam = _families(r.text)
    build = fam["specops_build_info"].samples[0].labels
    assert build["digest"] == lean.service.model.model_digest != ""
    assert _value(fam["specops_rows_scored"], "_total") == 3
    dur = fam["specops_request_duration_seconds"]
    assert _value(dur, "_count", endpoint="infer", code="200") == 1
    assert _value(dur, "_count", endpoint="infer", code="400") == 1
    assert _value(fam["specops_request_errors"], "_total") == 2     # the 400 and the 404
    assert 0 < _value(fam["specops_model_duration_seconds"], "_sum") < _value(
        dur, "_sum", endpoint="infer", code="200")
    assert _value(fam["specops_in_flight_requests"]) == 1     # the scrape itself
