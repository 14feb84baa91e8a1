"""Operational metrics of one serving process, through `prometheus_client`.

Why `prometheus_client` rather than a hand-written exposition: it gives the standard
process and platform collectors, the `_created` series, escaping and the text format as
Prometheus and every exporter expect them, and the parser our tests read it with. Its cost
per request was measured against the earlier hand-written counters (bench/serve_load.py,
`metrics_update_us`): a request's updates cost about 1 µs more, under 1 % of the lean
server's per-request CPU, so the measured difference is no reason to keep our own.

Why one `CollectorRegistry` per `Metrics` (not the global one): a process may hold several
services (tests, a staging check beside a server), and each must expose only its own model's
series; nothing is registered globally, so two services never collide.

Why the in-flight gauge reads a plain int at scrape time (`set_function`): it changes twice
per request, on the event loop only, where a locked child update would cost twice as much.

Why the label children are bound once and cached per (endpoint, status): `.labels(...)`
builds and hashes a tuple and takes the metric's lock on every call (measured 3x the cost
of the update itself); endpoints and status codes are a small closed set, so the cache
stays small and a request's update is a dict lookup plus the children's `inc`/`observe`.

Series (each labelled with `model` and `version`; Prometheus sums them across processes):
- `specops_requests_total{endpoint,code}`: every answered request;
- `specops_request_errors_total{endpoint}`: client errors (4xx), never model failures;
- `specops_model_failures_total{endpoint}`: a 500 raised inside the model;
- `specops_rows_scored_total`: rows passed to the model;
- `specops_request_duration_seconds{endpoint,code}`: request time in the server;
- `specops_model_duration_seconds`: time inside the model alone (apart from parsing,
  checks and encoding);
- `specops_in_flight_requests`: requests being read or answered;
- `specops_build_info{version,model,model_version,digest}` and the `process_*` and
  `python_info` series of the standard collectors.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

__all__ = ["BUCKETS_S", "CONTENT_TYPE", "Metrics"]

BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
_BASE = ("model", "version")


def _specops_version() -> str:
    try:
        return package_version("specops")
    except PackageNotFoundError:
        return "unknown"


class Metrics:
    """The series of one served model in their own registry (thread-safe: the children
    lock themselves; the gRPC server's worker threads update them beside the event loop)."""

    def __init__(self, model: str, version: int, digest: str = "") -> None:
        self.registry = reg = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        Info("specops_build", "The specops release and the model version served.",
             registry=reg).info({"version": _specops_version(), "model": model,
                                 "model_version": str(version), "digest": digest})
        base = (model, str(version))
        self._base = base
        self._requests = Counter("specops_requests", "HTTP and gRPC requests by endpoint "
                                 "and status.", (*_BASE, "endpoint", "code"), registry=reg)
        self._errors = Counter("specops_request_errors", "Client errors (answered 4xx).",
                               (*_BASE, "endpoint"), registry=reg)
        self._failures = Counter("specops_model_failures", "Requests that failed inside "
                                 "the model (500).", (*_BASE, "endpoint"), registry=reg)
        self._duration = Histogram("specops_request_duration_seconds", "Request latency in "
                                   "the server.", (*_BASE, "endpoint", "code"),
                                   buckets=BUCKETS_S, registry=reg)
        self._rows = Counter("specops_rows_scored", "Rows passed to the model.", _BASE,
                             registry=reg).labels(*base)
        self.inflight = 0
        Gauge("specops_in_flight_requests", "Requests being read or answered.", _BASE,
              registry=reg).labels(*base).set_function(lambda: self.inflight)
        self._model_time = Histogram("specops_model_duration_seconds", "Time inside the "
                                     "model.", _BASE, buckets=BUCKETS_S,
                                     registry=reg).labels(*base)
        self._bound: dict[tuple[str, int], tuple[Any, Any, Any]] = {}
        self._failure_children: dict[str, Any] = {}

    # -- per request (hot path) ----------------------------------------------------------
    def in_flight(self, delta: int) -> None:
        """Called on the event loop only (asgi.make_app), so a plain int needs no lock;
        the gauge reads it at scrape time (half the cost of two locked `inc` calls)."""
        self.inflight += delta

    def observe_model(self, seconds: float) -> None:
        """Time inside the model alone (request time minus parsing, checks, encoding)."""
        self._model_time.observe(seconds)

    def observe(self, endpoint: str, status: int, seconds: float, rows: int = 0) -> None:
        bound = self._bound.get((endpoint, status))
        if bound is None:
            bound = self._bind(endpoint, status)
        bound[0].inc()
        bound[1].observe(seconds)
        if bound[2] is not None:
            bound[2].inc()
        if rows:
            self._rows.inc(rows)

    def model_failed(self, endpoint: str) -> None:
        child = self._failure_children.get(endpoint)
        if child is None:
            child = self._failure_children[endpoint] = self._failures.labels(
                *self._base, endpoint)
        child.inc()

    def _bind(self, endpoint: str, status: int) -> tuple[Any, Any, Any]:
        """The children of one (endpoint, status), bound once (a racing second bind gets
        the same children from `prometheus_client`, so either copy counts correctly)."""
        code = str(status)
        bound = (self._requests.labels(*self._base, endpoint, code),
                 self._duration.labels(*self._base, endpoint, code),
                 self._errors.labels(*self._base, endpoint) if 400 <= status < 500 else None)
        self._bound[(endpoint, status)] = bound
        return bound

    # -- scrape ----------------------------------------------------------------------------
    def render(self) -> str:
        """The exposition text (format 0.0.4) of this service's registry."""
        return generate_latest(self.registry).decode()
