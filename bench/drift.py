"""Drift benchmark: PSI + KS for every column of a 1M x 50 numeric window.

    uv run python bench/drift.py [--rows 1000000] [--columns 50] [--evidently]
    uv run python bench/drift.py --stream --rows 100000000 --columns 5

With --stream the current window is written to a parquet file in chunks of 2M rows (one
row group each; never held in memory) and read back once by `compute_drift_stream` over
`parquet_batches` (row groups joined into batches of 40M values); the reference is
min(rows, 1M) rows. The line adds `stream_seconds` (the pass, reading included),
`generate_seconds`, and peak_rss_mb covers the whole process (generation included).

Prints one JSON line: rows, columns, seconds (drift of the current window given the saved
reference profile: sorting the current data, binning, PSI and KS for all columns; the
scipy.stats import, needed once per process for the KS p-value, is timed apart),
profile_seconds (building the reference profile, done once at training time), peak_rss_mb,
drifted (columns in alert). With --evidently, the same frames go through Evidently's
DataDriftPreset with PSI (in its own virtual environment under bench/.venvs/, never a
project dependency) and the line adds evidently_seconds, ratio and a value comparison.

Binning differs on purpose: specops fits quantile bins on the reference (the credit-risk
convention); Evidently uses equal-width Sturges bins over reference and current combined.
The line reports both gaps: `max_abs_psi_diff_quantile_vs_sturges` (each tool on its own
bins: the binning difference) and `max_abs_psi_diff_same_bins` (specops' `psi` on
Evidently's edges and empty-bin fill: the formula agreement).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venvs" / "evidently"


def frames(rows: int, columns: int, seed: int = 0) -> tuple[dict[str, np.ndarray],
                                                         dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    ref: dict[str, np.ndarray] = {}
    cur: dict[str, np.ndarray] = {}
    for i in range(columns):
        loc, scale = rng.normal(0, 5), rng.uniform(0.5, 3)
        ref[f"f{i}"] = rng.normal(loc, scale, rows)
        shift = 1.0 * scale if i % 5 == 0 else 0.0   # every fifth column drifts
        cur[f"f{i}"] = rng.normal(loc + shift, scale, rows)
    return ref, cur


def evidently(ref: dict[str, np.ndarray], cur: dict[str, np.ndarray],
              timeout: float = 1800.0) -> dict[str, Any]:
    if not (VENV / "bin" / "python").exists():
        subprocess.run(["uv", "venv", "--python", "3.11", str(VENV)], check=True,
                       capture_output=True)
        subprocess.run(["uv", "pip", "install", "--python", str(VENV / "bin" / "python"),
                        "evidently", "pandas<3", "pyarrow"], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        import polars as pl

        pl.DataFrame(ref).write_parquet(f"{tmp}/ref.parquet")
        pl.DataFrame(cur).write_parquet(f"{tmp}/cur.parquet")
        script = r'''
import json, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
t = time.perf_counter()
snap = Report([DataDriftPreset(method="psi")]).run(cur, ref)
seconds = time.perf_counter() - t
values = {}
for m in snap.dict()["metrics"]:
    cfg = m.get("config", {})
    col = cfg.get("column")
    if col is not None and isinstance(m.get("value"), (int, float)):
        values[col] = m["value"]
print(json.dumps({"seconds": seconds, "values": values}))
'''
        out = subprocess.run([str(VENV / "bin" / "python"), "-c", script,
                              f"{tmp}/ref.parquet", f"{tmp}/cur.parquet"],
                             check=True, capture_output=True, text=True, timeout=timeout)
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result


def sturges_psi(ref: dict[str, np.ndarray], cur: dict[str, np.ndarray]) -> dict[str, float]:
    """specops' `psi` on Evidently's bins: equal-width Sturges edges over ref and current
    combined, Evidently's empty-bin fill per side (1e-4, or min_nonzero/1e6 when that
    side's smallest non-zero share is <= 1e-4). Equal values mean the formulas agree; any gap to
    Evidently in the main comparison is then the binning alone."""
    from specops.runtime.monitor.stats import psi

    out: dict[str, float] = {}
    for name in ref:
        edges = np.histogram_bin_edges(np.concatenate([ref[name], cur[name]]), bins="sturges")
        r = np.histogram(ref[name], edges)[0] / len(ref[name])
        c = np.histogram(cur[name], edges)[0] / len(cur[name])

        def fill(shares: np.ndarray) -> np.ndarray:   # per side, as Evidently does
            low = shares[shares > 0].min()
            return np.where(shares > 0, shares, 1e-4 if low > 1e-4 else low / 1e6)

        out[name] = psi(fill(r), fill(c))     # nothing left for psi's own epsilon
    return out


def stream(rows: int, columns: int, chunk: int = 2_000_000) -> dict[str, object]:
    """Write `rows` current rows to parquet chunk by chunk, then one streaming pass."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from specops.runtime.monitor import DriftConfig, build_profile
    from specops.runtime.monitor.drift import compute_drift_stream, parquet_batches

    rng = np.random.default_rng(0)
    params = [(rng.normal(0, 5), rng.uniform(0.5, 3)) for _ in range(columns)]
    nref = min(rows, 1_000_000)
    ref = {f"f{i}": rng.normal(loc, sc, nref) for i, (loc, sc) in enumerate(params)}
    profile = build_profile(ref, bins=10, strategy="quantile")
    del ref
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        path = Path(tmp) / "cur.parquet"
        t = time.perf_counter()
        writer = None
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            cols = {f"f{i}": rng.normal(loc + (sc if i % 5 == 0 else 0.0), sc, n)
                    for i, (loc, sc) in enumerate(params)}
            table = pa.table(cols)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="none")
            writer.write_table(table, row_group_size=chunk)
            del cols, table
        assert writer is not None
        writer.close()
        gen_s = time.perf_counter() - t
        t = time.perf_counter()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        report = compute_drift_stream(profile, parquet_batches(path),
                                      DriftConfig(method="psi"), reorder=True)
        secs = time.perf_counter() - t
        ru = resource.getrusage(resource.RUSAGE_SELF)
        cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
        size_mb = path.stat().st_size / 1e6
    return {"rows": rows, "columns": columns, "mode": "stream", "reference_rows": nref,
            "stream_seconds": round(secs, 2), "stream_cpu_seconds": round(cpu, 2),
            "generate_seconds": round(gen_s, 1),
            "file_mb": round(size_mb), "row_group_rows": chunk,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "drifted": sum(f.status == "alert" for f in report.features),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--evidently", action="store_true")
    parser.add_argument("--evidently-timeout", type=float, default=1800.0,
                        help="seconds before the Evidently run is abandoned")
    parser.add_argument("--stream", action="store_true",
                        help="current window on disk, one batched pass")
    args = parser.parse_args()
    if args.stream:
        print(json.dumps(stream(args.rows, args.columns)))
        return
    from specops.runtime.monitor import DriftConfig, build_profile, compute_drift

    ref, cur = frames(args.rows, args.columns)
    t = time.perf_counter()
    profile = build_profile(ref, bins=10, strategy="quantile")
    profile_s = time.perf_counter() - t
    t = time.perf_counter()
    import scipy.stats  # noqa: F401  (KS p-value); once per process, timed apart

    import_s = time.perf_counter() - t
    t = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    report = compute_drift(profile, cur, DriftConfig(method="psi"))
    seconds = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    line: dict[str, object] = {
        "rows": args.rows, "columns": args.columns, "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 2), "profile_seconds": round(profile_s, 3),
        "scipy_import_seconds": round(import_s, 3),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "drifted": sum(f.status == "alert" for f in report.features),
        "metrics": ["psi", "ks"],
    }
    if args.evidently:
        try:
            ev = evidently(ref, cur, args.evidently_timeout)
            line["evidently_seconds"] = round(float(ev["seconds"]), 3)
            line["ratio"] = round(float(ev["seconds"]) / seconds, 1)
            # Evidently bins the reference on every run; specops did that once, at training
            line["ratio_with_profile"] = round(float(ev["seconds"]) / (seconds + profile_s), 1)
            values = ev.get("values", {})
            if values:
                ours = {f.feature: f.stats["psi"] for f in report.features}
                line["evidently_compared"] = len(values)
                line["max_abs_psi_diff_quantile_vs_sturges"] = round(max(
                    abs(ours[c] - float(v)) for c, v in values.items() if c in ours), 4)
                same = sturges_psi(ref, cur)
                gap = max(abs(same[c] - float(v)) for c, v in values.items() if c in same)
                line["max_abs_psi_diff_same_bins"] = float(f"{gap:.3g}")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            line["evidently_error"] = str(exc)[:200]
    print(json.dumps(line))


if __name__ == "__main__":
    main()
