"""`compute_features`: a feature view's values per (entity, event time) row.

Why the view is stored as a time series, not as "latest value per entity": training sets
join it point-in-time (runtime/data/pit.py), so every historical value must stay available,
and the output is written sorted by (entity, ts, created) so that join is a merge with no
sort (`meta.json` records `sorted_by`; pit.py checks it cheaply anyway).

Features:
- row level: the compiled expression tree (runtime/data/expr_polars.py) on each source row;
- windowed aggregates (`agg` in sum, mean, min, max, count, last, std; `window_s`): the
  value at a row with time t aggregates the same entity's source rows with time in
  (t - window, t], so it only ever sees the past and the present (point-in-time
  correct); rows sharing t all see each other. No `window_s` means all history up to t.
  `sum` and `count` are 0 over a window with no non-null value, the others null; `std`
  is the sample standard deviation (ddof 1); `last` is the latest non-null value in the
  window (ties on t: the last in (t, created) order).
- late data: when the source has a created timestamp and the view has aggregates, a row's
  created time becomes the latest created time among the rows its window aggregates, so
  the created-time cutoff (`created_time_cutoff`) never serves an aggregate before every
  input to it had arrived.

Rows with a null entity or event time are dropped (they can never be joined: null keys
never match). Entities are independent, so the work splits by entity hash:
`compute_partition(df, params, i, n)` computes partition i of n and the op concatenates
partitions; the result is identical for every n (ties are ordered by source row number).
With a mapper in `ctx.extra["map"]` (the Ray executor provides one) partitions run as
tasks (`partition_task`), about one per 2M source rows unless `partitions` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from specops.runtime.data.expr_polars import DTYPES, ExprError, to_polars, tree_columns
from specops.runtime.data.pit import TS_DTYPE, as_utc_us
from specops.runtime.data.table_files import COMPRESSION, FEATURES_FILE, input_table, write_table
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult

__all__ = ["AGGREGATES", "compute_features", "compute_frame", "compute_partition",
           "partition_of", "partition_task"]

AGGREGATES = ("sum", "mean", "min", "max", "count", "last", "std")
_ROW = "__specops_row"


def partition_of(entity: str, n: int) -> pl.Expr:
    """The partition (0..n-1) of each row: a stable hash of its entity key."""
    return (pl.col(entity).hash(seed=0) % n).cast(pl.Int64)


def _needed(params: dict[str, Any]) -> list[str]:
    cols = [params["entity"], *([params["timestamp"]] if params.get("timestamp") else [])]
    if params.get("created_timestamp"):
        cols.append(params["created_timestamp"])
    for f in params["features"]:
        cols.extend(sorted(tree_columns(f["expr"])))
    return list(dict.fromkeys(cols))


def _window_expr(value: pl.Expr, agg: str, ts: str, window: str, entity: str) -> pl.Expr:
    kw: dict[str, Any] = {"window_size": window, "closed": "right"}
    if agg == "sum":
        e = value.rolling_sum_by(ts, **kw)
    elif agg == "mean":
        e = value.rolling_mean_by(ts, **kw)
    elif agg == "min":
        e = value.rolling_min_by(ts, **kw)
    elif agg == "max":
        e = value.rolling_max_by(ts, **kw)
    elif agg == "std":
        e = value.rolling_std_by(ts, **kw)
    elif agg == "count":
        e = value.is_not_null().cast(pl.Int64).rolling_sum_by(ts, **kw)
    else:
        raise OpError(f"unknown aggregate {agg!r} (expected one of {', '.join(AGGREGATES)})")
    return e.over(entity)


def _last_in_window(value: pl.Expr, ts: str, window_us: int | None, entity: str) -> pl.Expr:
    seen = pl.when(value.is_not_null()).then(pl.col(ts)).forward_fill().over(entity)
    filled = value.forward_fill().over(entity)
    if window_us is None:
        return filled
    return pl.when(seen > pl.col(ts) - pl.duration(microseconds=window_us)).then(filled)


def compute_frame(df: pl.DataFrame, params: dict[str, Any]) -> pl.DataFrame:
    """The view for `df` (source rows, any order): entity, ts[, created], features,
    sorted by (entity, ts, created, source row). `df` may carry a `__specops_row` column
    with global row numbers (partitions do); otherwise rows are numbered here."""
    entity, ts = params["entity"], params["timestamp"]
    created = params.get("created_timestamp")
    if _ROW not in df.columns:
        df = df.with_row_index(_ROW)
    for c in (ts, created):
        if c and df.schema[c] != TS_DTYPE:
            df = df.with_columns(as_utc_us(pl.col(c), df.schema[c]).alias(c))
    if ts:
        df = df.filter(pl.col(entity).is_not_null() & pl.col(ts).is_not_null())
        order = [entity, ts, *([created] if created else []), _ROW]
    else:   # a view without time, joined on the key alone (lint refuses windows here)
        if any(f.get("agg") for f in params["features"]):
            raise OpError("aggregates over time need the view's timestamp")
        df = df.filter(pl.col(entity).is_not_null())
        order = [entity, _ROW]
    df = df.sort(order, nulls_last=False)
    feats = params["features"]
    try:
        values = df.select(*order, *[to_polars(f["expr"]).alias(f["name"]) for f in feats])
    except (pl.exceptions.PolarsError, ExprError) as e:
        raise OpError(f"feature expression failed: {e}") from None
    aggs = [f for f in feats if f.get("agg")]
    if aggs:
        span = int(values.select((pl.col(ts).max() - pl.col(ts).min()).dt.total_microseconds()
                                 ).item() or 0) + 1_000_000
        exprs = []
        for f in aggs:
            w_us = int(f["window_s"] * 1_000_000) if f.get("window_s") else None
            v = pl.col(f["name"])
            if f["agg"] == "last":
                exprs.append(_last_in_window(v, ts, w_us, entity).alias(f["name"]))
            else:
                exprs.append(_window_expr(v, f["agg"], ts, f"{w_us or span}us", entity)
                             .alias(f["name"]))
        if created:
            w_max = max((int(f["window_s"] * 1_000_000) if f.get("window_s") else span)
                        for f in aggs)
            exprs.append(pl.col(created).rolling_max_by(ts, window_size=f"{w_max}us",
                                                        closed="right").over(entity)
                         .alias(created))
        values = values.with_columns(exprs)
        if created:  # availability changed: restore the (entity, ts, created) order
            values = values.sort(order, nulls_last=False)
    casts = [pl.col(f["name"]).cast(DTYPES[f["type"]]) for f in feats
             if f.get("type") in DTYPES and f["type"] != "null"]
    return values.with_columns(casts)


def compute_partition(df: pl.DataFrame, params: dict[str, Any], index: int,
                      n: int) -> pl.DataFrame:
    """Partition `index` of `n` (by entity hash) of the view; keeps global row numbers."""
    if _ROW not in df.columns:
        df = df.with_row_index(_ROW)
    part = df.filter(partition_of(params["entity"], n) == index) if n > 1 else df
    return compute_frame(part, params)


def partition_task(task: tuple[str, list[str], dict[str, Any], int, int, str]) -> str:
    """Compute one partition from the source file and write it to `out` (lz4 parquet).

    A plain picklable function of small arguments, so `ctx.extra["map"]` can run it as a
    Ray task (on a cluster the node directories live on a shared filesystem); the same
    function runs in-process when there is no mapper.
    """
    path, needed, params, index, n, out = task
    df = pl.scan_parquet(path).select(needed).with_row_index(_ROW)
    if n > 1:
        df = df.filter(partition_of(params["entity"], n) == index)
    view = compute_frame(df.collect(), params)
    view.write_parquet(out, compression=COMPRESSION)
    return out


_AUTO_ROWS = 2_000_000  # rows per partition when fanning out automatically


def compute_features(ctx: OpContext) -> OpResult:
    p = ctx.params
    for key in ("source", "entity", "features"):
        if not p.get(key):
            raise OpError(f"{ctx.node_id}: param {key!r} is required")
    path, meta = input_table(ctx, p["source"])
    needed = _needed(p)
    schema = pl.scan_parquet(path).collect_schema()
    missing = [c for c in needed if c not in schema]
    if missing:
        raise OpError(f"{ctx.node_id}: {p['source']} has no column(s) {', '.join(missing)}")
    rows = int(pl.scan_parquet(path).select(pl.len()).collect().item())  # parquet metadata
    mapper = ctx.extra.get("map")
    auto = (rows + _AUTO_ROWS - 1) // _AUTO_ROWS if mapper else 1
    n = max(1, int(p.get("partitions") or ctx.resources.get("partitions") or auto))
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(str(path), needed, p, i, n, str(ctx.out_dir / f"part-{i:04d}.parquet"))
             for i in range(n)]
    try:
        if mapper is not None and n > 1:
            files = mapper(partition_task, tasks, num_cpus=1)
        else:
            files = [partition_task(t) for t in tasks]
    except OpError as e:
        raise OpError(f"{ctx.node_id}: {e}") from None
    created = p.get("created_timestamp")
    order = [c for c in (p["entity"], p["timestamp"], created) if c]
    view = pl.concat([pl.read_parquet(f) for f in files])
    if n > 1:
        view = view.sort([*order, _ROW], nulls_last=False)
    for f in files:
        Path(f).unlink()
    dropped = rows - view.height
    view = view.drop(_ROW)
    out_meta = {"view": ctx.node_id, "source": p["source"], "entity": p["entity"],
                "timestamp": p["timestamp"], "created_timestamp": created,
                "ttl_s": p.get("ttl_s"), "sorted_by": order,
                "features": {f["name"]: f.get("type") for f in p["features"]},
                "partitions": n, "source_meta": {k: meta.get(k) for k in ("source", "rows")}}
    write_table(view, ctx.out_dir, FEATURES_FILE, out_meta)
    return OpResult(metrics={"rows": float(view.height), "dropped_null_keys": float(dropped),
                             "features": float(len(p["features"]))},
                    report={"rows": view.height, "dropped_null_keys": dropped,
                            "sorted_by": order, "partitions": n},
                    message=f"{view.height} rows x {len(p['features'])} features")
