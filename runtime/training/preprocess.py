"""Preprocessing built from declared feature types, designed to convert to ONNX exactly.

Why this shape:
- One `ColumnTransformer` inside one `Pipeline`, so the fitted object *is* the model that
  skl2onnx converts; no preprocessing lives outside what gets packaged, except the two
  steps ONNX-ML cannot express, which `prepare_frame` applies identically in training,
  evaluation, export and serving.
- **Numeric columns are float32 from end to end.** skl2onnx computes in float32; a float64
  HGB graph fails to load in onnxruntime, and trees are discontinuous, so feeding
  scikit-learn float64 values that ONNX later sees as float32 flips branches. Casting the
  data to float32 *before fitting* means both see the same numbers (HGB matched to 1e-7 with
  no label flips on test data). Numeric: `SimpleImputer(median)` + `StandardScaler` (the
  scaler is skipped for trees: it changes nothing for them but adds `(x-m)*(1/s)` vs
  `(x-m)/s` rounding differences that move rows across thresholds).
- **Categorical columns are strings with nulls filled by a constant before the pipeline**:
  ONNX-ML has no string imputer. `OneHotEncoder(handle_unknown="ignore")` then maps unseen
  and missing categories deterministically. Dense output, because HGB refuses sparse input.
- One ONNX input per column (name = column name, `[None, 1]`), which is what the
  Open Inference Protocol and skl2onnx's ColumnTransformer support expect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specops.runtime.engine.op_interface import OpError

__all__ = ["MISSING_CATEGORY", "Feature", "build_pipeline", "build_preprocessor",
           "features_from", "onnx_feed", "onnx_input_types", "prepare_frame", "read_schema"]

MISSING_CATEGORY = "__missing__"

_NUMERIC_TYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                  "float32", "float64", "float", "int", "bool", "boolean", "double"}


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    role: str          # "numeric" | "categorical"
    type: str = ""


def read_schema(dataset_dir: Path) -> dict[str, Any]:
    """The dataset op's `schema.json`, or an empty dict when absent."""
    path = dataset_dir / "schema.json"
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _feature(item: Any) -> Feature:
    if isinstance(item, str):
        return Feature(item, "numeric")
    name = item.get("name") or item.get("column")
    if not name:
        raise OpError(f"feature declaration without a name: {item!r}")
    ftype = str(item.get("type", ""))
    role = item.get("role") or ("numeric" if ftype in _NUMERIC_TYPES or not ftype
                                else "categorical")
    if role not in ("numeric", "categorical"):
        raise OpError(f"feature {name!r}: role must be numeric or categorical, got {role!r}")
    return Feature(str(name), str(role), ftype)


def features_from(params: dict[str, Any], schema: dict[str, Any]) -> tuple[list[Feature], str]:
    """Model inputs and label: from the op params (the plan), else from the dataset schema."""
    raw = params.get("inputs") or schema.get("inputs") or schema.get("features") or []
    if isinstance(raw, dict):
        raw = [{"name": k, **(v if isinstance(v, dict) else {"type": v})}
               for k, v in sorted(raw.items())]
    features = [_feature(item) for item in raw]
    label = params.get("label") or schema.get("label")
    if isinstance(label, dict):
        label = label.get("column") or label.get("name")
    if not features:
        raise OpError("no model inputs declared (params.inputs or schema.json inputs)")
    if not label:
        raise OpError("no label column declared (params.label or schema.json label)")
    protected = {p.get("name") if isinstance(p, dict) else p
                 for p in (schema.get("protected") or [])}
    leaked = sorted(f.name for f in features if f.name in protected)
    if leaked:
        raise OpError(f"protected attribute(s) {', '.join(leaked)} used as model inputs")
    return features, str(label)


def prepare_frame(df: pl.DataFrame, features: list[Feature]) -> pl.DataFrame:
    """Select the inputs in declared order with the dtypes the ONNX graph takes."""
    missing = [f.name for f in features if f.name not in df.columns]
    if missing:
        raise OpError(f"input column(s) missing from the data: {', '.join(missing)}")
    exprs = []
    for f in features:
        col = pl.col(f.name)
        if f.role == "numeric":
            exprs.append(col.cast(pl.Float32, strict=False).fill_nan(None).alias(f.name))
        else:
            exprs.append(col.cast(pl.Utf8).fill_null(MISSING_CATEGORY).alias(f.name))
    return df.select(exprs)


def build_preprocessor(features: list[Feature], scale: bool) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f.name for f in features if f.role == "numeric"]
    categorical = [f.name for f in features if f.role == "categorical"]
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
        if scale:
            steps.append(("scale", StandardScaler()))
        parts.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        parts.append(("categorical",
                      OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def build_pipeline(features: list[Feature], estimator: Any, tree: bool) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", build_preprocessor(features, scale=not tree)),
                     ("model", estimator)])


def onnx_input_types(features: list[Feature]) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [(f.name, FloatTensorType([None, 1]) if f.role == "numeric"
             else StringTensorType([None, 1])) for f in features]


def onnx_feed(df: pl.DataFrame, features: list[Feature]) -> dict[str, np.ndarray]:
    """Column arrays for onnxruntime from a frame already passed through `prepare_frame`."""
    feed: dict[str, np.ndarray] = {}
    for f in features:
        series = df.get_column(f.name)
        if f.role == "numeric":
            feed[f.name] = series.to_numpy().astype(np.float32).reshape(-1, 1)
        else:
            feed[f.name] = np.asarray(series.to_list(), dtype=object).reshape(-1, 1)
    return feed
