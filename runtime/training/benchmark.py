"""`benchmark`: what the ONNX model costs to serve, measured in onnxruntime.

Why measured at build time: latency and size ceilings are gate checks (`latency_p99_ms <= 5`),
so they must be numbers from this exact model file. The session uses
`intra_op_num_threads=1` (one serving replica per CPU; thread pools under cgroups otherwise
oversubscribe), and single-row latency cycles through real test rows with inputs prepared in
advance, so the figure is the model's, not Python's feature munging.

Peak memory: the process high-water mark (VmHWM) is reset through `/proc/self/clear_refs`
where Linux allows it, so `peak_rss_mb` covers session creation and inference; elsewhere it
falls back to `ru_maxrss` (the process-lifetime peak, an upper bound).

Parity: when `export_onnx` had no test split among its inputs, the parity check runs here
(this op always sees the fitted pipeline, the ONNX file and the test split) and
`parity.json` is written here; either way `benchmark.json` embeds the parity report so the
gate, whose inputs are `evaluate` and `benchmark`, sees it.

Params: `rows` (batch size for throughput; single-row calls = rows x repeats),
`repeats`.

Output: `test_rows.parquet` (the first `test_rows` test rows with the outputs, see
`onnx.recorded_test_rows`) and `benchmark.json` with p50/p99/mean single-row latency (µs
and ms), batch throughput (rows/s), model size (MB), session RSS growth and peak RSS (MB).
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import polars as pl

from specops.contract.op_params import BenchmarkParams
from specops.runtime.engine.op_inputs import find_input_file, optional_input_file, read_json
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult
from specops.runtime.training.export_onnx import (
    TEST_ROWS,
    check_parity,
    parity_metrics,
    recorded_test_rows,
    session,
)
from specops.runtime.training.preprocess import Feature, onnx_feed, prepare_frame

__all__ = ["benchmark", "measure"]


def _status_kb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure(onnx_path: Path, frame: pl.DataFrame, features: list[Feature], repeats: int = 1000,
            batch_rows: int = 1000, warmup: int = 50) -> dict[str, Any]:
    """Single-row latency, batch throughput, size and memory of one ONNX model."""
    if frame.height == 0:
        raise OpError("benchmark needs at least one row of test data")
    reset = _reset_peak()
    rss_before = _status_kb("VmRSS")
    sess = session(onnx_path.read_bytes(), threads=1)
    rss_after = _status_kb("VmRSS")
    rows = [onnx_feed(frame[i:i + 1], features) for i in range(min(frame.height, 256))]
    for i in range(warmup):
        sess.run(None, rows[i % len(rows)])
    times = np.empty(repeats, dtype=np.float64)
    for i in range(repeats):
        feed = rows[i % len(rows)]
        t0 = time.perf_counter_ns()
        sess.run(None, feed)
        times[i] = (time.perf_counter_ns() - t0) / 1000.0
    reps = -(-batch_rows // frame.height)
    batch = pl.concat([frame] * reps)[:batch_rows]
    feed = onnx_feed(batch, features)
    sess.run(None, feed)
    loops, start = 0, time.perf_counter()
    while loops < 3 or time.perf_counter() - start < 0.3:
        sess.run(None, feed)
        loops += 1
    elapsed = time.perf_counter() - start
    p50, p99 = (float(v) for v in np.percentile(times, [50, 99]))
    return {"latency_p50_us": p50, "latency_p99_us": p99,
            "latency_mean_us": float(times.mean()),
            "latency_p50_ms": p50 / 1000, "latency_p99_ms": p99 / 1000,
            "throughput_rows_s": loops * batch.height / elapsed, "batch_rows": batch.height,
            "single_row_calls": repeats, "threads": 1,
            "model_size_mb": onnx_path.stat().st_size / 1e6,
            "session_rss_mb": ((rss_after - rss_before) / 1024
                               if rss_after is not None and rss_before is not None else None),
            "peak_rss_mb": _peak_mb(),
            "peak_rss_scope": "benchmark" if reset else "process"}


def benchmark(ctx: OpContext) -> OpResult:
    onnx_path = find_input_file(ctx, "model.onnx")
    sig = read_json(onnx_path.parent / "signature.json")
    features = [Feature(**f) for f in sig["features"]]
    test_path = find_input_file(ctx, "test.parquet")
    frame = prepare_frame(pl.read_parquet(test_path), features)
    p = ctx.typed(BenchmarkParams)   # as the compiler decided them (docs/plan.md)
    rows, repeats = p.rows, p.repeats
    result = measure(onnx_path, frame, features, repeats=max(rows * repeats, 100),
                     batch_rows=rows)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    # Parity: reuse export_onnx's report when it had the test set, else compute it here
    # (the benchmark always sees the fitted pipeline, the ONNX file and the test split).
    parity_path = onnx_path.parent / "parity.json"
    if parity_path.is_file():
        parity = read_json(parity_path)
    else:
        model_path = find_input_file(ctx, "model.joblib")
        parity = check_parity(onnx_path.read_bytes(), joblib.load(model_path), frame, features,
                              "regression" not in str(sig.get("task", "")),
                              float(sig["tolerance"]))   # export_onnx records the plan's
        parity["model_digest"] = "sha256:" + hashlib.sha256(onnx_path.read_bytes()).hexdigest()
        (ctx.out_dir / "parity.json").write_text(
            json.dumps(parity, indent=2, sort_keys=True) + "\n")
    result["parity"] = parity
    result["test_rows"] = frame.height
    trained_path = optional_input_file(ctx, "params.json")
    if trained_path is not None:   # so gates on `train_rows` see it (gate inputs: eval, bench)
        result["train_rows"] = read_json(trained_path).get("n_train")
    recorded_test_rows(onnx_path.read_bytes(), frame, features, p.test_rows).write_parquet(
        ctx.out_dir / TEST_ROWS)
    (ctx.out_dir / "benchmark.json").write_text(
        json.dumps(result, indent=2, sort_keys=True) + "\n")
    metrics = {k: float(v) for k, v in result.items()
               if isinstance(v, (int, float)) and k != "threads"}
    metrics["throughput_rps"] = metrics["throughput_rows_s"]
    metrics.update(parity_metrics(parity))
    verdict = "parity ok" if parity.get("passed") else "PARITY FAILED"
    return OpResult(metrics=metrics, report=result,
                    message=f"p50 {result['latency_p50_us']:.1f} µs, p99 "
                            f"{result['latency_p99_us']:.1f} µs, "
                            f"{result['throughput_rows_s']:.0f} rows/s, "
                            f"{result['model_size_mb']:.3f} MB, {verdict}")
