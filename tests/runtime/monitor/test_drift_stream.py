"""Streaming drift (batches, one pass) gives exactly the whole-window report.

Equality is `==` on floats, not approx: PSI comes from the same integer bin counts and KS
from integer counts on the reference's distinct values, rounded once. Data have ties
(rounded values, values equal to reference values), NaNs, a categorical feature with an
unseen category, a feature too sparse to decide, and a missing one.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import ks_2samp

from specops.runtime.monitor.drift import (
    DriftConfig,
    DriftStream,
    compute_drift,
    compute_drift_stream,
    parquet_batches,
)
from specops.runtime.monitor.profile import build_profile
from specops.runtime.monitor.stats import ks_statistic


def _frames(n: int = 20_000, seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    ref = {"a": rng.normal(0, 1, n), "tied": np.round(rng.normal(0, 2, n)),
           "sparse": rng.normal(0, 1, n), "gone": rng.normal(0, 1, n),
           "cat": np.array(rng.choice(["x", "y", "z"], n), dtype=object)}
    cur_a = rng.normal(0.3, 1.2, n)
    cur_a[::7] = np.nan
    cur_a[1::11] = ref["a"][1::11]          # values equal to reference values
    cur_sparse = np.full(n, np.nan)
    cur_sparse[:50] = 1.0
    cat = np.array(rng.choice(["x", "y", "w"], n), dtype=object)
    cat[::13] = None
    cur = {"a": cur_a, "tied": np.round(rng.normal(0.5, 2, n)), "sparse": cur_sparse,
           "cat": cat}
    return ref, cur


def _batches(cur: dict, size: int) -> list[dict]:
    n = len(next(iter(cur.values())))
    return [{k: v[i:i + size] for k, v in cur.items()} for i in range(0, n, size)]


@pytest.mark.parametrize("method", ["psi", "ks", "jensenshannon", "chisquare"])
@pytest.mark.parametrize("size", [1, 997, 20_000])
def test_stream_equals_whole_window(method: str, size: int) -> None:
    ref, cur = _frames(n=20_000 if size > 1 else 600)
    profile = build_profile(ref, bins=10, prediction=ref["a"])
    cfg = DriftConfig(method=method)
    whole = compute_drift(profile, cur, cfg, prediction=cur["a"])
    pred_cur = {**cur, "__score": cur["a"]}
    streamed = compute_drift_stream(profile, _batches(pred_cur, size), cfg, prediction="__score")
    assert streamed.to_json() == whole.to_json()
    by = {f.feature: f for f in whole.features}
    assert by["gone"].status == "missing" and by["sparse"].status == "insufficient_data"
    assert by["a"].stats["ks"] > 0.05 and by["tied"].stats["psi"] > 0.01


def test_ks_exact_against_scipy_with_ties() -> None:
    rng = np.random.default_rng(3)
    a, b = np.round(rng.normal(0, 1, 3000), 1), np.round(rng.normal(0.1, 1, 2500), 1)
    b[:100] = a[:100]
    d = ks_statistic(np.sort(a), np.sort(b))
    assert d == pytest.approx(ks_2samp(a, b).statistic, abs=1e-15)
    stream = DriftStream(build_profile({"v": a}, bins=5))
    for part in np.array_split(b, 7):
        stream.update({"v": part})
    assert stream.report().features[0].stats["ks"] == d


def test_parquet_batches_stream_equals_whole(tmp_path: Path) -> None:
    ref, cur = _frames()
    profile = build_profile(ref, bins=10)
    path = tmp_path / "cur.parquet"
    pl.DataFrame({k: pl.Series(k, list(v) if v.dtype == object else v, nan_to_null=True)
                  for k, v in cur.items()}).write_parquet(path, row_group_size=3000)
    got = compute_drift_stream(profile, parquet_batches(path, batch_rows=4096))
    back = pl.read_parquet(path)
    whole = compute_drift(profile, {c: back.get_column(c).to_numpy() for c in back.columns})
    assert asdict(got.features[0]) == asdict(whole.features[0])
    assert got.to_json() == whole.to_json()
    given_away = compute_drift_stream(profile, parquet_batches(path, batch_rows=4096),
                                      reorder=True)       # batches sorted in place
    assert given_away.to_json() == whole.to_json()
    assert sum(f.status == "alert" for f in got.features) >= 1


def test_wasserstein_needs_the_whole_window() -> None:
    ref, cur = _frames(n=2000)
    profile = build_profile({"a": ref["a"]})
    whole = compute_drift(profile, {"a": cur["a"]}, DriftConfig(method="wasserstein"))
    assert whole.features[0].method == "wasserstein"
    with pytest.raises(ValueError, match="whole window"):
        compute_drift_stream(profile, _batches({"a": cur["a"]}, 500),
                             DriftConfig(method="wasserstein"))


def test_parquet_batches_join_row_groups_in_order(tmp_path: Path) -> None:
    """Small row groups are joined into batches of at least `batch_rows` (the last one
    excepted), across files of a folder, with every row once and in order."""
    rng = np.random.default_rng(5)
    parts = []
    for i in range(2):
        part = pl.DataFrame({"x": rng.normal(size=10_000), "n": np.arange(10_000) + i * 10_000})
        part.write_parquet(tmp_path / f"part{i}.parquet", row_group_size=1_500)
        parts.append(part)
    got = list(parquet_batches(tmp_path, batch_rows=4_000))
    assert [len(b["x"]) for b in got] == [4_500, 4_500, 4_000, 4_500, 2_500]
    assert sum(len(b["x"]) for b in got) == 20_000
    full = pl.concat(parts)
    assert np.array_equal(np.concatenate([b["x"] for b in got]), full["x"].to_numpy())
    assert np.array_equal(np.concatenate([b["n"] for b in got]),
                          full["n"].to_numpy().astype(np.float64))
