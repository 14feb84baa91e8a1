"""Monitoring: reference profiles, drift statistics and drift reports (docs/monitoring.md).

This package exports the statistics core. The rest is imported on use, so that
`specops --help` stays light: `reference` (the profile `evaluate` writes and `register`
ships), `windows` (current data, windows, performance, fairness, operations), `job`
(one monitoring pass), `alerts` (hygiene and sinks), `report` (JSON and HTML),
`retrain` (drift-triggered retraining) and `features` (model inputs for raw rows).
"""

from __future__ import annotations

from specops.runtime.monitor.drift import DriftConfig, DriftReport, FeatureDrift, compute_drift
from specops.runtime.monitor.profile import (
    FeatureProfile,
    ReferenceProfile,
    bin_counts,
    build_profile,
)
from specops.runtime.monitor.stats import (
    chi_square,
    js_distance,
    ks_pvalue,
    ks_statistic,
    psi,
    wasserstein_normed,
)

__all__ = [
    "DriftConfig",
    "DriftReport",
    "FeatureDrift",
    "FeatureProfile",
    "ReferenceProfile",
    "bin_counts",
    "build_profile",
    "chi_square",
    "compute_drift",
    "js_distance",
    "ks_pvalue",
    "ks_statistic",
    "psi",
    "wasserstein_normed",
]
