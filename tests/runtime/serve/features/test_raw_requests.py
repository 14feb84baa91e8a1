"""Online mode on a real lean server: the raw signature, client mistakes, the store down.

- metadata (`GET /v2/models/{m}`) shows the raw signature derived from the specs: the
  entity key first, then the request fields, each with its type and nullability;
- every client mistake is a 4xx naming the field (table below), never a 500;
- an unknown entity key is not a mistake: no history means null features, as offline;
- the prediction log keeps its columns and adds the raw fields and the request time;
- the push endpoint writes fresh source rows of a view into the store;
- the online store down is a 503 with its reason (Redis behind a TCP relay this test
  stops; the embedded SQLite store closed under the server), and the server answers
  again once the store is back.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from online_helpers import as_of_T, backend_url, online_server, post, raw_rows

from specops.runtime.serve.asgi import Service
from specops.runtime.serve.features import enable_online
from specops.runtime.serve.lean import LeanServer
from specops.runtime.serve.prediction_log import PredictionLog
from specops.runtime.serve.served_model import load_model, resolve
from specops.runtime.store.online import open_online_store
from specops.runtime.store.online.materialize import materialize

pytestmark = pytest.mark.slow

GOOD = {"applicant_id": 100004, "income": 52000.0, "loan_amount": 12000.0,
        "term_months": 36, "employment_years": None, "region": "north"}

MISTAKES: list[tuple[str, Any, int, str]] = [
    ("missing field", {k: v for k, v in GOOD.items() if k != "income"}, 400, "income"),
    ("unknown field", {**GOOD, "incme": 1.0}, 400, "incme"),
    ("string for a number", {**GOOD, "income": "52000"}, 400, "'income' must be a number"),
    ("bool for a number", {**GOOD, "loan_amount": True}, 400, "loan_amount"),
    ("fraction for an integer", {**GOOD, "term_months": 36.5}, 400, "integer"),
    ("number for a string", {**GOOD, "region": 3}, 400, "'region' must be a string"),
    ("null where not nullable", {**GOOD, "loan_amount": None}, 400, "may not be null"),
    ("null entity key", {**GOOD, "applicant_id": None}, 400, "applicant_id"),
    ("string entity key", {**GOOD, "applicant_id": "100004"}, 400, "applicant_id"),
    ("not an object", [1, 2], 400, "record 0 is not a JSON object"),
    ("empty list", [], 400, "non-empty"),
]


@pytest.fixture(scope="module")
def credit_online(credit_example: dict[str, Any],
                  tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The credit example materialized as of T into a SQLite store of this module."""
    root = credit_example["root"]
    url = f"sqlite:///{tmp_path_factory.mktemp('raw') / 'online.sqlite'}"
    store = open_online_store(url, root)
    t = as_of_T(credit_example)
    materialize(credit_example["plan"], root, store, until_us=t)
    store.close()
    return {**credit_example, "T": t, "url": url}


def test_metadata_shows_the_raw_signature(credit_online: dict[str, Any]) -> None:
    with online_server(credit_online, credit_online["url"], credit_online["T"]) as (server, _):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        conn.request("GET", "/v2/models/credit_default")
        import json

        doc = json.loads(conn.getresponse().read())
    names = [(t["name"], t["datatype"], t["parameters"]["role"]) for t in doc["inputs"]]
    assert names == [("applicant_id", "INT64", "entity"), ("employment_years", "FP64", "request"),
                     ("income", "FP64", "request"), ("loan_amount", "FP64", "request"),
                     ("region", "BYTES", "request"), ("term_months", "INT64", "request")]
    assert not next(t for t in doc["inputs"] if t["name"] == "loan_amount")[
        "parameters"]["nullable"]
    assert doc["parameters"]["entity_views"] == ["bureau_history@2"]
    assert doc["parameters"]["request_views"] == ["application_features@1"]
    assert "utilization" in doc["parameters"]["model_inputs"]


def test_client_mistakes_are_4xx_naming_the_field(credit_online: dict[str, Any]) -> None:
    with online_server(credit_online, credit_online["url"], credit_online["T"]) as (server, _):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        path = "/v2/models/credit_default"
        for label, body, status, reason in MISTAKES:
            got, doc = post(conn, f"{path}/predict", body)
            assert (got, reason in doc["error"]) == (status, True), (label, got, doc)
        bad_infer = [
            ({"inputs": [{"name": "income", "datatype": "BYTES", "shape": [1],
                          "data": ["x"]}]}, "datatype"),
            ({"inputs": [{"name": "applicant_id", "datatype": "INT64", "shape": [2],
                          "data": [1]}]}, "needs 2 value(s)"),
            ({"inputs": [{"name": k, "datatype": "FP64" if isinstance(v, float) or v is None
                          else ("BYTES" if isinstance(v, str) else "INT64"),
                          "shape": [1], "data": [v]} for k, v in GOOD.items()],
              "outputs": [{"name": "nope"}]}, "unknown output"),
        ]
        for body, reason in bad_infer:
            got, doc = post(conn, f"{path}/infer", body)
            assert got == 400 and reason in doc["error"], doc
        conn.request("POST", f"{path}/predict", b"{not json", {})
        resp = conn.getresponse()
        assert resp.status == 400 and b"not valid JSON" in resp.read()
        got, doc = post(conn, f"{path}/predict", GOOD)
        assert got == 200 and len(doc["predictions"]) == 1


def test_unknown_entity_gets_null_features_and_the_log_keeps_the_request(
        credit_online: dict[str, Any], tmp_path: Path) -> None:
    root = credit_online["root"]
    model = load_model(resolve(root, None, "credit_default", None))
    log = PredictionLog(tmp_path, model.name, model.version, model.model_digest,
                        batch_rows=1)
    service = Service(model, log)
    t = credit_online["T"]
    online = enable_online(service, credit_online["plan"], root, credit_online["url"],
                           now_us=lambda: t)
    known = raw_rows(credit_online).row(0, named=True)
    with LeanServer(service) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        rec = {k: known[k] for k in online.vector.fields}
        for key in (known["applicant_id"], 10**12):
            got, doc = post(conn, "/v2/models/credit_default/predict",
                            {**rec, "applicant_id": key})
            assert got == 200, doc
    frame = pl.concat([pl.read_parquet(f) for f in log.files], how="diagonal_relaxed")
    assert frame.height == 2
    for col in ("request_id", "row", "time", "model", "version", "digest", "latency_ms",
                "utilization", "log_income", "raw.income", "raw.applicant_id",
                "features_at"):
        assert col in frame.columns, col
    assert frame.get_column("raw.applicant_id").to_list() == [known["applicant_id"], 10**12]
    util = frame.get_column("utilization").to_list()
    assert util[0] is not None and util[0] == util[0] and util[1] != util[1]  # NaN: null
    assert frame.get_column("features_at").dt.epoch("us").to_list() == [t, t]


class _Relay:
    """A TCP relay to Redis that the test can cut (the store 'goes down')."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.up = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.up:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        self.up = False
        self.sock.close()
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()


def test_store_down_is_503_with_the_reason(credit_online: dict[str, Any]) -> None:
    """Redis through a relay that is cut mid-serving; skipped without Redis."""
    url = backend_url("redis")
    base = url.split("?")[0]
    port = int(base.rsplit(":", 1)[1].split("/")[0])
    relay = _Relay(port)
    relayed = url.replace(f":{port}/", f":{relay.port}/")
    try:
        with online_server(credit_online, relayed, credit_online["T"]) as (server, _):
            conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
            got, doc = post(conn, "/v2/models/credit_default/predict", GOOD)
            assert got == 200, doc
            relay.cut()
            got, doc = post(conn, "/v2/models/credit_default/predict", GOOD)
            assert got == 503, doc
            assert doc["error"].startswith("online store unavailable") and \
                str(relay.port) in doc["error"], doc
            conn.request("GET", "/v2/health/live")
            assert conn.getresponse().status == 200
    finally:
        relay.cut()


def test_embedded_store_closed_is_503(credit_online: dict[str, Any]) -> None:
    with online_server(credit_online, credit_online["url"], credit_online["T"]) as (server, online):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        online.vector.store.close()
        got, doc = post(conn, "/v2/models/credit_default/predict", GOOD)
        assert got == 503 and doc["error"].startswith("online store unavailable"), doc


def test_push_endpoint_writes_rows_the_store_then_serves(
        credit_online: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """`POST /v2/features/{view}/push` runs the online store's own `push_rows`: rows of a
    row-level entity view are computed and written; a view with windowed aggregates needs
    the entity's history and is refused with the reason (400), an unknown view is 404.

    Attack first: an inference client (no token, a wrong one, another scheme) writing an
    entity's features is refused (401) and nothing reaches the store; a server started
    without SPECOPS_PUSH_TOKEN has the route off (403)."""
    t = credit_online["T"]
    at = "2025-07-01T22:00:00+00:00"
    row = {"applicant_id": 7_000_000_001, "reported_at": at, "created_at": at,
           "balance": 900.0, "credit_limit": 1000.0, "late_payments": 6,
           "open_accounts": 1}
    monkeypatch.delenv("SPECOPS_PUSH_TOKEN", raising=False)
    with online_server(credit_online, credit_online["url"], t) as (server, online):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        got, doc = post(conn, "/v2/features/bureau_history@1/push", [row],
                        {"Authorization": "Bearer anything"})
        assert got == 403 and "push is off" in doc["error"], doc
    monkeypatch.setenv("SPECOPS_PUSH_TOKEN", "s3cret-push-token")
    with online_server(credit_online, credit_online["url"], t) as (server, online):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        for bad in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic czNjcmV0"},
                    {"Authorization": "Bearer s3cret-push-toke"}):
            got, doc = post(conn, "/v2/features/bureau_history@1/push", [row], bad)
            assert got == 401, (bad, doc)
        assert online.vector.store.read_many(
            {"bureau_history@1": [(7_000_000_001,)]})["bureau_history@1"] == [None]
        auth = {"Authorization": "Bearer s3cret-push-token"}
        got, doc = post(conn, "/v2/features/bureau_history@1/push", {"rows": [row]}, auth)
        assert got == 200 and doc == {"view": "bureau_history@1", "rows": 1, "written": 1}
        stored = online.vector.store.read_many({"bureau_history@1": [(7_000_000_001,)]})
        value = stored["bureau_history@1"][0]
        assert value is not None and value.values["utilization"] == 900.0 / 1000.0
        got, doc = post(conn, "/v2/features/bureau_history@2/push", [row], auth)
        assert got == 400 and "windowed aggregates" in doc["error"], doc
        got, doc = post(conn, "/v2/features/nope@1/push", [row], auth)
        assert got == 404, doc
        got, doc = post(conn, "/v2/features/bureau_history@1/push", [{"x": 1}], auth)
        assert got == 400, doc


def test_grpc_infer_takes_raw_fields_and_equals_http(credit_online: dict[str, Any]) -> None:
    """OIP over gRPC in online mode: raw-field tensors in (binary contents, as the KServe
    client sends them), the same score as HTTP; metadata shows the raw signature."""
    grpcclient = pytest.importorskip("tritonclient.grpc")
    import numpy as np

    from specops.runtime.serve.lean import free_port
    from specops.runtime.serve.wire.grpc_server import GrpcServer

    with online_server(credit_online, credit_online["url"], credit_online["T"]) as (server, online):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        status, doc = post(conn, "/v2/models/credit_default/predict", GOOD)
        assert status == 200
        with GrpcServer(server.service, port=free_port()) as g:
            client = grpcclient.InferenceServerClient(f"127.0.0.1:{g.port}")
            meta = client.get_model_metadata("credit_default", as_json=True)
            assert [t["name"] for t in meta["inputs"]] == list(online.vector.fields)
            inputs = []
            for f in online.vector.sig.fields:
                v = GOOD[f.name]
                dtype = f.as_tensor()["datatype"]
                arr = np.array([[np.nan if v is None else v]],
                               dtype={"FP64": np.float64, "INT64": np.int64}.get(dtype, object))
                t = grpcclient.InferInput(f.name, [1, 1], dtype)
                t.set_data_from_numpy(arr)
                inputs.append(t)
            res = client.infer("credit_default", inputs)
            proba = res.as_numpy("probabilities")
            assert proba is not None
            assert float(proba[0][1]) == doc["predictions"][0]["probabilities"]["1"]
            client.close()
