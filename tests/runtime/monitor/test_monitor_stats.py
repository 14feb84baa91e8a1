"""Drift statistics equal their reference definitions (scipy, a hand-computed PSI)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from specops.runtime.monitor import (
    DriftConfig,
    ReferenceProfile,
    bin_counts,
    build_profile,
    compute_drift,
    js_distance,
    ks_pvalue,
    ks_statistic,
    psi,
    wasserstein_normed,
)


def test_psi_hand_computed() -> None:
    ref = np.array([0.25, 0.25, 0.5])
    cur = np.array([20, 30, 50])  # shares 0.2, 0.3, 0.5
    expected = (0.2 - 0.25) * math.log(0.2 / 0.25) + (0.3 - 0.25) * math.log(0.3 / 0.25)
    assert psi(ref, cur) == pytest.approx(expected, abs=1e-15)


def test_psi_empty_bin_uses_epsilon() -> None:
    ref = np.array([0.5, 0.5, 0.0])
    cur = np.array([5, 4, 1])
    eps = 1e-4
    expected = ((0.5 - 0.5) * 0 + (0.4 - 0.5) * math.log(0.4 / 0.5)
                + (0.1 - eps) * math.log(0.1 / eps))
    assert psi(ref, cur, epsilon=eps) == pytest.approx(expected)


def test_quantile_bins_fit_on_reference() -> None:
    ref = np.arange(100, dtype=float)
    prof = build_profile({"x": ref}, bins=4)
    fp = prof.features["x"]
    assert fp.edges == pytest.approx([24.75, 49.5, 74.25])
    assert fp.shares == pytest.approx([0.25, 0.25, 0.25, 0.25])
    # bin i holds edges[i-1] <= x < edges[i]
    assert bin_counts(np.array([0.0, 24.75, 49.4, 99.0, 500.0]),
                      np.array(fp.edges)).tolist() == [1, 2, 0, 2]


@pytest.mark.parametrize("seed", range(40))
def test_ks_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 300, size=2)
    discrete = seed % 2 == 0
    a = rng.integers(0, 7, n).astype(float) if discrete else rng.normal(size=n)
    b = rng.integers(0, 7, m).astype(float) if discrete else rng.normal(0.3, 1.2, m)
    d = ks_statistic(np.sort(a), np.sort(b))
    assert d == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
    assert ks_pvalue(d, n, m) == pytest.approx(ks_2samp(a, b, method="asymp").pvalue,
                                               abs=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_wasserstein_and_js_equal_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=200), rng.normal(0.5, 2, size=150)
    assert wasserstein_normed(np.sort(a), np.sort(b), 1.0) == pytest.approx(
        wasserstein_distance(a, b), abs=1e-12)
    assert wasserstein_normed(np.sort(a), np.sort(b)) == pytest.approx(
        wasserstein_distance(a, b) / np.std(a), abs=1e-12)
    p, q = rng.random(10), rng.random(10)
    q[2] = 0.0
    assert js_distance(p, q) == pytest.approx(jensenshannon(p, q), abs=1e-12)


def test_drift_report_and_dataset_rule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    ref = {"a": rng.normal(size=5000), "b": rng.normal(size=5000),
           "c": rng.choice(["x", "y", "z"], 5000, p=[0.5, 0.3, 0.2])}
    prof = build_profile(ref, prediction=rng.random(5000), metrics={"roc_auc": 0.8})
    prof.save(tmp_path)
    loaded = ReferenceProfile.load(tmp_path)
    assert loaded.metrics == {"roc_auc": 0.8}
    np.testing.assert_array_equal(loaded.features["a"].sorted_sample,
                                  prof.features["a"].sorted_sample)
    cur = {"a": rng.normal(2.0, 1, size=4000), "b": rng.normal(size=4000),
           "c": rng.choice(["x", "y", "z"], 4000, p=[0.2, 0.3, 0.5])}
    report = compute_drift(loaded, cur, DriftConfig(drift_share=0.5))
    status = {f.feature: f.status for f in report.features}
    assert status == {"a": "alert", "b": "ok", "c": "alert"}
    assert report.dataset_drift and report.drift_share == pytest.approx(2 / 3)


def test_small_windows_are_not_called_drift_free() -> None:
    prof = build_profile({"a": np.arange(1000, dtype=float)})
    report = compute_drift(prof, {"a": np.arange(10, dtype=float)}, DriftConfig(min_samples=50))
    assert report.features[0].status == "insufficient_data"
    assert not report.dataset_drift
    missing = compute_drift(prof, {}, DriftConfig())
    assert missing.features[0].status == "missing"
