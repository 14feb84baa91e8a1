"""build_training_set: label join, PIT features, splits, schema; the data-op chain end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from data_helpers import run_op
from test_pit import brute_pit

from specops.runtime.data.build_training_set import build_training_set, split_rows
from specops.runtime.data.compute_features import compute_features
from specops.runtime.data.load_source import load_source
from specops.runtime.data.validate_data import validate_data
from specops.runtime.engine.op_interface import OpError

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _write(d: Path, name: str, df: pl.DataFrame, meta: dict | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    df.write_parquet(d / name)
    (d / "meta.json").write_text(json.dumps(meta or {}))
    return d


def _fixture(tmp: Path, n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    spine = pl.DataFrame({
        "app_id": np.arange(n), "k": rng.integers(0, 8, n),
        "t": [T0 + timedelta(hours=int(h)) for h in rng.integers(0, 240, n)],
        "region": rng.choice(["n", "s"], n), "sex": rng.choice(["F", "M"], n),
    })
    labels = pl.DataFrame({"app_id": np.arange(n)[::-1].copy(),
                           "y": [None if i % 17 == 0 else int(i % 3 == 0) for i in range(n)]})
    m = 3 * n
    ev = [T0 + timedelta(hours=int(h)) for h in rng.integers(0, 240, m)]
    view = pl.DataFrame({
        "k": rng.integers(0, 8, m), "ev": ev,
        "cr": [e + timedelta(hours=int(d)) for e, d in zip(ev, rng.integers(0, 48, m),
                                                           strict=True)],
        "f": rng.standard_normal(m), "region": rng.standard_normal(m),
    }).sort("k", "ev", "cr")
    dirs = {
        "source:apps": _write(tmp / "apps", "data.parquet", spine, {"timestamp": "t"}),
        "validate:apps": _write(tmp / "vapps", "report.json", pl.DataFrame()),
        "source:labels": _write(tmp / "labels", "data.parquet", labels),
        "features:v@1": _write(tmp / "v", "features.parquet", view,
                               {"entity": "k", "timestamp": "ev", "created_timestamp": "cr"}),
    }
    params = {
        "spine": {"source": "apps", "entity": "k", "timestamp": "t",
                  "columns": ["app_id", "region", "sex"]},
        "label": {"source": "labels", "column": "y", "key": "app_id"},
        "views": [{"node": "features:v@1", "features": ["f", "region"], "entity": "k",
                   "timestamp": "ev", "created_timestamp": "cr", "ttl_s": 36 * 3600,
                   "rename": {"region": "v__region"}}],
        "created_time_cutoff": False, "split": {"by": "time", "test_fraction": 0.25,
                                                "seed": 7},
        "protected": ["sex"],
    }
    return spine, labels, view, dirs, params


@pytest.mark.parametrize("cutoff", [False, True])
def test_training_set_matches_brute_force(tmp_path: Path, cutoff: bool) -> None:
    spine, labels, view, dirs, params = _fixture(tmp_path)
    params["created_time_cutoff"] = cutoff
    res, out = run_op(build_training_set, tmp_path, "training_set:m", params, inputs=dirs)
    train = pl.read_parquet(out / "train.parquet")
    test = pl.read_parquet(out / "test.parquet")
    got = pl.concat([train, test]).sort("app_id")
    lab = spine.join(labels, on="app_id", how="left").filter(pl.col("y").is_not_null())
    want = brute_pit(lab.rename({"k": "k"}), view, key="k", ts="t", vts="ev", vcr="cr",
                     features=["f", "region"], ttl_s=36 * 3600, cutoff=cutoff)
    want = pl.concat([lab.select("app_id", "y"), want], how="horizontal").sort("app_id")
    assert got.get_column("f").to_list() == want.get_column("f").to_list()
    assert got.get_column("v__region").to_list() == want.get_column("region").to_list()
    assert got.get_column("y").to_list() == want.get_column("y").to_list()
    assert res.metrics["rows_without_label"] == spine.height - lab.height
    # time split: every test row is at or after every train row
    assert test.get_column("t").min() >= train.get_column("t").max()
    assert abs(test.height / got.height - 0.25) < 0.05
    schema = json.loads((out / "schema.json").read_text())
    names = {i["name"]: i["role"] for i in schema["inputs"]}
    assert names == {"region": "categorical", "f": "numeric", "v__region": "numeric"}
    assert schema["protected"] == ["sex"] and schema["roles"]["sex"] == "protected"
    assert schema["label"] == {"name": "y", "type": "int64"}


def test_spine_order_and_duplicates_kept(tmp_path: Path) -> None:
    _, _, _, dirs, params = _fixture(tmp_path)
    params["split"] = {"by": "random", "test_fraction": 0.0, "seed": 1}
    _, out = run_op(build_training_set, tmp_path, "training_set:m", params, inputs=dirs)
    train = pl.read_parquet(out / "train.parquet")
    ids = train.get_column("app_id").to_list()
    assert ids == sorted(ids)                     # spine order, not time order


def test_random_split_is_seeded() -> None:
    ts = pl.Series([T0 + timedelta(hours=i) for i in range(100)])
    a = split_rows(ts, "random", 0.2, 5)
    assert a.sum() == 20 and (a == split_rows(ts, "random", 0.2, 5)).all()
    assert not (a == split_rows(ts, "random", 0.2, 6)).all()
    tied = pl.Series([T0] * 50 + [T0 + timedelta(days=1)] * 50)
    assert split_rows(tied, "time", 0.3, None).sum() == 50     # no instant straddles


def test_name_collision_is_an_error(tmp_path: Path) -> None:
    _, _, _, dirs, params = _fixture(tmp_path)
    params["views"][0]["rename"] = {}
    with pytest.raises(OpError, match="region comes from more than one"):
        run_op(build_training_set, tmp_path, "training_set:m", params, inputs=dirs)


def test_chain_is_deterministic_across_partitions(tmp_path: Path) -> None:
    """source -> validate -> features (1 and 4 partitions) -> training set: identical."""
    rng = np.random.default_rng(2)
    n = 400
    (tmp_path / "data" / "b").mkdir(parents=True)
    pl.DataFrame({"app_id": np.arange(n), "k": rng.integers(0, 30, n),
                  "t": [T0 + timedelta(hours=int(h)) for h in rng.integers(0, 500, n)],
                  "y": rng.integers(0, 2, n)}).write_csv(tmp_path / "data" / "apps.csv")
    for i in range(2):
        m = 300
        ev = [T0 + timedelta(hours=int(h)) for h in rng.integers(0, 500, m)]
        pl.DataFrame({"k": rng.integers(0, 30, m), "ev": ev,
                      "cr": [e + timedelta(hours=int(d)) for e, d in
                             zip(ev, rng.integers(0, 30, m), strict=True)],
                      "x": rng.integers(0, 5, m)}).write_parquet(
            tmp_path / "data" / "b" / f"{i}.parquet")
    _, s1 = run_op(load_source, tmp_path, "source:apps",
                   {"path": "data/apps.csv", "format": "csv", "columns": {
                       "app_id": {"type": "int64"}, "k": {"type": "int64"},
                       "t": {"type": "datetime"}, "y": {"type": "int64"}},
                    "entity": "k", "timestamp": "t"})
    _, s2 = run_op(load_source, tmp_path, "source:b",
                   {"path": "data/b/*.parquet", "format": "parquet", "columns": {
                       "k": {"type": "int64"}, "ev": {"type": "datetime"},
                       "cr": {"type": "datetime"}, "x": {"type": "int64"}},
                    "entity": "k", "timestamp": "ev", "created_timestamp": "cr"})
    run_op(validate_data, tmp_path, "validate:b", {"columns": {"x": {"min": 0}},
                                                   "row_count": {"min": 10}},
           inputs={"source:b": s2})
    fparams = {"source": "source:b", "entity": "k", "timestamp": "ev",
               "created_timestamp": "cr", "ttl_s": 3 * 86400, "features": [
                   {"name": "x_sum", "expr": {"op": "col", "name": "x", "type": "int64"},
                    "type": "int64", "agg": "sum", "window_s": 7 * 86400},
                   {"name": "x", "expr": {"op": "col", "name": "x", "type": "int64"},
                    "type": "int64", "agg": None, "window_s": None}]}
    tables = []
    for parts in (1, 4):
        _, fv = run_op(compute_features, tmp_path / f"p{parts}", "features:b@1",
                       {**fparams, "partitions": parts}, inputs={"source:b": s2})
        params = {"spine": {"source": "apps", "entity": "k", "timestamp": "t",
                            "columns": ["app_id"]},
                  "label": {"source": "apps", "column": "y", "key": None},
                  "views": [{"node": "features:b@1", "features": ["x_sum", "x"],
                             "entity": "k", "timestamp": "ev", "created_timestamp": "cr",
                             "ttl_s": 3 * 86400, "rename": {}}],
                  "created_time_cutoff": True,
                  "split": {"by": "random", "test_fraction": 0.2, "seed": 3}}
        _, out = run_op(build_training_set, tmp_path / f"p{parts}", "training_set:m",
                        params, inputs={"source:apps": s1, "features:b@1": fv})
        tables.append((pl.read_parquet(out / "train.parquet"),
                       pl.read_parquet(out / "test.parquet")))
    assert tables[0][0].equals(tables[1][0]) and tables[0][1].equals(tables[1][1])
    assert tables[0][0].get_column("x_sum").null_count() < tables[0][0].height


@pytest.mark.parametrize("cutoff", [False, True])
def test_late_record_never_leaks_with_cutoff(tmp_path: Path, cutoff: bool) -> None:
    """A bureau record reported on day 2 but created on day 10 is unknown on day 5."""
    d = lambda n: T0 + timedelta(days=n)  # noqa: E731
    src = pl.DataFrame({"k": [1, 1, 1], "ev": [d(0), d(2), d(6)], "cr": [d(0), d(10), d(6)],
                        "late": [1, 5, 0]})
    s = _write(tmp_path / "bs", "data.parquet", src)
    fparams = {"source": "source:b", "entity": "k", "timestamp": "ev",
               "created_timestamp": "cr", "ttl_s": None, "features": [
                   {"name": "late_sum", "expr": {"op": "col", "name": "late", "type": "int64"},
                    "type": "int64", "agg": "sum", "window_s": 30 * 86400},
                   {"name": "late", "expr": {"op": "col", "name": "late", "type": "int64"},
                    "type": "int64", "agg": None, "window_s": None}]}
    _, fv = run_op(compute_features, tmp_path, "features:b@1", fparams,
                   inputs={"source:b": s})
    spine = pl.DataFrame({"k": [1, 1, 1], "t": [d(5), d(7), d(11)], "y": [0, 1, 0]})
    sp = _write(tmp_path / "sp", "data.parquet", spine)
    params = {"spine": {"source": "s", "entity": "k", "timestamp": "t", "columns": []},
              "label": {"source": "s", "column": "y", "key": None},
              "views": [{"node": "features:b@1", "features": ["late_sum", "late"],
                         "entity": "k", "timestamp": "ev", "created_timestamp": "cr",
                         "ttl_s": None, "rename": {}}],
              "created_time_cutoff": cutoff,
              "split": {"by": "random", "test_fraction": 0.0, "seed": 0}}
    _, out = run_op(build_training_set, tmp_path, "training_set:m", params,
                    inputs={"source:s": sp, "features:b@1": fv})
    got = pl.read_parquet(out / "train.parquet")
    if cutoff:
        # day 5: only day 0 is known; day 7: the day-6 aggregate includes the late record,
        # so it is unknown until day 10 -> day 0 again; day 11: everything
        assert got.get_column("late_sum").to_list() == [1, 1, 6]
        assert got.get_column("late").to_list() == [1, 1, 0]
    else:
        assert got.get_column("late_sum").to_list() == [6, 6, 6]   # Feast's default leaks
        assert got.get_column("late").to_list() == [5, 0, 0]
