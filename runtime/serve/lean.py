"""The lean server: uvicorn + onnxruntime in one process, same protocol as Ray Serve.

When to use which (docs/serving.md):
- **lean** (`specops serve --server lean`, the default on one machine): one process holds
  the session and answers HTTP itself, with uvloop and httptools. No proxy hop, no actor
  RPC: on two cores it answers thousands of single-row requests per second. Scale it out
  by running one per core or machine behind any load balancer; the log and metrics are
  per process.
- **ray** (`--server ray`, or whenever `--address` names a cluster): Ray Serve replicas
  on a cluster, autoscaling and `@serve.batch`; every request crosses the Serve proxy and
  an actor call, which caps one proxy at hundreds to a few thousand requests per second
  (ray-project/ray#42565). Use it for many replicas or heavy models, where the per-request
  overhead is small next to the model.

Both run `asgi.Service`, so responses, checks, the prediction log and metrics are equal.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

from specops.runtime.serve.asgi import Service, make_app
from specops.runtime.serve.prediction_log import PredictionLog
from specops.runtime.serve.recheck import Recheck, interval_from_env
from specops.runtime.serve.served_model import ModelSource, load_model, open_governance

__all__ = ["LeanServer", "build_service", "free_port", "listen_socket", "serve_lean"]


def build_service(source: ModelSource, log: bool = True, log_batch_rows: int = 5000,
                  registry: Any | None = None, recheck_s: float | None = None) -> Service:
    """Admit and load the model, then wire the prediction log (unless switched off) and,
    when it serves an environment, the periodic re-check of its deploy and approvals
    (`recheck_s`, default `SPECOPS_SERVE_RECHECK_S` or 60 s; 0 = off)."""
    model = load_model(source, registry)
    plog = (PredictionLog(Path(source.project_root), model.name, model.version,
                          model.model_digest, batch_rows=log_batch_rows) if log else None)
    service = Service(model, plog)
    interval = interval_from_env() if recheck_s is None else recheck_s
    if model.deploy is not None and interval > 0:
        guard = Recheck(service, lambda: open_governance(source), interval).start()
        service.on_close.append(guard.stop)
    return service


def _config(service: Service, host: str, port: int) -> Any:
    import uvicorn

    try:
        import uvloop  # noqa: F401
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    http: Any
    try:
        from specops.runtime.serve.wire.http_limits import LimitedHttpTools
        http = LimitedHttpTools     # header deadline and size cap (http_limits.py)
    except ImportError:
        http = "h11"                # h11 caps headers itself (h11_max_incomplete_event_size)
    # no proxy-headers middleware (nothing here reads the client address) and no `server`
    # header: per-request work the service does not need (profiled, docs/serving.md)
    return uvicorn.Config(make_app(service), host=host, port=port, loop=loop, http=http,
                          lifespan="on", access_log=False, log_level="warning",
                          backlog=2048, timeout_keep_alive=5, proxy_headers=False,
                          server_header=False)


def serve_lean(service: Service, host: str = "127.0.0.1", port: int = 8000,
               grpc_port: int | None = None,
               sockets: list[socket.socket] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; the lifespan shutdown flushes the prediction log. With
    `grpc_port`, OIP over gRPC runs beside HTTP on the same `Service` (wire/grpc_server).
    `sockets`: listen on these bound sockets (`--workers`: one SO_REUSEPORT socket per
    process) instead of binding `host:port`."""
    import uvicorn

    server = uvicorn.Server(_config(service, host, port))
    grpc_server = None
    if grpc_port is not None:
        from specops.runtime.serve.wire.grpc_server import GrpcServer

        grpc_server = GrpcServer(service, host, grpc_port).start()
    _freeze_startup_objects()
    try:
        server.run(sockets=sockets)
    finally:
        if grpc_server is not None:
            grpc_server.stop()
        service.close()


def _freeze_startup_objects() -> None:
    """Move everything built at start (model session, plan, compiled feature closures,
    imported modules) out of the garbage collector's sight before serving.

    Why: a full collection walks every tracked object; with the start-up heap that took
    tens of milliseconds on the event loop, which showed as the p99 of online serving
    (bench/online_serve.py). Objects made while serving are still collected as usual."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 1_000)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def listen_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A bound TCP socket for uvicorn. With `reuse_port` (SO_REUSEPORT), several processes
    of one user listen on the same port and the kernel spreads new connections over them:
    the Ray replicas of one node share the serving port that way (ray_serve.py)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class LeanServer:
    """The lean server in a background thread (tests, staging checks): `with` starts and
    stops it; `url` is where it listens."""

    def __init__(self, service: Service, host: str = "127.0.0.1", port: int | None = None,
                 sockets: list[socket.socket] | None = None):
        """`sockets`: listen on these bound sockets (the first one names `url`) instead of
        binding `host:port`."""
        import uvicorn

        self.service = service
        self.sockets = sockets
        if sockets:
            host, port = sockets[0].getsockname()[:2]
        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(_config(service, self.host, self.port))
        self._thread = threading.Thread(target=self._run, name="lean-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        # the configured loop (uvloop when installed), as `uvicorn.Server.run` would use
        with asyncio.Runner(loop_factory=self.server.config.get_loop_factory()) as runner:
            runner.run(self.server.serve(sockets=self.sockets))

    def start(self, timeout: float = 20.0) -> LeanServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"lean server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self.service.close()

    def __enter__(self) -> LeanServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
