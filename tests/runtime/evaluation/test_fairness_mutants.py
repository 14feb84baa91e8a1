"""Fairness metrics against fairlearn itself on the same data, and the edge cases a
one-character bug would flip (issue 14: disparate impact of all-zero selection rates
giving 0 instead of 1 survived; this file's `all_zero` test was checked to fail with it).

fairlearn is a test-only dependency: the product computes its definitions without it
(runtime/evaluation/fairness.py), and this file proves the two agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)

from specops.runtime.evaluation import fairness_report
from specops.runtime.evaluation.fairness import group_rates


def _data(seed: int, groups: int = 3, n: int = 400) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    g = rng.choice([f"g{i}" for i in range(groups)], n).astype(object)
    y = rng.integers(0, 2, n)
    # a biased predictor: group-dependent positive rate
    bias = np.array([int(x[1:]) for x in g]) * 0.1
    pred = (rng.random(n) < 0.3 + bias).astype(int)
    return y, pred, g


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fairness_equals_fairlearn_on_the_same_data(seed: int) -> None:
    y, pred, g = _data(seed)
    r = fairness_report(y, pred, g)
    kw = {"y_true": y, "y_pred": pred, "sensitive_features": g}
    assert r["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(**kw))
    assert r["demographic_parity_ratio"] == pytest.approx(demographic_parity_ratio(**kw))
    assert r["disparate_impact"] == pytest.approx(demographic_parity_ratio(**kw))
    assert r["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(**kw))
    assert r["equalized_odds_ratio"] == pytest.approx(equalized_odds_ratio(**kw))


def test_equal_opportunity_equals_fairlearn_tpr_gap() -> None:
    from fairlearn.metrics import MetricFrame, true_positive_rate

    y, pred, g = _data(9)
    frame = MetricFrame(metrics=true_positive_rate, y_true=y, y_pred=pred,
                        sensitive_features=g)
    r = fairness_report(y, pred, g)
    assert r["equal_opportunity_difference"] == pytest.approx(frame.difference())
    assert r["equal_opportunity_ratio"] == pytest.approx(frame.ratio())
    rates = frame.by_group.to_dict()
    for name, tpr in rates.items():
        assert r["groups"][name]["tpr"] == pytest.approx(tpr)


def test_all_zero_selection_rates_disparate_impact_is_one() -> None:
    """Nobody selected in any group: every group is treated alike, so the ratio is 1
    (fairlearn's convention), never 0 (which would fail a four-fifths gate)."""
    y = np.array([1, 0, 1, 0, 1, 0])
    pred = np.zeros(6, dtype=int)
    g = np.array(["a", "a", "a", "b", "b", "b"], dtype=object)
    r = fairness_report(y, pred, g)
    assert r["disparate_impact"] == 1.0 and r["demographic_parity_ratio"] == 1.0
    assert r["selection_rate_ratio"] == 1.0 and r["demographic_parity_difference"] == 0.0
    assert r["selection_rate_min"] == 0.0 and r["selection_rate_max"] == 0.0


def test_one_group_never_selected_disparate_impact_is_zero() -> None:
    y = np.array([1, 0, 1, 0])
    pred = np.array([1, 1, 0, 0])
    g = np.array(["a", "a", "b", "b"], dtype=object)
    r = fairness_report(y, pred, g)
    assert r["disparate_impact"] == 0.0 and r["demographic_parity_difference"] == 1.0
    assert r["selection_rate_min"] == 0.0 and r["selection_rate_max"] == 1.0


def test_group_without_positives_is_left_out_of_tpr_only() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 1, 0])
    pred = np.array([1, 0, 1, 0, 1, 1, 1, 0])
    g = np.array(["a"] * 4 + ["b"] * 2 + ["c"] * 2, dtype=object)
    r = fairness_report(y, pred, g)
    assert r["groups_without_positives"] == ["b"] and r["groups_without_negatives"] == []
    assert r["groups"]["b"]["tpr"] is None and r["groups"]["b"]["fpr"] == 1.0
    # TPR compared over a (0.5) and c (1.0); FPR over a (0.5), b (1.0), c (0.0)
    assert r["equal_opportunity_difference"] == pytest.approx(0.5)
    assert r["equal_opportunity_ratio"] == pytest.approx(0.5)
    assert r["equalized_odds_difference"] == pytest.approx(1.0)
    assert r["equalized_odds_ratio"] == pytest.approx(0.0)


def test_min_group_size_is_inclusive_and_excluded_groups_are_listed() -> None:
    y = np.array([1, 0, 1, 1, 0])
    pred = np.array([1, 0, 1, 0, 0])
    g = np.array(["a", "a", "b", "b", "c"], dtype=object)
    r = fairness_report(y, pred, g, min_group_size=2)
    assert r["compared_groups"] == ["a", "b"] and r["excluded_groups"] == ["c"]
    assert r["min_group_size"] == 2 and "note" not in r
    one = fairness_report(y, pred, g, min_group_size=3)
    assert one["compared_groups"] == [] and one["disparate_impact"] is None
    assert one["selection_rate_min"] is None and one["equalized_odds_ratio"] is None
    assert one["note"] == ("fewer than two groups with at least 3 rows: fairness metrics "
                           "are undefined")


def test_group_rates_count_rows_positives_and_null_group() -> None:
    y = np.array([1, 0, 1, 1])
    pred = np.array([1, 1, 0, 1])
    g = np.array(["x", None, "x", None], dtype=object)
    rates = group_rates(y, pred, g)
    assert list(rates) == ["<null>", "x"]
    assert rates["x"] == {"n": 2, "positives": 2, "selection_rate": 0.5, "tpr": 0.5,
                          "fpr": None}
    assert rates["<null>"] == {"n": 2, "positives": 1, "selection_rate": 1.0, "tpr": 1.0,
                               "fpr": 1.0}


def test_default_min_group_size_compares_single_row_groups() -> None:
    r = fairness_report(np.array([1, 0]), np.array([1, 0]), np.array(["a", "b"], dtype=object))
    assert r["min_group_size"] == 1 and r["compared_groups"] == ["a", "b"]
    assert r["disparate_impact"] == 0.0


def test_boolean_labels_and_predictions_count_as_zero_one() -> None:
    y = np.array([True, False, True, False])
    pred = np.array([True, True, False, False])
    g = np.array(["a", "a", "b", "b"], dtype=object)
    r = fairness_report(y, pred, g)
    assert r["groups"]["a"] == {"n": 2, "positives": 1, "selection_rate": 1.0, "tpr": 1.0,
                                "fpr": 1.0}
    assert r["equalized_odds_difference"] == 1.0
