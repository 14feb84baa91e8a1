"""Drift decisions that a one-character bug would flip (issue 14's surviving mutants), and
drift statistics against scipy on the same data.

Each boundary test was checked to fail with the bug planted by hand: PSI without the
epsilon floor for *current* shares (an empty current bin gives infinity), the feature
status `>= alert` as `>`, and dataset drift `>= drift_share` as `>`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chisquare, entropy

from specops.runtime.monitor import DriftConfig, build_profile, compute_drift, psi
from specops.runtime.monitor.stats import chi_square, js_distance, ks_statistic


# -- PSI epsilon floor / empty bins ---------------------------------------------------------
def test_empty_bins_psi_epsilon_floor_for_current_shares() -> None:
    """A bin the current window never hits counts as `epsilon`, so PSI stays finite."""
    ref = np.array([0.5, 0.3, 0.2])
    cur = np.array([60, 40, 0])           # shares 0.6, 0.4, 0
    eps = 1e-4
    expected = ((0.6 - 0.5) * math.log(0.6 / 0.5) + (0.4 - 0.3) * math.log(0.4 / 0.3)
                + (eps - 0.2) * math.log(eps / 0.2))
    value = psi(ref, cur, epsilon=eps)
    assert math.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-12)


def test_empty_bins_psi_with_both_sides_empty_contributes_nothing() -> None:
    ref = np.array([0.5, 0.5, 0.0])
    assert psi(ref, np.array([50, 50, 0])) == pytest.approx(0.0, abs=1e-15)


def test_empty_window_psi_is_nan_not_zero() -> None:
    assert math.isnan(psi(np.array([0.5, 0.5]), np.array([0, 0])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_psi_equals_symmetric_kl_from_scipy(seed: int) -> None:
    """PSI = KL(cur||ref) + KL(ref||cur) when no share is zero (scipy's entropy)."""
    rng = np.random.default_rng(seed)
    ref = rng.dirichlet(np.ones(8))
    counts = rng.integers(1, 500, size=8)
    cur = counts / counts.sum()
    assert psi(ref, counts) == pytest.approx(entropy(cur, ref) + entropy(ref, cur), rel=1e-9)


def test_empty_bins_drift_report_is_finite_and_alerts() -> None:
    """A current window that empties half the reference bins is alert, with a finite PSI."""
    prof = build_profile({"a": np.arange(1000, dtype=float)}, bins=10)
    report = compute_drift(prof, {"a": np.full(500, 10.0)}, DriftConfig(min_samples=100))
    f = report.features[0]
    assert math.isfinite(f.value) and f.status == "alert" and report.dataset_drift


# -- drift status `>= alert` ----------------------------------------------------------------
def _one_feature() -> tuple[object, dict[str, np.ndarray], float]:
    rng = np.random.default_rng(7)
    prof = build_profile({"a": rng.normal(size=3000)})
    cur = {"a": rng.normal(0.3, 1.0, size=2000)}
    value = compute_drift(prof, cur, DriftConfig()).features[0].value
    assert value is not None and value > 0
    return prof, cur, value


def test_drift_status_at_alert_threshold_is_alert() -> None:
    prof, cur, value = _one_feature()
    at = compute_drift(prof, cur, DriftConfig(warn=value / 2, alert=value))  # type: ignore[arg-type]
    assert at.features[0].status == "alert"
    above = compute_drift(prof, cur, DriftConfig(warn=value / 2, alert=value * 1.001))  # type: ignore[arg-type]
    assert above.features[0].status == "warn"


def test_drift_status_at_warn_threshold_is_warn() -> None:
    prof, cur, value = _one_feature()
    at = compute_drift(prof, cur, DriftConfig(warn=value, alert=value * 2))  # type: ignore[arg-type]
    assert at.features[0].status == "warn"
    above = compute_drift(prof, cur, DriftConfig(warn=value * 1.001, alert=value * 2))  # type: ignore[arg-type]
    assert above.features[0].status == "ok"


def test_drift_status_uses_the_configured_method_value() -> None:
    prof, cur, _ = _one_feature()
    ks = compute_drift(prof, cur, DriftConfig(method="ks", warn=0.01, alert=0.99))  # type: ignore[arg-type]
    f = ks.features[0]
    assert f.method == "ks" and f.value == f.stats["ks"] and f.status == "warn"


# -- dataset drift `>= drift_share` ---------------------------------------------------------
def test_dataset_drift_at_exactly_drift_share() -> None:
    """One feature of two in alert is a share of 0.5: drift when drift_share is 0.5."""
    rng = np.random.default_rng(3)
    ref = {"a": rng.normal(size=2000), "b": rng.normal(size=2000)}
    prof = build_profile(ref)
    cur = {"a": ref["a"] + 5.0, "b": ref["b"].copy()}
    at = compute_drift(prof, cur, DriftConfig(drift_share=0.5))
    assert [f.status for f in at.features] == ["alert", "ok"]
    assert at.drift_share == 0.5 and at.dataset_drift is True
    above = compute_drift(prof, cur, DriftConfig(drift_share=0.51))
    assert above.drift_share == 0.5 and above.dataset_drift is False


def test_dataset_drift_ignores_undecided_features() -> None:
    """Features with too little data neither count as drift nor dilute the share."""
    rng = np.random.default_rng(4)
    ref = {"a": rng.normal(size=2000), "b": rng.normal(size=2000)}
    prof = build_profile(ref)
    report = compute_drift(prof, {"a": ref["a"] + 5.0, "b": ref["b"][:10]},
                           DriftConfig(drift_share=1.0))
    assert [f.status for f in report.features] == ["alert", "insufficient_data"]
    assert report.drift_share == 1.0 and report.dataset_drift is True


def test_min_samples_is_inclusive() -> None:
    prof = build_profile({"a": np.arange(1000, dtype=float)})
    exact = compute_drift(prof, {"a": np.arange(100, dtype=float)}, DriftConfig(min_samples=100))
    assert exact.features[0].status != "insufficient_data"
    short = compute_drift(prof, {"a": np.arange(99, dtype=float)}, DriftConfig(min_samples=100))
    assert short.features[0].status == "insufficient_data"


# -- categorical features against scipy -----------------------------------------------------
def test_chi_square_equals_scipy_chisquare() -> None:
    ref = np.array([0.5, 0.3, 0.2])
    counts = np.array([420.0, 330.0, 250.0])
    stat, p = chi_square(ref, counts)
    expected = chisquare(counts, ref * counts.sum())
    assert stat == pytest.approx(expected.statistic) and p == pytest.approx(expected.pvalue)


def test_categorical_chisquare_status_by_p_value() -> None:
    rng = np.random.default_rng(5)
    ref = rng.choice(["x", "y", "z"], 5000, p=[0.5, 0.3, 0.2])
    prof = build_profile({"c": ref})
    cfg = DriftConfig(method="chisquare")
    same = compute_drift(prof, {"c": ref[:2000]}, cfg).features[0]
    moved = compute_drift(prof, {"c": rng.choice(["x", "y", "z"], 2000, p=[0.2, 0.3, 0.5])},
                          cfg).features[0]
    assert same.method == "chisquare" and same.status == "ok" and same.value > 0.05
    assert moved.status == "alert" and moved.value < 0.01
    shares = np.array([prof.features["c"].categories[k] for k in ("x", "y", "z")])
    counts = np.array([np.sum(ref[:2000] == k) for k in ("x", "y", "z")], dtype=float)
    assert same.stats["chisquare"] == pytest.approx(
        chisquare(counts, shares * counts.sum()).statistic)


def test_new_category_in_current_window_is_drift() -> None:
    ref = np.array(["x"] * 600 + ["y"] * 400)
    prof = build_profile({"c": ref})
    cur = np.array(["x"] * 300 + ["y"] * 200 + ["new"] * 500)
    f = compute_drift(prof, {"c": cur}, DriftConfig()).features[0]
    assert f.status == "alert" and math.isfinite(f.value)


def test_js_and_ks_edge_cases() -> None:
    assert js_distance(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == pytest.approx(0.0)
    assert js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(
        math.sqrt(math.log(2)))
    assert math.isnan(ks_statistic(np.array([]), np.array([1.0])))
    assert ks_statistic(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0


# -- categorical features, field by field (mutation survivors of drift.py) -------------------
def _cat_profile() -> object:
    ref = np.array(["x"] * 500 + ["y"] * 300 + ["z"] * 200, dtype=object)
    return build_profile({"c": ref})


def _psi_by_hand(ref: dict[str, float], cur: dict[str, int], eps: float) -> float:
    total = sum(cur.values())
    out = 0.0
    for k in sorted(set(ref) | set(cur)):
        r = ref.get(k, 0.0) or eps
        c = cur.get(k, 0) / total or eps
        out += (c - r) * math.log(c / r)
    return out


def test_categorical_values_against_hand_and_scipy() -> None:
    from scipy.spatial.distance import jensenshannon

    prof = _cat_profile()
    cur = np.array(["x"] * 100 + ["new"] * 60 + ["y"] * 40, dtype=object)   # no "z"
    cfg = DriftConfig(epsilon=1e-3)
    f = compute_drift(prof, {"c": cur}, cfg).features[0]
    ref = {"x": 0.5, "y": 0.3, "z": 0.2}
    counts = {"x": 100, "new": 60, "y": 40}
    assert f.method == "psi" and f.kind == "categorical" and f.count == 200
    assert f.value == pytest.approx(_psi_by_hand(ref, counts, 1e-3), rel=1e-12)
    assert set(f.stats) == {"psi", "chisquare", "chisquare_pvalue", "jensenshannon"}
    order = ["new", "x", "y", "z"]
    ref_arr = np.array([ref.get(k, 0.0) for k in order])
    cur_arr = np.array([counts.get(k, 0) for k in order], dtype=float)
    assert f.stats["jensenshannon"] == pytest.approx(
        jensenshannon(ref_arr, cur_arr / cur_arr.sum()))
    stat, p = chi_square(ref_arr, cur_arr, 1e-3)
    assert (f.stats["chisquare"], f.stats["chisquare_pvalue"]) == (stat, p)


@pytest.mark.parametrize(("method", "used"), [("jensenshannon", "jensenshannon"),
                                              ("psi", "psi"), ("ks", "psi"),
                                              ("wasserstein", "psi")])
def test_categorical_method_choice(method: str, used: str) -> None:
    prof = _cat_profile()
    cur = np.array(["x"] * 150 + ["y"] * 50, dtype=object)
    f = compute_drift(prof, {"c": cur}, DriftConfig(method=method)).features[0]
    assert f.method == used and f.value == f.stats[used]


def test_categorical_insufficient_data_row() -> None:
    prof = _cat_profile()
    cur = np.array(["x"] * 99 + [None], dtype=object)
    f = compute_drift(prof, {"c": cur}, DriftConfig()).features[0]
    assert (f.feature, f.kind, f.method, f.value, f.status, f.count) == \
        ("c", "categorical", "psi", None, "insufficient_data", 99)
    assert f.null_share == pytest.approx(0.01)
    exact = compute_drift(prof, {"c": np.array(["x"] * 100, dtype=object)},
                          DriftConfig()).features[0]
    assert exact.status == "alert" and exact.count == 100 and exact.null_share == 0.0


def test_empty_categorical_window_has_no_null_share() -> None:
    f = compute_drift(_cat_profile(), {"c": np.array([], dtype=object)},
                      DriftConfig()).features[0]
    assert f.status == "insufficient_data" and f.null_share == 0.0 and f.count == 0


def test_report_json_has_every_field() -> None:
    rng = np.random.default_rng(11)
    prof = build_profile({"a": rng.normal(size=500)}, prediction=rng.random(500))
    report = compute_drift(prof, {"a": rng.normal(size=300)}, DriftConfig(),
                           prediction=rng.random(300))
    doc = report.to_json()
    assert set(doc) == {"features", "drift_share", "dataset_drift", "prediction"}
    assert doc["features"][0]["feature"] == "a" and doc["features"][0]["status"] == "ok"
    assert doc["drift_share"] == 0.0 and doc["dataset_drift"] is False
    assert doc["prediction"]["feature"] == "__prediction__"
    assert compute_drift(prof, {"a": rng.normal(size=300)}).to_json()["prediction"] is None


def test_wasserstein_edges() -> None:
    from specops.runtime.monitor.stats import wasserstein_normed

    assert math.isnan(wasserstein_normed(np.array([]), np.array([1.0])))
    assert math.isnan(wasserstein_normed(np.array([1.0]), np.array([])))
    assert wasserstein_normed(np.array([1.0]), np.array([3.0]), 1.0) == pytest.approx(2.0)


# -- numeric features, field by field -------------------------------------------------------
def _num() -> tuple[object, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    ref = rng.normal(size=2000)
    return build_profile({"a": ref}), ref, rng.normal(0.2, 1.1, size=800)


def test_numeric_stats_against_scipy_for_each_method() -> None:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import ks_2samp, wasserstein_distance

    prof, ref, cur = _num()
    fp = prof.features["a"]   # type: ignore[attr-defined]
    counts = np.diff(np.concatenate([[0], np.searchsorted(np.sort(cur), fp.edges), [800]]))
    base = compute_drift(prof, {"a": cur}, DriftConfig()).features[0]
    assert set(base.stats) == {"psi", "ks", "ks_pvalue"} and base.kind == "numeric"
    assert base.stats["ks"] == pytest.approx(ks_2samp(ref, cur).statistic)
    assert base.stats["ks_pvalue"] == pytest.approx(
        ks_2samp(ref, cur, method="asymp").pvalue, rel=1e-6)
    js = compute_drift(prof, {"a": cur}, DriftConfig(method="jensenshannon")).features[0]
    assert js.method == "jensenshannon" and set(js.stats) == {"psi", "ks", "ks_pvalue",
                                                              "jensenshannon"}
    assert js.value == pytest.approx(jensenshannon(fp.shares, counts / counts.sum()))
    ws = compute_drift(prof, {"a": cur}, DriftConfig(method="wasserstein")).features[0]
    assert ws.method == "wasserstein" and "jensenshannon" not in ws.stats
    assert ws.value == pytest.approx(wasserstein_distance(ref, cur) / np.std(ref))
    chi = compute_drift(prof, {"a": cur}, DriftConfig(method="chisquare")).features[0]
    assert chi.method == "psi" and chi.value == chi.stats["psi"]


def test_numeric_insufficient_and_missing_rows() -> None:
    prof, _, _ = _num()
    few = np.array([1.0] * 50 + [np.nan] * 50)
    f = compute_drift(prof, {"a": few}, DriftConfig(min_samples=60)).features[0]
    assert (f.feature, f.kind, f.method, f.value, f.status, f.count, f.null_share) == \
        ("a", "numeric", "psi", None, "insufficient_data", 50, 0.5)
    empty = compute_drift(prof, {"a": np.array([])}, DriftConfig()).features[0]
    assert empty.null_share == 0.0 and empty.count == 0
    gone = compute_drift(prof, {}, DriftConfig(method="ks")).features[0]
    assert (gone.feature, gone.kind, gone.method, gone.value, gone.status, gone.count,
            gone.null_share) == ("a", "numeric", "ks", None, "missing", 0, 1.0)
    nulls = compute_drift(prof, {"a": np.array([1.0] * 150 + [np.nan] * 50)},
                          DriftConfig()).features[0]
    assert nulls.count == 150 and nulls.null_share == pytest.approx(0.25)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")   # scipy, n = 0
def test_undefined_statistic_is_insufficient_data_not_ok() -> None:
    """A reference with no finite values gives KS = NaN: never reported as drift-free."""
    prof = build_profile({"a": np.full(500, np.nan)})
    f = compute_drift(prof, {"a": np.arange(200, dtype=float)},
                      DriftConfig(method="ks")).features[0]
    assert f.status == "insufficient_data"


def test_warn_features_count_as_decided_in_the_share() -> None:
    prof, ref, _ = _num()
    value = compute_drift(prof, {"a": ref[:1000] + 0.3}, DriftConfig()).features[0].value
    prof2 = build_profile({"a": ref, "b": ref.copy()})
    report = compute_drift(prof2, {"a": ref[:1000] + 0.3, "b": ref[:1000] + 5.0},
                           DriftConfig(warn=value / 2, alert=value * 1.5))
    assert [f.status for f in report.features] == ["warn", "alert"]
    assert report.drift_share == 0.5
    nothing = compute_drift(prof2, {}, DriftConfig())
    assert nothing.drift_share == 0.0 and nothing.dataset_drift is False


def test_psi_and_chi_square_default_epsilon_and_small_windows() -> None:
    ref = np.array([0.5, 0.5, 0.0])
    cur = np.array([5, 4, 1])
    assert psi(ref, cur) == pytest.approx(psi(ref, cur, epsilon=1e-4))
    assert math.isfinite(psi(np.array([0.5, 0.5]), np.array([1, 0])))
    stat, p = chi_square(ref, np.array([50.0, 40.0, 10.0]))
    assert (stat, p) == chi_square(ref, np.array([50.0, 40.0, 10.0]), 1e-4)
    expected = np.array([0.5, 0.5, 1e-4]) / 1.0001 * 100
    assert stat == pytest.approx(chisquare([50.0, 40.0, 10.0], expected).statistic)
    two = chi_square(np.array([0.6, 0.4]), np.array([50.0, 50.0]))
    ref2 = chisquare([50.0, 50.0], [60.0, 40.0])
    assert two == pytest.approx((ref2.statistic, ref2.pvalue))


def test_categorical_chisquare_warn_row() -> None:
    prof = build_profile({"c": np.array(["x", "y"] * 500, dtype=object)})
    cur = np.array(["x"] * 534 + ["y"] * 466, dtype=object)    # chi 4.62, p ~ 0.03
    f = compute_drift(prof, {"c": cur}, DriftConfig(method="chisquare")).features[0]
    assert 0.01 < f.value < 0.05
    assert (f.feature, f.kind, f.method, f.status, f.count, f.null_share) == \
        ("c", "categorical", "chisquare", "warn", 1000, 0.0)
    assert f.value == pytest.approx(chisquare([534, 466]).pvalue)


def test_numeric_psi_uses_the_configured_epsilon() -> None:
    prof = build_profile({"a": np.arange(1000, dtype=float)}, bins=4)
    cur = {"a": np.full(200, 10.0)}           # every value in the first bin
    f = compute_drift(prof, cur, DriftConfig(epsilon=1e-2)).features[0]
    shares = np.array(prof.features["a"].shares)
    assert f.stats["psi"] == pytest.approx(psi(shares, np.array([200, 0, 0, 0]), 1e-2))
    assert f.stats["psi"] != pytest.approx(psi(shares, np.array([200, 0, 0, 0]), 1e-4))


def test_no_prediction_gives_no_prediction_row() -> None:
    prof, _, cur = _num()
    assert compute_drift(prof, {"a": cur}).prediction is None


@pytest.mark.parametrize("seed", range(6))
def test_ks_with_ties_equals_scipy(seed: int) -> None:
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(seed)
    ref = np.sort(rng.integers(0, 6, 300).astype(float))
    cur = np.sort(rng.integers(0, 8, 120).astype(float))
    assert ks_statistic(ref, cur) == pytest.approx(ks_2samp(ref, cur).statistic, abs=1e-12)


@pytest.mark.parametrize(("ref", "cur"), [([1.0, 2.0, 3.0], [3.0, 3.5]),
                                          ([1.0, 2.0, 3.0], [0.0, 1.0]),
                                          ([1.0, 2.0, 3.0], [2.5]),
                                          ([1.0, 1.0, 2.0], [1.0]),
                                          ([0.0, 1.0, 2.0, 3.0], [1.5, 1.5, 4.0])])
def test_ks_edge_samples_equal_scipy(ref: list[float], cur: list[float]) -> None:
    from scipy.stats import ks_2samp

    got = ks_statistic(np.array(ref), np.array(cur))
    assert got == pytest.approx(ks_2samp(ref, cur).statistic, abs=1e-12)
