"""Ray Serve deployment of a registry version, running the same `asgi.Service`.

Why `__call__(starlette Request)` rather than `@serve.ingress(FastAPI())`: the service is
built inside the replica (after verifying the signature there too: a replica on another
node reads its own copy of the files), and the protocol lives in `asgi.Service`, shared
with the lean server, so the deployment only forwards method, path and body.

Replicas and batching come from the model spec's `serving` block (plan `models` table):
`replicas` (default 1), `batching: {max_batch_size, wait_ms}` (default: no batching).
With batching, `@serve.batch` gathers concurrent requests into one onnxruntime call and
splits the outputs back by row counts; every request is still validated and logged on
its own. Each replica asks Ray for `threads` CPUs and gives onnxruntime that many intra-op
threads.

Throughput: every request crosses the Serve proxy (one Python process per node) and an
actor call; measured numbers and the throughput-optimized settings tried are in
docs/serving.md. Use `lean.py` when one machine must answer thousands of small requests
per second.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from specops.runtime.serve.served_model import ModelSource

__all__ = ["build_deployment", "run_ray_serve", "split_outputs"]


def split_outputs(result: dict[str, np.ndarray], sizes: list[int]) -> list[dict[str, np.ndarray]]:
    """Cut one batched result back into per-request results (`sizes` rows each)."""
    out: list[dict[str, np.ndarray]] = []
    start = 0
    for n in sizes:
        out.append({k: v[start:start + n] for k, v in result.items()})
        start += n
    return out


def build_deployment(source: ModelSource, serving: dict[str, Any] | None = None,
                     log: bool = True) -> Any:
    """A bound Serve application for `source` with the spec's replicas and batching."""
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import Response

    serving = serving or {}
    batching = serving.get("batching") or {}
    max_batch = int(batching.get("max_batch_size", 1)) if batching else 1
    wait_s = float(batching.get("wait_ms", 2.0)) / 1000 if batching else 0.0
    replicas = int(serving.get("replicas", 1))

    @serve.deployment(name=source.model, num_replicas=replicas,
                      ray_actor_options={"num_cpus": source.threads},
                      max_ongoing_requests=max(64, 4 * max_batch))
    class SpecopsModel:
        def __init__(self, source: ModelSource, log: bool, max_batch: int,
                     wait_s: float) -> None:
            from specops.runtime.serve.lean import build_service

            self.service = build_service(source, log=log)
            if max_batch > 1:
                batched: Any = self._batched   # serve.batch adds the setters
                batched.set_max_batch_size(max_batch)
                batched.set_batch_wait_timeout_s(wait_s)
                self.service.score = self._score_batched

        @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002)
        async def _batched(self, items: list[tuple[dict[str, np.ndarray], int]]
                           ) -> list[dict[str, np.ndarray]]:
            names = list(items[0][0])
            feeds = {n: np.concatenate([f[n] for f, _ in items]) for n in names}
            result = self.service.model.run(feeds)
            return split_outputs(result, [rows for _, rows in items])

        async def _score_batched(self, feeds: dict[str, np.ndarray], rows: int
                                 ) -> dict[str, np.ndarray]:
            out: dict[str, np.ndarray] = await self._batched((feeds, rows))
            return out

        async def __call__(self, request: Request) -> Response:
            body = await request.body()
            status, payload, ctype = await self.service.handle(request.method,
                                                               request.url.path, body)
            return Response(payload, status_code=status, media_type=ctype.decode())

        def __del__(self) -> None:   # Serve calls it on graceful shutdown: flush the log
            service = getattr(self, "service", None)
            if service is not None:
                service.close()

    deployment: Any = SpecopsModel   # @serve.deployment made it a Deployment
    return deployment.bind(source, log, max_batch, wait_s)


def run_ray_serve(source: ModelSource, serving: dict[str, Any] | None, host: str, port: int,
                  address: str | None = None, log: bool = True, block: bool = True) -> None:
    """Start (or join, with `address`) Ray, deploy, and serve on host:port until Ctrl-C."""
    import ray
    from ray import serve

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_deployment(source, serving, log), name=source.model, route_prefix="/")
    if not block:
        return
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
