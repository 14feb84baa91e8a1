"""The prediction log: every scored row, appended in batches to partitioned parquet.

Layout: `<project>/.specops/predictions/model=<name>/date=YYYY-MM-DD/part-<ts>-<pid>-<n>
.parquet` (hive partitioning: `pl.scan_parquet(..., hive_partitioning=True)` and the
monitoring jobs read it directly). Columns: `request_id`, `row` (index within the
request), `time` (UTC), `model`, `version`, `digest`, `latency_ms` (the request's), one
column per model input (as the model saw it: FP32 or string), then the outputs (`label`
and `probabilities` as a list, or `prediction`).

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
                 batch_rows: int = 5000, flush_s: float = 5.0, max_rows: int = 200_000) -> None:
        self.dir = log_dir(root, model)
        self.model, self.version, self.digest = model, version, digest
        self.batch_rows, self.flush_s, self.max_rows = batch_rows, flush_s, max_rows
        self._chunks: list[tuple[str, float, float, dict[str, np.ndarray],
                                 dict[str, np.ndarray], int]] = []
        self._rows = 0
        self._cond = threading.Condition()
        self._closed = False
        self._seq = 0
        self.files: list[Path] = []
        self.written_rows = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._loop, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, request_id: str | None, at: float, latency_ms: float,
               feeds: dict[str, np.ndarray], outputs: dict[str, np.ndarray], rows: int) -> None:
        """Queue one request's rows (blocks while `max_rows` are already waiting)."""
        rid = request_id or uuid.uuid4().hex
        with self._cond:
            while self._rows >= self.max_rows and not self._closed:
                self._cond.notify_all()
                self._cond.wait(0.5)
            self._chunks.append((rid, at, latency_ms, feeds, outputs, rows))
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
                chunks, self._chunks, self._rows = self._chunks, [], 0
                closed = self._closed
                self._cond.notify_all()   # wake appenders blocked on a full buffer
            if chunks:
                try:
                    self._write(chunks)
                except Exception as exc:   # keep serving; the error is reported on close
                    self.error = f"{type(exc).__name__}: {exc}"
            if closed:
                return

    def _frame(self, chunks: list[Any]) -> pl.DataFrame:
        rids, rows_idx, times, lats = [], [], [], []
        for rid, at, lat, _f, _o, n in chunks:
            rids += [rid] * n
            rows_idx += list(range(n))
            times += [at] * n
            lats += [lat] * n
        cols: dict[str, Any] = {
            "request_id": rids, "row": pl.Series(rows_idx, dtype=pl.Int32),
            "time": pl.Series([int(t * 1e6) for t in times], dtype=pl.Int64)
            .cast(pl.Datetime("us", "UTC")),
            "model": [self.model] * len(rids),
            "version": pl.Series([self.version] * len(rids), dtype=pl.Int32),
            "digest": [self.digest] * len(rids), "latency_ms": lats}
        first_feeds, first_out = chunks[0][3], chunks[0][4]
        for name in first_feeds:
            arr = np.concatenate([c[3][name].reshape(-1) for c in chunks])
            cols[name] = arr.astype(str) if arr.dtype == object else arr
        for name in first_out:
            parts = [np.asarray(c[4][name]) for c in chunks]
            arr = np.concatenate(parts)
            if arr.ndim == 2 and arr.shape[1] > 1:
                cols[name] = pl.Series(name, arr.astype(np.float32).tolist(),
                                       dtype=pl.List(pl.Float32))
            else:
                flat = arr.reshape(-1)
                cols[name] = flat.astype(str) if flat.dtype == object else flat
        return pl.DataFrame(cols)

    def _write(self, chunks: list[Any]) -> None:
        frame = self._frame(chunks)
        dates = frame.get_column("time").dt.strftime("%Y-%m-%d")
        frame = frame.with_columns(dates.alias("__date"))
        for (date,), part in frame.group_by(["__date"], maintain_order=True):
            target = self.dir / f"date={date}"
            target.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            stamp = datetime.now(UTC).strftime("%H%M%S%f")
            path = target / f"part-{stamp}-{os.getpid()}-{self._seq:06d}.parquet"
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
