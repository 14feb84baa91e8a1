"""`push`: fresh source rows straight into the online store, without a materialize.

Why source rows and not feature values: the caller sends what the source would hold
(the bureau record), and the view's compiled expressions run on it with the same code the
offline path uses (`compute_frame`, runtime/data/compute_features.py), so a pushed value
can never differ from what the offline join computes from the same row. Per entity the
latest pushed row (greatest event, then created time) is written, and the store keeps it
only when it is newer than what it holds (a late row never overwrites).

Two entry points: `push_file` (the `specops push VIEW FILE` command) reads the file with
the source's own reader (`load_source`: every declared column, types enforced, the same
located errors as a run), and `push_rows` (the server's `POST /v2/features/{view}/push`)
takes JSON-like rows: it needs the columns the view reads, checks each value against the
declared type, and refuses unknown columns. Every client mistake is a `PushError` (one
line, naming the row and column); an unreachable store is the store's OnlineStoreError.

Refused: request views (computed from the request itself) and views with windowed
aggregates (an aggregate needs the entity's history, which pushed rows do not carry; land
the rows in the source and run `specops materialize`). Pushed rows are not written to the
offline source: that stays the data pipeline's job, as with Feast's push.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from specops.runtime.data.compute_features import compute_frame
from specops.runtime.store.online import OnlineStore, OnlineValue
from specops.runtime.store.online.materialize import (
    OnlineView,
    online_name,
    online_views,
    request_views,
)

__all__ = ["PushError", "push_file", "push_frame", "push_rows", "push_target"]

_DECLARED: dict[str, pl.DataType] = {
    "int64": pl.Int64(), "int32": pl.Int64(), "float64": pl.Float64(),
    "float32": pl.Float64(), "bool": pl.Boolean(), "string": pl.String(),
    "category": pl.String(), "date": pl.Date(), "datetime": pl.Datetime("us", "UTC"),
}


class PushError(ValueError):
    """A push the caller got wrong (unknown view, bad column or value): one line."""


def push_target(plan: Any, view: str) -> tuple[OnlineView, Any, Any]:
    """(the entity view, its plan node, its source node) for `view` (`name@version`)."""
    node_id = view if ":" in view else f"features:{view}"
    if node_id in request_views(plan):
        raise PushError(f"{view}: a request view (computed from the request at serving "
                        "time); nothing to push")
    target = next((v for v in online_views(plan) if view in (v.name, v.node)), None)
    if target is None:
        names = ", ".join(v.name for v in online_views(plan)) or "none"
        raise PushError(f"no entity view {view!r} in this project (entity views: {names})")
    node = plan.by_id[target.node]
    if node.op == "compute_features":
        aggs = [f["name"] for f in node.params["features"] if f.get("agg")]
        if aggs:
            raise PushError(f"{target.name}: windowed aggregates ({', '.join(aggs)}) need "
                            "the entity's history; land the rows in the source and run "
                            "`specops materialize`")
        source = plan.by_id[node.params["source"]]
    else:
        source = node
    return target, node, source


def _needed(target: OnlineView, node: Any) -> list[str]:
    cols = [target.entity, target.timestamp, target.created]
    if node.op == "compute_features":
        from specops.runtime.data.expr_polars import tree_columns

        for f in node.params["features"]:
            cols.extend(sorted(tree_columns(f["expr"])))
    else:
        cols.extend(target.features)
    return list(dict.fromkeys(c for c in cols if c))


FUTURE_SKEW = timedelta(minutes=5)   # clock difference tolerated between pusher and store


def _refuse_future(target: OnlineView, frame: pl.DataFrame) -> None:
    """Why: the store keeps a row only when it is newer than what it holds, so a row
    stamped in the future (by mistake or on purpose) would pin its values against every
    later push and materialize until that time. Event and created times must not be
    later than now (plus a few minutes of clock difference)."""
    limit = datetime.now(UTC) + FUTURE_SKEW
    for col in (target.timestamp, target.created):
        if not col or col not in frame.columns:
            continue
        times = frame.get_column(col).cast(pl.Datetime("us", "UTC"))
        latest = times.max()
        if isinstance(latest, datetime) and latest > limit:
            i = int((times > limit).arg_true()[0])
            key = frame.get_column(target.entity)[i]
            raise PushError(f"{target.name}: {target.entity} {key}: {col} "
                            f"{times[i].isoformat()} is in the future (a row newer than now "
                            "would hide every later value)")


def push_frame(store: OnlineStore, plan: Any, view: str, df: pl.DataFrame) -> int:
    """Compute `view` on source rows `df` (declared types) and upsert each entity's
    latest row; returns how many keys the store accepted (newer than what it held)."""
    target, node, _source = push_target(plan, view)
    if not target.timestamp:
        raise PushError(f"{target.name}: a view without a timestamp cannot take pushes "
                        "(nothing says which row is newer)")
    if node.op == "compute_features":
        from specops.runtime.engine.op_interface import OpError

        try:
            frame = compute_frame(df, dict(node.params)).drop("__specops_row", strict=False)
        except OpError as exc:   # e.g. an expression that fails on these values
            raise PushError(f"{target.name}: {exc}") from None
    else:
        order = [target.entity, target.timestamp, *([target.created] if target.created
                                                    else [])]
        frame = df.filter(pl.col(target.entity).is_not_null() &
                          pl.col(target.timestamp).is_not_null()) \
            .with_row_index("__specops_row").sort([*order, "__specops_row"], nulls_last=False)
    _refuse_future(target, frame)
    last = frame.group_by(target.entity, maintain_order=True).last()
    feats = list(target.features)
    ev = last.get_column(target.timestamp).dt.epoch("us").to_list()
    cr = (last.get_column(target.created).dt.epoch("us").to_list() if target.created
          else [None] * last.height)
    rows = [((k,), OnlineValue(dict(zip(feats, vals, strict=True)), int(e),
                               None if c is None else int(c)))
            for k, vals, e, c in zip(last.get_column(target.entity).to_list(),
                                     last.select(feats).iter_rows(), ev, cr, strict=True)]
    return store.write(target.name, rows) if rows else 0


def push_rows(store: OnlineStore, plan: Any, view: str,
              rows: Sequence[Mapping[str, Any]]) -> int:
    """Push JSON-like rows (`[{column: value}]`, times as ISO-8601 strings or UTC
    microseconds) into `view`; raises PushError for a client mistake."""
    target, node, source = push_target(plan, view)
    declared: dict[str, Any] = source.params.get("columns") or {}
    needed = _needed(target, node)
    if not isinstance(rows, Sequence) or not rows:
        raise PushError(f"{target.name}: expected a non-empty list of rows")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise PushError(f"{target.name}: row {i}: expected an object of column values")
        unknown = [c for c in row if c not in declared]
        if unknown:
            raise PushError(f"{target.name}: row {i}: column {unknown[0]!r} is not in source "
                            f"{online_name(source.id)}")
        missing = [c for c in needed if c not in row]
        if missing:
            raise PushError(f"{target.name}: row {i}: missing column(s) {', '.join(missing)}")
    cols = [c for c in declared if c in needed or any(c in r for r in rows)]
    data = []
    for c in cols:
        t = (declared.get(c) or {}).get("type") or "string"
        values = []
        for i, row in enumerate(rows):
            try:
                values.append(_value(row.get(c), t))
            except (TypeError, ValueError, OverflowError):
                raise PushError(f"{target.name}: row {i}: column {c} ({t}): "
                                f"{row.get(c)!r} cannot be read as {t}") from None
        data.append(pl.Series(c, values, dtype=_DECLARED.get(t, pl.String())))
    return push_frame(store, plan, target.name, pl.DataFrame(data))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _value(v: Any, declared: str) -> Any:
    """One JSON value as its declared type; TypeError/ValueError when it is not one.

    JSON has no dates, so times are ISO-8601 strings (naive means UTC, as in sources) or
    integer UTC microseconds; numbers must be numbers (a whole float is an int)."""
    if v is None:
        return None
    if declared in ("int64", "int32"):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
            raise TypeError
        return int(v)
    if declared in ("float64", "float32"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError
        return float(v)
    if declared == "bool":
        if not isinstance(v, bool):
            raise TypeError
        return v
    if declared == "datetime":
        if isinstance(v, int) and not isinstance(v, bool):
            return _EPOCH + timedelta(microseconds=v)
        if not isinstance(v, str):
            raise TypeError
        dt = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    if declared == "date":
        if not isinstance(v, str):
            raise TypeError
        return date.fromisoformat(v.strip())
    if not isinstance(v, str):
        raise TypeError
    return v


def push_file(store: OnlineStore, plan: Any, view: str, file: Path, root: Path) -> int:
    """Push the rows of a parquet or csv `file` into `view`; the file is read by the
    source's own `load_source` (declared columns and types), so errors match a run's."""
    from specops.runtime.data.load_source import load_source
    from specops.runtime.data.table_files import DATA_FILE
    from specops.runtime.engine.op_interface import OpContext, OpError

    target, _node, source = push_target(plan, view)
    file = Path(file)
    if not file.is_file():
        raise PushError(f"{file}: no such file")
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise PushError(f"{file}: expected a .parquet or .csv file")
    params = {**source.params, "path": str(file.resolve()),
              "format": "csv" if suffix == ".csv" else "parquet"}
    if suffix == ".csv" and source.params.get("format") != "csv":
        params.pop("csv", None)   # a parquet source's rows given as csv: default options
    with tempfile.TemporaryDirectory(prefix="specops-push-") as tmp:
        ctx = OpContext(node_id=f"push {target.name}", op="load_source", params=params,
                        project_root=Path(root), out_dir=Path(tmp), inputs={},
                        run_id="push", fingerprint="push")
        try:
            load_source(ctx)
        except OpError as exc:
            msg = str(exc).replace(f"{ctx.node_id}: ", "", 1).replace(str(file.resolve()),
                                                                       str(file))
            raise PushError(msg if msg.startswith(str(file)) else f"{file}: {msg}") from None
        df = pl.read_parquet(Path(tmp) / DATA_FILE)
    return push_frame(store, plan, target.name, df)
