"""Monitoring measures fairness exactly as evaluation did: the version's own band edges
(fixed at evaluation, even for quantile bands) and its favourable outcome and threshold.

Before, the monitor cut quartiles of whatever rows a pass saw (so "25-40" in a window was
not the evaluation's band) and counted the positive class as the selection.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from ml_helpers import make_ctx, make_frame, run_pipeline

from specops.runtime.evaluation.evaluate import evaluate
from specops.runtime.monitor.monitor_pass import (
    ModelInfo,
    MonitorSettings,
    load_model_info,
    run_pass,
)
from specops.runtime.registry import Registry
from specops.runtime.registry.register import register


@pytest.fixture(scope="module")
def version(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelInfo, dict[str, object]]:
    root = tmp_path_factory.mktemp("monfair")
    dirs = run_pipeline(root)
    # evaluate again with a favourable outcome of 0, a threshold and quantile age bands
    # (`age` is a model input in ml_helpers; banding does not care, it reads the column)
    ctx = make_ctx(root / "fair", "evaluate:m", "evaluate",
                   {"task": "binary_classification", "metrics": [], "slices": [],
                    "protected": ["sex", "age"], "min_group_size": 5,
                    "label": {"name": "y", "type": "int64"},
                    "fairness": {"favorable": 0, "threshold": 0.6,
                                 "bands": {"age": {"quantiles": 3}}}},
                   {"train:m": dirs["train"], "training_set:m": dirs["data"]})
    evaluate(ctx)
    reg = Registry.open(root)
    rc = make_ctx(root / "reg", "register:m", "register",
                  {"model": "m", "owner": "team:risk", "risk_tier": "high",
                   "task": "binary_classification"},
                  {"train:m": dirs["train"], "export_onnx:m": dirs["export"],
                   "evaluate:m": ctx.out_dir, "benchmark:m": dirs["benchmark"]},
                  extra={"registry": reg})
    register(rc)
    ev = json.loads((ctx.out_dir / "evaluation.json").read_text())
    return load_model_info(reg.resolve("m@1")), ev


def test_monitor_uses_the_versions_bands_and_favourable_decision(
        version: tuple[ModelInfo, dict[str, object]], tmp_path: Path) -> None:
    info, ev = version
    settings_doc = ev["fairness_settings"]
    assert isinstance(settings_doc, dict)
    edges = settings_doc["bands"]["age"]
    assert info.fairness.bands == {"age": edges} and info.fairness.favorable == 0
    # current data with a different age spread: re-cut quartiles would move the edges
    df = make_frame(600, 21).with_columns(pl.col("age") + 15)
    doc, _ = run_pass(info, df, MonitorSettings.from_plan({"window_s": None}),
                      protected=["sex", "age"], min_group_size=1)
    [window] = doc["windows"]
    evaluated = set(ev["fairness"]["age"]["groups"])   # type: ignore[index]
    assert set(window["fairness"]["age"]["n"]) <= evaluated
    ages = df.get_column("age").to_numpy()
    by_hand = np.where(ages < edges[0], f"<{edges[0]:g}",
                       np.where(ages < edges[1], f"{edges[0]:g}-{edges[1]:g}",
                                f">={edges[1]:g}"))
    assert window["fairness"]["age"]["n"] == {g: int((by_hand == g).sum())
                                              for g in set(by_hand.tolist())}
    # selection = P(0) >= 0.6 on the version's own scores, per sex
    from specops.runtime.monitor.monitor_pass import score

    _, p1 = score(info, df)
    assert p1 is not None
    decision = (1.0 - p1) >= 0.6
    sex = df.get_column("sex").to_numpy()
    rates = {g: float(decision[sex == g].mean()) for g in ("F", "M")}
    fair = window["fairness"]["sex"]
    assert fair["selection_rate_min"] == pytest.approx(min(rates.values()))
    assert fair["selection_rate_max"] == pytest.approx(max(rates.values()))
    assert fair["disparate_impact"] == pytest.approx(min(rates.values()) / max(rates.values()))
    assert not np.isclose(fair["selection_rate_max"], float((p1 >= 0.5).mean()))
