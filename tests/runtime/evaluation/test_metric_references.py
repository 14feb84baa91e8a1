"""Evaluation metrics against independent references on the same data.

Why: the golden evaluation files were produced by this code, so they detect change, not
wrongness. Here each metric is recomputed by scikit-learn (or, for the expected
calibration error, by its textbook definition written out per bin) on random data.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from specops.runtime.evaluation import classification_metrics, regression_metrics
from specops.runtime.evaluation.classification import (
    calibration_curve_data,
    expected_calibration_error,
)


def _binary(seed: int, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.35 * y + rng.random(n) * 0.65, 0.0, 1.0)
    return y, p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_equal_sklearn(seed: int) -> None:
    y, p = _binary(seed)
    pred = (p >= 0.5).astype(int)
    m = classification_metrics(y, pred, np.column_stack([1 - p, p]), [0, 1])
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)))
    assert m["positive_rate"] == pytest.approx(y.mean()) and m["n"] == len(y)


def test_string_labels_use_the_second_class_as_positive() -> None:
    y = np.array(["bad", "good", "good", "bad", "good"], dtype=object)
    p_good = np.array([0.2, 0.9, 0.6, 0.4, 0.3])
    pred = np.where(p_good >= 0.5, "good", "bad")
    m = classification_metrics(y, pred, np.column_stack([1 - p_good, p_good]), ["bad", "good"])
    yb = (y == "good").astype(int)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(yb, p_good))
    assert m["recall"] == pytest.approx(2 / 3) and m["precision"] == pytest.approx(1.0)


def test_multiclass_metrics_equal_sklearn_macro() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 300)
    proba = rng.dirichlet(np.ones(3), 300)
    proba[np.arange(300), y] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    m = classification_metrics(y, pred, proba, [0, 1, 2])
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    missing = classification_metrics(y[y != 2], pred[y != 2], proba[y != 2], [0, 1, 2])
    assert "roc_auc" not in missing


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_metrics_equal_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=200)
    pred = y + rng.normal(scale=0.3, size=200)
    m = regression_metrics(y, pred)
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert m["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert m["n"] == 200.0


def test_r2_absent_for_a_constant_target() -> None:
    m = regression_metrics(np.ones(5), np.array([1.0, 2.0, 1.0, 1.0, 1.0]))
    assert "r2" not in m and m["mae"] == pytest.approx(0.2)


def _ece_by_definition(y: np.ndarray, p: np.ndarray, bins: int) -> float:
    """Guo et al.: sum over equal-width bins (0, 1/b], ... of |bin| / n * |acc - conf|;
    a probability on an inner edge belongs to the lower bin, 0 to the first."""
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        mask = (p > lo) & (p <= hi) if b else (p >= lo) & (p <= hi)
        if mask.any():
            total += mask.sum() / len(p) * abs(y[mask].mean() - p[mask].mean())
    return float(total)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ece_equals_its_definition(seed: int) -> None:
    y, p = _binary(seed)
    assert expected_calibration_error(y, p) == pytest.approx(_ece_by_definition(y, p, 10))
    assert expected_calibration_error(y, p, 5) == pytest.approx(_ece_by_definition(y, p, 5))


def test_ece_on_bin_edges() -> None:
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.0, 0.1, 0.5, 0.5, 1.0])
    assert expected_calibration_error(y, p) == pytest.approx(_ece_by_definition(y, p, 10))


def test_calibration_curve_equals_sklearn() -> None:
    y, p = _binary(5)
    data = calibration_curve_data(y, p, bins=10)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert [b["observed_rate"] for b in data["bins"]] == pytest.approx(list(prob_true))
    assert [b["mean_predicted"] for b in data["bins"]] == pytest.approx(list(prob_pred))
    assert sum(b["count"] for b in data["bins"]) == len(y)
    assert data["ece"] == pytest.approx(expected_calibration_error(y, p))
