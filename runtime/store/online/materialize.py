"""`materialize`: each entity's latest point-in-time-correct values as of T, into the
online store.

Why it runs the plan's own view nodes and the offline join: the online values must be the
ones the offline PIT join would give for a spine row (k, T), so nothing is re-implemented.
The view's `features:` node runs through the normal run loop (an unchanged source is a
cache hit), and the latest row per entity is picked by `runtime/data/pit.py`'s `pit_join`
on a spine of (every entity, T):

- candidates: view rows with `event <= T` (and, with the created-time cutoff,
  `created <= T`, rows without a created time dropped), the winner the greatest
  `(event, created)` exactly as offline;
- TTL: the join runs without it and the winner is written with its own event and created
  times, **also when it is already older than the TTL at T**; the reader nulls a value
  with `request_time - event > ttl` (bounds as offline: `event >= t - ttl` is fresh), so
  the same stored row is right for every request time after T. At t = T this equals the
  offline join with the TTL, because the TTL only ever removes the winner;
- windowed aggregates: the winner's stored value, i.e. the window (event - w, event] of
  the latest row at or before T, which is what the offline join returns for a spine row
  at T (the window is not re-anchored at T, or online and offline would disagree);
- the created-time cutoff is a property of a model's training set: a view read by a
  model with `created_time_cutoff: true` is materialized with the cutoff (when models
  disagree, with it: what was known at T).

Incremental: the store keeps a watermark per view (the last `until`, W). A later run only
looks at entities that have a visible row with `event > W` or `created > W` (a late
arrival), recomputes just those (their full history, so windows stay right) and writes
them; when nothing arrived, nothing is written. The created time stands for "arrived
after the last run", which holds when `until` is now; with a backdated `until` and no
cutoff, rows created after it are visible and count as new on every run (rewriting them
is harmless). `full=True` ignores the watermark. An `until` before the watermark is
refused: the store only keeps newer rows, so an older T needs a fresh store. Views
without a timestamp (static tables) are rewritten in full each time with event time = T.

Which views: every feature view and every non-spine source that a training set joins,
except *request views*: a feature view on the spine source of a model that uses it is
computed from the request at serving time (`request_views`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from specops.runtime.data.pit import TS_DTYPE, as_utc_us, pit_join
from specops.runtime.data.table_files import DATA_FILE, FEATURES_FILE
from specops.runtime.store.online import OnlineStore, OnlineValue

__all__ = ["MaterializeError", "MaterializeReport", "OnlineView", "latest_values",
           "materialize", "now_us", "online_name", "online_views", "request_views",
           "view_by_name"]

_EV, _CR, _T = "__specops_ev", "__specops_cr", "__specops_t"


class MaterializeError(RuntimeError):
    """Materialize cannot go on (a one-line cause: a failed node, a bad selection)."""


@dataclass(frozen=True)
class OnlineView:
    """One table of the online store and where its values come from in the plan."""

    name: str                    # store name: `bureau_history@2`, or a raw source's name
    node: str                    # plan node: `features:bureau_history@2` / `source:x`
    entity: str
    timestamp: str | None
    created: str | None
    ttl_s: float | None
    features: tuple[str, ...]
    cutoff: bool = False


@dataclass
class MaterializeReport:
    view: str
    written: int = 0             # keys the store accepted (new or newer)
    entities: int = 0            # entities whose latest row was computed this run
    seconds: float = 0.0
    until_us: int = 0
    watermark_us: int | None = None   # before this run
    skipped: str = ""            # why nothing was done (a request view, ...)
    extra: dict[str, Any] = field(default_factory=dict)


def now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def online_name(node_id: str) -> str:
    """`features:bureau_history@2` -> `bureau_history@2`; `source:x` -> `x`."""
    return node_id.split(":", 1)[1] if ":" in node_id else node_id


def _training_sets(plan: Any) -> list[Any]:
    return [n for n in plan.nodes if n.op == "build_training_set"]


def request_views(plan: Any) -> set[str]:
    """Node ids of the views computed from the request itself: a `compute_features` node
    whose source is the `spine` source of a training set that joins it."""
    out: set[str] = set()
    for ts in _training_sets(plan):
        spine = f"source:{ts.params['spine']['source']}"
        for v in ts.params.get("views") or []:
            node = plan.by_id.get(v["node"])
            if node is not None and node.op == "compute_features" and \
                    node.params.get("source") == spine:
                out.add(node.id)
    return out


def online_views(plan: Any) -> list[OnlineView]:
    """Every entity view of the plan (feature views, and non-spine sources a training set
    joins), request views excluded, in plan order."""
    skip = request_views(plan)
    cutoff: dict[str, bool] = {}
    used: dict[str, dict[str, Any]] = {}
    cols: dict[str, list[str]] = {}
    for ts in _training_sets(plan):
        for v in ts.params.get("views") or []:
            cutoff[v["node"]] = cutoff.get(v["node"], False) or \
                bool(ts.params.get("created_time_cutoff"))
            used.setdefault(v["node"], v)
            cols.setdefault(v["node"], []).extend(v["features"])
    out: list[OnlineView] = []
    for n in plan.nodes:
        if n.id in skip:
            continue
        p = n.params
        if n.op == "compute_features":
            out.append(OnlineView(online_name(n.id), n.id, p["entity"], p.get("timestamp"),
                                  p.get("created_timestamp"), p.get("ttl_s"),
                                  tuple(f["name"] for f in p["features"]),
                                  cutoff.get(n.id, False)))
        elif n.op == "load_source" and n.id in used:
            v = used[n.id]
            out.append(OnlineView(online_name(n.id), n.id, v["entity"], v.get("timestamp"),
                                  v.get("created_timestamp"), v.get("ttl_s"),
                                  tuple(dict.fromkeys(cols[n.id])), cutoff.get(n.id, False)))
    return out


def _us(df: pl.DataFrame, col: str) -> pl.Expr:
    dtype = df.schema[col]
    e = pl.col(col) if dtype == TS_DTYPE else as_utc_us(pl.col(col), dtype)
    return e.dt.epoch("us")


def latest_values(df: pl.DataFrame, view: OnlineView, until_us: int,
                  since_us: int | None = None) -> list[tuple[tuple[Any, ...], OnlineValue]]:
    """The winner row of every entity as of `until_us` (see the module docstring), only
    for entities with a visible row newer than `since_us` when it is given."""
    feats = list(view.features)
    if not view.timestamp:   # a static table: the last row per key, "as of" T itself
        last = df.select(view.entity, *feats).filter(pl.col(view.entity).is_not_null()) \
            .unique(view.entity, keep="last", maintain_order=True)
        return [((r[0],), OnlineValue(dict(zip(feats, r[1:], strict=True)), until_us, None))
                for r in last.iter_rows()]
    df = df.with_columns(_us(df, view.timestamp).alias(_EV),
                         (_us(df, view.created) if view.created else pl.lit(None, pl.Int64))
                         .alias(_CR))
    visible = pl.col(_EV) <= until_us
    if view.cutoff:
        visible = visible & pl.col(_CR).is_not_null() & (pl.col(_CR) <= until_us)
    df = df.filter(visible & pl.col(view.entity).is_not_null())
    if since_us is not None:
        changed = df.filter((pl.col(_EV) > since_us) | (pl.col(_CR) > since_us))
        df = df.join(changed.select(view.entity).unique(), on=view.entity, how="semi",
                     maintain_order="left")
    if df.height == 0:
        return []
    keys = df.get_column(view.entity).unique(maintain_order=True)
    spine = pl.DataFrame({view.entity: keys,
                          _T: pl.Series([until_us] * len(keys), dtype=pl.Int64)}) \
        .with_columns(pl.col(_T).cast(pl.Datetime("us", "UTC")))
    got = pit_join(spine, df, spine_keys=[view.entity], spine_ts=_T,
                   view_keys=[view.entity], view_ts=view.timestamp,
                   view_created=view.created, features=[*feats, _EV, _CR], ttl_s=None,
                   created_cutoff=view.cutoff)
    out: list[tuple[tuple[Any, ...], OnlineValue]] = []
    n = len(feats)
    for key, row in zip(keys.to_list(), got.iter_rows(), strict=True):
        if row[n] is None:   # no candidate at T
            continue
        out.append(((key,), OnlineValue(dict(zip(feats, row[:n], strict=True)),
                                        int(row[n]), None if row[n + 1] is None
                                        else int(row[n + 1]))))
    return out


def _select(views: list[OnlineView], plan: Any, select: Sequence[str] | None
            ) -> tuple[list[OnlineView], list[MaterializeReport]]:
    if not select:
        return views, []
    by_name = {v.name: v for v in views}
    by_name.update({v.node: v for v in views})
    requests = request_views(plan)
    chosen: list[OnlineView] = []
    skipped: list[MaterializeReport] = []
    for s in select:
        if s in by_name:
            chosen.append(by_name[s])
        elif s in requests or f"features:{s}" in requests:
            skipped.append(MaterializeReport(online_name(s), skipped="request view: "
                                             "computed from the request at serving time"))
        else:
            names = ", ".join(v.name for v in views) or "none"
            raise MaterializeError(f"--select {s!r} is not an entity view of this project "
                                   f"(entity views: {names})")
    return list(dict.fromkeys(chosen)), skipped


def _table(path: Path | None) -> Path:
    for name in (FEATURES_FILE, DATA_FILE):
        if path is not None and (path / name).is_file():
            return path / name
    raise MaterializeError(f"no table in {path}")


def materialize(plan: Any, root: Path, store: OnlineStore, *,
                select: Sequence[str] | None = None, until_us: int | None = None,
                full: bool = False, run_store_url: str | None = None,
                progress: Any = None) -> list[MaterializeReport]:
    """Materialize the selected entity views (all by default) as of `until_us` (now)."""
    from specops.runtime.engine.plan_reader import PlanError
    from specops.runtime.engine.run_loop import execute_plan

    until = now_us() if until_us is None else int(until_us)
    views, reports = _select(online_views(plan), plan, select)
    if not views:
        return reports
    for v in views:
        mark = store.watermark(v.name)
        if mark is not None and until < mark:
            raise MaterializeError(
                f"{v.name}: --until {_iso(until)} is before the last materialize "
                f"({_iso(mark)}); the store keeps only newer rows: use a fresh store")
    try:
        result = execute_plan(plan, root, select=[v.node for v in views],
                              store_url=run_store_url, progress=progress)
    except (PlanError, ValueError) as exc:
        raise MaterializeError(str(exc)) from None
    if not result.ok:
        bad = result.failed[0] if result.failed else None
        why = f"{bad.node_id}: {bad.cause}" if bad else result.status
        raise MaterializeError(f"the views could not be computed: {why}")
    for v in views:
        started = time.perf_counter()
        mark = store.watermark(v.name)
        since = None if (full or not v.timestamp) else mark
        rep = MaterializeReport(v.name, until_us=until, watermark_us=mark)
        cols = list(dict.fromkeys(c for c in (v.entity, v.timestamp, v.created, *v.features)
                                  if c))
        df = pl.read_parquet(_table(result.nodes[v.node].path), columns=cols)
        rows = latest_values(df, v, until, since)
        rep.entities = len(rows)
        rep.written = store.write(v.name, rows) if rows else 0
        store.set_watermark(v.name, until)
        rep.seconds = time.perf_counter() - started
        reports.append(rep)
    return reports


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")


def view_by_name(plan: Any, name: str, views: Iterable[OnlineView] | None = None
                 ) -> OnlineView | None:
    """The entity view stored as `name` (or with node id `name`)."""
    for v in views if views is not None else online_views(plan):
        if name in (v.name, v.node):
            return v
    return None
