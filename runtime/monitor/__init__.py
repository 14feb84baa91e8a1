"""Monitoring: reference profiles, drift statistics and drift reports."""

from __future__ import annotations

from .drift import DriftConfig, DriftReport, FeatureDrift, compute_drift
from .profile import FeatureProfile, ReferenceProfile, bin_counts, build_profile
from .stats import chi_square, js_distance, ks_pvalue, ks_statistic, psi, wasserstein_normed

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
