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
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl

from specops.runtime.data.pit import SpineIndex, index_spine, pit_join
from specops.runtime.data.table_files import input_table, plan_type
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult

__all__ = ["build_training_set", "split_rows"]

_CATEGORICAL = {"string", "bool"}


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
    out_cols: dict[str, pl.Series] = {c: spine.get_column(c)
                                      for c in dict.fromkeys([*spine_cols, label["column"]])}
    indexes = {(v["entity"], ts): index_spine(spine, [v["entity"]], ts)
               for v in views if ts and v.get("entity") in spine.columns}
    matched: dict[str, float] = {}
    cutoff = bool(p["created_time_cutoff"])
    # views are independent: read and join two at a time (polars and numpy release the
    # GIL), results taken in view order so the output never depends on timing
    with ThreadPoolExecutor(max_workers=min(2, max(1, len(views)))) as pool:
        results = list(pool.map(lambda v: _join_view(ctx, spine, v, cutoff, indexes, ts),
                                views))
    for view, joined in zip(views, results, strict=True):
        rename = view["rename"]
        for c in joined.columns:
            name = rename.get(c, c)
            if name in out_cols:
                raise OpError(f"{ctx.node_id}: column {name} comes from more than one "
                              f"input ({view['node']}); rename it")
            out_cols[name] = joined.get_column(c).alias(name)
        if joined.width:
            first = joined.get_column(joined.columns[0])
            matched[view["node"]] = round(1 - first.null_count() / max(len(first), 1), 6)
    table = pl.DataFrame(list(out_cols.values()))
    split = p["split"]   # as the compiler decided it (contract/op_params.py `Split`)
    order = table.get_column(ts) if ts else pl.Series(np.arange(table.height))
    test_mask = split_rows(order, split["by"], float(split["test_fraction"]), split["seed"],
                           table.get_column(label["column"]))
    mask = pl.Series(test_mask)
    train, test = table.filter(~mask), table.filter(mask)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    train.write_parquet(ctx.out_dir / "train.parquet", compression="zstd")
    test.write_parquet(ctx.out_dir / "test.parquet", compression="zstd")
    schema = _schema(p, table, train.height, test.height, no_label, matched)
    (ctx.out_dir / "schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True)
                                             + "\n")
    metrics = {"rows": float(table.height), "train_rows": float(train.height),
               "test_rows": float(test.height), "rows_without_label": float(no_label)}
    lab = table.get_column(label["column"])
    if lab.dtype.is_numeric() and lab.n_unique() <= 2:
        metrics["label_rate"] = float(np.mean(lab.cast(pl.Float64).to_numpy()))
    return OpResult(metrics=metrics, report={"matched_share": matched, **schema["rows"]},
                    message=f"{train.height} train / {test.height} test rows")


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
