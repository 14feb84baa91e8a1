"""`specops serve M --features online`: the server takes raw fields and computes features.

`OnlineFeatures` is what `asgi.Service` (and the gRPC servicer) consult when a server
runs in online mode: it parses `infer`/`predict` bodies as raw requests
(online_vector.py), answers the model metadata with the raw signature, and handles
`POST /v2/features/{view}/push` with the online store's own `push_rows`
(runtime/store/online/push.py: the same view code as materialize).

Modes (docs/serving.md): `derived` (the default: requests carry the model's own inputs,
the ONNX signature, as every earlier release did, so existing clients keep working) and
`online` (raw fields + entity keys; the signature derived from the specs). Online mode
also scores the requests of one event-loop pass in one ONNX run (score_batcher.py).
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specops.runtime.serve.features.online_vector import OnlineVector
from specops.runtime.serve.features.raw_signature import RawSignatureError, raw_signature
from specops.runtime.serve.features.score_batcher import ScoreBatcher
from specops.runtime.serve.wire.binary_tensors import decode_request
from specops.runtime.serve.wire.protocol import ProtocolError, Request, loads

__all__ = ["FEATURE_MODES", "PUSH_TOKEN_ENV", "OnlineFeatures", "RawSignatureError",
           "build_online", "enable_online"]

FEATURE_MODES = ("derived", "online")
_THREAD_PARSE_BYTES = 256 * 1024
_HEADER_LEN = b"inference-header-content-length"
# The push route writes features every later prediction reads, so it is off unless the
# server starts with this variable set, and then needs `Authorization: Bearer <token>`.
PUSH_TOKEN_ENV = "SPECOPS_PUSH_TOKEN"


class OnlineFeatures:
    """Raw-request parsing, raw metadata and the push route of one served model."""

    def __init__(self, vector: OnlineVector, plan: Any, model: Any) -> None:
        self.vector = vector
        self.plan = plan
        self.model = model
        self.scorer: ScoreBatcher | None = None     # one ONNX run per event-loop pass
        self.push_token: str | None = os.environ.get(PUSH_TOKEN_ENV) or None
        self.metadata: dict[str, Any] = {
            "name": model.name, "versions": [str(model.version)],
            "platform": "onnxruntime_onnx", "inputs": vector.sig.inputs,
            "outputs": [{"name": t["name"], "datatype": t["datatype"],
                         "shape": list(t["shape"])} for t in model.outputs],
            "parameters": {
                "features": "online",
                "model_inputs": [f.name for f in model.features],
                "entity_views": [v.key for v in vector.sig.entity_views],
                "request_views": [v.key for v in vector.sig.request_views],
                "request_time": "the server's clock"}}

    async def parse(self, action: str, body: bytes, headers: dict[bytes, bytes]) -> Request:
        header_len = headers.get(_HEADER_LEN)

        def decode() -> Any:
            if header_len is not None:
                return decode_request(body, header_len.decode("latin-1"))
            return loads(body)

        doc = await asyncio.to_thread(decode) if len(body) > _THREAD_PARSE_BYTES \
            else decode()
        return await self.vector.request(doc, action, self.model.outputs)

    def parse_doc_now(self, doc: dict[str, Any]) -> Request:
        """An infer document (gRPC) -> its request, with a blocking store read."""
        return self.vector.request_now(doc, "infer", self.model.outputs)

    def authorize_push(self, headers: dict[bytes, bytes]) -> None:
        """Why a token: a pushed row changes the features of every later prediction for
        its entity, so an inference client (anyone who can reach the port) must not be
        able to write them. Off (403) without a token configured; 401 without the right
        bearer token (compared in constant time)."""
        if self.push_token is None:
            raise ProtocolError(403, f"push is off on this server: start it with "
                                f"{PUSH_TOKEN_ENV} set and send 'Authorization: Bearer "
                                "<token>'")
        given = headers.get(b"authorization", b"")
        scheme, _, token = given.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(
                token.strip(), self.push_token.encode()):
            raise ProtocolError(401, "push needs 'Authorization: Bearer <token>' with the "
                                f"server's {PUSH_TOKEN_ENV}")

    async def push(self, view: str, body: bytes,
                   headers: dict[bytes, bytes] | None = None) -> dict[str, Any]:
        """`POST /v2/features/{view}/push`: rows of the view's source -> the online store
        (authorized first, before the body is parsed)."""
        self.authorize_push(headers or {})
        doc = loads(body)
        if isinstance(doc, dict) and "rows" in doc:
            doc = doc["rows"]
        if not isinstance(doc, list) or not doc or not all(isinstance(r, dict) for r in doc):
            raise ProtocolError(400, "body must be a non-empty JSON list of source rows "
                                "(or {\"rows\": [...]})")
        from specops.runtime.store.online import OnlineStoreError
        from specops.runtime.store.online.push import push_rows

        if f"features:{view}" not in self.plan.by_id:
            raise ProtocolError(404, f"no feature view {view!r} in the plan (name@version)")
        try:
            written = await asyncio.to_thread(push_rows, self.vector.store, self.plan, view,
                                              doc)
        except OnlineStoreError as exc:
            raise ProtocolError(503, f"online store unavailable: {exc}") from None
        except (ValueError, LookupError, TypeError) as exc:   # the rows do not fit the view
            raise ProtocolError(400, str(exc).splitlines()[0][:300]) from None
        return {"view": view, "rows": len(doc), "written": int(written)}

    def close(self) -> None:
        self.vector.batcher.close()
        self.vector.store.close()


def build_online(plan: Any, model: Any, project_root: Path, url: str | None,
                 now_us: Callable[[], int] | None = None) -> OnlineFeatures:
    """Derive the raw signature, compile the request-time views and open the store;
    `RawSignatureError` / `OnlineStoreError` say in one line why it cannot be done."""
    from specops.runtime.store.online import open_online_store

    sig = raw_signature(plan, model.name, [f.name for f in model.features])
    store = open_online_store(url, project_root)
    vector = OnlineVector(sig, model.features, store, now_us=now_us, store_url=url)
    return OnlineFeatures(vector, plan, model)


def enable_online(service: Any, plan: Any, project_root: Path, url: str | None,
                  now_us: Callable[[], int] | None = None) -> OnlineFeatures:
    """Switch `service` (an `asgi.Service`) to online mode."""
    online = build_online(plan, service.model, project_root, url, now_us)
    service.set_features(online, online.metadata)
    if service.score == service._score:     # not a Ray Serve or traffic-routing scorer
        online.scorer = ScoreBatcher(service.model)
        service.score = online.scorer.score
    service.on_close.append(online.close)
    return online

