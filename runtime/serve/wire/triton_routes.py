"""Triton's model configuration and repository routes, where they make sense here.

Why only some: a specops server serves exactly one admitted, signed version, so
- `GET /v2/models/{m}[/versions/{v}]/config` answers Triton's config shape (platform
  `onnxruntime_onnx`, `max_batch_size: 0`, inputs/outputs with `TYPE_*` datatypes and the
  signature's dims) built from the signed signature, which tools such as `perf_analyzer`
  and the Triton clients read;
- `POST /v2/repository/index` lists that one version as `READY`;
- `POST /v2/repository/models/{m}/load|unload` are a 404 with the reason: loading another
  version would bypass admission (signature, digests, deploy record), so a new version is
  a new server started by `specops serve`;
- `GET /v2/models/{m}/stats` is a 404 with the reason: the per-model statistics live at
  `/metrics` (Prometheus), not in Triton's statistics extension.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from specops.runtime.serve.wire.protocol import ProtocolError

if TYPE_CHECKING:
    from specops.runtime.serve.asgi import Service

__all__ = ["model_config", "triton_model_route", "triton_repository"]

_JSON = b"application/json"


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def model_config(name: str, inputs: list[dict[str, Any]],
                 outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Triton's model config JSON for the signature's tensors."""
    def tensor(t: dict[str, Any]) -> dict[str, Any]:
        dtype = "TYPE_STRING" if t["datatype"] == "BYTES" else f"TYPE_{t['datatype']}"
        return {"name": t["name"], "data_type": dtype, "dims": list(t["shape"])}

    return {"name": name, "platform": "onnxruntime_onnx", "backend": "onnxruntime",
            "max_batch_size": 0, "input": [tensor(t) for t in inputs],
            "output": [tensor(t) for t in outputs]}


def triton_model_route(service: Service, method: str, action: str
                       ) -> tuple[int, bytes, bytes, str, int]:
    if action == "stats":
        raise ProtocolError(404, "model statistics are served as Prometheus metrics at "
                            "/metrics, not through Triton's statistics extension")
    if method != "GET":
        raise ProtocolError(405, f"method {method} not allowed here (use GET)")
    m = service.model
    return 200, _dumps(model_config(m.name, m.inputs, m.outputs)), _JSON, "config", 0


def triton_repository(service: Service, method: str, parts: list[str]
                      ) -> tuple[int, bytes, bytes, str, int]:
    """`/v2/repository/...`: the index of the one served version; no load/unload."""
    if parts == ["v2", "repository", "index"]:
        if method != "POST":
            raise ProtocolError(405, f"method {method} not allowed here (use POST)")
        m = service.model
        state = "READY" if service.ready else "UNAVAILABLE"
        doc = [{"name": m.name, "version": str(m.version), "state": state}]
        return 200, _dumps(doc), _JSON, "repository", 0
    if len(parts) == 5 and parts[2] == "models" and parts[4] in ("load", "unload"):
        raise ProtocolError(404, "this server serves one admitted version; loading or "
                            "unloading models is not supported (start specops serve with "
                            "the version instead)")
    raise ProtocolError(404, f"no route /{'/'.join(parts)}")
