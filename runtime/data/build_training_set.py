"""`build_training_set`: spine + label + point-in-time features, split into train/test.

Why one op does all joins: every view is joined onto the same spine, so the spine is read
and indexed once (`pit.index_spine`) and each view costs one binary search per spine row
(runtime/data/pit.py has the semantics: Feast's SQL template, not its dask store). The output
has exactly one row per spine row that has a label, in spine order; spine rows are never
dropped or merged for lack of features (they get nulls).

Params (docs/plan.md): `spine` {source, entity, timestamp, columns}, `label` {source,
column, key} (key null: the label is a spine column), `views` [{node, features, entity,
timestamp, created_timestamp, ttl_s, rename}] where node is `features:<v>@<n>` or
`source:<name>` (raw columns of another source, joined point-in-time without TTL, or on
the key alone when it has no timestamp), `created_time_cutoff`, `split` {by: time|random,
test_fraction, seed}; optional `protected` [column] and `inputs` [{name, type, role}]
(the compiler's model inputs) to label columns in schema.json.

Out of core: above `pit_partitioned.IN_MEMORY_MAX_ROWS` input rows (spine plus timed
views) the point-in-time views are joined by `pit_partitioned.join_files` in entity-range
parts and train/test are written from the parts `_CHUNK` rows at a time, so the joined
table is never whole in memory (the spine is). `SPECOPS_PIT_MODE=memory|partitioned`
forces a path, `SPECOPS_PIT_ROWS_PER_PART` sizes the parts. Both paths write through
`_SplitWriter` (fixed row groups), so their files are byte-identical.

Split: `time` puts the latest `test_fraction` of rows (by spine time) in test, moving rows
that share the boundary timestamp into test too, so no instant straddles the split (rows
with a null spine time stay in train);
`random` draws exactly round(n * test_fraction) test rows with numpy's
`default_rng(seed)`; `stratified` does that within each label class (each decile of a
continuous label), so a rare class keeps its share in train and test. All three are
deterministic, so every executor builds identical sets.
A spine without a timestamp (most tabular data) is valid with a random split and views
without event times (joined on the key alone); the compiler refuses anything else there
(SPEC420), and this op re-checks it so an old plan fails with one line.

Outputs: `train.parquet`, `test.parquet` (same columns: entity, timestamp, spine columns,
label, features), `schema.json` (inputs with type and role, label, protected, entity,
timestamp, row counts, `roles` per column). Protected columns are kept for fairness
metrics and marked `protected` (a list of names, as runtime/training/preprocess.py reads it, which
refuses a protected column among the inputs), so training never takes them as inputs.
Without `inputs` in params, inputs are inferred: every column but entity, timestamp,
label, label key and protected (`inputs_from: inferred`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specops.runtime.data.pit import SpineIndex, index_spine, pit_join
from specops.runtime.data.pit_partitioned import (
    IN_MEMORY_MAX_ROWS,
    ROWS_PER_PART,
    JoinResult,
    ViewInput,
    iter_in_order,
    join_files,
    parquet_rows,
)
from specops.runtime.data.table_files import input_table, plan_type
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult

__all__ = ["build_training_set", "split_rows"]

_CATEGORICAL = {"string", "bool"}
_CHUNK = 1_000_000       # rows per chunk when the table is streamed from join parts
_ROW_GROUP = 262_144     # rows per parquet row group of train/test (both paths)


def _strata(label: pl.Series) -> np.ndarray:
    """Stratum of each row: the label value for a classifier's label, the label's decile
    for a continuous one (more than 20 distinct values); nulls form their own stratum."""
    if label.dtype.is_float() and label.n_unique() > 20:
        values = label.cast(pl.Float64).to_numpy()
        edges = np.nanquantile(values, np.linspace(0.1, 0.9, 9))
        codes = np.searchsorted(edges, values, side="right").astype(np.int64)
        return np.where(np.isnan(values), -1, codes)
    return np.asarray(label.cast(pl.String).fill_null("\x00null").to_numpy())


def split_rows(ts: pl.Series, by: str, test_fraction: float, seed: int | None,
               label: pl.Series | None = None) -> np.ndarray:
    """Boolean mask of test rows (see the module doc)."""
    n = len(ts)
    if n == 0 or test_fraction <= 0:
        return np.zeros(n, dtype=bool)
    if by == "random":
        k = round(n * test_fraction)
        mask = np.zeros(n, dtype=bool)
        mask[np.random.default_rng(seed).permutation(n)[:k]] = True
        return mask
    if by == "stratified":
        if label is None:
            raise OpError("a stratified split needs the label")
        strata = _strata(label)
        rng = np.random.default_rng(seed)
        mask = np.zeros(n, dtype=bool)
        for value in sorted(set(strata.tolist()), key=str):   # fixed order: deterministic
            rows = np.flatnonzero(strata == value)
            mask[rows[rng.permutation(len(rows))[:round(len(rows) * test_fraction)]]] = True
        return mask
    if by != "time":
        raise OpError(f"unknown split {by!r} (expected time, random or stratified)")
    t = ts.dt.epoch("us") if ts.dtype.is_temporal() else ts
    valid = t.drop_nulls().sort()
    if not len(valid):
        return np.zeros(n, dtype=bool)
    cut_at = min(len(valid) - 1, int(np.floor(len(valid) * (1 - test_fraction))))
    cut = valid[cut_at]
    return np.asarray((t >= cut).fill_null(False).to_numpy(), dtype=bool)


def _read(ctx: OpContext, node: str, cols: list[str]) -> pl.DataFrame:
    path, _ = input_table(ctx, node)
    schema = pl.scan_parquet(path).collect_schema()
    missing = [c for c in cols if c not in schema]
    if missing:
        raise OpError(f"{ctx.node_id}: {node} has no column(s) {', '.join(missing)} "
                      f"(it has {', '.join(schema.names())})")
    return pl.read_parquet(path, columns=list(dict.fromkeys(cols)))


def _label(ctx: OpContext, spine: pl.DataFrame, label: dict[str, Any]) -> pl.DataFrame:
    col, key = label["column"], label.get("key")
    if not key:
        if col not in spine.columns:
            raise OpError(f"{ctx.node_id}: label {col} is not a spine column")
        return spine
    lab = _read(ctx, f"source:{label['source']}", [key, col])
    dup = lab.filter(pl.col(key).is_not_null() & pl.col(key).is_duplicated())
    if dup.height:
        raise OpError(f"{ctx.node_id}: label source {label['source']} has "
                      f"{dup.get_column(key).n_unique()} duplicated {key} value(s), e.g. "
                      f"{dup.get_column(key).head(3).to_list()}")
    if key not in spine.columns:
        raise OpError(f"{ctx.node_id}: the spine has no label key column {key}")
    if lab.schema[key] != spine.schema[key]:
        lab = lab.with_columns(pl.col(key).cast(spine.schema[key]))
    return spine.join(lab.drop_nulls(key), on=key, how="left", maintain_order="left")


def _join_view(ctx: OpContext, spine: pl.DataFrame, view: dict[str, Any], cutoff: bool,
               indexes: dict[tuple[str, str], SpineIndex], spine_ts: str | None
               ) -> pl.DataFrame:
    node, entity = view["node"], view["entity"]
    feats: list[str] = list(view["features"])
    if not entity or entity not in spine.columns:
        raise OpError(f"{ctx.node_id}: view {node} joins on {entity!r}, which the spine lacks")
    ts, created = view["timestamp"], view["created_timestamp"]   # as the plan carries them
    if not ts:  # a static table: equality join on the key, the last row per key wins
        tab = _read(ctx, node, [entity, *feats]).unique(entity, keep="last",
                                                         maintain_order=True)
        return spine.select(entity).join(tab, on=entity, how="left",
                                         maintain_order="left").select(feats)
    if not spine_ts:
        raise OpError(f"{ctx.node_id}: view {node} is joined point in time, but the spine "
                      "has no timestamp")
    cols = [entity, ts, *([created] if created else []), *feats]
    tab = _read(ctx, node, cols)
    if cutoff and not created:
        raise OpError(f"{ctx.node_id}: created_time_cutoff needs a created timestamp, "
                      f"but view {node} has none")
    try:
        return pit_join(spine, tab, spine_keys=[entity], spine_ts=spine_ts,
                        view_keys=[entity], view_ts=ts, view_created=created, features=feats,
                        ttl_s=view["ttl_s"], created_cutoff=cutoff,
                        spine_index=indexes[(entity, spine_ts)])
    except (TypeError, ValueError, pl.exceptions.PolarsError) as e:
        raise OpError(f"{ctx.node_id}: cannot join view {node} on {entity}: {e}") from None


def _pit_mode() -> str:
    mode = os.environ.get("SPECOPS_PIT_MODE", "auto")
    if mode not in ("auto", "memory", "partitioned"):
        raise OpError(f"SPECOPS_PIT_MODE must be auto, memory or partitioned, not {mode!r}")
    return mode


def _columns_in_memory(ctx: OpContext, spine: pl.DataFrame, views: list[dict[str, Any]],
                       base: list[str], cutoff: bool, ts: str | None
                       ) -> tuple[list[pl.DataFrame], list[str | None]]:
    """The whole table as one chunk, and each view's first output column (matched share)."""
    out_cols: dict[str, pl.Series] = {c: spine.get_column(c) for c in base}
    indexes = {(v["entity"], ts): index_spine(spine, [v["entity"]], ts)
               for v in views if ts and v.get("entity") in spine.columns}
    # views are independent: read and join two at a time (polars and numpy release the
    # GIL), results taken in view order so the output never depends on timing
    with ThreadPoolExecutor(max_workers=min(2, max(1, len(views)))) as pool:
        results = list(pool.map(lambda v: _join_view(ctx, spine, v, cutoff, indexes, ts),
                                views))
    firsts: list[str | None] = []
    for view, joined in zip(views, results, strict=True):
        rename = view["rename"]
        for c in joined.columns:
            out_cols[rename.get(c, c)] = joined.get_column(c).alias(rename.get(c, c))
        firsts.append(rename.get(joined.columns[0], joined.columns[0]) if joined.width
                      else None)
    return [pl.DataFrame(list(out_cols.values()))], firsts


def _columns_partitioned(ctx: OpContext, spine: pl.DataFrame, views: list[dict[str, Any]],
                         base: list[str], cutoff: bool, ts: str, work: Path
                         ) -> tuple[Iterator[pl.DataFrame], list[str | None]]:
    """The table in spine order, `_CHUNK` rows at a time: point-in-time views joined out of
    core by `pit_partitioned.join_files` (one join per spine entity column), static views
    in memory; only the join's inputs and one chunk of its output are held at once."""
    timed = [v for v in views if v.get("timestamp")]
    for v in timed:
        if cutoff and not v["created_timestamp"]:
            raise OpError(f"{ctx.node_id}: created_time_cutoff needs a created timestamp, "
                          f"but view {v['node']} has none")
        _read_check(ctx, v["node"], [v["entity"], v["timestamp"],
                                     v["created_timestamp"], *v["features"]])
    results: dict[str, JoinResult] = {}
    per_part = int(os.environ.get("SPECOPS_PIT_ROWS_PER_PART", ROWS_PER_PART))
    for entity in dict.fromkeys(v["entity"] for v in timed):
        inputs = [ViewInput(input_table(ctx, v["node"])[0], [entity], v["timestamp"],
                            list(v["features"]), v["created_timestamp"], v["ttl_s"], cutoff)
                  for v in timed if v["entity"] == entity]
        try:
            results[entity] = join_files(spine.select(entity, ts), inputs,
                                         work / f"join-{len(results)}", spine_keys=[entity],
                                         spine_ts=ts, mode="partitioned",
                                         rows_per_part=per_part, work_dir=work)
        except (TypeError, ValueError, pl.exceptions.PolarsError) as e:
            raise OpError(f"{ctx.node_id}: cannot join on {entity}: {e}") from None
    static = {id(v): _join_view(ctx, spine, v, cutoff, {}, ts)
              for v in views if not v.get("timestamp")}
    firsts: list[str | None] = []
    for v in views:
        feats = list(v["features"])
        firsts.append(v["rename"].get(feats[0], feats[0]) if feats else None)

    def chunks() -> Iterator[pl.DataFrame]:
        streams = {e: iter_in_order(r, _CHUNK) for e, r in results.items()}
        for start in range(0, spine.height, _CHUNK):
            parts = {e: next(s) for e, s in streams.items()}
            cols = [spine.get_column(c).slice(start, _CHUNK) for c in base]
            for v in views:
                src = parts[v["entity"]] if v.get("timestamp") else \
                    static[id(v)].slice(start, _CHUNK)
                cols.extend(src.get_column(f).alias(v["rename"].get(f, f))
                            for f in v["features"])
            yield pl.DataFrame(cols)

    return chunks(), firsts


def _read_check(ctx: OpContext, node: str, cols: list[str]) -> None:
    path, _ = input_table(ctx, node)
    schema = pl.scan_parquet(path).collect_schema()
    missing = [c for c in dict.fromkeys(cols) if c and c not in schema]
    if missing:
        raise OpError(f"{ctx.node_id}: {node} has no column(s) {', '.join(missing)} "
                      f"(it has {', '.join(schema.names())})")


class _SplitWriter:
    """Parquet in row groups of exactly `_ROW_GROUP` rows whatever the chunks it is fed,
    so the in-memory and partitioned paths write byte-identical files."""

    def __init__(self, path: Path) -> None:
        self.path, self.rows = path, 0
        self.buf: list[Any] = []
        self.writer: Any = None

    def write(self, df: pl.DataFrame) -> None:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        table = df.to_arrow()
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self.buf.append(table)
        self.rows += table.num_rows
        if self.rows >= _ROW_GROUP:
            pending = pa.concat_tables(self.buf)
            while pending.num_rows >= _ROW_GROUP:
                self._group(pending.slice(0, _ROW_GROUP))
                pending = pending.slice(_ROW_GROUP)
            self.buf, self.rows = [pending], pending.num_rows

    def _group(self, table: Any) -> None:
        # contiguous arrays: page boundaries then never depend on how chunks were cut
        self.writer.write_table(table.combine_chunks(), row_group_size=_ROW_GROUP)

    def close(self) -> None:
        import pyarrow as pa

        if self.rows:
            self._group(pa.concat_tables(self.buf))
        self.writer.close()


def build_training_set(ctx: OpContext) -> OpResult:
    p = ctx.params
    sp, label = p["spine"], p["label"]
    entity, ts = sp["entity"], sp["timestamp"]
    views = p["views"]
    if not ts:   # a table without time: lint (SPEC420) refuses whatever would need one
        timed = [v["node"] for v in views if v.get("timestamp")]
        if p["split"]["by"] == "time" or timed:
            why = "a time split" if p["split"]["by"] == "time" else \
                f"a point-in-time join of {', '.join(timed)}"
            raise OpError(f"{ctx.node_id}: {why} needs an event time, but the spine "
                          f"{sp['source']} has no timestamp")
    spine_cols = [c for c in [entity, ts, *(sp.get("columns") or [])] if c]
    need = [*spine_cols, *[v["entity"] for v in views if v.get("entity")]]
    if not label.get("key"):
        need.append(label["column"])
    spine = _read(ctx, f"source:{sp['source']}", need)
    spine = _label(ctx, spine, label)
    n_spine = spine.height
    spine = spine.filter(pl.col(label["column"]).is_not_null())
    no_label = n_spine - spine.height
    base = list(dict.fromkeys([*spine_cols, label["column"]]))
    seen = set(base)
    for view in views:   # every output name once, checked before any join
        if view.get("entity") and view["entity"] not in spine.columns:
            raise OpError(f"{ctx.node_id}: view {view['node']} joins on "
                          f"{view['entity']!r}, which the spine lacks")
        for c in view["features"]:
            name = view["rename"].get(c, c)
            if name in seen:
                raise OpError(f"{ctx.node_id}: column {name} comes from more than one "
                              f"input ({view['node']}); rename it")
            seen.add(name)
    cutoff = bool(p["created_time_cutoff"])
    timed_views = [v for v in views if v.get("timestamp")]
    mode = _pit_mode()
    if mode == "auto":
        total = spine.height + sum(parquet_rows(input_table(ctx, v["node"])[0])
                                   for v in timed_views)
        mode = "partitioned" if total > IN_MEMORY_MAX_ROWS else "memory"
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    work = ctx.out_dir / ".pit_parts"   # under the node's folder: shared on a cluster
    try:
        if mode == "partitioned" and ts and timed_views and spine.height:
            chunks, firsts = _columns_partitioned(ctx, spine, views, base, cutoff, ts, work)
        else:
            mode = "memory"
            frames, firsts = _columns_in_memory(ctx, spine, views, base, cutoff, ts)
            chunks = iter(frames)
        split = p["split"]   # as the compiler decided it (contract/op_params.py `Split`)
        order = spine.get_column(ts) if ts else pl.Series(np.arange(spine.height))
        test_mask = split_rows(order, split["by"], float(split["test_fraction"]),
                               split["seed"], spine.get_column(label["column"]))
        nulls = [0] * len(views)
        writers = (_SplitWriter(ctx.out_dir / "train.parquet"),
                   _SplitWriter(ctx.out_dir / "test.parquet"))
        start, schema_of = 0, None
        for chunk in chunks:
            mask = pl.Series(test_mask[start:start + chunk.height])
            writers[0].write(chunk.filter(~mask))
            writers[1].write(chunk.filter(mask))
            start += chunk.height
            schema_of = chunk.head(0) if schema_of is None else schema_of
            for i, f in enumerate(firsts):
                if f is not None:
                    nulls[i] += chunk.get_column(f).null_count()
        for w in writers:
            w.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert schema_of is not None
    matched = {v["node"]: round(1 - nulls[i] / max(spine.height, 1), 6)
               for i, v in enumerate(views) if firsts[i] is not None}
    n_test = int(test_mask.sum())
    n_train = spine.height - n_test
    schema = _schema(p, schema_of, n_train, n_test, no_label, matched)
    (ctx.out_dir / "schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True)
                                             + "\n")
    metrics = {"rows": float(spine.height), "train_rows": float(n_train),
               "test_rows": float(n_test), "rows_without_label": float(no_label)}
    lab = spine.get_column(label["column"])
    if lab.dtype.is_numeric() and lab.n_unique() <= 2:
        metrics["label_rate"] = float(np.mean(lab.cast(pl.Float64).to_numpy()))
    return OpResult(metrics=metrics, report={"matched_share": matched, "pit_mode": mode,
                                             **schema["rows"]},
                    message=f"{n_train} train / {n_test} test rows")


def _schema(p: dict[str, Any], table: pl.DataFrame, n_train: int, n_test: int,
            no_label: int, matched: dict[str, float]) -> dict[str, Any]:
    sp, label = p["spine"], p["label"]
    protected = list(p.get("protected") or [])
    keys = {sp["entity"], sp["timestamp"], label["column"], label.get("key")}
    types = {c: plan_type(t) for c, t in table.schema.items()}
    if p.get("inputs"):
        inputs = [dict(i) for i in p["inputs"]]
    else:
        inputs = [{"name": c, "type": t, "role": "categorical" if t in _CATEGORICAL
                   else "numeric"} for c, t in types.items()
                  if c not in keys and c not in protected]
    return {
        "inputs": inputs, "label": {"name": label["column"], "type": types[label["column"]]},
        # names only: runtime/training/preprocess.py and evaluate read it as a list of columns
        "protected": protected,
        "roles": {**{i["name"]: i["role"] for i in inputs},
                  **dict.fromkeys(protected, "protected")},
        "inputs_from": "params" if p.get("inputs") else "inferred",
        "entity": sp["entity"], "timestamp": sp["timestamp"], "columns": types,
        "created_time_cutoff": bool(p.get("created_time_cutoff")),
        "split": p.get("split"), "matched_share": matched,
        "rows": {"train": n_train, "test": n_test, "without_label": no_label},
    }
