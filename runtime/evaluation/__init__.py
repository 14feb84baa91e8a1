"""Evaluation metrics: task metrics, plot data, per-slice metrics and fairness.

Why a package of plain functions over numpy arrays: the evaluate op, the gate evaluator,
the monitor and the tests all need the same definitions, and fairness definitions in
particular must match fairlearn's exactly (documented in `fairness.py`) without depending
on fairlearn.
"""

from specops.runtime.evaluation.classification import (
    CLASSIFICATION_METRICS,
    calibration_curve_data,
    classification_metrics,
    curve_data,
)
from specops.runtime.evaluation.fairness import FAIRNESS_METRICS, fairness_report, group_rates
from specops.runtime.evaluation.regression import REGRESSION_METRICS, regression_metrics
from specops.runtime.evaluation.slices import slice_metrics

__all__ = ["CLASSIFICATION_METRICS", "FAIRNESS_METRICS", "REGRESSION_METRICS",
           "calibration_curve_data", "classification_metrics", "curve_data",
           "fairness_report", "group_rates", "regression_metrics", "slice_metrics"]
