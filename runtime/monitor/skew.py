"""Online/offline skew: the served feature vector against the offline recomputation.

Why measured and not assumed: the server computes request-time features with its own
compiled closures and reads entity features from the online store, which is only as
fresh as the last `materialize`/`push`. Either can drift from what training would have
computed. For every prediction the online-mode server logged (runtime/serve/features:
the vector as the model saw it, the raw fields `raw.<field>` and `features_at`, the
request time), this recomputes the vector offline for the same entity and time:
- entity views: `add_features` (runtime/serve/batch.py), the offline point-in-time join
  over the view's current offline data, as of `features_at`;
- request-time views: the compiled trees through the offline data backend
  (`runtime/data/expr_polars.py`) on the logged raw fields;
- spine columns: the raw fields themselves;
then casts it as training prepared it (`prepare_frame`) and compares feature by feature:
`mismatch_share` (rows whose served value differs: exact comparison of the FP32 values
or strings, null equal only to null) and `max_abs_diff` (over rows where both are
numbers). A feature whose mismatch share is above the threshold is in breach.

Typical causes of skew it finds: a store materialized long before the requests while new
source rows arrived since (stale entity features), late data, or a serving bug.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

__all__ = ["SkewError", "skew_report"]


class SkewError(LookupError):
    """Nothing to compare (no online-mode predictions) or the plan cannot recompute."""


def _offline(plan: Any, root: Path, model: str, features: list[Any], log: pl.DataFrame,
             store_url: str | None) -> pl.DataFrame:
    from specops.runtime.data.expr_polars import DTYPES, to_polars
    from specops.runtime.serve.batch import BatchError, add_features
    from specops.runtime.serve.features import RAW_PREFIX, TIME_COLUMN, raw_signature

    sig = raw_signature(plan, model, [f.name for f in features])
    cols = []
    for f in sig.fields:
        name = f"{RAW_PREFIX}{f.name}"
        if name not in log.columns:
            raise SkewError(f"the log lacks {name}: it was not written by this model's "
                            "online mode")
        cols.append(log.get_column(name).cast(DTYPES[f.type], strict=False).alias(f.name))
    frame = pl.DataFrame(cols).with_columns(log.get_column(TIME_COLUMN).cast(
        pl.Datetime("us", "UTC")).alias(sig.timestamp))
    entity_cols = [c for v in sig.entity_views for c in v.columns]
    if entity_cols:
        try:
            frame = add_features(frame, entity_cols, plan, model, root, store_url)
        except BatchError as exc:
            raise SkewError(f"recomputing the entity features failed: {exc}") from None
    trees = [to_polars(tree).alias(name) for v in sig.request_views
             for name, tree in v.features]
    if trees:
        frame = frame.with_columns(trees)
    return frame


def _compare(served: pl.Series, offline: pl.Series, numeric: bool) -> dict[str, Any]:
    if numeric:
        a = served.cast(pl.Float32, strict=False).fill_nan(None).to_numpy().astype(np.float64)
        b = offline.cast(pl.Float32, strict=False).fill_nan(None).to_numpy().astype(np.float64)
        a_null, b_null = np.isnan(a), np.isnan(b)
        both = ~a_null & ~b_null
        differ = (a_null != b_null) | (both & (a != b))
        diff = float(np.abs(a[both] - b[both]).max()) if both.any() else 0.0
    else:
        sa = served.cast(pl.Utf8).to_list()
        sb = offline.cast(pl.Utf8).to_list()
        differ = np.array([x != y for x, y in zip(sa, sb, strict=True)], dtype=bool)
        diff = None
    n = len(differ)
    return {"mismatches": int(differ.sum()),
            "mismatch_share": float(differ.sum()) / n if n else 0.0,
            "max_abs_diff": diff,
            "null_mismatches": int((a_null != b_null).sum()) if numeric else None}


def skew_report(plan: Any, root: Path, model: str, features: list[Any], log: pl.DataFrame,
                threshold: float, store_url: str | None = None) -> dict[str, Any]:
    """Per model input: served vs offline for every online-mode prediction in `log`."""
    from specops.runtime.serve.features import TIME_COLUMN
    from specops.runtime.training.preprocess import prepare_frame

    if TIME_COLUMN not in log.columns or log.get_column(TIME_COLUMN).null_count() == \
            log.height:
        raise SkewError("the prediction log has no online-mode predictions (serve with "
                        "--features online)")
    log = log.filter(pl.col(TIME_COLUMN).is_not_null())
    offline = prepare_frame(_offline(plan, root, model, features, log, store_url), features)
    rows = []
    for f in features:
        if f.name not in log.columns:
            raise SkewError(f"the log lacks the model input {f.name}")
        rows.append({"feature": f.name, **_compare(log.get_column(f.name),
                                                   offline.get_column(f.name),
                                                   f.role == "numeric")})
    breach = [r["feature"] for r in rows if r["mismatch_share"] > threshold]
    ts = log.get_column(TIME_COLUMN)
    return {"model": model, "rows": log.height, "threshold": threshold,
            "from": str(ts.min()), "to": str(ts.max()), "features": rows,
            "in_breach": breach}
