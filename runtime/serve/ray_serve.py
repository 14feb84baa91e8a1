"""Serving on Ray: replicas placed by Ray, each running the same `asgi.Service`.

Two ingresses (`specops serve --server ray --ray-ingress direct|serve`):

- **direct** (the default): each replica is a Ray actor that runs the lean server itself
  (uvicorn + uvloop + httptools) on the serving port. Ray places the replicas (`threads`
  CPUs each, spread over the nodes) and restarts one that dies; the replicas of one node
  share the port through SO_REUSEPORT, so the kernel spreads connections over them, and
  each replica also listens on a port of its own for its `/metrics` (printed at start).
  Across nodes, put any TCP/HTTP load balancer (or DNS) in front of the nodes' ports.
  Why this is the default: measured in docs/serving.md, a request through Ray Serve's
  proxy costs the proxy and the replica together several milliseconds of CPU (HTTP parse,
  a Python request object, an actor call, pickling both ways), so one node answers a few
  hundred requests per second; answered by the replica itself a request costs what it
  costs in the lean server, and replicas scale with cores and nodes.
- **serve**: a Ray Serve deployment (`build_deployment`) behind Serve's proxy, for Serve's
  autoscaling, `@serve.batch`, and Serve's own HTTP/gRPC ingress options. The replica
  forwards method, path, headers (the binary tensor extension needs
  `Inference-Header-Content-Length`) and body to `Service.call`.

Both build the service inside the replica (verifying the signature there too: a replica
on another node reads its own copy of the files), so admission, checks, prediction log
and metrics are those of the lean server.

Replicas and batching come from the model spec's `serving` block (plan `models` table):
`replicas` (default 1), `batching: {max_batch_size, wait_ms}` (serve ingress only).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specops.runtime.serve.served_model import ModelSource

# As in the Ray executor: under `uv run`, Ray 2.60 would otherwise zip the working
# directory into every worker's runtime env and build a fresh venv there (minutes, and a
# refusal above 512 MiB); the driver's environment is already the one replicas need.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

__all__ = ["INGRESSES", "Replicas", "build_deployment", "run_ray_serve", "split_outputs",
           "start_replicas"]

INGRESSES = ("direct", "serve")


def split_outputs(result: dict[str, np.ndarray], sizes: list[int]) -> list[dict[str, np.ndarray]]:
    """Cut one batched result back into per-request results (`sizes` rows each)."""
    out: list[dict[str, np.ndarray]] = []
    start = 0
    for n in sizes:
        out.append({k: v[start:start + n] for k, v in result.items()})
        start += n
    return out


# -- direct ingress: replicas that answer HTTP themselves ----------------------------------
class LeanReplica:
    """One replica: the lean server on the shared port (SO_REUSEPORT) and on a port of its
    own. A Ray actor class (`start_replicas` wraps it with `ray.remote`)."""

    def __init__(self, source: ModelSource, log: bool, host: str, port: int,
                 grpc_port: int | None = None) -> None:
        from specops.runtime.serve.lean import LeanServer, build_service, listen_socket

        self.service = build_service(source, log=log)
        own = listen_socket(host, 0)
        shared = listen_socket(host, port, reuse_port=True)
        self.server = LeanServer(self.service, sockets=[own, shared]).start()
        self.grpc: Any = None
        if grpc_port is not None:     # grpcio sets SO_REUSEPORT itself (grpc.so_reuseport)
            from specops.runtime.serve.wire.grpc_server import GrpcServer

            self.grpc = GrpcServer(self.service, host, grpc_port).start()

    def info(self) -> dict[str, Any]:
        """Where this replica runs and where its own metrics are."""
        import ray

        url = self.server.url
        if self.server.host in ("0.0.0.0", "::"):     # bound everywhere: name the node
            ip = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
            url = f"http://{ip}:{self.server.port}"
        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
                "url": url}

    def stop(self) -> None:
        """Stop serving and flush the prediction log (before the actor is killed)."""
        if self.grpc is not None:
            self.grpc.stop()
        self.server.stop()


@dataclass
class Replicas:
    """Direct-ingress replicas started by `start_replicas`; `stop()` ends them."""

    actors: list[Any]
    info: list[dict[str, Any]] = field(default_factory=list)

    def stop(self) -> None:
        import ray

        stopping = [actor.stop.remote() for actor in self.actors]   # each flushes its log
        for ref, actor in zip(stopping, self.actors, strict=True):
            with contextlib.suppress(Exception):   # a dead replica has nothing to flush
                ray.get(ref, timeout=60)
            ray.kill(actor)


def start_replicas(source: ModelSource, replicas: int, host: str, port: int,
                   log: bool = True, grpc_port: int | None = None,
                   timeout_s: float = 180.0) -> Replicas:
    """Start `replicas` actors (each `source.threads` CPUs, spread over the nodes, restarted
    by Ray when they die) serving `host:port`; returns once every one answers."""
    import ray

    actor: Any = ray.remote(LeanReplica)
    actor = actor.options(num_cpus=source.threads, max_restarts=-1,
                          scheduling_strategy="SPREAD")
    actors: list[Any] = [actor.remote(source, log, host, port, grpc_port) for _ in range(replicas)]
    out = Replicas(actors)
    try:
        out.info = ray.get([a.info.remote() for a in actors], timeout=timeout_s)
    except Exception as exc:   # e.g. the port is taken, or the model is refused in a replica
        out.stop()
        from specops.runtime.engine.executors import ExecutorError

        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        raise ExecutorError(f"the replicas did not start: "
                            f"{lines[-1] if lines else type(exc).__name__}") from exc
    return out


# -- serve ingress: a Ray Serve deployment behind Serve's proxy ---------------------------
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
            service = self.service
            # ASGI header names are lower-case bytes, as `Service.call` expects them
            headers = dict(request.scope.get("headers") or ())
            service.metrics.in_flight(1)
            try:
                body = await request.body()
                status, payload, ctype, extra = await service.call(
                    request.method, request.url.path, body, headers)
            finally:
                service.metrics.in_flight(-1)
            return Response(payload, status_code=status, media_type=ctype.decode(),
                            headers={k.decode(): v.decode() for k, v in extra})

        def __del__(self) -> None:   # Serve calls it on graceful shutdown: flush the log
            service = getattr(self, "service", None)
            if service is not None:
                service.close()

    deployment: Any = SpecopsModel   # @serve.deployment made it a Deployment
    return deployment.bind(source, log, max_batch, wait_s)


def _start_ray(address: str | None) -> None:
    """`ray.init` with the executor's retry (a loaded machine sometimes misses Ray's
    start-up deadlines); a start that still fails is `ExecutorError("could not start Ray:
    ...")`, one line for the CLI, as for `specops run`."""
    from specops.runtime.engine.executors.ray_executor import _init_with_retry

    _init_with_retry({"address": address, "include_dashboard": False, "log_to_driver": False})


def run_ray_serve(source: ModelSource, serving: dict[str, Any] | None, host: str, port: int,
                  address: str | None = None, log: bool = True, block: bool = True,
                  ingress: str = "direct", grpc_port: int | None = None) -> Replicas | None:
    """Start (or join, with `address`) Ray, start the replicas behind `ingress`, and serve
    on host:port until Ctrl-C (`block=False`: return the direct replicas, or None)."""
    import sys

    import ray

    if not ray.is_initialized():
        _start_ray(address)
    replicas = int((serving or {}).get("replicas", 1))
    started: Replicas | None = None
    if ingress == "direct":
        started = start_replicas(source, replicas, host, port, log, grpc_port)
        for r in started.info:
            print(f"specops: replica pid {r['pid']} on node {r['node_id'][:12]}: metrics at "
                  f"{r['url']}/metrics", file=sys.stderr)
    else:
        from ray import serve

        serve.start(http_options={"host": host, "port": port})
        serve.run(build_deployment(source, serving, log), name=source.model,
                  route_prefix="/")
    if not block:
        return started
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if started is not None:
            started.stop()
        else:
            from ray import serve

            serve.shutdown()  # type: ignore[no-untyped-call]
    return None
