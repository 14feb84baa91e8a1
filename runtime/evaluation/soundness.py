"""Conceptual-soundness evidence computed by `evaluate`: a benchmark model, permutation
feature importance and a one-at-a-time sensitivity analysis, all on the held-out test set.

Why in `evaluate` and not at report time: SR 11-7 asks that the evidence a validator
reviews be the evidence that was produced; `evaluate` holds the fitted pipeline, the
training split and the test rows, and its `evaluation.json` is signed with the version.
The report then reads these numbers back, like every other figure, instead of re-scoring a
model it cannot vouch for.

- **Benchmark model**: the simplest credible alternative trained in the same run on the
  same split and inputs: logistic regression (classification) or linear regression
  (regression) behind the same imputing, scaling and one-hot preprocessing. If the
  selected model does not beat it, its extra complexity is not earning its keep.
- **Permutation importance** (Breiman 2001; scikit-learn's definition): the drop in the
  test score when one input column is shuffled, `repeats` times with a fixed seed; the
  score is ROC AUC (binary), accuracy (multiclass) or R² (regression).
- **Sensitivity**: each input moved across its test-set quantiles (5th to 95th) for a
  fixed sample of rows, every other input left as it was; the mean prediction at each
  point (partial dependence) and the swing (max - min) say how strongly and in which
  direction the model responds.

Deterministic: the seed is the training seed; rows are capped so the step stays fast
(`MAX_ROWS` for importance, `SENSITIVITY_ROWS` for sensitivity).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from specops.runtime.evaluation.classification import classification_metrics
from specops.runtime.evaluation.regression import regression_metrics
from specops.runtime.training.preprocess import Feature, build_preprocessor, prepare_frame

__all__ = ["benchmark_model", "permutation_importance", "sensitivity", "soundness"]

MAX_ROWS = 5000
SENSITIVITY_ROWS = 1000
REPEATS = 5
QUANTILES = (0.05, 0.15, 0.25, 0.35, 0.5, 0.65, 0.75, 0.85, 0.95)
MAX_CATEGORIES = 12

Predict = Callable[[pl.DataFrame], np.ndarray]


def _score_fn(classes: list[Any], classification: bool
              ) -> tuple[str, Callable[[np.ndarray, Any], float]]:
    from sklearn import metrics as m

    if classification and len(classes) == 2:
        return "roc_auc", lambda y, p: float(m.roc_auc_score(y == classes[1], p[:, 1]))
    if classification:
        return "accuracy", lambda y, p: float(
            m.accuracy_score(y, np.asarray(classes, dtype=object)[p.argmax(axis=1)]))
    return "r2", lambda y, p: float(m.r2_score(y, p))


def benchmark_model(train: pl.DataFrame, test: pl.DataFrame, features: list[Feature],
                    label: str, classes: list[Any], classification: bool) -> dict[str, Any]:
    """A linear model trained on the same training split and evaluated on the same test
    rows as the selected model."""
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline

    est: Any = LogisticRegression(max_iter=2000) if classification else LinearRegression()
    pipe = Pipeline([("preprocess", build_preprocessor(features, scale=True)),
                     ("model", est)])
    x_train, y_train = prepare_frame(train, features), train.get_column(label).to_numpy()
    x_test, y_test = prepare_frame(test, features), test.get_column(label).to_numpy()
    pipe.fit(x_train, y_train)
    if classification:
        metrics = classification_metrics(y_test, pipe.predict(x_test),
                                         pipe.predict_proba(x_test), classes)
    else:
        metrics = regression_metrics(y_test, pipe.predict(x_test))
    name = type(est).__name__
    return {"estimator": name, "n_train": int(train.height), "n_test": int(test.height),
            "description": f"{name} on the same inputs (median imputation, standard scaling, "
                           "one-hot categories), same training split, same test rows",
            "metrics": metrics}


def permutation_importance(predict: Predict, x: pl.DataFrame, y: np.ndarray,
                           features: list[Feature], classes: list[Any], classification: bool,
                           seed: int, repeats: int = REPEATS) -> dict[str, Any]:
    """Mean and standard deviation of the score drop per shuffled input."""
    scoring, score = _score_fn(classes, classification)
    base = score(y, predict(x))
    if not np.isfinite(base):
        raise ValueError("the test score is undefined on these rows")
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for f in features:
        col = x.get_column(f.name)
        drops = []
        for _ in range(repeats):
            shuffled = x.with_columns(col.gather(rng.permutation(x.height)).alias(f.name))
            drops.append(base - score(y, predict(shuffled)))
        rows.append({"feature": f.name, "role": f.role, "mean": float(np.mean(drops)),
                     "std": float(np.std(drops))})
    rows.sort(key=lambda r: (-r["mean"], r["feature"]))
    return {"scoring": scoring, "baseline_score": base, "repeats": repeats,
            "n_rows": int(x.height), "seed": seed, "features": rows}


def _grid(col: pl.Series, role: str) -> list[Any]:
    if role == "categorical":
        counts = col.value_counts(sort=True)
        return sorted(str(v) for v in counts.get_column(col.name).head(MAX_CATEGORIES))
    values = col.drop_nulls().cast(pl.Float64)
    if values.len() == 0:
        return []
    points = sorted({round(float(v), 6) for v in
                     np.quantile(values.to_numpy(), QUANTILES, method="nearest")})
    return points


def sensitivity(predict_mean: Callable[[pl.DataFrame], float], x: pl.DataFrame,
                features: list[Feature], order: list[str]) -> dict[str, Any]:
    """Mean prediction with one input set to each point of its grid, per input (in
    importance order), on the same rows."""
    base = predict_mean(x)
    by_name = {f.name: f for f in features}
    out = []
    for name in order:
        f = by_name[name]
        grid = _grid(x.get_column(f.name), f.role)
        if len(grid) < 2:
            continue
        dtype = pl.Utf8 if f.role == "categorical" else pl.Float32
        means = [predict_mean(x.with_columns(pl.lit(v, dtype=dtype).alias(f.name)))
                 for v in grid]
        out.append({"feature": f.name, "role": f.role, "grid": grid, "mean_prediction": means,
                    "swing": float(max(means) - min(means)),
                    "direction": ("increasing" if means[-1] > means[0] else "decreasing")
                    if f.role == "numeric" and means[-1] != means[0] else None})
    return {"n_rows": int(x.height), "baseline_mean_prediction": base,
            "quantiles": list(QUANTILES), "features": out}


def soundness(pipe: Any, train_path: Any, test: pl.DataFrame, features: list[Feature],
              label: str, classes: list[Any], classification: bool, seed: int
              ) -> dict[str, Any]:
    """Everything above for one fitted pipeline; `train_path` may be missing (no
    benchmark then, with the reason).

    One BLAS/OpenMP thread: the ~100 small predictions here ran 6x slower with a thread
    per core on a busy 2-core machine (threads spin waiting for each other), and the
    evaluate step is scheduled as one CPU anyway."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _soundness(pipe, train_path, test, features, label, classes, classification,
                          seed)


def _soundness(pipe: Any, train_path: Any, test: pl.DataFrame, features: list[Feature],
               label: str, classes: list[Any], classification: bool, seed: int
               ) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    rows = test if test.height <= MAX_ROWS else test[np.sort(
        rng.choice(test.height, MAX_ROWS, replace=False)).tolist()]
    x = prepare_frame(rows, features)
    y = rows.get_column(label).to_numpy()
    predict: Predict = pipe.predict_proba if classification else pipe.predict
    try:
        imp = permutation_importance(predict, x, y, features, classes, classification, seed)
    except ValueError as exc:   # e.g. one class in the test rows: ROC AUC is undefined
        imp = {"skipped": f"permutation importance not computed: {exc}", "features": []}
    sample = x.head(SENSITIVITY_ROWS)
    if classification:
        col = len(classes) - 1 if len(classes) == 2 else None
        target = f"P({label} = {classes[-1]})" if col is not None else "P(top class)"

        def mean_pred(frame: pl.DataFrame) -> float:
            p = pipe.predict_proba(frame)
            return float(p[:, col].mean() if col is not None else p.max(axis=1).mean())
    else:
        target = f"predicted {label}"

        def mean_pred(frame: pl.DataFrame) -> float:
            return float(np.mean(pipe.predict(frame)))
    order = [r["feature"] for r in imp["features"]] or [f.name for f in features]
    sens = sensitivity(mean_pred, sample, features, order)
    sens["prediction"] = target
    out: dict[str, Any] = {"importance": imp, "sensitivity": sens}
    if train_path is not None and train_path.is_file():
        out["benchmark_model"] = benchmark_model(pl.read_parquet(train_path), test, features,
                                                 label, classes, classification)
    else:
        out["benchmark_model"] = {"skipped": "the training split was not available"}
    return out
