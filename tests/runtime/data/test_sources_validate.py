"""load_source (types, globs, csv, errors) and validate_data (checks, reports, failure)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from data_helpers import run_op

from specops.runtime.data.load_source import load_source
from specops.runtime.data.validate_data import ks_statistic, psi, validate_data
from specops.runtime.engine.op_interface import OpError

COLS = {"id": {"type": "int64", "nullable": False}, "x": {"type": "float64"},
        "n": {"type": "int32"}, "ts": {"type": "datetime"}, "r": {"type": "category"}}


def _parts(tmp: Path) -> None:
    (tmp / "data" / "p").mkdir(parents=True)
    for i in range(3):
        pl.DataFrame({
            "id": [i * 10 + j for j in range(4)], "x": [1.5, None, 2.0, 3.0],
            "n": pl.Series([1, 2, 3, 4], dtype=pl.Int32),
            "ts": [datetime(2024, 1, i + 1, j) for j in range(4)],   # naive, ns below
            "r": ["a", "b", "a", None], "extra": [0] * 4,
        }).with_columns(pl.col("ts").dt.cast_time_unit("ns")).write_parquet(
            tmp / "data" / "p" / f"part-{i}.parquet")


def test_glob_of_partitions_typed_and_hashed(tmp_path: Path) -> None:
    _parts(tmp_path)
    res, out = run_op(load_source, tmp_path, "source:s",
                      {"path": "data/p/*.parquet", "format": "parquet", "columns": COLS,
                       "entity": "id", "timestamp": "ts", "created_timestamp": None})
    df = pl.read_parquet(out / "data.parquet")
    assert df.height == 12 and df.columns == list(COLS)        # undeclared column dropped
    assert df.schema["ts"] == pl.Datetime("us", "UTC")
    assert df.schema["n"] == pl.Int64 and df.schema["r"] == pl.String
    assert list(res.data_hashes) == ["data/p/*.parquet"]
    assert res.data_hashes["data/p/*.parquet"].startswith("sha256:")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["entity"] == "id" and len(meta["files"]) == 3


def test_csv_bad_values_name_column_and_values(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,x,ts\n1,1.5,2024-01-01 00:00:00\n2,n/a,2024-01-02\n"
                                    "3,2,not a date\n")
    cols = {"id": {"type": "int64"}, "x": {"type": "float64"}, "ts": {"type": "datetime"}}
    with pytest.raises(OpError) as e:
        run_op(load_source, tmp_path, "source:a",
               {"path": "a.csv", "format": "csv", "columns": cols})
    msg = str(e.value)
    assert "column x (float64)" in msg and "'n/a'" in msg
    assert "column ts (datetime)" in msg and "'not a date'" in msg


def test_csv_good_values_and_offsets(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,x,ts,ok\n1, 1.5 ,2024-01-01T02:00:00+02:00,yes\n"
                                    "2,,2024-01-02T00:00:00Z,0\n")
    cols = {"id": {"type": "int64"}, "x": {"type": "float64"}, "ts": {"type": "datetime"},
            "ok": {"type": "bool"}}
    _, out = run_op(load_source, tmp_path, "source:a",
                    {"path": "a.csv", "format": "csv", "columns": cols})
    df = pl.read_parquet(out / "data.parquet")
    assert df.get_column("x").to_list() == [1.5, None]
    assert df.get_column("ok").to_list() == [True, False]
    assert df.get_column("ts").dt.hour().to_list() == [0, 0]       # +02:00 -> UTC


def test_float_declared_int_must_be_whole(tmp_path: Path) -> None:
    pl.DataFrame({"n": [1.0, 2.5]}).write_parquet(tmp_path / "f.parquet")
    with pytest.raises(OpError, match=r"column n \(int64\).*2\.5"):
        run_op(load_source, tmp_path, "source:f",
               {"path": "f.parquet", "format": "parquet", "columns": {"n": {"type": "int64"}}})


def test_missing_file_and_column(tmp_path: Path) -> None:
    (tmp_path / "generate_data.py").write_text("")
    with pytest.raises(OpError, match=r"generate_data\.py"):
        run_op(load_source, tmp_path, "source:s", {"path": "data/x.parquet", "format": "parquet",
                                               "columns": {}})
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "x.parquet")
    with pytest.raises(OpError, match="lacks declared column"):
        run_op(load_source, tmp_path, "source:s",
               {"path": "x.parquet", "format": "parquet", "columns": {"b": {"type": "int64"}}})


def _validate(tmp: Path, df: pl.DataFrame, params: dict):
    d = tmp / "src"
    d.mkdir(exist_ok=True)
    df.write_parquet(d / "data.parquet")
    return run_op(validate_data, tmp, "validate:s", params, inputs={"source:s": d})


def test_validation_passes_and_writes_reports(tmp_path: Path) -> None:
    df = pl.DataFrame({"id": [1, 2, 3], "x": [0.0, 5.0, None], "r": ["a", "b", "a"]})
    params = {"columns": {"id": {"nullable": False, "unique": True},
                          "x": {"min": 0, "max": 5}, "r": {"in": ["a", "b"]}},
              "row_count": {"min": 3, "max": 3}, "max_null_share": 0.5, "distribution": None}
    res, out = _validate(tmp_path, df, params)
    assert res.report["passed"] and res.metrics["checks_failed"] == 0
    assert (out / "report.txt").read_text().startswith("validate:s: PASSED")
    assert json.loads((out / "report.json").read_text())["passed"] is True


def test_validation_failure_raises_with_report(tmp_path: Path) -> None:
    df = pl.DataFrame({"id": [1, 1, None], "x": [-1.0, 5.0, 9.0], "r": ["a", "z", None]})
    params = {"columns": {"id": {"nullable": False, "unique": True},
                          "x": {"min": 0, "max": 5}, "r": {"in": ["a", "b"]}},
              "row_count": {"min": 10}, "max_null_share": 0.1}
    with pytest.raises(OpError) as e:
        _validate(tmp_path, df, params)
    rep = e.value.report
    failed = {(c["check"], c["column"]) for c in rep["checks"] if not c["passed"]}
    assert failed == {("not_null", "id"), ("unique", "id"), ("min", "x"), ("max", "x"),
                      ("in", "r"), ("row_count", None), ("max_null_share", "id"),
                      ("max_null_share", "r")}
    ex = {c["check"] + c["column"]: c.get("examples") for c in rep["checks"] if c["column"]}
    assert ex["inr"] == ["z"] and ex["minx"] == [-1.0] and ex["uniqueid"] == [1]
    out = tmp_path / "out" / "validate_s"
    assert "FAIL" in (out / "report.txt").read_text()       # written before raising
    assert "report.txt" in str(e.value)


def test_distribution_psi_and_ks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ref = pl.DataFrame({"x": rng.normal(0, 1, 5000), "r": rng.choice(["a", "b"], 5000)})
    same = pl.DataFrame({"x": rng.normal(0, 1, 5000), "r": rng.choice(["a", "b"], 5000)})
    moved = pl.DataFrame({"x": rng.normal(1, 1, 5000), "r": rng.choice(["a", "c"], 5000)})
    assert psi(ref["x"], same["x"]) < 0.02 and psi(ref["x"], moved["x"]) > 0.5
    assert psi(ref["r"], same["r"]) < 0.01 and psi(ref["r"], moved["r"]) > 1.0
    assert ks_statistic(ref["x"], same["x"]) < 0.05 < 0.3 < ks_statistic(ref["x"], moved["x"])
    ref.write_parquet(tmp_path / "ref.parquet")
    params = {"columns": {}, "distribution": {"reference": "ref.parquet", "method": "psi",
                                              "max": 0.25, "columns": None, "bins": 10}}
    _validate(tmp_path, same, params)
    with pytest.raises(OpError, match="psi"):
        _validate(tmp_path, moved, params)
