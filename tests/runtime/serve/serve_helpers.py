"""A small trained, exported and registered model in a throwaway project (real ops)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ml_helpers import make_ctx, make_dataset, run_pipeline
from specops.runtime.ops.register import register
from specops.runtime.registry import Registry

__all__ = ["build_project"]


def build_project(root: Path, cls: str = "HistGradientBoostingClassifier",
                  **est: Any) -> dict[str, Any]:
    """Project at `root/proj` with model `credit` registered as version 1."""
    proj = root / "proj"
    proj.mkdir(parents=True, exist_ok=True)
    data = make_dataset(root, n=400)
    dirs = run_pipeline(root / "work", cls=cls, data=data,
                        params=est.pop("params", {"max_iter": 20}) if "Hist" in cls else {})
    reg = Registry.open(proj)
    ctx = make_ctx(root / "reg", "register:credit", "register",
                   {"model": "credit", "owner": "team:risk", "risk_tier": "high"},
                   {"train:credit": dirs["train"], "export_onnx:credit": dirs["export"],
                    "evaluate:credit": dirs["evaluate"], "benchmark:credit": dirs["benchmark"]},
                   extra={"registry": reg})
    register(ctx)
    return {"root": proj, "registry": reg, "data": data, "dirs": dirs}
