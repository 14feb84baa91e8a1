"""Small synthetic datasets and op contexts for the training/evaluation/registry tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specops.runtime.engine.op_interface import OpContext

INPUTS = [{"name": "income", "type": "float64", "role": "numeric"},
          {"name": "age", "type": "int64", "role": "numeric"},
          {"name": "region", "type": "string", "role": "categorical"}]


def make_frame(n: int, seed: int, task: str = "binary_classification") -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 15, n)
    age = rng.integers(18, 80, n)
    region = rng.choice(["north", "south", "east"], n)
    sex = rng.choice(["F", "M"], n)
    z = (income - 50) / 15 + (age - 50) / 30 + (region == "north") * 0.8
    if "regression" in task:
        label = z * 3 + rng.normal(0, 0.5, n)
    else:
        label = (z + rng.normal(0, 0.7, n) > 0.3).astype(np.int64)
    income = np.where(rng.random(n) < 0.05, np.nan, income)
    df = pl.DataFrame({"id": np.arange(n), "ts": np.arange(n), "income": income, "age": age,
                       "region": region, "sex": sex, "y": label})
    return df.with_columns(pl.col("income").fill_nan(None),
                           pl.when(pl.int_range(pl.len()) % 17 == 0).then(None)
                           .otherwise(pl.col("region")).alias("region"))


def make_dataset(root: Path, n: int = 400, seed: int = 0,
                 task: str = "binary_classification") -> Path:
    d = root / "training_set"
    d.mkdir(parents=True, exist_ok=True)
    df = make_frame(n, seed, task)
    cut = int(n * 0.75)
    df[:cut].write_parquet(d / "train.parquet")
    df[cut:].write_parquet(d / "test.parquet")
    (d / "schema.json").write_text(json.dumps({
        "inputs": INPUTS, "label": "y", "protected": ["sex"], "entity": "id",
        "timestamp": "ts", "task": task}))
    return d


def make_ctx(root: Path, node_id: str, op: str, params: dict[str, Any],
             inputs: dict[str, Path], extra: dict[str, Any] | None = None,
             resources: dict[str, Any] | None = None) -> OpContext:
    out = root / node_id.replace(":", "_")
    out.mkdir(parents=True, exist_ok=True)
    return OpContext(node_id=node_id, op=op, params=params, project_root=root, out_dir=out,
                     inputs=inputs, run_id="run-test", fingerprint="sha256:" + "0" * 64,
                     resources=resources or {}, extra=extra or {})


def train_params(cls: str = "LogisticRegression", search: dict[str, Any] | None = None,
                 task: str = "binary_classification", **est: Any) -> dict[str, Any]:
    """Complete train params, as the compiler writes them (the op reads no defaults)."""
    label = {"name": "y", "type": "float64" if "regression" in task else "int64"}
    return {"task": task, "label": label, "inputs": INPUTS,
            "estimator": {"class": cls, "params": est.pop("params", {}), "search": search or {},
                          "search_strategy": "grid", "n_iter": 10, "cv": est.pop("cv", 3),
                          "cv_strategy": "kfold", "seed": 7, "scoring": None, **est}}


def run_pipeline(root: Path, cls: str = "LogisticRegression",
                 search: dict[str, Any] | None = None, task: str = "binary_classification",
                 data: Path | None = None, run: str = "a", **est: Any) -> dict[str, Path]:
    """train -> evaluate -> export_onnx -> benchmark, like the compiler wires them."""
    from specops.runtime.evaluation.evaluate import evaluate
    from specops.runtime.training.benchmark import benchmark
    from specops.runtime.training.export_onnx import export_onnx
    from specops.runtime.training.train import train

    ds = data or make_dataset(root, task=task)
    base = root / run
    tr = make_ctx(base, "train:m", "train", train_params(cls, search, task, **est),
                  {"training_set:m": ds})
    train(tr)
    ev = make_ctx(base, "evaluate:m", "evaluate",
                  {"task": task, "metrics": [], "slices": ["region"], "protected": ["sex"],
                   "min_group_size": 5, "label": train_params(task=task)["label"]},
                  {"train:m": tr.out_dir, "training_set:m": ds})
    evaluate(ev)
    ex = make_ctx(base, "export_onnx:m", "export_onnx",
                  {"target_opset": 17, "float_type": "float32", "tolerance": 1e-4},
                  {"train:m": tr.out_dir})
    export_onnx(ex)
    bm = make_ctx(base, "benchmark:m", "benchmark",
                  {"rows": 200, "repeats": 1, "test_rows": 100},
                  {"export_onnx:m": ex.out_dir, "train:m": tr.out_dir, "training_set:m": ds})
    benchmark(bm)
    return {"data": ds, "train": tr.out_dir, "evaluate": ev.out_dir, "export": ex.out_dir,
            "benchmark": bm.out_dir}
