"""Drift report benchmark: time and size of the HTML report, specops against Evidently.

    uv run python bench/drift_html.py [--rows 100000] [--numeric 8] [--evidently]

Reference and current frames of `--rows` rows each: `--numeric` normal columns (every
fourth one shifted), two categorical columns (one with a category the reference never
had) and a model score; the current rows span four weeks. specops runs one monitoring pass
(`run_pass`: weekly windows, drift, prediction drift, data quality) and renders the HTML
(`render_html`); Evidently (in its own virtual environment under bench/.venvs/evidently,
never a project dependency) runs `Report([DataDriftPreset()])` over the same frames and
writes its HTML (`save_html`). Prints one JSON line: rows, seconds and bytes per tool, and
peak RSS of this process (specops' side). specops' times are warm (one small pass first
loads the modules); the Vega bundle's one-off build per process is reported apart. The
specops page holds the 0.9 MB Vega bundle
plus binned shares, so its size should not grow with the rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venvs" / "evidently"


def frames(rows: int, numeric: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    ref: dict[str, Any] = {}
    cur: dict[str, Any] = {}
    for i in range(numeric):
        loc, scale = rng.normal(0, 5), rng.uniform(0.5, 3)
        ref[f"f{i}"] = rng.normal(loc, scale, rows)
        cur[f"f{i}"] = rng.normal(loc + (scale if i % 4 == 0 else 0.0), scale, rows)
    ref["region"] = rng.choice(["north", "south", "east"], rows)
    cur["region"] = rng.choice(["north", "south", "east", "west"], rows, p=[.3, .3, .3, .1])
    ref["channel"] = rng.choice(["web", "branch"], rows)
    cur["channel"] = rng.choice(["web", "branch"], rows)
    ref["score"] = rng.beta(2, 5, rows)
    cur["score"] = rng.beta(2.5, 4, rows)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    minutes = np.sort(rng.integers(0, 28 * 1440, rows))
    cur_df = pl.DataFrame(cur).with_columns(
        pl.Series("ts", [start + timedelta(minutes=int(m)) for m in minutes]))
    return pl.DataFrame(ref), cur_df


def specops_side(ref: pl.DataFrame, cur: pl.DataFrame, numeric: int, out: Path
                 ) -> dict[str, Any]:
    from specops.runtime.monitor.monitor_pass import ModelInfo, MonitorSettings, run_pass
    from specops.runtime.monitor.profile import build_profile
    from specops.runtime.reports.chart_kit import _bundle
    from specops.runtime.reports.drift_report import render_html

    inputs = [(f"f{i}", "numeric") for i in range(numeric)] + \
        [("region", "categorical"), ("channel", "categorical")]
    cols = {n: ref.get_column(n).to_numpy() for n, _ in inputs}
    profile = build_profile(cols, prediction=ref.get_column("score").to_numpy())
    info = ModelInfo("bench@1", out, inputs, "binary_classification", [0, 1], "y", profile)
    run_pass(info, cur.head(500), MonitorSettings(), time_column="ts")   # warm-up (imports)
    t = time.perf_counter()
    _bundle()          # the inlined Vega bundle: built once per process, then cached
    bundle_s = time.perf_counter() - t
    t = time.perf_counter()
    doc, _ = run_pass(info, cur, MonitorSettings(), time_column="ts")
    pass_s = time.perf_counter() - t
    t = time.perf_counter()
    html = render_html(doc)
    render_s = time.perf_counter() - t
    path = out / "specops.html"
    path.write_text(html, encoding="utf-8")
    return {"pass_seconds": round(pass_s, 3), "render_seconds": round(render_s, 3),
            "bundle_seconds_once_per_process": round(bundle_s, 3),
            "html_bytes": path.stat().st_size, "windows": len(doc["windows"])}


def evidently_side(ref: pl.DataFrame, cur: pl.DataFrame, out: Path) -> dict[str, Any]:
    if not (VENV / "bin" / "python").exists():
        subprocess.run(["uv", "venv", "--python", "3.11", str(VENV)], check=True,
                       capture_output=True)
        subprocess.run(["uv", "pip", "install", "--python", str(VENV / "bin" / "python"),
                        "evidently", "pandas<3", "pyarrow"], check=True, capture_output=True)
    ref.write_parquet(out / "ref.parquet")
    cur.drop("ts").write_parquet(out / "cur.parquet")
    script = r'''
import json, sys, time
import pandas as pd
import evidently
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
t = time.perf_counter()
snap = Report([DataDriftPreset()]).run(cur, ref)
run_s = time.perf_counter() - t
t = time.perf_counter()
snap.save_html(sys.argv[3])
print(json.dumps({"run_seconds": run_s, "save_seconds": time.perf_counter() - t,
                  "version": evidently.__version__}))
'''
    html = out / "evidently.html"
    done = subprocess.run([str(VENV / "bin" / "python"), "-c", script,
                           str(out / "ref.parquet"), str(out / "cur.parquet"), str(html)],
                          check=True, capture_output=True, text=True)
    res = json.loads(done.stdout.strip().splitlines()[-1])
    return {"run_seconds": round(res["run_seconds"], 3),
            "render_seconds": round(res["save_seconds"], 3),
            "html_bytes": html.stat().st_size, "version": res["version"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--numeric", type=int, default=8)
    parser.add_argument("--evidently", action="store_true")
    args = parser.parse_args()
    ref, cur = frames(args.rows, args.numeric)
    with tempfile.TemporaryDirectory() as tmp:
        line: dict[str, Any] = {"rows": args.rows, "columns": args.numeric + 2,
                                "specops": specops_side(ref, cur, args.numeric, Path(tmp))}
        line["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                    / 1024, 1)
        if args.evidently:
            line["evidently"] = evidently_side(ref, cur, Path(tmp))
    print(json.dumps(line))


if __name__ == "__main__":
    main()
