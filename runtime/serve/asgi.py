"""The HTTP application both servers run: OIP routes, `/predict`, `/metrics`.

Why one `Service.handle(method, path, body)` under two thin adapters: the lean server
mounts it as a plain ASGI app (`make_app`), the Ray Serve deployment calls it from its
`__call__(starlette Request)`; routes, validation, status codes, the prediction log and
the metrics are then the same code in both. Why a plain ASGI callable rather than a
Starlette or FastAPI router: routing is a handful of fixed paths, and at thousands of
requests per second on two cores the framework's per-request work (request objects,
middleware stacks, pydantic) is the largest cost left after the model (Ray Serve + FastAPI
measured ~10x slower than plain FastAPI, ray-project/ray#46693).

Scoring: `Service.score` runs the session inline for small requests (a few tens of
microseconds; a thread hop would cost more) and in a worker thread for large ones, where
onnxruntime releases the GIL. Ray Serve replaces `score` with its `@serve.batch` method.

Status codes: 400 malformed input (reason in `{"error": ...}`), 404 unknown route or
model/version, 405 wrong method, 413 too
large (refused from `Content-Length` before reading, or as soon as the bytes read pass
`max_body`), 500 only for a failure inside the model (counted as a model failure; client
errors never are), 503 (readiness and scoring) once the version's admission was revoked.

Why bodies above `THREAD_PARSE_BYTES` are parsed in a worker thread: parsing megabytes of
JSON takes tens of milliseconds, during which every other connection on the event loop
would wait; small bodies parse inline, where a thread hop would cost more than the parse.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from specops.runtime.serve.prediction_log import PredictionLog
from specops.runtime.serve.prometheus import Metrics
from specops.runtime.serve.served_model import LoadedModel
from specops.runtime.serve.wire.binary_tensors import decode_request, encode_response
from specops.runtime.serve.wire.protocol import (
    ProtocolError,
    Request,
    infer_response,
    metadata,
    parse_infer,
    parse_records,
    predict_response,
)
from specops.runtime.serve.wire.triton_routes import triton_model_route, triton_repository

__all__ = ["INLINE_ROWS", "MAX_BODY", "THREAD_PARSE_BYTES", "Service",
           "make_app"]

MAX_BODY = 32 * 1024 * 1024     # 100k rows (MAX_ROWS) of a few features fit well within
THREAD_PARSE_BYTES = 256 * 1024
INLINE_ROWS = 64
Scorer = Callable[[dict[str, np.ndarray], int], Awaitable[dict[str, np.ndarray]]]
_JSON = b"application/json"
_BINARY = b"application/octet-stream"
_HEADER_LEN = b"inference-header-content-length"
Reply = tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]


class ModelFailed(Exception):
    """The model itself raised while scoring validated feeds (a 500, a model failure)."""


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


class Service:
    """Routes and checks for one loaded model (shared by the lean server and Ray Serve)."""

    def __init__(self, model: LoadedModel, log: PredictionLog | None = None,
                 metrics: Metrics | None = None, scorer: Scorer | None = None,
                 max_body: int = MAX_BODY) -> None:
        self.model = model
        self.max_body = max_body
        self.log = log
        self.metrics = metrics or Metrics(model.name, model.version, model.model_digest)
        self.score: Scorer = scorer or self._score
        self.ready = True
        self.revoked: str | None = None     # why admission no longer holds (then 503)
        self.on_close: list[Callable[[], None]] = []
        self.traffic: Any = None    # a running canary/shadow routes (runtime/serve/traffic)
        self._meta = _dumps(metadata(model.name, model.version, model.inputs, model.outputs))
        self.features: Any = None   # online mode (runtime/serve/features): raw requests
        self._model_ready = _dumps({"name": model.name, "ready": True})

    async def _score(self, feeds: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray]
        if rows <= INLINE_ROWS:
            out = self.model.run(feeds)
        else:
            out = await asyncio.to_thread(self.model.run, feeds)
        return out

    def set_features(self, features: Any, meta: dict[str, Any]) -> None:
        """Online mode: `features.parse` turns raw requests into the model's inputs and
        the metadata shows the raw signature (runtime/serve/features/online_mode.py)."""
        self.features = features
        self._meta = _dumps(meta)

    def revoke(self, reason: str) -> None:
        """Stop answering (503 with `reason`): the version is no longer admitted, e.g. its
        approvals were voided or expired after the server started (see recheck.py)."""
        self.revoked = reason
        self.ready = False

    def close(self) -> None:
        self.ready = False
        for stop in self.on_close:
            stop()
        if self.log is not None:
            self.log.close()

    # -- routing -------------------------------------------------------------------------
    def _model_route(self, parts: list[str]) -> tuple[str | None, str]:
        """`v2/models/NAME[/versions/V][/ACTION]` -> (action, error)."""
        name, rest = parts[2], parts[3:]
        if name != self.model.name:
            return None, f"model {name!r} is not served here (this server serves " \
                         f"{self.model.ref})"
        if rest[:1] == ["versions"]:
            if len(rest) < 2:
                return None, "missing version after /versions/"
            if rest[1] != str(self.model.version):
                return None, f"{name} version {rest[1]!r} is not served here (serving " \
                             f"{self.model.version})"
            rest = rest[2:]
        if len(rest) > 1:
            return None, "unknown route"
        return (rest[0] if rest else ""), ""

    async def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes, bytes]:
        """(status, body, content type) for one request; never raises for bad input."""
        status, payload, ctype, _ = await self.call(method, path, body, {})
        return status, payload, ctype

    async def call(self, method: str, path: str, body: bytes,
                   headers: dict[bytes, bytes]) -> Reply:
        """(status, body, content type, extra headers); `headers` lower-case names."""
        start = time.perf_counter()
        endpoint, rows = "other", 0
        extra: list[tuple[bytes, bytes]] = []
        try:
            status, payload, ctype, endpoint, rows, extra = await self._dispatch(
                method, path, body, headers, start)
        except ProtocolError as exc:
            status, payload, ctype = exc.status, _dumps({"error": exc.reason}), _JSON
            endpoint = _endpoint_of(path)
        except ModelFailed as exc:   # a failure inside the model: 500, counted, reported
            status, ctype = 500, _JSON
            payload = _dumps({"error": f"model failed: {exc}"})
            endpoint = _endpoint_of(path)
            self.metrics.model_failed(endpoint)
        except Exception as exc:   # a bug of ours, not the model's and not the client's
            status, ctype = 500, _JSON
            payload = _dumps({"error": f"internal error: {type(exc).__name__}"})
            endpoint = _endpoint_of(path)
        self.metrics.observe(endpoint, status, time.perf_counter() - start, rows)
        return status, payload, ctype, extra

    async def _parse(self, action: str, body: bytes, headers: dict[bytes, bytes]) -> Request:
        m = self.model
        if self.features is not None:
            req: Request = await self.features.parse(action, body, headers)
            return req
        header_len = headers.get(_HEADER_LEN)

        def parse() -> Request:
            if action == "infer":
                doc: Any = body
                if header_len is not None:
                    doc = decode_request(body, header_len.decode("latin-1"))
                return parse_infer(doc, m.inputs, m.outputs)
            return parse_records(body, m.inputs)

        if len(body) > THREAD_PARSE_BYTES:
            return await asyncio.to_thread(parse)
        return parse()

    async def run_model(self, req: Request) -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        try:
            return await self.score(req.feeds, req.rows)
        except Exception as exc:
            raise ModelFailed(f"{type(exc).__name__}: {exc}"[:500]) from exc
        finally:
            self.metrics.observe_model(time.perf_counter() - t0)

    async def _dispatch(self, method: str, path: str, body: bytes,
                        headers: dict[bytes, bytes], start: float
                        ) -> tuple[int, bytes, bytes, str, int, list[tuple[bytes, bytes]]]:
        status, payload, ctype, endpoint, rows = await self._route(method, path, body,
                                                                   headers, start)
        if isinstance(payload, tuple):     # binary infer response: (body, header length)
            return status, payload[0], _BINARY, endpoint, rows, \
                [(_HEADER_LEN, str(payload[1]).encode())]
        return status, payload, ctype, endpoint, rows, []

    async def _route(self, method: str, path: str, body: bytes,
                     headers: dict[bytes, bytes], start: float
                     ) -> tuple[int, Any, bytes, str, int]:
        parts = [p for p in path.split("/") if p]
        if parts == ["metrics"]:
            _allow(method, "GET")
            return 200, self.metrics.render().encode(), \
                b"text/plain; version=0.0.4; charset=utf-8", "metrics", 0
        if parts[:2] == ["v2", "repository"]:
            return triton_repository(self, method, parts)
        if parts[:1] != ["v2"]:
            raise ProtocolError(404, f"no route {path}")
        if parts == ["v2"]:
            _allow(method, "GET")
            return 200, _dumps({"name": "specops", "version": "2",
                                "extensions": ["predict", "binary_tensor_data",
                                               "model_configuration",
                                               "model_repository(index)"]}), _JSON, \
                "server", 0
        if parts[1:2] == ["features"] and len(parts) == 4 and parts[3] == "push" \
                and self.features is not None:
            _allow(method, "POST")
            return 200, _dumps(await self.features.push(parts[2], body, headers)), _JSON, \
                "push", 0
        if parts[1:2] == ["health"] and len(parts) == 3 and parts[2] in ("live", "ready"):
            _allow(method, "GET")
            ok = parts[2] == "live" or self.ready
            return (200 if ok else 503), _dumps({parts[2]: ok}), _JSON, "health", 0
        if parts[1:2] != ["models"] or len(parts) < 3:
            raise ProtocolError(404, f"no route {path}")
        action, error = self._model_route(parts)
        if action is None:
            raise ProtocolError(404, error)
        if action == "":
            _allow(method, "GET")
            return 200, self._meta, _JSON, "metadata", 0
        if action == "ready":
            _allow(method, "GET")
            if self.revoked is not None:
                return 503, _dumps({"name": self.model.name, "ready": False,
                                    "error": self.revoked}), _JSON, "ready", 0
            return 200, self._model_ready, _JSON, "ready", 0
        if action in ("config", "stats"):
            return triton_model_route(self, method, action)
        if action not in ("infer", "predict"):
            raise ProtocolError(404, f"no route {path}")
        _allow(method, "POST")
        if self.revoked is not None:
            raise ProtocolError(503, f"{self.model.ref} no longer may serve: {self.revoked}")
        m = self.model
        req = await self._parse(action, body, headers)
        if self.traffic is not None:
            routed: tuple[int, Any, bytes, str, int] = await self.traffic.answer(
                self, action, req, start)
            return routed
        result = await self.run_model(req)
        doc = (infer_response(m.name, m.version, result, req) if action == "infer"
               else predict_response(m.name, m.version, result, m.classes))
        payload: Any = (encode_response(doc, result, req.binary) if req.binary
                        else _dumps(doc))
        self.record(req, result, start)
        return 200, payload, _JSON, action, req.rows

    def record(self, req: Request, result: dict[str, np.ndarray], start: float) -> None:
        """Append one answered request to the prediction log (HTTP and gRPC alike)."""
        if self.log is not None:
            self.log.append(req.id, time.time(), (time.perf_counter() - start) * 1000,
                            req.feeds, result, req.rows, req.log_extra)


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise ProtocolError(405, f"method {method} not allowed here (use {allowed})")


def _endpoint_of(path: str) -> str:
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    return tail if tail in ("infer", "predict", "ready", "metrics", "config") else "other"


def make_app(service: Service) -> Callable[..., Awaitable[None]]:
    """A plain ASGI 3 application around `service` (lifespan shutdown closes the log)."""

    async def app(scope: dict[str, Any], receive: Callable[..., Awaitable[Any]],
                  send: Callable[..., Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await asyncio.to_thread(service.close)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or ())
        service.metrics.in_flight(1)
        try:
            status, payload, ctype, extra = await _read_and_call(service, scope, receive,
                                                                 headers)
        finally:
            service.metrics.in_flight(-1)
        if status == 0:     # the client went away
            return
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype),
                                (b"content-length", str(len(payload)).encode()), *extra]})
        await send({"type": "http.response.body", "body": payload})

    return app


async def _read_body(service: Service, receive: Callable[..., Awaitable[Any]]
                     ) -> bytes | None:
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > service.max_body:
            raise ProtocolError(413, f"request body exceeds {service.max_body} bytes")
        chunks.append(chunk)
        more = msg.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _read_and_call(service: Service, scope: dict[str, Any],
                         receive: Callable[..., Awaitable[Any]],
                         headers: dict[bytes, bytes]) -> Reply:
    """Refuse an oversized body from its declared length before reading a byte and stop
    reading as soon as it passes the limit (slow senders: wire/http_limits.py)."""
    try:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > service.max_body:
            raise ProtocolError(413, f"request body of {int(declared)} bytes exceeds "
                                f"{service.max_body}")
        body = await _read_body(service, receive)   # read deadline: wire/http_limits.py
    except ProtocolError as exc:
        service.metrics.observe(_endpoint_of(scope["path"]), exc.status, 0.0)
        return exc.status, _dumps({"error": exc.reason}), _JSON, []
    if body is None:
        return 0, b"", b"", []
    return await service.call(scope["method"], scope["path"], body, headers)
