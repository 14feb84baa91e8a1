"""The reference profile travels with the version; one monitoring pass over current data
(drift, prediction drift, realised performance with label delay, fairness, the serving
log's operational metrics) and its reports."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from ml_helpers import make_ctx, make_frame, run_pipeline

from specops.runtime.monitor.alerts import Hygiene
from specops.runtime.monitor.monitor_pass import (
    LabelSource,
    ModelInfo,
    MonitorSettings,
    load_model_info,
    run_pass,
)
from specops.runtime.monitor.windows import parse_duration, split_windows
from specops.runtime.registry import Registry
from specops.runtime.registry.register import register
from specops.runtime.reports.drift_report import render_html, write_reports

START = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def version(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelInfo, Registry]:
    root = tmp_path_factory.mktemp("mon")
    dirs = run_pipeline(root)
    reg = Registry.open(root)
    ctx = make_ctx(root / "reg", "register:m", "register",
                   {"model": "m", "owner": "team:risk", "risk_tier": "high",
                    "task": "binary_classification"},
                   {"train:m": dirs["train"], "export_onnx:m": dirs["export"],
                    "evaluate:m": dirs["evaluate"], "benchmark:m": dirs["benchmark"]},
                   extra={"registry": reg})
    register(ctx)
    return load_model_info(reg.resolve("m@1")), reg


def _current(n: int, seed: int, shift: float = 0.0, days: int = 21) -> pl.DataFrame:
    df = make_frame(n, seed)
    if shift:
        df = df.with_columns(pl.col("income") + shift * 15, pl.col("age") + int(shift * 15))
    t = [START + timedelta(minutes=int(m))
         for m in np.sort(np.random.default_rng(seed).integers(0, days * 1440, n))]
    return df.with_columns(pl.Series("ts", t))


def test_profile_is_signed_into_the_version(version: tuple[ModelInfo, Registry]) -> None:
    info, reg = version
    manifest = reg.resolve("m@1").manifest()
    names = set(manifest["artifacts"])
    assert "profile/profile.json" in names
    assert {"profile/samples/income.npy", "profile/samples/__prediction__.npy"} <= names
    assert reg.verify("m", 1)["ok"]
    prof = info.profile
    assert set(prof.features) == {"income", "age", "region"}
    assert prof.features["region"].kind == "categorical"
    assert prof.prediction is not None and "roc_auc" in prof.metrics
    assert info.inputs == [("income", "numeric"), ("age", "numeric"),
                           ("region", "categorical")]


def test_windows_end_at_the_newest_row() -> None:
    df = _current(300, 1, days=21)
    ws = split_windows(df, "ts", parse_duration("7d"))
    assert len(ws) in (3, 4) and sum(w.frame.height for w in ws) == 300
    assert ws[-1].end == df.get_column("ts").max()
    assert all(a.end == b.start for a, b in itertools.pairwise(ws))
    assert split_windows(df, None, 604800)[0].frame.height == 300
    assert parse_duration("36h") == 129600 and parse_duration(None) is None


def test_drift_and_performance_per_window(version: tuple[ModelInfo, Registry],
                                          tmp_path: Path) -> None:
    info, _ = version
    settings = MonitorSettings.from_plan({
        "drift": {"method": "psi", "warn": 0.1, "alert": 0.25, "min_samples": 50},
        "window_s": 7 * 86400, "label_delay_s": 10 * 86400, "consecutive_windows": 1,
        "performance": {"roc_auc": 0.99, "disparate_impact:sex": 0.0}})
    df = _current(900, 5, shift=1.5)
    labels = df.select("id", "y")
    now = (START + timedelta(days=25)).timestamp()   # the last window's labels are not due
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    doc, fired = run_pass(info, df.drop("y"), settings, hygiene=Hygiene(engine, "m"),
                          labels=LabelSource("y", "id", labels), protected=["sex", "age"],
                          time_column="ts", now=now, min_group_size=5)
    ws = doc["windows"]
    last = ws[-1]
    feats = {f["feature"]: f for f in last["drift"]["features"]}
    assert feats["income"]["status"] == "alert" and feats["age"]["status"] == "alert"
    assert last["drift"]["dataset_drift"] is True
    assert last["drift"]["prediction"]["status"] in ("warn", "alert")
    assert last["performance"]["status"] == "awaiting_labels"
    assert ws[0]["performance"]["status"] == "labelled"
    assert 0.5 < ws[0]["performance"]["metrics"]["roc_auc"] <= 1.0
    assert {s["name"]: s["level"] for s in ws[0]["signals"]}["performance"] == "alert"
    assert ws[0]["fairness"]["sex"]["labelled"] is True
    assert last["fairness"]["sex"]["labelled"] is False     # selection rates only
    assert {a["signal"] for a in doc["alerts"]} >= {"data_drift", "performance"}
    assert {a.signal for a in fired} == {a["signal"] for a in doc["alerts"]}
    assert set(last["histograms"]["income"]) == {"labels", "reference", "current"}
    # a numeric protected attribute gets quartile bands fit once: the same in every window
    bands = [tuple(sorted(w["fairness"]["age"]["n"])) for w in ws]
    assert len(set(bands)) == 1 and len(bands[0]) == 4


def test_stable_data_does_not_drift(version: tuple[ModelInfo, Registry]) -> None:
    info, _ = version
    settings = MonitorSettings(window_s=None)
    doc, _ = run_pass(info, _current(2000, 11), settings)
    (w,) = doc["windows"]
    assert w["drift"]["dataset_drift"] is False
    assert all(f["status"] == "ok" for f in w["drift"]["features"])


def test_prediction_log_frame(version: tuple[ModelInfo, Registry], tmp_path: Path) -> None:
    """The serving log's layout: inputs as the model saw them, `probabilities` lists,
    `latency_ms`, `time`; read back from its hive-partitioned folder."""
    from specops.runtime.monitor.windows import read_prediction_log

    info, _ = version
    df = _current(400, 3)
    p = np.random.default_rng(0).random(400)
    log = pl.DataFrame({
        "request_id": [str(i) for i in df.get_column("id")], "row": [0] * 400,
        "time": df.get_column("ts"), "model": ["m"] * 400, "version": [1] * 400,
        "latency_ms": np.linspace(1, 10, 400),
        "income": df.get_column("income").cast(pl.Float32),
        "age": df.get_column("age").cast(pl.Float32),
        "region": df.get_column("region").fill_null("__missing__"),
        "label": (p > 0.5).astype(np.int64),
        "probabilities": pl.Series([[1 - x, x] for x in p], dtype=pl.List(pl.Float32))})
    part = tmp_path / ".specops/predictions/model=m/date=2025-03-01"
    part.mkdir(parents=True)
    log.write_parquet(part / "part-1.parquet")
    frame = read_prediction_log(tmp_path, "m")
    assert frame.height == 400
    doc, _ = run_pass(info, frame, MonitorSettings(), from_log=True,
                      labels=LabelSource("y", "id", df.select("id", "y").head(300),
                                         attributes=df.select("id", "sex")),
                      protected=["sex"], min_group_size=5,
                      now=(START + timedelta(days=60)).timestamp())
    assert doc["columns"]["score"] == "probabilities"
    assert doc["columns"]["latency"] == "latency_ms"
    ops = doc["windows"][-1]["operational"]
    assert ops["requests"] > 0 and ops["latency_p99_ms"] >= ops["latency_p50_ms"]
    region = {f["feature"]: f for f in doc["windows"][-1]["drift"]["features"]}["region"]
    assert region["null_share"] > 0     # "__missing__" read back as a null, not a category
    labelled = [w for w in doc["windows"] if w["performance"]["status"] == "labelled"]
    assert labelled, "labels join on request_id when the log lacks the key column"
    # protected attributes come back from the spine source the same way: fairness per window
    assert labelled[-1]["fairness"]["sex"]["labelled"] is True
    assert labelled[-1]["fairness"]["sex"]["groups"] == ["F", "M"]
    for w in labelled:     # fairness on labelled windows counts only rows with a label
        assert sum(w["fairness"]["sex"]["n"].values()) == w["performance"]["labelled"]
    assert sum(w["performance"]["labelled"] for w in labelled) <= 300


def test_html_report_is_self_contained(version: tuple[ModelInfo, Registry],
                                       tmp_path: Path) -> None:
    info, _ = version
    settings = MonitorSettings(label_delay_s=0)
    df = _current(600, 9, shift=1.0)
    doc, _ = run_pass(info, df, settings, labels=LabelSource("y"), protected=["sex"],
                      time_column="ts", min_group_size=5)
    paths = write_reports(doc, tmp_path)
    html = paths["html"].read_text()
    assert json.loads(paths["json"].read_text())["model"] == "m"
    # charts are Vega-Lite drawn by the inlined bundle (rendered and checked in Chromium by
    # tests/runtime/reports/test_drift_report_browser.py)
    assert html.count('class="chart" data-chart=') >= 5 and "vegaEmbed" in html
    assert "<link" not in html and "@import" not in html
    assert not re.search(r"(src|href)=\"https?://", html)
    assert "Performance and fairness over time" in html and "Fairness by sex" in html
    assert "income" in html and "alert" in html
    assert render_html(doc) == html
    specs = html.split('id="vl-specs">', 1)[1]
    assert len(specs) < 400_000      # binned shares, never the rows (plus a 0.9 MB bundle)


def test_settings_from_the_plan() -> None:
    s = MonitorSettings.from_plan({"drift": {"method": "ks", "bins": 20, "binning": "uniform",
                                             "alert": 0.3}, "window_s": 86400,
                                   "retrain_on": ["data_drift"], "cooldown_s": 3600})
    assert s.drift.method == "ks" and s.drift.alert == 0.3 and s.bins == 20
    assert s.to_json()["window"] == "1d" and s.to_json()["cooldown"] == "1h"
    assert s.retrain_on == ("data_drift",)


def test_rebinning_from_the_stored_sample(version: tuple[ModelInfo, Registry]) -> None:
    from specops.runtime.monitor.monitor_pass import _rebin

    info, _ = version
    again = _rebin(info.profile, 20, "uniform")
    assert again.bins == 20 and len(again.features["income"].edges) == 19
    assert again.features["income"].count == info.profile.features["income"].count
    assert _rebin(info.profile, info.profile.bins, info.profile.strategy) is info.profile




def test_monitor_op_reads_the_log(version: tuple[ModelInfo, Registry], tmp_path: Path) -> None:
    """The manual `monitor:<model>` node: a pass over the log with the node's params."""
    from specops.runtime.monitor.monitor_node import monitor

    _, reg = version
    df = _current(300, 4, shift=2.0)
    part = tmp_path / ".specops/predictions/model=m/date=2025-03-01"
    part.mkdir(parents=True)
    df.select("ts", "income", "age", "region").rename({"ts": "time"}).with_columns(
        pl.lit(2.0).alias("latency_ms")).write_parquet(part / "part-1.parquet")
    params = {"model": "m", "drift": {"method": "psi", "warn": 0.1, "alert": 0.25,
                                      "min_samples": 30},
              "window_s": 7 * 86400, "consecutive_windows": 1, "cooldown_s": 0,
              "retrain_on": [], "performance": {}, "webhook": None}
    ctx = make_ctx(tmp_path, "monitor:m", "monitor", params, {},
                   extra={"registry": reg,
                          "store_url": f"sqlite:///{tmp_path / 'store.db'}"})
    result = monitor(ctx)
    assert result.metrics["alerts"] >= 1 and result.metrics["drift_share"] > 0.5
    assert (ctx.out_dir / "monitor.html").is_file()
    doc = json.loads((ctx.out_dir / "monitor.json").read_text())
    assert doc["source"]["kind"] == "log" and doc["version"] == "m@1"
