"""Regression metrics: RMSE, MAE, R² (R² omitted when the target is constant: undefined)."""

from __future__ import annotations

import numpy as np

__all__ = ["REGRESSION_METRICS", "regression_metrics"]

REGRESSION_METRICS = ("mae", "r2", "rmse")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    err = y_pred - y_true
    out = {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
           "n": float(len(y_true))}
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    if ss_tot > 0:
        out["r2"] = 1.0 - float(np.sum(err ** 2)) / ss_tot
    return out
