"""The drift report as an ML engineer gets it: two monitoring passes of a real fitted and
registered model (a `--current` pass over three shifted weeks, then a `--from-log` pass
over the serving log), each written to its own file with an index page, rendered in real
headless Chromium (charts drawn by the inlined Vega bundle, network disabled),
photographed, and read from the DOM.

What a bug would break: a section or chart missing or drawn empty; a placeholder ("-",
"None", "nan", "{}") where a value belongs; the log pass reporting the `--current` pass's
run of breaching windows as its own (issue 19: "5 in a row" for one window); a pass
overwriting another; the index not linking every pass; anything fetched from the network.

Set SPECOPS_DOCS_IMAGES=docs/images to also copy the screenshots there (how the images in
docs/monitoring.md are made).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from browser_helpers import find_placeholders, render, require_chromium
from ml_helpers import make_ctx, make_frame, run_pipeline

from specops.runtime.cli.monitor_commands import _write_pass_reports
from specops.runtime.monitor.alerts import Hygiene
from specops.runtime.monitor.monitor_pass import (
    LabelSource,
    MonitorSettings,
    load_model_info,
    run_pass,
)
from specops.runtime.registry import Registry
from specops.runtime.registry.register import register
from specops.runtime.reports.drift_report import render_html, write_reports

pytestmark = pytest.mark.slow

START = datetime(2025, 3, 1, tzinfo=UTC)
SECTIONS = ["summary", "prediction", "data-drift", "feature-trends", "data-quality",
            "distributions", "performance", "windows", "alerts"]
CURRENT_CHARTS = {"prediction", "prediction-trend", "drift-bars", "feature-trend",
                  "drift-share", "missing", "dist-income", "dist-age", "dist-region",
                  "performance", "fairness-sex"}
SETTINGS = MonitorSettings.from_plan({
    "drift": {"method": "psi", "warn": 0.1, "alert": 0.25, "min_samples": 50},
    "window_s": 7 * 86400, "label_delay_s": 10 * 86400, "consecutive_windows": 1,
    "cooldown_s": 0})


def _shifted(n: int, seed: int, start: datetime, days: int) -> pl.DataFrame:
    """Lower incomes, older applicants (beyond the reference's oldest), a fifth of the
    incomes missing, and a region code the reference never had."""
    rng = np.random.default_rng(seed)
    df = make_frame(n, seed).with_columns(pl.col("income") - 12, pl.col("age") + 15)
    df = df.with_columns(
        pl.when(pl.Series(rng.random(n) < 0.2)).then(None).otherwise(pl.col("income"))
        .alias("income"),
        pl.when(pl.Series(rng.random(n) < 0.04)).then(pl.lit("west"))
        .otherwise(pl.col("region")).alias("region"))
    t = [start + timedelta(minutes=int(m))
         for m in np.sort(rng.integers(0, days * 1440, n))]
    return df.with_columns(pl.Series("ts", t))


@pytest.fixture(scope="module")
def passes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("drift")
    dirs = run_pipeline(root)
    reg = Registry.open(root)
    ctx = make_ctx(root / "reg", "register:m", "register",
                   {"model": "m", "owner": "team:risk", "risk_tier": "high",
                    "task": "binary_classification"},
                   {"train:m": dirs["train"], "export_onnx:m": dirs["export"],
                    "evaluate:m": dirs["evaluate"], "benchmark:m": dirs["benchmark"]},
                   extra={"registry": reg})
    register(ctx)
    info = load_model_info(reg.resolve("m@1"))
    engine = sa.create_engine(f"sqlite:///{root / 'store.db'}")
    out = root / "monitor"
    now = (START + timedelta(days=25)).timestamp()
    # pass 1: `--current` over three shifted weeks, labels for the first two
    cur = _shifted(900, 5, START, 21)
    doc1, fired1 = run_pass(
        info, cur.drop("y"), SETTINGS,
        hygiene=Hygiene(engine, "m", 1, 0, clock=lambda: now, stream="current"),
        labels=LabelSource("y", "id", cur.select("id", "y")), protected=["sex"],
        time_column="ts", now=now, min_group_size=5,
        source={"path": "data/march.parquet", "as": "model inputs"})
    paths1 = _write_pass_reports(doc1, out, write_reports)
    # pass 2: `--from-log`, the same shift served a month later: one window
    served = _shifted(400, 6, START + timedelta(days=40), 3)
    p = np.random.default_rng(0).random(400)
    log = pl.DataFrame({
        "request_id": [str(i) for i in served.get_column("id")], "row": [0] * 400,
        "time": served.get_column("ts"), "model": ["m"] * 400, "version": [1] * 400,
        "latency_ms": np.linspace(1, 12, 400),
        "income": served.get_column("income").cast(pl.Float32),
        "age": served.get_column("age").cast(pl.Float32),
        "region": served.get_column("region").fill_null("__missing__"),
        "label": (p > 0.5).astype(np.int64),
        "probabilities": pl.Series([[1 - x, x] for x in p], dtype=pl.List(pl.Float32))})
    later = (START + timedelta(days=44)).timestamp()
    doc2, fired2 = run_pass(
        info, log, SETTINGS,
        hygiene=Hygiene(engine, "m", 1, 0, clock=lambda: later, stream="log"),
        from_log=True, now=later, source={"path": ".specops/predictions"})
    paths2 = _write_pass_reports(doc2, out, write_reports)
    return {"root": root, "out": out, "docs": (doc1, doc2), "fired": (fired1, fired2),
            "paths": (paths1, paths2)}


def _shot(path: Path, name: str) -> None:
    target = os.environ.get("SPECOPS_DOCS_IMAGES")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / name)


def _assert_drawn(r: Any, expected: set[str]) -> None:
    assert expected <= set(r.page.charts), set(r.page.charts)
    for cid, state in r.page.charts.items():
        assert state["svg"] and state["rendered"] and not state["error"], (cid, state)
    assert find_placeholders(r.page.values) == []


def test_log_pass_counts_its_own_windows(passes: dict[str, Any]) -> None:
    """The regression of issue 19 through the pass and the report: the `--current` pass
    fired on three weeks in a row; the log pass's single window is the first of its run."""
    fired1, fired2 = passes["fired"]
    drift1 = [a.consecutive for a in fired1 if a.signal == "data_drift"]
    assert drift1 == [1, 2, 3]
    drift2 = [a.consecutive for a in fired2 if a.signal == "data_drift"]
    assert drift2 == [1]
    html = passes["paths"][1]["html"].read_text()
    assert "data drift (alert, 1 window(s) in a row)" in html
    assert "4 window(s) in a row" not in html


def test_each_pass_has_its_own_file_and_the_index_links_them(passes: dict[str, Any]) -> None:
    require_chromium()
    p1, p2 = passes["paths"]
    assert p1["html"] != p2["html"] and p1["html"].is_file() and p2["html"].is_file()
    assert json.loads(p1["json"].read_text())["source"]["kind"] == "current"
    assert json.loads(p2["json"].read_text())["source"]["kind"] == "log"
    assert (passes["out"] / "monitor.html").read_text() == p2["html"].read_text()
    index = p2["index"]
    assert index == passes["out"] / "index.html"
    r = render(index, screenshot=passes["root"] / "index.png", height=420)
    assert r.page.sections == ["passes"]
    links = re.findall(r'<a href="([^"]+)"', r.dom)
    assert links == [p2["html"].name, p1["html"].name]            # newest first
    text = r.page.text
    assert "serving log" in text and "current rows" in text
    assert "data drift (alert, 3 in a row)" in text and "data drift (alert, 1 in a row)" in text
    assert find_placeholders(r.page.values) == []
    _shot(passes["root"] / "index.png", "drift_index.png")


def test_current_pass_renders_every_section_and_chart(passes: dict[str, Any]) -> None:
    require_chromium()
    page = passes["paths"][0]["html"]
    shot = passes["root"] / "drift_current.png"
    r = render(page, screenshot=shot, height=5200)
    assert r.page.sections == SECTIONS
    _assert_drawn(r, CURRENT_CHARTS)
    text = r.page.text
    # the data-quality findings, in words
    assert re.search(r"income .*? 2\d(\.\d)?%", text) is not None
    assert "unseen category: west" in text
    assert re.search(r"outside the reference range 18 to 79 \([\d,]+ below, [\d,]+ above\)",
                     text)
    assert "Prediction distribution:" in r.dom and "test-set scores vs" in r.dom
    assert "Features in alert: " in text and "dataset drift" in text
    # the Vega axis ticks are readable: no tick with more than three decimals
    ticks = re.findall(r'<text[^>]*>(-?\d+\.\d+)</text>', r.dom)
    assert ticks and all(len(t.split(".")[1]) <= 3 for t in ticks), ticks[:20]
    assert shot.stat().st_size > 50_000
    _shot(shot, "drift_report_current.png")
    # one self-contained file: nothing fetched, the Vega bundle is inline
    html = page.read_text()
    assert not re.search(r"(src|href)=\"https?://", html) and "vegaEmbed" in html
    assert render_html(passes["docs"][0]) == html      # re-rendered from the JSON alone
    specs = html.split('id="vl-specs">', 1)[1].split("</script>", 1)[0]
    assert len(specs) < 40_000          # binned shares and statistics, never the rows


def test_log_pass_renders_with_latency_and_one_window(passes: dict[str, Any]) -> None:
    require_chromium()
    page = passes["paths"][1]["html"]
    shot = passes["root"] / "drift_log.png"
    r = render(page, screenshot=shot, height=1400)
    assert r.page.sections == SECTIONS
    _assert_drawn(r, {"prediction", "drift-bars", "missing", "latency"})
    assert "feature-trend" not in r.page.charts       # one window: no trend drawn
    text = r.page.text
    assert "One window only, so there is no trend yet" in text
    assert "p99 ms" in text and "over the serving log" in text
    _shot(shot, "drift_report_log.png")


def test_a_window_without_time_still_reads_without_placeholders(passes: dict[str, Any]
                                                                 ) -> None:
    """No time column: one window, no chart over time; the labelled window's realised
    performance is stated in words, and old documents (no `quality`, no prediction
    histogram) still render."""
    from browser_helpers import parse_page

    doc = json.loads(json.dumps(passes["docs"][0]))
    first = doc["windows"][0]
    assert first["performance"]["status"] == "labelled"
    first.update(start=None, end=None, label="current")
    del first["quality"], first["prediction_histogram"]
    doc["windows"] = [first]
    page = parse_page(render_html(doc))
    assert page.sections == SECTIONS
    assert "One window only, so there is no trend yet" in page.text
    assert re.search(r"Realised performance of the window: .*roc auc 0\.\d+", page.text)
    assert not {"feature-trend", "prediction-trend", "performance", "missing"} \
        & set(page.charts)
    assert find_placeholders(page.values) == []
