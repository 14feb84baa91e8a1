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

import io
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


_CHUNK = 512   # requests per piece of a batch's frame (see PredictionLog._frames)
# a queued request: id, time (UTC µs), latency, feeds, outputs, rows, extras
_Pending = tuple[str, int, float, dict[str, np.ndarray], dict[str, np.ndarray], int,
                 dict[str, list[Any]] | None]


def _column(parts: list[np.ndarray]) -> pl.Series:
    """One input/output column from per-request arrays, typed as Python values would be
    (what the log always held): floats as float64 (float32 widens exactly), integers as
    int64, booleans, and anything else (strings) from Python objects."""
    values = np.concatenate(parts).reshape(-1) if parts else np.asarray([])
    kind = values.dtype.kind
    if kind == "f":
        return pl.Series(values.astype(np.float64, copy=False))
    if kind in "iu":
        return pl.Series(values.astype(np.int64, copy=False))
    if kind == "b":
        return pl.Series(values, dtype=pl.Boolean)
    return pl.Series(values.tolist(), strict=False)


def _warm_up_writer() -> None:
    """Run the write path once on a one-row frame, before serving.

    Why: the first date format, group-by and parquet write load code and state that held
    the GIL for about 110 ms (measured with a 1 ms ticker beside the writer), a pause every
    request in flight waited through; later batches pause the loop 10-25 ms."""
    frame = pl.DataFrame({
        "time": pl.Series([0], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
        "x": pl.Series(np.zeros(1)), "i": pl.Series(np.zeros(1, dtype=np.int64)),
        "b": pl.Series(np.zeros(1, dtype=bool), dtype=pl.Boolean),
        "s": pl.Series(["a"], strict=False), "o": pl.Series([None, 1.5][:1], strict=False),
        "p": pl.Series(np.zeros((1, 2), dtype=np.float32)).cast(pl.List(pl.Float32)),
        "m": pl.repeat("m", 1, eager=True), "v": pl.repeat(1, 1, dtype=pl.Int32, eager=True)})
    frame = frame.with_columns(frame.get_column("time").dt.strftime("%Y-%m-%d").alias("d"))
    for _key, part in frame.group_by(["d"], maintain_order=True):
        part.drop("d").write_parquet(io.BytesIO())


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
        self._pending: list[_Pending] = []
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
        _warm_up_writer()
        self._thread = threading.Thread(target=self._loop, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, request_id: str | None, at: float, latency_ms: float,
               feeds: dict[str, np.ndarray], outputs: dict[str, np.ndarray], rows: int,
               extra: dict[str, list[Any]] | None = None) -> None:
        """Queue one request's rows (blocks while `max_rows` are already waiting).

        Only a reference to the request's arrays is queued here (one list append under
        the lock); the writer thread turns a whole batch into columns with one
        `np.concatenate` per column. Why: converting each request's arrays to Python
        lists on the event loop cost about as much as computing its online features
        (bench/online_serve.py: 145 µs of server CPU per request with the log, against
        the same server without it). The arrays are never written to after scoring.
        `extra` (online mode): more columns, one value per row (the raw request fields,
        `raw.<name>`, and `features_at`, the request time the features were read at).
        """
        rid = request_id or f"{self._id_prefix}{next(self._ids):012x}"
        with self._cond:
            while self._rows >= self.max_rows and not self._closed:
                self._cond.notify_all()
                self._cond.wait(0.5)
            self._pending.append((rid, int(at * 1e6), latency_ms, feeds, outputs, rows,
                                  extra))
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
                pending, self._pending, self._rows = self._pending, [], 0
                closed = self._closed
                self._cond.notify_all()   # wake appenders blocked on a full buffer
            if pending:
                try:
                    self._write(self._frames(pending))
                except Exception as exc:   # keep serving; the error is reported on close
                    self.error = f"{type(exc).__name__}: {exc}"
            if closed:
                return

    def _frames(self, pending: list[_Pending]) -> pl.DataFrame:
        """The batch's frame, built `_CHUNK` requests at a time with a pause between.

        Why chunks: each column is one C call that holds the GIL; over a whole batch
        (5,000 rows) those calls paused the event loop 15-40 ms at every flush, which
        was the online server's p99. A chunk holds it a fifth as long; `sleep(0)` hands
        the GIL to the loop between chunks."""
        frames = []
        for i in range(0, len(pending), _CHUNK):
            frames.append(self._frame(pending[i:i + _CHUNK]))
            time.sleep(0)
        return frames[0] if len(frames) == 1 else pl.concat(
            frames, how="vertical_relaxed", rechunk=False)

    def _frame(self, pending: list[_Pending]) -> pl.DataFrame:
        """One frame for a batch of queued requests; the columns and their types are those
        the first request names (inputs as float64/int64/bool/string, outputs with a
        probability row as List(Float32), extras as given)."""
        counts = np.fromiter((p[5] for p in pending), dtype=np.int64, count=len(pending))
        n = int(counts.sum())
        first = pending[0]
        data: dict[str, Any] = {
            "request_id": pl.Series(list(itertools.chain.from_iterable(
                itertools.repeat(p[0], p[5]) for p in pending)), dtype=pl.Utf8),
            "row": pl.Series((np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts))
                             .astype(np.int32), dtype=pl.Int32),
            "time": pl.Series(np.repeat(np.fromiter((p[1] for p in pending), np.int64,
                                                    len(pending)), counts),
                              dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "model": pl.repeat(self.model, n, eager=True),
            "version": pl.repeat(self.version, n, dtype=pl.Int32, eager=True),
            "digest": pl.repeat(self.digest, n, eager=True),
            "arm": pl.repeat(self.arm, n, eager=True),
            "latency_ms": pl.Series(np.repeat(np.fromiter(
                (p[2] for p in pending), np.float64, len(pending)), counts),
                dtype=pl.Float64)}
        for k in first[3]:
            data[k] = _column([p[3][k] for p in pending])
        for k in first[4]:
            arrays = [np.asarray(p[4][k]) for p in pending]
            if arrays[0].ndim == 2 and arrays[0].shape[1] > 1:   # a probability row
                data[k] = pl.Series(np.concatenate(arrays).astype(np.float32, copy=False)
                                    ).cast(pl.List(pl.Float32))
            else:
                data[k] = _column(arrays)
        for k in first[6] or {}:
            values = list(itertools.chain.from_iterable(
                (p[6] or {}).get(k) or [None] * p[5] for p in pending))
            if k == "features_at":
                data[k] = pl.Series(values, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
            else:
                data[k] = pl.Series(values, strict=False)
        return pl.DataFrame(data)

    def _write(self, frame: pl.DataFrame) -> None:
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
