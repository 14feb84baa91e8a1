"""`load_source`: read a parquet/csv file or glob of partitions into a typed table.

Why the op enforces types instead of trusting the file: downstream ops (expressions, PIT
joins, training) are only correct on the declared types, and a csv or a partition written
by another tool can carry "n/a" in a float column or naive timestamps. Every problem is an
OpError naming the column and a few offending values, before anything downstream runs.

Reading is lazy (`scan_parquet`/`scan_csv` over every matched file), so only declared
columns are read. Every datetime is normalised to `Datetime("us", "UTC")` (naive means
UTC, as in Feast), so joins never meet mixed units or zones. csv columns are read as text
(with the source's `csv:` options, csv_reader.py) and parsed here, so a bad value is
reported rather than silently inferred as a string; values that look like missing-value
markers (`?`, `n/a`, `-`) come with the hint to list them in `csv.null_values`.

Outputs: `data.parquet`, `meta.json` (entity, timestamp, created_timestamp, files, types).
`data_hashes` maps the param path (file or glob) to `datahash.hash_path`, the hash the
driver recomputes to decide whether a cached output is still valid.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Any

import polars as pl

from specops.contract.op_params import CsvParams
from specops.runtime.data.csv_reader import decimal_comma, scan_csv_files
from specops.runtime.data.pit import TS_DTYPE, as_utc_us
from specops.runtime.data.table_files import DATA_FILE, write_table
from specops.runtime.engine.datahash import hash_path
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult

__all__ = ["cast_column", "load_source", "resolve_files"]

_TARGET: dict[str, pl.DataType] = {
    "int64": pl.Int64(), "int32": pl.Int64(), "float64": pl.Float64(),
    "float32": pl.Float64(), "bool": pl.Boolean(), "string": pl.String(),
    "category": pl.String(), "date": pl.Date(), "datetime": TS_DTYPE,
}
_EXAMPLES = 5
# Values that usually mean "missing" in files as they come: a cast failing on only these
# gets the hint to list them in `csv.null_values`.
_MARKER = re.compile(r"^(\?|-+|\.|n/?a|na|nan|null|none|missing|#n/a|\*)$", re.IGNORECASE)
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def resolve_files(root: Path, rel: str) -> list[Path]:
    """The files a source path names: one file, or a glob's sorted matches."""
    full = root / rel
    if glob.has_magic(rel):
        return sorted(Path(p) for p in glob.glob(str(full), recursive=True)
                      if Path(p).is_file())
    return [full] if full.is_file() else []


def _missing_hint(root: Path) -> str:
    """Examples generate their data instead of committing it: say how."""
    gen = root / "generate_data.py"
    if not gen.is_file():
        return ""
    try:
        shown = os.path.relpath(gen)
    except ValueError:  # another drive (Windows)
        shown = str(gen)
    return f"; this project generates its data: run `python {shown}`"


def _csv_options(ctx: OpContext) -> CsvParams:
    """The source's `csv:` options; a source without the block reads with the defaults
    (the compiler leaves the block out of such plans, so they did not change with it)."""
    given = ctx.params.get("csv")
    if given is None:
        return CsvParams()
    try:
        return CsvParams.model_validate(given)
    except ValueError as e:   # pydantic's ValidationError is a ValueError
        raise OpError(f"{ctx.node_id}: params.csv: {str(e).splitlines()[-1].strip()} (the "
                      "load_source op needs the params the compiler writes)") from None


def _hint(values: list[Any], fmt: str) -> str:
    if fmt == "csv" and values and all(_MARKER.match(str(v)) for v in values):
        return " (if they mean missing, list them in `csv.null_values`)"
    return ""


def _parse_bool(e: pl.Expr) -> pl.Expr:
    low = e.str.strip_chars().str.to_lowercase()
    return (pl.when(low.is_in(["true", "t", "1", "yes", "y"])).then(True)
            .when(low.is_in(["false", "f", "0", "no", "n"])).then(False)
            .otherwise(None))


def cast_column(name: str, dtype: pl.DataType, declared: str, *,
                comma_decimals: bool = False) -> pl.Expr:
    """The expression converting column `name` (currently `dtype`) to its declared type.

    Values that do not convert become null; `load_source` compares null counts before and
    after to find them. A float column declared int must hold whole numbers. With
    `comma_decimals`, text floats are written `1,5` (a csv source's `decimal: ","`).
    """
    col = pl.col(name)
    if comma_decimals and declared in ("float64", "float32") and dtype == pl.String:
        return decimal_comma(name).str.strip_chars().cast(pl.Float64, strict=False)
    target = _TARGET[declared]
    if declared == "datetime":
        if dtype == pl.String:
            parsed: pl.Expr = col.str.strip_chars().str.to_datetime(strict=False,
                                                                    time_unit="us")
            return parsed.dt.replace_time_zone("UTC")
        if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
            return as_utc_us(col, dtype)
        return col.cast(target, strict=False)
    if declared == "date":
        if dtype == pl.String:
            return col.str.strip_chars().str.to_date(strict=False)
        if isinstance(dtype, pl.Datetime):
            return col.dt.date()
        return col.cast(target, strict=False)
    if declared == "bool" and dtype == pl.String:
        return _parse_bool(col)
    if declared in ("int64", "int32") and dtype.is_float():
        return pl.when(col == col.round(0)).then(col.cast(pl.Int64, strict=False))
    if declared in ("int64", "int32", "float64", "float32") and dtype == pl.String:
        return col.str.strip_chars().cast(target, strict=False)
    return col.cast(target, strict=False)


def _shown(root: Path, f: Path) -> str:
    return f.relative_to(root).as_posix() if f.is_relative_to(root) else str(f)


def _tz_aware_strings(df: pl.DataFrame, name: str) -> pl.Expr | None:
    """Datetime strings with offsets ("...+02:00", "...Z") parse with their zone."""
    sample = df.get_column(name).drop_nulls().head(1)
    if not len(sample):
        return None
    if _OFFSET.search(str(sample[0]).strip()):
        return (pl.col(name).str.strip_chars()
                .str.to_datetime(strict=False, time_unit="us", time_zone="UTC"))
    return None


def load_source(ctx: OpContext) -> OpResult:
    p = ctx.params
    rel: str = p["path"]
    fmt: str = p["format"]   # decided by the compiler (from the extension unless declared)
    columns: dict[str, dict[str, Any]] = p.get("columns") or {}
    files = resolve_files(ctx.project_root, rel)
    if not files:
        what = "no file matches" if glob.has_magic(rel) else "file not found:"
        raise OpError(f"{ctx.node_id}: {what} {rel} (under {ctx.project_root})"
                      f"{_missing_hint(ctx.project_root)}")
    if fmt not in ("csv", "parquet"):
        raise OpError(f"{ctx.node_id}: unknown source format {fmt!r} (expected parquet or "
                      "csv)")
    opts = _csv_options(ctx) if fmt == "csv" else None
    if opts is not None:
        try:
            scan = scan_csv_files(files, opts, lambda f: _shown(ctx.project_root, f))
            available = scan.names
            missing = [c for c in columns if c not in available]
            wanted = list(columns) or available
            raw = scan.collect(wanted) if not missing else pl.DataFrame()
        except OpError as e:
            raise OpError(f"{ctx.node_id}: {e}") from None
    else:
        lf = pl.scan_parquet([str(f) for f in files])
        try:
            available = lf.collect_schema().names()
            missing = [c for c in columns if c not in available]
            wanted = list(columns) or available
            raw = lf.select(wanted).collect() if not missing else pl.DataFrame()
        except (pl.exceptions.PolarsError, OSError) as e:
            raise OpError(f"{ctx.node_id}: cannot read {rel}: {e}") from None
    if missing:
        raise OpError(f"{ctx.node_id}: {rel} lacks declared column(s) {', '.join(missing)} "
                      f"(it has {', '.join(available)})")
    exprs, problems = [], []
    for name in wanted:
        declared = (columns.get(name) or {}).get("type")
        if declared is None:
            exprs.append(pl.col(name))
            continue
        if declared not in _TARGET:
            raise OpError(f"{ctx.node_id}: column {name}: unknown type {declared!r}")
        expr = None
        if declared == "datetime" and raw.schema[name] == pl.String:
            expr = _tz_aware_strings(raw, name)
        if expr is None:
            expr = cast_column(name, raw.schema[name], declared,
                               comma_decimals=opts is not None and opts.decimal == ",")
        exprs.append(expr.alias(name))
    df = raw.select(exprs)
    for name in wanted:
        declared = (columns.get(name) or {}).get("type")
        if declared is None:
            continue
        bad = raw.get_column(name).is_not_null() & df.get_column(name).is_null()
        n_bad = int(bad.sum())
        if n_bad:
            examples = raw.get_column(name).filter(bad).unique(maintain_order=True)
            values = examples.head(_EXAMPLES).to_list()
            shown = ", ".join(repr(v) for v in values)
            hint = _hint(examples.head(20).to_list(), fmt)
            problems.append(f"column {name} ({declared}): {n_bad} value(s) of type "
                            f"{raw.schema[name]} cannot be read as {declared}, e.g. "
                            f"{shown}{hint}")
    if problems:
        raise OpError(f"{ctx.node_id}: {rel}: " + "; ".join(problems),
                      report={"type_errors": problems})
    meta = {"source": ctx.node_id, "entity": p.get("entity"), "timestamp": p.get("timestamp"),
            "created_timestamp": p.get("created_timestamp"), "format": fmt,
            "files": [_shown(ctx.project_root, f) for f in files]}
    write_table(df, ctx.out_dir, DATA_FILE, meta)
    return OpResult(
        metrics={"rows": float(df.height), "files": float(len(files))},
        data_hashes={rel: hash_path(ctx.project_root, rel)},
        report={"rows": df.height, "files": meta["files"],
                "columns": {c: str(t) for c, t in df.schema.items()}},
        message=f"{df.height} rows from {len(files)} file(s)",
    )
