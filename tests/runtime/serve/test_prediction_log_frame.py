"""The prediction log's columns and types, whatever the batching inside the writer: inputs
as float64/int64/string in model order, outputs (`probabilities` as List(Float32)), then
the online extras; one row per scored row with its request id and row index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import specops.runtime.serve.prediction_log as plog_module
from specops.runtime.serve.prediction_log import PredictionLog


@pytest.mark.parametrize("chunk", [512, 2])   # 2: the frame is built in several pieces
def test_logged_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(plog_module, "_CHUNK", chunk)
    log = PredictionLog(tmp_path, "m", 3, "sha256:abc", batch_rows=1000)
    for i in range(5):
        rows = 1 if i % 2 == 0 else 3
        feeds = {"x": np.arange(rows, dtype=np.float32).reshape(rows, 1) + np.float32(0.1) * i,
                 "n": np.full((rows, 1), i, dtype=np.int64),
                 "region": np.array([[f"r{i}"]] * rows, dtype=object)}
        outputs = {"label": np.arange(rows, dtype=np.int64),
                   "probabilities": np.full((rows, 2), 0.25 * (i % 3), dtype=np.float32)}
        extra = {"raw.a": [1.5 * i] * rows, "raw.s": [None if i == 2 else "t"] * rows,
                 "features_at": [1_700_000_000_000_000 + i] * rows}
        log.append(f"req{i}" if i != 3 else None, 1_700_000_000.0 + i, 2.5 + i, feeds,
                   outputs, rows, extra)
    log.close()
    assert log.error is None
    f = pl.read_parquet(log.files[0])
    assert f.schema == pl.Schema({
        "request_id": pl.String, "row": pl.Int32, "time": pl.Datetime("us", "UTC"),
        "model": pl.String, "version": pl.Int32, "digest": pl.String, "arm": pl.String,
        "latency_ms": pl.Float64, "x": pl.Float64, "n": pl.Int64, "region": pl.String,
        "label": pl.Int64, "probabilities": pl.List(pl.Float32), "raw.a": pl.Float64,
        "raw.s": pl.String, "features_at": pl.Datetime("us", "UTC")})
    assert f.height == 9
    assert f["row"].to_list() == [0, 0, 1, 2, 0, 0, 1, 2, 0]
    ids = f["request_id"].to_list()
    assert ids[:5] == ["req0", "req1", "req1", "req1", "req2"] and ids[-1] == "req4"
    assert len(set(ids[5:8])) == 1 and len(ids[5]) == 32     # made up for request 3
    assert f["x"].to_list()[1:4] == [float(np.float32(0.1)), float(np.float32(1.1)),
                                     float(np.float32(2.1))]   # float32 widened exactly
    assert f["latency_ms"].to_list() == [2.5, 3.5, 3.5, 3.5, 4.5, 5.5, 5.5, 5.5, 6.5]
    assert f["raw.s"].to_list()[4] is None and f["probabilities"][4].to_list() == [0.5, 0.5]
    assert f["features_at"].dt.epoch("us").to_list()[-1] == 1_700_000_000_000_004
