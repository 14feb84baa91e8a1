"""Benchmark: single-row latency of scikit-learn vs onnxruntime for the models specops ships.

Workload: logistic regression and HistGradientBoostingClassifier (100 iterations) trained
through specops' own pipeline (impute + scale/one-hot, float32) on 20 numeric and 2
categorical columns; converted by the `export_onnx` code path; timed one row at a time on
held-out rows with inputs prepared in advance. scikit-learn: `predict_proba` on a one-row
frame (the whole Pipeline, as a Python service would call it). onnxruntime: the
`benchmark` op's measurement (one session, `intra_op_num_threads=1`). Prints one JSON line
with `<model>_onnx_p50_us`, `<model>_onnx_p99_us`, `<model>_sklearn_p50_us`,
`<model>_sklearn_p99_us` for model in (logreg, hgb), plus parity per model.

    uv run python bench/onnx_latency.py [--rows 5000] [--calls 3000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specops.runtime.training.benchmark import measure
from specops.runtime.training.estimator_classes import build_estimator, is_tree
from specops.runtime.training.export_onnx import DEFAULT_OPSET, check_parity, convert
from specops.runtime.training.preprocess import Feature, build_pipeline, prepare_frame

MODELS = {"logreg": ("LogisticRegression", {"max_iter": 500}),
          "hgb": ("HistGradientBoostingClassifier", {"max_iter": 100})}


def data(rows: int) -> tuple[pl.DataFrame, np.ndarray, list[Feature]]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, 20))
    cat_a = rng.choice(["a", "b", "c", "d"], rows)
    cat_b = rng.choice(["x", "y"], rows)
    y = (x[:, 0] - x[:, 1] + x[:, 2] * x[:, 3] + (cat_a == "a") + rng.normal(0, 1, rows)
         > 0).astype(np.int64)
    cols: dict[str, Any] = {f"x{i}": x[:, i] for i in range(20)}
    cols.update({"cat_a": cat_a, "cat_b": cat_b})
    features = [Feature(f"x{i}", "numeric") for i in range(20)]
    features += [Feature("cat_a", "categorical"), Feature("cat_b", "categorical")]
    return prepare_frame(pl.DataFrame(cols), features), y, features


def sklearn_latency(pipe: Any, frame: pl.DataFrame, calls: int) -> tuple[float, float]:
    rows = [frame[i:i + 1] for i in range(min(frame.height, 256))]
    for r in rows[:20]:
        pipe.predict_proba(r)
    times = np.empty(calls)
    for i in range(calls):
        row = rows[i % len(rows)]
        t0 = time.perf_counter_ns()
        pipe.predict_proba(row)
        times[i] = (time.perf_counter_ns() - t0) / 1000
    p50, p99 = np.percentile(times, [50, 99])
    return float(p50), float(p99)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--calls", type=int, default=3000)
    args = ap.parse_args()
    frame, y, features = data(args.rows)
    cut = int(args.rows * 0.8)
    train_x, test_x = frame[:cut], frame[cut:]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, (cls, params) in MODELS.items():
            pipe = build_pipeline(features, build_estimator(cls, params, 0), is_tree(cls))
            pipe.fit(train_x, y[:cut])
            onnx_bytes = convert(pipe, features, dict(DEFAULT_OPSET))
            path = Path(tmp) / f"{key}.onnx"
            path.write_bytes(onnx_bytes)
            parity = check_parity(onnx_bytes, pipe, test_x, features, True)
            ort = measure(path, test_x, features, repeats=args.calls * 3, batch_rows=1000)
            sk50, sk99 = sklearn_latency(pipe, test_x, args.calls)
            out.update({f"{key}_onnx_p50_us": round(ort["latency_p50_us"], 2),
                        f"{key}_onnx_p99_us": round(ort["latency_p99_us"], 2),
                        f"{key}_sklearn_p50_us": round(sk50, 2),
                        f"{key}_sklearn_p99_us": round(sk99, 2),
                        f"{key}_onnx_throughput_rows_s": round(ort["throughput_rows_s"]),
                        f"{key}_model_size_mb": round(ort["model_size_mb"], 4),
                        f"{key}_parity_max_abs_diff": parity["max_abs_diff"],
                        f"{key}_parity_label_mismatches": parity["label_mismatches"]})
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
