"""Classification metrics and the data behind ROC, precision-recall and reliability plots.

Why these choices: scores use the positive-class probability (the last class in sorted
order, which is what scikit-learn's `predict_proba` column order gives); metrics that are
undefined on the given rows (ROC AUC with one class present) are omitted rather than set to
a number a gate could mistake for a measurement. Expected calibration error uses 10
equal-width bins weighted by bin size, the usual definition (Guo et al. 2017).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CLASSIFICATION_METRICS", "calibration_curve_data", "classification_metrics",
           "curve_data", "expected_calibration_error"]

CLASSIFICATION_METRICS = ("accuracy", "brier", "ece", "f1", "log_loss", "pr_auc",
                          "precision", "recall", "roc_auc")


def expected_calibration_error(y_true: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(float(y_true[mask].mean()) - float(p[mask].mean()))
    return float(ece)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray,
                           classes: list[Any]) -> dict[str, float]:
    """Task metrics; binary when `classes` has two entries, else macro-averaged multiclass."""
    from sklearn import metrics as m

    out: dict[str, float] = {"accuracy": float(m.accuracy_score(y_true, y_pred)),
                             "n": float(len(y_true))}
    present = set(np.unique(y_true).tolist())
    if len(classes) == 2:
        pos = classes[1]
        yb = (y_true == pos).astype(np.int64)
        p = proba[:, 1] if proba.ndim == 2 else proba
        out["precision"] = float(m.precision_score(yb, (y_pred == pos).astype(int),
                                                   zero_division=0))
        out["recall"] = float(m.recall_score(yb, (y_pred == pos).astype(int), zero_division=0))
        out["f1"] = float(m.f1_score(yb, (y_pred == pos).astype(int), zero_division=0))
        out["brier"] = float(m.brier_score_loss(yb, p))
        out["ece"] = expected_calibration_error(yb, p)
        out["log_loss"] = float(m.log_loss(yb, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))
        out["positive_rate"] = float(yb.mean())
        if len(present) == 2:
            out["roc_auc"] = float(m.roc_auc_score(yb, p))
            out["pr_auc"] = float(m.average_precision_score(yb, p))
    else:
        out["precision"] = float(m.precision_score(y_true, y_pred, average="macro",
                                                   zero_division=0))
        out["recall"] = float(m.recall_score(y_true, y_pred, average="macro", zero_division=0))
        out["f1"] = float(m.f1_score(y_true, y_pred, average="macro", zero_division=0))
        out["log_loss"] = float(m.log_loss(y_true, np.clip(proba, 1e-15, 1), labels=classes))
        if present == set(classes):
            out["roc_auc"] = float(m.roc_auc_score(y_true, proba, multi_class="ovr",
                                                   labels=classes))
    return out


def _thin(xs: np.ndarray, ys: np.ndarray, th: np.ndarray, points: int) -> dict[str, list[float]]:
    if len(xs) > points:
        keep = np.unique(np.linspace(0, len(xs) - 1, points).round().astype(int))
        xs, ys, th = xs[keep], ys[keep], th[keep]
    return {"x": [round(float(v), 6) for v in xs], "y": [round(float(v), 6) for v in ys],
            "threshold": [round(float(min(v, 1e300)), 6) for v in th]}


def curve_data(y_true: np.ndarray, p: np.ndarray, points: int = 101) -> dict[str, Any]:
    """ROC (x=FPR, y=TPR) and precision-recall (x=recall, y=precision) points for reports."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    if len(np.unique(y_true)) < 2:
        return {}
    fpr, tpr, th = roc_curve(y_true, p)
    prec, rec, pth = precision_recall_curve(y_true, p)
    return {"roc": _thin(fpr, tpr, th, points),
            "pr": _thin(rec[:-1], prec[:-1], pth, points)}


def calibration_curve_data(y_true: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability diagram: mean predicted vs observed positive rate per equal-width bin."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            rows.append({"bin": b, "lower": float(edges[b]), "upper": float(edges[b + 1]),
                         "count": int(mask.sum()), "mean_predicted": float(p[mask].mean()),
                         "observed_rate": float(y_true[mask].mean())})
    return {"bins": rows, "ece": expected_calibration_error(y_true, p, bins)}
