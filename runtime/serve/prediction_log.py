"""The prediction log: every scored row, appended in batches to partitioned parquet.

Layout: `<project>/.specops/predictions/model=<name>/date=YYYY-MM-DD/part-<ts>-<pid>-<n>
.parquet` (hive partitioning: `pl.scan_parquet(..., hive_partitioning=True)` and the
monitoring jobs read it directly). Columns: `request_id`, `row` (index within the
request), `time` (UTC), `model`, `version`, `digest`, `latency_ms` (the request's), one
column per model input (as the model saw it: FP32 or string), `arm` (champion, or during a
rollout challenger / shadow: runtime/serve/traffic), then the outputs (`label`
and `probabilities` as a list, or `prediction`). A server in online mode adds the raw
request fields (`raw.<field>`) and `features_at` (the request time the features were
computed at), from which `specops monitor --skew` recomputes the features offline.

Why a buffer and a writer thread: writing a parquet file per request would cost more than
scoring it; requests append small column chunks under a lock (microseconds) and a writer
thread turns every `batch_rows` rows (or every `flush_s` seconds) into one file.
Memory is bounded: when `max_rows` are waiting (the disk is slower than the traffic),
`append` blocks until the writer catches up, so requests slow down rather than entries
being dropped; monitoring needs every request. `close()` (server shutdown) flushes what
is left and joins the writer; files are written to a temporary name and renamed, so a
reader never sees half a file.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

__all__ = ["PredictionLog", "log_dir"]


def log_dir(project_root: Path, model: str) -> Path:
    return project_root / ".specops" / "predictions" / f"model={model}"


class PredictionLog:
    def __init__(self, root: Path, model: str, version: int, digest: str,
                 batch_rows: int = 5000, flush_s: float = 5.0, max_rows: int = 200_000,
                 arm: str = "champion") -> None:
        self.dir = log_dir(root, model)
        self.model, self.version, self.digest = model, version, digest
        self.arm = arm   # champion | challenger | shadow (runtime/serve/traffic)
        self.batch_rows, self.flush_s, self.max_rows = batch_rows, flush_s, max_rows
        self._cols: dict[str, list[Any]] = {}
        self._rows = 0
        self._cond = threading.Condition()
        self._closed = False
        self._seq = 0
        # ids for requests that bring none: a random per-log prefix and a counter, unique
        # like uuid4 but without its urandom syscall per request (3 % of a request's CPU)
        self._ids = itertools.count()
        self._id_prefix = uuid.uuid4().hex[:20]
        self.files: list[Path] = []
        self.written_rows = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._loop, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, request_id: str | None, at: float, latency_ms: float,
               feeds: dict[str, np.ndarray], outputs: dict[str, np.ndarray], rows: int,
               extra: dict[str, list[Any]] | None = None) -> None:
        """Queue one request's rows (blocks while `max_rows` are already waiting).

        Columns are accumulated as Python lists here, a few `extend` calls per request, so
        that the writer thread only hands finished lists to polars: a writer that rebuilt
        thousands of small arrays would hold the GIL long enough to show in tail latency.
        `extra` (online mode): more columns, one value per row (the raw request fields,
        `raw.<name>`, and `features_at`, the request time the features were read at).
        """
        rid = request_id or f"{self._id_prefix}{next(self._ids):012x}"
        with self._cond:
            while self._rows >= self.max_rows and not self._closed:
                self._cond.notify_all()
                self._cond.wait(0.5)
            cols = self._cols
            if not cols:
                cols.update({k: [] for k in ("request_id", "row", "time", "latency_ms")})
                cols.update({f"in:{k}": [] for k in feeds})
                cols.update({f"out:{k}": [] for k in outputs})
                cols.update({f"extra:{k}": [] for k in extra or ()})
            cols["request_id"].extend([rid] * rows)
            cols["row"].extend(range(rows))
            cols["time"].extend([int(at * 1e6)] * rows)
            cols["latency_ms"].extend([latency_ms] * rows)
            for k, arr in feeds.items():
                cols[f"in:{k}"].extend(arr.reshape(-1).tolist())
            for k, values in (extra or {}).items():
                cols[f"extra:{k}"].extend(values)
            for k, arr in outputs.items():
                a = np.asarray(arr)
                cols[f"out:{k}"].extend(a.tolist() if a.ndim == 2 and a.shape[1] > 1
                                        else a.reshape(-1).tolist())
            self._rows += rows
            if self._rows >= self.batch_rows:
                self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                deadline = time.monotonic() + self.flush_s
                while not self._closed and self._rows < self.batch_rows:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                cols, self._cols, self._rows = self._cols, {}, 0
                closed = self._closed
                self._cond.notify_all()   # wake appenders blocked on a full buffer
            if cols and cols["request_id"]:
                try:
                    self._write(cols)
                except Exception as exc:   # keep serving; the error is reported on close
                    self.error = f"{type(exc).__name__}: {exc}"
            if closed:
                return

    def _frame(self, cols: dict[str, list[Any]]) -> pl.DataFrame:
        n = len(cols["request_id"])
        data: dict[str, Any] = {
            "request_id": pl.Series(cols["request_id"], dtype=pl.Utf8),
            "row": pl.Series(cols["row"], dtype=pl.Int32),
            "time": pl.Series(cols["time"], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "model": pl.repeat(self.model, n, eager=True),
            "version": pl.repeat(self.version, n, dtype=pl.Int32, eager=True),
            "digest": pl.repeat(self.digest, n, eager=True),
            "arm": pl.repeat(self.arm, n, eager=True),
            "latency_ms": pl.Series(cols["latency_ms"], dtype=pl.Float64)}
        for key, values in cols.items():
            if key.startswith("in:"):
                data[key[3:]] = pl.Series(values, strict=False)
            elif key == "extra:features_at":
                data[key[6:]] = pl.Series(values, dtype=pl.Int64).cast(
                    pl.Datetime("us", "UTC"))
            elif key.startswith("extra:"):
                data[key[6:]] = pl.Series(values, strict=False)
            elif key.startswith("out:"):
                dtype = pl.List(pl.Float32) if values and isinstance(values[0], list) else None
                data[key[4:]] = pl.Series(values, dtype=dtype, strict=False)
        return pl.DataFrame(data)

    def _write(self, cols: dict[str, list[Any]]) -> None:
        frame = self._frame(cols)
        dates = frame.get_column("time").dt.strftime("%Y-%m-%d")
        frame = frame.with_columns(dates.alias("__date"))
        for (date,), part in frame.group_by(["__date"], maintain_order=True):
            target = self.dir / f"date={date}"
            target.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            stamp = datetime.now(UTC).strftime("%H%M%S%f")
            path = target / f"part-{stamp}-{os.getpid()}-{self.arm}-{self._seq:06d}.parquet"
            tmp = path.with_suffix(".tmp")
            part.drop("__date").write_parquet(tmp)
            tmp.rename(path)
            self.files.append(path)
            self.written_rows += part.height

    def close(self) -> None:
        """Flush everything queued and stop the writer (idempotent)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
