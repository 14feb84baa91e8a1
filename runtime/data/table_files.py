"""Where the data ops keep their tables, and how they find their inputs' tables.

Why one small module: load_source, validate_data, compute_features and
build_training_set hand tables to each other through node output directories; they must
agree on file names and on the `meta.json` beside each table (entity, time columns,
sortedness), or the PIT join would have to re-sort and re-discover everything.

- `source:<name>` writes `data.parquet` + `meta.json`;
- `features:<view>@<v>` writes `features.parquet` + `meta.json` (sorted by entity, time,
  created time; `"sorted_by"` says so);
- `validate:<name>` writes only reports (`report.json`, `report.txt`), never a table, so a
  consumer of both `source:x` and `validate:x` finds exactly one table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import polars as pl

from specops.runtime.engine.op_interface import OpContext, OpError

__all__ = ["COMPRESSION", "DATA_FILE", "FEATURES_FILE", "META_FILE", "input_table", "plan_type",
           "read_meta", "write_table"]

DATA_FILE = "data.parquet"
FEATURES_FILE = "features.parquet"
META_FILE = "meta.json"


def plan_type(dtype: pl.DataType) -> str:
    """The plan/expression type name of a polars dtype (docs/expressions.md#types)."""
    if dtype.is_integer():
        return "int64"
    if dtype.is_float():
        return "float64"
    if dtype == pl.Boolean:
        return "bool"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Date:
        return "date"
    if dtype == pl.Null:
        return "null"
    return "string"


def _table_in(d: Path) -> Path | None:
    for name in (FEATURES_FILE, DATA_FILE):
        if (d / name).is_file():
            return d / name
    return None


def input_table(ctx: OpContext, node_id: str) -> tuple[Path, dict[str, Any]]:
    """The table file and meta of input `node_id` (`source:x` or `features:v@n`)."""
    d = ctx.inputs.get(node_id)
    if d is None:
        raise OpError(f"{ctx.node_id}: input {node_id} is not among this node's inputs "
                      f"({', '.join(sorted(ctx.inputs)) or 'none'})")
    path = _table_in(d)
    if path is None:
        raise OpError(f"{ctx.node_id}: input {node_id} has no {DATA_FILE} or {FEATURES_FILE}")
    return path, read_meta(d)


def read_meta(d: Path) -> dict[str, Any]:
    p = d / META_FILE
    return json.loads(p.read_text()) if p.is_file() else {}


COMPRESSION: Final = "lz4"


def write_table(df: pl.DataFrame, out_dir: Path, name: str, meta: dict[str, Any]) -> Path:
    """Write `df` as parquet and its meta.json beside it.

    lz4, not zstd: these tables are re-read by every downstream op, and on float features
    (which barely compress) lz4 reads 3-7x faster (5M x 5 columns: 0.06 s vs 0.45 s) for
    files about 10% larger.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    df.write_parquet(path, compression=COMPRESSION, statistics=True)
    full = {**meta, "rows": df.height,
            "columns": {c: plan_type(t) for c, t in df.schema.items()}}
    (out_dir / META_FILE).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return path
