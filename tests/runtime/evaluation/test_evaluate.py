"""Evaluation: fairness per fairlearn's definitions (hand-computed), slices, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from ml_helpers import make_dataset, run_pipeline

from specops.runtime.evaluation import (
    classification_metrics,
    fairness_report,
    regression_metrics,
    slice_metrics,
)

# group A: y_true 1 1 0 0 1, y_pred 1 0 1 0 1 -> selection 3/5, TPR 2/3, FPR 1/2
# group B: y_true 1 0 0 1,   y_pred 0 0 1 1   -> selection 2/4, TPR 1/2, FPR 1/2
# group C: 2 rows, below min_group_size=3 -> excluded from every comparison
Y_TRUE = np.array([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0])
Y_PRED = np.array([1, 0, 1, 0, 1, 0, 0, 1, 1, 1, 1])
GROUPS = np.array(["A"] * 5 + ["B"] * 4 + ["C"] * 2, dtype=object)


def test_fairness_matches_fairlearn_definitions_by_hand() -> None:
    r = fairness_report(Y_TRUE, Y_PRED, GROUPS, min_group_size=3)
    assert r["excluded_groups"] == ["C"] and r["compared_groups"] == ["A", "B"]
    assert r["groups"]["A"]["selection_rate"] == pytest.approx(0.6)
    assert r["groups"]["B"]["selection_rate"] == pytest.approx(0.5)
    # fairlearn demographic_parity_difference (between_groups): max - min selection rate
    assert r["demographic_parity_difference"] == pytest.approx(0.1)
    # demographic_parity_ratio: min / max; disparate impact is the same worst-case ratio
    assert r["demographic_parity_ratio"] == pytest.approx(0.5 / 0.6)
    assert r["disparate_impact"] == pytest.approx(0.5 / 0.6)
    assert r["selection_rate_ratio"] == pytest.approx(0.5 / 0.6)
    # equalized_odds_difference (worst_case): max(TPR gap 2/3-1/2, FPR gap 0)
    assert r["equalized_odds_difference"] == pytest.approx(1 / 6)
    assert r["equal_opportunity_difference"] == pytest.approx(1 / 6)
    # equalized_odds_ratio: min(TPR ratio 0.75, FPR ratio 1.0)
    assert r["equalized_odds_ratio"] == pytest.approx(0.75)
    # without the minimum group size, C (selection 1.0, TPR 1, FPR 1) enters
    r1 = fairness_report(Y_TRUE, Y_PRED, GROUPS, min_group_size=1)
    assert r1["demographic_parity_difference"] == pytest.approx(0.5)
    assert r1["equalized_odds_difference"] == pytest.approx(0.5)


def test_fairness_undefined_with_one_comparable_group() -> None:
    r = fairness_report(Y_TRUE, Y_PRED, GROUPS, min_group_size=5)
    assert r["compared_groups"] == ["A"]
    assert r["demographic_parity_difference"] is None and "fewer than two" in r["note"]


def test_slices_skip_small_groups() -> None:
    y = np.array([0, 1, 0, 1, 1])
    out = slice_metrics(np.array(["x", "x", "x", "x", "y"], dtype=object),
                        lambda m: regression_metrics(y[m], y[m]), min_group_size=2)
    assert out["x"]["metrics"]["rmse"] == 0.0 and "skipped" in out["y"]


def test_classification_metrics_values() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    proba = np.column_stack([1 - p, p])
    m = classification_metrics(y, (p > 0.5).astype(int), proba, [0, 1])
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    one_class = classification_metrics(np.array([1, 1]), np.array([1, 0]),
                                       np.array([[0.2, 0.8], [0.6, 0.4]]), [0, 1])
    assert "roc_auc" not in one_class   # undefined, so absent rather than a fake number


def test_evaluate_op_writes_metrics_slices_fairness_plots(tmp_path: Path) -> None:
    dirs = run_pipeline(tmp_path, "LogisticRegression")
    ev = json.loads((dirs["evaluate"] / "evaluation.json").read_text())
    for k in ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss",
              "brier", "ece"):
        assert k in ev["metrics"]
    assert set(ev["slices"]["region"]) >= {"north", "south", "east"}
    di = ev["fairness"]["sex"]["disparate_impact"]
    assert 0.0 < di <= 1.0
    assert ev["plots"]["roc"]["x"][0] == 0.0 and ev["plots"]["calibration"]["bins"]
    preds = pl.read_parquet(dirs["evaluate"] / "predictions.parquet")
    test = pl.read_parquet(dirs["data"] / "test.parquet")
    # fairness recomputed from the stored predictions agrees with the report
    again = fairness_report(preds["y_true"].to_numpy(), preds["y_pred"].to_numpy(),
                            test["sex"].to_numpy(), 5)
    assert again["demographic_parity_difference"] == pytest.approx(
        ev["fairness"]["sex"]["demographic_parity_difference"])
    assert again["disparate_impact"] == pytest.approx(di)


def test_evaluate_regression(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path, task="regression")
    dirs = run_pipeline(tmp_path, "HistGradientBoostingRegressor", task="regression", data=ds,
                        params={"max_iter": 30})
    ev = json.loads((dirs["evaluate"] / "evaluation.json").read_text())
    assert {"rmse", "mae", "r2"} <= set(ev["metrics"])
    assert "group fairness" in ev["fairness"]["sex"]["note"]
