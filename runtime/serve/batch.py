"""`specops predict`: score a file with a registry version, partitions in parallel.

Why features come from the plan: a batch input usually holds the entity and an "as of"
time (or raw source rows), not the model's feature columns. When any model input is
missing, the input is raw data, and every input a feature view provides is computed (a
raw column of the same name is not the feature: `coalesce(employment_years, 0.0)`) the
way the training set got it: the model's `training_set:<model>` node says which feature
views provide which columns and how they join; those view nodes run through the normal runtime
(`execute_plan`, so they are cache hits when training already computed them), and each
view is joined point-in-time onto the input with the training set's own `_join_view`
(same TTL, created-time cutoff and renames), so a score here equals the score the model
would get on the same row of its training set.

Why Ray tasks per partition: onnxruntime scores a partition in one call (batch scoring is
throughput-bound); partitions go to `ray_map` (the executor's mapper) when a Ray executor
is chosen, each task verifying and loading the model once, or run in this process in
order with the inline executor. Partition results are concatenated in input order.

Output: the input's entity and timestamp columns (when known: `--keep`, else the
training spine's), or every non-feature input column when neither is known, then
`label` and `probability_<class>` per class (classification) or `prediction`, plus
`model` and `version`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specops.runtime.serve.served_model import LoadedModel, ModelSource, load_model
from specops.runtime.training.preprocess import Feature, onnx_feed, prepare_frame

__all__ = ["BatchError", "add_features", "predict_file", "read_input", "score_frame",
           "score_partition"]


class BatchError(RuntimeError):
    """The input cannot be scored (missing columns, unknown format)."""


def read_input(path: Path) -> pl.DataFrame:
    """Parquet or CSV: a file, a directory of parts, or a glob."""
    text = str(path)
    if path.is_dir():
        files = sorted(path.glob("*.parquet")) or sorted(path.glob("*.csv"))
        if not files:
            raise BatchError(f"{path}: no .parquet or .csv files")
        return pl.concat([read_input(f) for f in files], how="vertical_relaxed")
    if any(ch in text for ch in "*?["):
        return pl.read_parquet(text) if text.endswith(".parquet") else pl.read_csv(text)
    if not path.exists():
        raise BatchError(f"no such file: {path}")
    if path.suffix == ".csv":
        return pl.read_csv(path, try_parse_dates=True)
    return pl.read_parquet(path)


def _output_frame(model: LoadedModel, result: dict[str, np.ndarray]) -> pl.DataFrame:
    arrays = [np.asarray(v) for v in result.values()]
    cols: dict[str, Any] = {}
    if len(arrays) > 1 and model.classes:
        label = arrays[0].reshape(-1)
        cols["label"] = label.astype(str) if label.dtype == object else label
        proba = arrays[1]
        for j, cls in enumerate(model.classes):
            cols[f"probability_{cls}"] = proba[:, j].astype(np.float32)
    else:
        cols["prediction"] = arrays[0].reshape(-1)
    return pl.DataFrame(cols)


def score_frame(model: LoadedModel, df: pl.DataFrame) -> pl.DataFrame:
    """Model outputs for the rows of `df` (which holds every model input)."""
    frame = prepare_frame(df, model.features)
    return _output_frame(model, model.run(onnx_feed(frame, model.features)))


def score_partition(task: tuple[ModelSource, pl.DataFrame]) -> pl.DataFrame:
    """One partition: verify and load the model in this worker, then score (Ray task)."""
    source, df = task
    return score_frame(load_model(source), df)


def _feature_views(plan: Any, model: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    node = plan.by_id.get(f"training_set:{model}") if plan is not None else None
    if node is None:
        return {}, []
    return dict(node.params), list(node.params.get("views") or [])


def add_features(df: pl.DataFrame, missing: list[str], plan: Any, model: str,
                 project_root: Path, store_url: str | None) -> pl.DataFrame:
    """Compute the `missing` model inputs from the plan's feature views, point-in-time."""
    from specops.runtime.data.build_training_set import _join_view
    from specops.runtime.data.pit import index_spine
    from specops.runtime.engine.op_interface import OpContext, OpError
    from specops.runtime.engine.run_loop import execute_plan

    params, views = _feature_views(plan, model)
    wanted = []
    for v in views:
        rename = v.get("rename") or {}
        provides = {rename.get(f, f) for f in v["features"]}
        if provides & set(missing):
            wanted.append(v)
    still = set(missing) - {(v.get("rename") or {}).get(f, f) for v in wanted
                            for f in v["features"]}
    if still:
        raise BatchError(f"input lacks model input(s) {', '.join(sorted(still))} and no "
                         "feature view of the model's training set provides them")
    ts = params["spine"]["timestamp"]
    for col in {ts, *(v["entity"] for v in wanted)}:
        if col not in df.columns:
            raise BatchError(f"input needs column {col!r} to join features point-in-time")
    result = execute_plan(plan, project_root, executor="inline",
                          select=[v["node"] for v in wanted], store_url=store_url)
    if not result.ok:
        failed = "; ".join(f"{o.node_id}: {o.cause}" for o in result.failed)
        raise BatchError(f"computing features failed: {failed}")
    dirs = {nid: o.path for nid, o in result.nodes.items() if o.path is not None}
    ctx = OpContext(node_id=f"predict:{model}", op="predict", params={},
                    project_root=project_root, out_dir=project_root, inputs=dirs,
                    run_id=result.run_id, fingerprint="", resources={}, extra={})
    if df.schema[ts] != pl.Datetime("us", "UTC"):
        from specops.runtime.data.pit import as_utc_us

        df = df.with_columns(as_utc_us(pl.col(ts), df.schema[ts]).alias(ts))
    indexes = {(v["entity"], ts): index_spine(df, [v["entity"]], ts) for v in wanted}
    cutoff = bool(params.get("created_time_cutoff"))
    out = df
    for v in wanted:
        try:
            joined = _join_view(ctx, df, v, cutoff, indexes, ts)
        except OpError as exc:
            raise BatchError(str(exc)) from None
        rename = v.get("rename") or {}
        joined = joined.rename({c: rename.get(c, c) for c in joined.columns})
        out = out.with_columns([joined.get_column(c) for c in joined.columns
                                if c in missing])   # replaces same-named raw columns
    return out


def predict_file(source: ModelSource, input_path: Path, output_path: Path, *,
                 plan: Any = None, store_url: str | None = None, keep: list[str] | None = None,
                 partitions: int | None = None,
                 mapper: Callable[..., list[Any]] | None = None) -> dict[str, Any]:
    """Score `input_path` into `output_path` (parquet or csv); returns a summary."""
    model = load_model(source)   # verify on the driver first: refuse before any work
    df = read_input(input_path)
    features: list[Feature] = model.features
    missing = [f.name for f in features if f.name not in df.columns]
    if missing:
        # raw input: every input a feature view provides is computed by the view, also
        # when a raw column has its name (`coalesce(employment_years, 0.0)` is not the
        # raw `employment_years`); inputs no view provides are taken from the input
        names = {f.name for f in features}
        from_views = {(v.get("rename") or {}).get(f, f) for v in _feature_views(
            plan, model.name)[1] if str(v["node"]).startswith("features:")
            for f in v["features"]}
        missing = sorted(set(missing) | (from_views & names))
        df = add_features(df, missing, plan, model.name, Path(source.project_root), store_url)
    params, _ = _feature_views(plan, model.name)
    if keep is None:
        spine = params.get("spine") or {}
        keep = [c for c in (spine.get("entity"), spine.get("timestamp")) if c and c in
                df.columns]
        if not keep:
            names = {f.name for f in features}
            keep = [c for c in df.columns if c not in names]
    absent = [c for c in keep if c not in df.columns]
    if absent:
        raise BatchError(f"--keep column(s) not in the input: {', '.join(absent)}")
    n = partitions or max(1, min(64, df.height // 250_000))
    size = -(-df.height // n) if df.height else 1
    parts = [df.slice(i * size, size) for i in range(n)] if df.height else [df]
    inputs = [f.name for f in features]
    if mapper is not None and len(parts) > 1:
        scored = mapper(score_partition, [(source, p.select(inputs)) for p in parts],
                        num_cpus=source.threads)
    else:
        scored = [score_frame(model, p) for p in parts]
    out = pl.concat([pl.concat([p.select(keep), s], how="horizontal")
                     for p, s in zip(parts, scored, strict=True)])
    out = out.with_columns(pl.lit(model.name).alias("model"),
                           pl.lit(model.version, dtype=pl.Int32).alias("version"))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    if output_path.suffix == ".csv":
        out.write_csv(output_path)
    else:
        out.write_parquet(output_path)
    return {"model": model.ref, "rows": out.height, "partitions": len(parts),
            "output": str(output_path), "features_computed": missing}
