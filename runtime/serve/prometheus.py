"""Operational metrics in the Prometheus text exposition format (version 0.0.4).

Why hand-written rather than `prometheus_client`: the serving path needs three series
(requests by endpoint and status, request latency histogram, rows scored) updated on every
request; a lock and a few dicts cost less per request than the client's registry, and the
exposition format is small and stable. Each process (a lean server or a Ray replica)
exposes its own series at `/metrics`, labelled with the model and version; Prometheus
sums them across targets.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

__all__ = ["BUCKETS_S", "Metrics"]

BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _labels(pairs: dict[str, str]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in pairs.items()) + "}"


class Metrics:
    """Counters and latency histograms for one served model (thread-safe)."""

    def __init__(self, model: str, version: int) -> None:
        self.base = {"model": model, "version": str(version)}
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.rows: int = 0
        self.errors: dict[str, int] = defaultdict(int)
        self._hist: dict[str, list[int]] = {}
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)

    def observe(self, endpoint: str, status: int, seconds: float, rows: int = 0) -> None:
        with self._lock:
            self.requests[(endpoint, status)] += 1
            if status >= 400:
                self.errors[endpoint] += 1
            self.rows += rows
            counts = self._hist.get(endpoint)
            if counts is None:
                counts = self._hist[endpoint] = [0] * (len(BUCKETS_S) + 1)
            counts[bisect.bisect_left(BUCKETS_S, seconds)] += 1
            self._sum[endpoint] += seconds
            self._count[endpoint] += 1

    def render(self) -> str:
        lines: list[str] = []
        b = self.base
        with self._lock:
            lines += ["# HELP specops_requests_total HTTP requests by endpoint and status.",
                      "# TYPE specops_requests_total counter"]
            for (ep, st), n in sorted(self.requests.items()):
                lines.append(f"specops_requests_total"
                             f"{_labels({**b, 'endpoint': ep, 'code': str(st)})} {n}")
            lines += ["# HELP specops_request_errors_total Requests answered 4xx or 5xx.",
                      "# TYPE specops_request_errors_total counter"]
            for ep, n in sorted(self.errors.items()):
                lines.append(f"specops_request_errors_total{_labels({**b, 'endpoint': ep})} {n}")
            lines += ["# HELP specops_rows_scored_total Rows passed to the model.",
                      "# TYPE specops_rows_scored_total counter",
                      f"specops_rows_scored_total{_labels(b)} {self.rows}",
                      "# HELP specops_request_duration_seconds Request latency in the server.",
                      "# TYPE specops_request_duration_seconds histogram"]
            for ep, counts in sorted(self._hist.items()):
                running = 0
                for le, c in zip([*map(str, BUCKETS_S), "+Inf"], counts, strict=True):
                    running += c
                    lines.append("specops_request_duration_seconds_bucket"
                                 f"{_labels({**b, 'endpoint': ep, 'le': le})} {running}")
                lab = _labels({**b, "endpoint": ep})
                lines.append(f"specops_request_duration_seconds_sum{lab} {self._sum[ep]!r}")
                lines.append(f"specops_request_duration_seconds_count{lab} {self._count[ep]}")
        return "\n".join(lines) + "\n"
