"""`evaluate`: metrics of the trained pipeline on the held-out split.

Why: gates, reports and the registry all read one `evaluation.json` computed once on the
test rows the model never saw: task metrics, metrics per slice, fairness per protected
attribute (fairlearn definitions over the spec's favourable decisions, banded groups for a
banded attribute, every group's counts kept so each gate applies its own minimum size;
`fairness_settings` records the decision and band edges for the report and the monitor),
and plot data (ROC, PR, reliability)
so reports render without re-scoring. Protected attributes are read from the raw test rows;
they are never model inputs.

`model.joblib` comes from the `train` node's directory in the content-addressed store
(written by specops, hash-verified by the runtime before reuse); no user pickle is loaded.

Outputs: `evaluation.json`, `predictions.parquet` (label, prediction, probability), and
`profile/`: the monitoring reference profile of the training inputs, the test-set score and
these metrics (runtime/monitor/reference.py), which `register` ships with the version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import polars as pl

from specops.contract.op_params import EvaluateParams
from specops.runtime.engine.op_inputs import find_input_file, read_json
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult
from specops.runtime.evaluation import (
    calibration_curve_data,
    classification_metrics,
    curve_data,
    fairness_report,
    regression_metrics,
    slice_metrics,
)
from specops.runtime.evaluation.banding import (
    FairnessSettings,
    band_edges,
    band_groups,
    band_names,
    describe,
    favourable,
)
from specops.runtime.evaluation.soundness import soundness
from specops.runtime.training.preprocess import Feature, prepare_frame, read_schema

__all__ = ["evaluate"]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v.get("column") or v.get("name")) if isinstance(v, dict) else str(v)
            for v in value]


def _write_profile(ctx: OpContext, train_path: Path, features: list[Feature],
                   score: Any, metrics: dict[str, float]) -> None:
    """The monitoring reference (bins from the model's `monitoring.drift` when the plan's
    models table has it; the monitor re-bins from the stored sorted sample otherwise)."""
    from specops.runtime.monitor.reference import write_reference_profile

    if not train_path.is_file():
        return
    model = ctx.node_id.split(":", 1)[-1]
    drift = ((ctx.extra.get("plan_models") or {}).get(model) or {}).get("monitoring") or {}
    drift = drift.get("drift") or {}
    write_reference_profile(ctx.out_dir / "profile", pl.read_parquet(train_path),
                            [(f.name, f.role) for f in features], score, metrics,
                            bins=int(drift.get("bins", 10)),
                            strategy=str(drift.get("binning", "quantile")))


def _settings(p: EvaluateParams, train_path: Path, protected: list[str]) -> FairnessSettings:
    """The spec's fairness block with every band's edges fixed now: quantile bands are cut
    on the training split, so evaluation, gates, report and monitor share one grouping."""
    fp = p.fairness
    if fp is None:
        return FairnessSettings()
    edges: dict[str, list[float]] = {}
    train = pl.read_parquet(train_path) if train_path.is_file() else None
    for col, spec in fp.bands.items():
        if col not in protected:
            continue
        if isinstance(spec, tuple):
            edges[col] = band_edges(np.asarray([]), spec)
            continue
        if train is None or col not in train.columns:
            raise OpError(f"quantile bands of {col!r} need it in the training split")
        values = train.get_column(col).cast(pl.Float64).to_numpy()
        edges[col] = band_edges(values, {"quantiles": spec.quantiles})
    return FairnessSettings(fp.favorable, fp.threshold, edges)


def _fairness(p: EvaluateParams, raw: pl.DataFrame, train_path: Path, protected: list[str],
              y: np.ndarray, y_pred: np.ndarray, classes: list[Any], proba: Any,
              min_group: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per protected attribute: group rates of the favourable decision (banded groups for
    a banded attribute), and the settings that defined them (stored for the monitor)."""
    settings = _settings(p, train_path, protected)
    out: dict[str, Any] = {}
    try:
        truth, decision = favourable(settings, classes, y, proba, y_pred)
    except ValueError as exc:
        raise OpError(str(exc)) from exc
    note = None
    if len(classes) > 2 and settings.favorable is None:
        note = "group fairness on a multiclass model needs fairness.favorable (a class)"
    elif decision is None:
        note = ("group fairness on a regression needs fairness.favorable (higher_score or "
                "lower_score) and a threshold")
    for col in protected:
        if col not in raw.columns:
            raise OpError(f"protected column {col!r} missing from test.parquet")
        if note is not None or truth is None or decision is None:
            out[col] = {"note": note}
            continue
        groups = band_groups(raw.get_column(col).to_numpy(), settings.bands.get(col))
        out[col] = fairness_report(truth, decision, groups, min_group)
        if col in settings.bands:
            out[col]["bands"] = band_names(settings.bands[col])
    doc = settings.to_json()
    if classes and note is None:
        doc["favorable_label"] = settings.favourable_label(classes)
        doc["threshold"] = 0.5 if settings.threshold is None else settings.threshold
    doc["description"] = describe(settings, classes) if note is None else note
    return out, doc


def evaluate(ctx: OpContext) -> OpResult:
    model_path = find_input_file(ctx, "model.joblib")
    trained = read_json(model_path.parent / "params.json")
    test_path = find_input_file(ctx, "test.parquet")
    schema = read_schema(test_path.parent)
    p = ctx.typed(EvaluateParams)   # as the compiler decided them (docs/plan.md)
    task = p.task
    features = [Feature(**f) for f in trained["inputs"]]
    label = trained["label"]
    min_group = p.min_group_size
    raw = pl.read_parquet(test_path)
    if raw.height == 0:
        raise OpError("the test split is empty")
    if label not in raw.columns:
        raise OpError(f"label column {label!r} missing from test.parquet")
    pipe = joblib.load(model_path)
    x = prepare_frame(raw, features)
    y = raw.get_column(label).to_numpy()
    y_pred = pipe.predict(x)
    classification = "regression" not in task
    proba: Any = None
    doc: dict[str, Any] = {"task": task, "n": int(raw.height), "min_group_size": min_group,
                           "label": label}
    cols: dict[str, Any] = {"y_true": y, "y_pred": y_pred}

    if classification:
        classes = list(trained.get("classes") or sorted(np.unique(y).tolist()))
        proba = pipe.predict_proba(x)

        def compute(mask: np.ndarray) -> dict[str, float]:
            out: dict[str, float] = classification_metrics(y[mask], y_pred[mask],
                                                           proba[mask], classes)
            return out

        doc["metrics"] = compute(np.ones(len(y), dtype=bool))
        doc["classes"] = classes
        if len(classes) == 2:
            yb = (y == classes[1]).astype(np.int64)
            pb = proba[:, 1]
            cols["proba"] = pb
            doc["plots"] = {**curve_data(yb, pb), "calibration": calibration_curve_data(yb, pb)}
    else:
        def compute(mask: np.ndarray) -> dict[str, float]:
            out: dict[str, float] = regression_metrics(y[mask], y_pred[mask])
            return out

        doc["metrics"] = compute(np.ones(len(y), dtype=bool))

    requested = list(p.metrics)
    unknown = [m for m in requested if m not in doc["metrics"]]
    if unknown:
        doc["unavailable_metrics"] = unknown

    doc["slices"] = {}
    for col in p.slices:
        if col not in raw.columns:
            raise OpError(f"slice column {col!r} missing from test.parquet")
        doc["slices"][col] = slice_metrics(raw.get_column(col).to_numpy(), compute, min_group)

    protected = list(p.protected) or _as_list(schema.get("protected"))
    doc["fairness"], doc["fairness_settings"] = _fairness(
        p, raw, test_path.parent / "train.parquet", protected, y, y_pred,
        doc.get("classes") or [], proba if classification else None, min_group)

    # benchmark model, permutation importance, sensitivity (runtime/evaluation/soundness.py)
    doc["soundness"] = soundness(pipe, test_path.parent / "train.parquet", raw, features,
                                 label, doc.get("classes") or [], classification,
                                 int(trained.get("seed") or 0))

    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    (ctx.out_dir / "evaluation.json").write_text(
        json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    pl.DataFrame(cols).write_parquet(ctx.out_dir / "predictions.parquet")
    metrics = {k: float(v) for k, v in doc["metrics"].items()}
    for col, rep in doc["fairness"].items():
        for key in ("demographic_parity_difference", "disparate_impact",
                    "equalized_odds_difference"):
            if rep.get(key) is not None:
                metrics[f"{key}:{col}"] = float(rep[key])
    _write_profile(ctx, test_path.parent / "train.parquet", features,
                   cols.get("proba", None if classification else y_pred), metrics)
    headline = next((k for k in ("roc_auc", "accuracy", "rmse") if k in metrics), "n")
    return OpResult(metrics=metrics,
                    report={"metrics": doc["metrics"], "slices": sorted(doc["slices"]),
                            "protected": protected},
                    message=f"{headline}={metrics[headline]:.4f} on {raw.height} test rows")
