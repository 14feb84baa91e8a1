"""`specops run --lineage`: OpenLineage events of a real run, checked against the official
spec schemas, to a file and to a real HTTP server.

Why against the vendored spec (tests/fixtures/vendor/openlineage/, copied unmodified from
the OpenLineage repository): the events are plain dicts, so nothing but the schema says
they are OpenLineage; every event is validated as a `RunEvent` and every facet against the
schema its own `_schemaURL` names, under the key that schema defines.

The project is tests/fixtures/projects/no_timestamp (11 nodes, ~20 s the first time, a
few seconds when cached), run by the real CLI with the inline executor: events are sent
by the driver from the run loop's node events, which are the same under Ray
(tests/runtime/engine/test_ray.py compares the executors).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from plan_helpers import node, plan_dict
from referencing import Registry, Resource

from specops.runtime.engine.lineage_events import (
    EVENT_SCHEMA,
    LineageError,
    LineageProgress,
    lineage_progress,
    run_uuid,
)
from specops.runtime.engine.plan_reader import parse_plan
from specops.runtime.engine.progress import Progress
from specops.runtime.engine.run_loop import execute_plan

TESTS = Path(__file__).resolve().parents[2]
FIXTURE = TESTS / "fixtures" / "projects" / "no_timestamp"
VENDOR = TESTS / "fixtures" / "vendor" / "openlineage"
SPEC_SHA256 = "69f68bee00b9beac88a87059c0102410e7bb05f3f43c46d02a0409831eceb0d2"
NODES = 11


def _schemas() -> tuple[Registry, dict[str, dict[str, Any]]]:
    docs = {}
    for path in [VENDOR / "OpenLineage.json", *sorted((VENDOR / "facets").glob("*.json"))]:
        doc = json.loads(path.read_text(encoding="utf-8"))
        docs[doc["$id"]] = doc
    registry: Registry = Registry().with_resources(
        (i, Resource.from_contents(d)) for i, d in docs.items())
    return registry, docs


REGISTRY, DOCS = _schemas()


def _check(schema_url: str, instance: Any) -> None:
    jsonschema.Draft202012Validator(
        {"$ref": schema_url}, registry=REGISTRY,
        format_checker=jsonschema.FormatChecker()).validate(instance)


def validate_event(event: dict[str, Any]) -> None:
    """The event is a RunEvent; each facet validates against the schema it names and sits
    under the key that schema file declares (`schema`, `parent`, ...)."""
    assert event["schemaURL"] == EVENT_SCHEMA
    _check(EVENT_SCHEMA, event)
    assert datetime.fromisoformat(event["eventTime"]).tzinfo is not None
    groups = [event["run"].get("facets", {}), event["job"].get("facets", {})]
    for ds in event["inputs"] + event["outputs"]:
        groups += [ds.get("facets", {}), ds.get("inputFacets", {}), ds.get("outputFacets", {})]
    for facets in groups:
        for key, facet in facets.items():
            file_id = facet["_schemaURL"].split("#")[0]
            assert file_id in DOCS, f"{key}: unknown schema {facet['_schemaURL']}"
            assert key in DOCS[file_id]["properties"], f"{key} is not the key of {file_id}"
            _check(facet["_schemaURL"], facet)


def _write_people(path: Path, n: int = 1200) -> None:
    rng = np.random.default_rng(0)
    age, hours = rng.integers(18, 80, n), rng.normal(40, 8, n).clip(1, 99).round(1)
    education = rng.choice(["school", "college", "degree"], n)
    score = 0.04 * (age - 40) + 0.08 * (hours - 40) + (education == "degree") * 1.0
    label = (score + rng.logistic(0, 1, n) > 0.5).astype(int)
    rows = [f"{i},{age[i]},{'?' if i % 97 == 0 else hours[i]},{education[i]},{label[i]}"
            for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("person_id,age,hours,education,income_gt_50k\n" + "\n".join(rows) + "\n")


def _run(root: Path, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", "run",
                           str(root), "--executor", "inline", *args],
                          capture_output=True, text=True, cwd=root, timeout=600,
                          env={**os.environ, **(env or {})})


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _by_node(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        out.setdefault(e["job"]["name"], []).append(e)
    return out


def _tags(event: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in event["run"]["facets"]["tags"]["tags"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("ol") / "no_timestamp"
    shutil.copytree(FIXTURE, root)
    _write_people(root / "data" / "people.csv")
    r = _run(root, "--lineage", f"file:{root / 'lineage.jsonl'}")
    assert r.returncode == 0, r.stdout + r.stderr
    return root, _events(root / "lineage.jsonl")


def test_vendored_spec_is_the_official_copy() -> None:
    data = (VENDOR / "OpenLineage.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == SPEC_SHA256


def test_every_event_of_a_real_run_validates(project: tuple[Path, list[dict[str, Any]]]
                                            ) -> None:
    _root, events = project
    for e in events:
        validate_event(e)
    plan_run = events[0]["run"]["runId"]
    assert events[0]["eventType"] == "START" and events[0]["job"]["name"] == "no_timestamp"
    assert events[-1]["eventType"] == "COMPLETE" and events[-1]["run"]["runId"] == plan_run
    nodes = {k: v for k, v in _by_node(events).items() if k != "no_timestamp"}
    assert len(nodes) == NODES and len(events) == 2 * NODES + 2
    for name, evs in nodes.items():
        assert [e["eventType"] for e in evs] == ["START", "COMPLETE"], name
        assert evs[0]["run"]["runId"] == evs[1]["run"]["runId"] != plan_run
        parent = evs[1]["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == plan_run
        assert parent["job"] == {"namespace": "specops://no_timestamp", "name": "no_timestamp"}
    run_id = _tags(events[0])["specops.run_id"]
    assert plan_run == run_uuid(run_id)


def test_schema_urls_are_those_of_the_openlineage_client(
        project: tuple[Path, list[dict[str, Any]]]) -> None:
    """Every facet names the schema version openlineage-python's generated class for that
    facet names (the client's own RunEvent too), so consumers built on the client read
    them as the same facets."""
    from openlineage.client import event_v2
    from openlineage.client.generated import (
        data_quality_assertions_dataset,
        data_quality_metrics_input_dataset,
        dataset_version_dataset,
        error_message_run,
        job_type_job,
        output_statistics_output_dataset,
        ownership_dataset,
        ownership_job,
        parent_run,
        processing_engine_run,
        schema_dataset,
        tags_run,
    )

    client = {
        ("run", "parent"): parent_run.ParentRunFacet,
        ("run", "errorMessage"): error_message_run.ErrorMessageRunFacet,
        ("run", "processing_engine"): processing_engine_run.ProcessingEngineRunFacet,
        ("run", "tags"): tags_run.TagsRunFacet,
        ("job", "jobType"): job_type_job.JobTypeJobFacet,
        ("job", "ownership"): ownership_job.OwnershipJobFacet,
        ("dataset", "schema"): schema_dataset.SchemaDatasetFacet,
        ("dataset", "version"): dataset_version_dataset.DatasetVersionDatasetFacet,
        ("dataset", "ownership"): ownership_dataset.OwnershipDatasetFacet,
        ("input", "dataQualityMetrics"):
            data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet,
        ("input", "dataQualityAssertions"):
            data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet,
        ("output", "outputStatistics"):
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
    }
    _root, events = project
    seen = set()
    for e in events:
        assert e["schemaURL"] == event_v2.RunEvent._get_schema()
        places = [("run", e["run"]["facets"]), ("job", e["job"]["facets"])]
        for ds in e["inputs"] + e["outputs"]:
            places += [("dataset", ds.get("facets", {})), ("input", ds.get("inputFacets", {})),
                       ("output", ds.get("outputFacets", {}))]
        for where, facets in places:
            for key, facet in facets.items():
                assert facet["_schemaURL"] == client[(where, key)]._get_schema(), (where, key)
                seen.add((where, key))
    assert seen == set(client) - {("run", "errorMessage")}   # a clean run has no error


def test_datasets_carry_declared_schemas_versions_and_owners(
        project: tuple[Path, list[dict[str, Any]]]) -> None:
    root, events = project
    done = {e["job"]["name"].split(".", 1)[1]: e for e in events
            if e["eventType"] == "COMPLETE" and e["job"]["name"] != "no_timestamp"}
    source = done["source:people"]
    file_in = source["inputs"][0]
    assert (file_in["namespace"], file_in["name"]) == ("file", str(root / "data/people.csv"))
    cols = {f["name"]: f["type"] for f in file_in["facets"]["schema"]["fields"]}
    assert cols == {"person_id": "int64", "age": "int64", "hours": "float64",
                    "education": "string", "income_gt_50k": "int64"}
    assert source["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 1200
    # the version of a dataset is the producing node's artifact digest, seen by consumers
    out = {e["outputs"][0]["name"]: e["outputs"][0] for e in done.values()}
    ts = done["training_set:income"]
    for ds in ts["inputs"]:
        assert ds["facets"]["version"] == out[ds["name"]]["facets"]["version"], ds["name"]
    ts_cols = [f["name"] for f in ts["outputs"][0]["facets"]["schema"]["fields"]]
    assert ts_cols == ["person_id", "age", "education", "log_hours", "long_hours",
                       "income_gt_50k"]
    shown = subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", "runs", "show",
                            "latest", "--project", str(root), "--json"],
                           capture_output=True, text=True, cwd=root, check=True)
    digests = {n["node_id"]: n["digest"] for n in json.loads(shown.stdout)["nodes"]}
    assert ts["outputs"][0]["facets"]["version"]["datasetVersion"] == digests[
        "training_set:income"]
    model = done["register:income"]["outputs"][0]
    assert model["name"] == "model:income"
    assert model["facets"]["ownership"]["owners"] == [{"name": "team:risk", "type": "owner"}]
    assert done["train:income"]["job"]["facets"]["ownership"]["owners"][0]["name"] == \
        "team:risk"
    assert "ownership" not in done["source:people"]["job"]["facets"]   # not in the plan


def test_validation_report_becomes_data_quality_facets(
        project: tuple[Path, list[dict[str, Any]]]) -> None:
    _root, events = project
    ev = next(e for e in events if e["job"]["name"] == "no_timestamp.validate:people"
              and e["eventType"] == "COMPLETE")
    src = next(d for d in ev["inputs"] if d["name"] == "source:people")
    metrics = src["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == 1200
    assert metrics["columnMetrics"] == {"person_id": {"nullCount": 0},
                                        "income_gt_50k": {"nullCount": 0}}
    assertions = src["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert len(assertions) == 7 and all(a["success"] for a in assertions)
    assert {"assertion": "unique", "success": True, "column": "person_id"} in assertions


def test_failed_gate_sends_fail_and_cache_hits_are_tagged(
        project: tuple[Path, list[dict[str, Any]]]) -> None:
    root, _ = project
    path = root / "failing.jsonl"
    r = _run(root, "--var", "min_auc=0.99", "--lineage", f"file:{path}")
    assert r.returncode == 1, r.stderr
    events = _events(path)
    for e in events:
        validate_event(e)
    nodes = _by_node(events)
    gate = nodes["no_timestamp.gate:income:quality"]
    assert [e["eventType"] for e in gate] == ["START", "FAIL"]
    assert "roc_auc >= 0.99" in gate[1]["run"]["facets"]["errorMessage"]["message"]
    assert "no_timestamp.register:income" not in nodes   # skipped: it never ran
    train = nodes["no_timestamp.train:income"]
    assert [e["eventType"] for e in train] == ["START", "COMPLETE"]
    assert _tags(train[1])["specops.cache_hit"] == "true"
    assert events[-1]["eventType"] == "FAIL"
    assert "gate:income:quality" in events[-1]["run"]["facets"]["errorMessage"]["message"]


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    received: list[tuple[str, dict[str, str], bytes]] = []
    handler = type("Handler", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_http_transport_posts_every_event(
        project: tuple[Path, list[dict[str, Any]]],
        collector: tuple[str, list[tuple[str, dict[str, str], bytes]]]) -> None:
    root, _ = project
    url, received = collector
    r = _run(root, "--lineage", url, env={"OPENLINEAGE_API_KEY": "s3cret"})
    assert r.returncode == 0, r.stderr
    assert "lineage:" not in r.stderr
    assert len(received) == 2 * NODES + 2
    for path, headers, body in received:
        assert path == "/api/v1/lineage"
        assert headers["Content-Type"] == "application/json"
        assert headers["Authorization"] == "Bearer s3cret"
        validate_event(json.loads(body))
    kinds = [json.loads(b)["eventType"] for _p, _h, b in received]
    assert kinds[0] == "START" and kinds[-1] == "COMPLETE"


def test_unreachable_endpoint_does_not_fail_the_run(
        project: tuple[Path, list[dict[str, Any]]]) -> None:
    root, _ = project
    with socket.socket() as s:   # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = _run(root, "--lineage", f"http://127.0.0.1:{port}")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "lineage:" in ln]
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith(f"lineage: cannot send events to http://127.0.0.1:{port}"
                               "/api/v1/lineage (ConnectError")
    assert f"{2 * NODES + 2} of {2 * NODES + 2} events were not sent" in lines[1]


def test_bad_targets_are_usage_errors(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(FIXTURE, root)
    r = _run(root, "--lineage", "ftp://example.org/x")
    assert r.returncode == 2 and "--lineage takes file:PATH or an http(s):// URL" in r.stderr
    cfg = root / "specops.yaml"
    cfg.write_text(cfg.read_text() + "lineage: file:../outside.jsonl\n")
    r = _run(root)
    assert r.returncode == 2, r.stderr
    assert "lineage: ../outside.jsonl in specops.yaml is outside the project" in r.stderr
    assert not (tmp_path / "outside.jsonl").exists()


class _Sent:
    """An in-memory transport, for the driver-only cases below (the file and HTTP
    transports are exercised for real above)."""

    target = "memory"

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def send(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass


def test_failing_node_and_interrupted_run(tmp_path: Path) -> None:
    plan = parse_plan(plan_dict(node("a"), node("bad", "test.fail", inputs=["a"],
                                                message="too few rows"),
                                node("c", inputs=["bad"])))
    sent = _Sent()
    execute_plan(plan, tmp_path, progress=LineageProgress(Progress(), plan, tmp_path, sent))
    for e in sent.events:
        validate_event(e)
    kinds = [(e["job"]["name"], e["eventType"]) for e in sent.events]
    assert kinds == [("t", "START"), ("t.a", "START"), ("t.a", "COMPLETE"),
                     ("t.bad", "START"), ("t.bad", "FAIL"), ("t", "FAIL")]
    assert sent.events[4]["run"]["facets"]["errorMessage"]["message"] == "too few rows"

    target = tmp_path / "aborted.jsonl"
    with pytest.raises(KeyboardInterrupt), \
            lineage_progress(Progress(), plan, tmp_path, f"file:{target}") as progress:
        progress.start("r1", ["a"], "inline")
        progress.node_started("a")
        raise KeyboardInterrupt
    aborted = _events(target)
    assert [(e["job"]["name"], e["eventType"]) for e in aborted] == [
        ("t", "START"), ("t.a", "START"), ("t.a", "ABORT"), ("t", "ABORT")]
    for e in aborted:
        validate_event(e)
    with pytest.raises(LineageError, match="outside the project"), \
            lineage_progress(Progress(), plan, tmp_path, "file:/etc/x", from_config=True):
        pass
