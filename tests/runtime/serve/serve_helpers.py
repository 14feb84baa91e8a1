"""A small trained, exported and registered model in a throwaway project (real ops)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl
from ml_helpers import make_ctx, make_dataset, run_pipeline

from specops.runtime.registry import Registry
from specops.runtime.registry.register import register

__all__ = ["build_project", "copy_project", "oip_body"]


def build_project(root: Path, cls: str = "HistGradientBoostingClassifier") -> dict[str, Any]:
    """Project at `root/proj` with model `credit` registered as version 1."""
    proj = root / "proj"
    proj.mkdir(parents=True, exist_ok=True)
    data = make_dataset(root, n=400)
    dirs = run_pipeline(root / "work", cls=cls, data=data,
                        params={"max_iter": 20} if "Hist" in cls else {})
    reg = Registry.open(proj)
    ctx = make_ctx(root / "reg", "register:credit", "register",
                   {"model": "credit", "owner": "team:risk", "risk_tier": "high",
                    "task": "binary_classification"},
                   {"train:credit": dirs["train"], "export_onnx:credit": dirs["export"],
                    "evaluate:credit": dirs["evaluate"], "benchmark:credit": dirs["benchmark"]},
                   extra={"registry": reg})
    register(ctx)
    reg.close()
    return {"root": proj, "data": data, "dirs": dirs,
            "test": pl.read_parquet(data / "test.parquet")}


def copy_project(project: dict[str, Any], dest: Path) -> Path:
    """An independent copy (its own store, registry files and prediction log)."""
    shutil.copytree(project["root"], dest, symlinks=True)
    return dest


def oip_body(frame: pl.DataFrame) -> dict[str, Any]:
    """An OIP infer request for the rows of `frame` (income, age, region)."""
    def clean(v: Any) -> Any:
        return None if v is None or (isinstance(v, float) and v != v) else v

    return {"inputs": [
        {"name": "income", "datatype": "FP32", "shape": [frame.height, 1],
         "data": [clean(v) for v in frame.get_column("income").to_list()]},
        {"name": "age", "datatype": "INT64", "shape": [frame.height],
         "data": frame.get_column("age").to_list()},
        {"name": "region", "datatype": "BYTES", "shape": [frame.height, 1],
         "data": frame.get_column("region").to_list()}]}
