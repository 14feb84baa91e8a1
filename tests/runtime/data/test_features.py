"""compute_features: row features, point-in-time windows, partition invariance, sorting."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from data_helpers import run_op

from specops.runtime.data.compute_features import compute_features, compute_frame
from specops.runtime.engine.op_interface import OpError

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def col(name: str, t: str = "float64") -> dict:
    return {"op": "col", "name": name, "type": t}


def _source(n: int = 300, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ev = [T0 + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 20, n)]
    return pl.DataFrame({
        "k": [None if rng.random() < 0.03 else int(v) for v in rng.integers(0, 6, n)],
        "ev": [e if rng.random() > 0.02 else None for e in ev],
        "cr": [e + timedelta(hours=int(d)) if e else None
               for e, d in zip(ev, rng.integers(0, 100, n), strict=True)],
        "x": [None if rng.random() < 0.1 else float(v) for v in rng.integers(0, 10, n)],
    }, schema={"k": pl.Int64, "ev": pl.Datetime("us", "UTC"), "cr": pl.Datetime("us", "UTC"),
               "x": pl.Float64})


WINDOW_S = 3 * 86400
FEATS = [{"name": "x2", "expr": {"op": "binary", "fn": "mul", "left": col("x"),
                                 "right": {"op": "lit", "value": 2, "type": "int64"},
                                 "type": "float64"}, "type": "float64", "agg": None,
          "window_s": None}] + [
    {"name": f"x_{a}", "expr": col("x"), "type": "int64" if a == "count" else "float64",
     "agg": a, "window_s": WINDOW_S} for a in ("sum", "mean", "min", "max", "count", "std",
                                               "last")] + [
    {"name": "x_all", "expr": col("x"), "type": "float64", "agg": "sum", "window_s": None}]
PARAMS = {"source": "source:s", "entity": "k", "timestamp": "ev", "created_timestamp": "cr",
          "ttl_s": 86400, "features": FEATS}


def _brute(src: pl.DataFrame) -> list[dict]:
    rows = [r | {"i": i} for i, r in enumerate(src.to_dicts())
            if r["k"] is not None and r["ev"] is not None]
    rows.sort(key=lambda r: (r["k"], r["ev"], r["cr"], r["i"]))
    out = []
    w = timedelta(seconds=WINDOW_S)
    for r in rows:
        win = [q for q in rows if q["k"] == r["k"] and r["ev"] - w < q["ev"] <= r["ev"]]
        vals = [q["x"] for q in win if q["x"] is not None]
        ordered = sorted(win, key=lambda q: (q["ev"], q["cr"], q["i"]))
        upto = ordered[: ordered.index(r) + 1]
        lastv = [q["x"] for q in upto if q["x"] is not None]
        allv = [q["x"] for q in rows if q["k"] == r["k"] and q["ev"] <= r["ev"]
                and q["x"] is not None]
        out.append({
            # x_all has no window, so availability is the latest created time in history
            "k": r["k"], "ev": r["ev"],
            "cr": max(q["cr"] for q in rows if q["k"] == r["k"] and q["ev"] <= r["ev"]),
            "x2": None if r["x"] is None else r["x"] * 2,
            "x_sum": float(sum(vals)), "x_mean": statistics.fmean(vals) if vals else None,
            "x_min": min(vals) if vals else None, "x_max": max(vals) if vals else None,
            "x_count": len(vals), "x_std": statistics.stdev(vals) if len(vals) > 1 else None,
            "x_last": lastv[-1] if lastv else None, "x_all": float(sum(allv)),
        })
    out.sort(key=lambda r: (r["k"], r["ev"], r["cr"]))
    return out


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-9
    return a == b


def test_windows_match_brute_force() -> None:
    src = _source()
    got = compute_frame(src, PARAMS).drop("__specops_row").to_dicts()
    want = _brute(src)
    assert len(got) == len(want)
    # rows tied on (k, ev, cr) may come in either order in `want`; compare as sorted tuples
    key = lambda r: (r["k"], r["ev"], r["cr"], r["x2"] is None, r["x2"] or 0)  # noqa: E731
    for g, w in zip(sorted(got, key=key), sorted(want, key=key), strict=True):
        for c in w:
            if c == "x_last":
                continue  # checked below on untied data
            assert _close(g[c], w[c]), (c, g, w)


def test_last_and_window_edges() -> None:
    src = pl.DataFrame({"k": [1, 1, 1, 1], "ev": [T0, T0 + timedelta(days=1),
                                                  T0 + timedelta(days=3),
                                                  T0 + timedelta(days=3, seconds=1)],
                        "x": [1.0, None, 5.0, None]})
    params = {**PARAMS, "created_timestamp": None}
    out = compute_frame(src, params)
    assert out.get_column("x_last").to_list() == [1.0, 1.0, 5.0, 5.0]
    # (t - 3d, t]: the row at exactly t - 3d is out, so at day 3 the sum is 5 not 6
    assert out.get_column("x_sum").to_list() == [1.0, 1.0, 5.0, 5.0]
    assert out.get_column("x_count").to_list() == [1, 1, 1, 1]


def test_op_writes_sorted_view_and_partitions_agree(tmp_path: Path) -> None:
    src = _source(500, seed=3)
    d = tmp_path / "src"
    d.mkdir()
    src.write_parquet(d / "data.parquet")
    outs = []
    for n in (1, 3):
        res, out = run_op(compute_features, tmp_path / str(n), "features:v@1",
                          {**PARAMS, "partitions": n}, inputs={"source:s": d})
        outs.append(pl.read_parquet(out / "features.parquet"))
        meta = json.loads((out / "meta.json").read_text())
        assert meta["sorted_by"] == ["k", "ev", "cr"] and meta["partitions"] == n
        assert res.metrics["dropped_null_keys"] > 0
    assert outs[0].equals(outs[1])
    v = outs[0]
    assert v.equals(v.sort(["k", "ev", "cr"], maintain_order=True))
    assert v.get_column("k").null_count() == 0
    assert v.schema["x_count"] == pl.Int64


def test_bad_expression_is_an_op_error(tmp_path: Path) -> None:
    d = tmp_path / "src"
    d.mkdir()
    _source(10).write_parquet(d / "data.parquet")
    bad = {**PARAMS, "features": [{"name": "y", "expr": col("nope"), "type": "float64"}]}
    with pytest.raises(OpError, match="nope"):
        run_op(compute_features, tmp_path, "features:v@1", bad, inputs={"source:s": d})


def test_partitions_fan_out_through_the_mapper(tmp_path: Path) -> None:
    """ctx.extra["map"] (Ray tasks under the Ray executor) gets one task per partition."""
    from specops.runtime.engine.op_interface import OpContext

    src = _source(400, seed=5)
    d = tmp_path / "src"
    d.mkdir()
    src.write_parquet(d / "data.parquet")
    (d / "meta.json").write_text(json.dumps({"rows": src.height}))
    calls: list[int] = []

    def fake_map(fn, items, num_cpus=1):
        calls.append(len(items))
        return [fn(i) for i in reversed(items)][::-1]

    out = tmp_path / "o"
    out.mkdir()
    ctx = OpContext("features:v@1", "compute_features", {**PARAMS, "partitions": 4}, tmp_path,
                    out, {"source:s": d}, "r", "f", extra={"map": fake_map})
    compute_features(ctx)
    _, ref = run_op(compute_features, tmp_path / "ref", "features:v@1", PARAMS,
                    inputs={"source:s": d})
    assert calls == [4]
    assert sorted(p.name for p in out.iterdir()) == ["features.parquet", "meta.json"]
    assert pl.read_parquet(out / "features.parquet").equals(
        pl.read_parquet(ref / "features.parquet"))
