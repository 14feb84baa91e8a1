"""Per-feature and dataset drift of a current window against a reference profile.

Every numeric feature gets PSI and KS (both cheap once the current column is sorted); the
spec's `method` picks which one decides the status, with `warn`/`alert` thresholds on its
value (for KS: on the statistic D). Categorical features get PSI on category shares and a
chi-square test. A feature with fewer than `min_samples` current values is reported as
`insufficient_data`, never as drift-free. The dataset drifts when the share of features in
`alert` reaches `drift_share`. Columns run in a thread pool: numpy's sort and search
release the GIL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from specops.runtime.monitor.profile import FeatureProfile, ReferenceProfile, bin_counts
from specops.runtime.monitor.stats import (
    chi_square,
    js_distance,
    ks_pvalue,
    ks_statistic,
    psi,
    wasserstein_normed,
)

__all__ = ["DriftConfig", "DriftReport", "FeatureDrift", "compute_drift"]


@dataclass(frozen=True)
class DriftConfig:
    method: str = "psi"            # psi | ks | jensenshannon | wasserstein | chisquare
    warn: float = 0.1
    alert: float = 0.25
    epsilon: float = 1e-4
    min_samples: int = 100
    drift_share: float = 0.5


@dataclass
class FeatureDrift:
    feature: str
    kind: str
    method: str
    value: float | None
    status: str                    # ok | warn | alert | insufficient_data | missing
    count: int
    null_share: float
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class DriftReport:
    features: list[FeatureDrift]
    drift_share: float
    dataset_drift: bool
    prediction: FeatureDrift | None = None

    def to_json(self) -> dict[str, Any]:
        return {"features": [asdict(f) for f in self.features], "drift_share": self.drift_share,
                "dataset_drift": self.dataset_drift,
                "prediction": asdict(self.prediction) if self.prediction else None}


def _status(value: float | None, cfg: DriftConfig) -> str:
    if value is None or np.isnan(value):
        return "insufficient_data"
    if value >= cfg.alert:
        return "alert"
    return "warn" if value >= cfg.warn else "ok"


def _numeric(ref: FeatureProfile, values: NDArray[Any], cfg: DriftConfig) -> FeatureDrift:
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[~np.isnan(arr)]
    null_share = 1.0 - len(finite) / len(arr) if len(arr) else 0.0
    if len(finite) < cfg.min_samples or ref.sorted_sample is None:
        return FeatureDrift(ref.name, "numeric", cfg.method, None, "insufficient_data",
                            len(finite), null_share)
    cur = np.sort(finite)
    edges = np.asarray(ref.edges, dtype=np.float64)
    counts = bin_counts(cur, edges)
    shares = np.asarray(ref.shares, dtype=np.float64)
    stats = {"psi": psi(shares, counts, cfg.epsilon)}
    d = ks_statistic(ref.sorted_sample, cur)
    stats["ks"] = d
    stats["ks_pvalue"] = ks_pvalue(d, len(ref.sorted_sample), len(cur))
    if cfg.method == "jensenshannon":
        stats["jensenshannon"] = js_distance(shares, counts / counts.sum())
    if cfg.method == "wasserstein":
        stats["wasserstein"] = wasserstein_normed(ref.sorted_sample, cur, ref.std)
    method = cfg.method if cfg.method in stats else "psi"
    value = stats[method]
    return FeatureDrift(ref.name, "numeric", method, value, _status(value, cfg), len(cur),
                        null_share, stats)


def _categorical(ref: FeatureProfile, values: NDArray[Any], cfg: DriftConfig) -> FeatureDrift:
    items = [str(v) for v in np.asarray(values).tolist() if v is not None]
    null_share = 1.0 - len(items) / len(values) if len(values) else 0.0
    if len(items) < cfg.min_samples:
        return FeatureDrift(ref.name, "categorical", cfg.method, None, "insufficient_data",
                            len(items), null_share)
    cats, counts = np.unique(np.asarray(items), return_counts=True)
    seen = dict(zip(cats.tolist(), counts.tolist(), strict=True))
    universe = sorted(set(ref.categories) | set(seen))
    ref_share = np.array([ref.categories.get(c, 0.0) for c in universe])
    cur_counts = np.array([seen.get(c, 0) for c in universe], dtype=np.float64)
    stats = {"psi": psi(ref_share, cur_counts, cfg.epsilon)}
    chi, p = chi_square(ref_share, cur_counts, cfg.epsilon)
    stats.update({"chisquare": chi, "chisquare_pvalue": p,
                  "jensenshannon": js_distance(ref_share + 0.0, cur_counts / cur_counts.sum())})
    method = cfg.method if cfg.method in ("psi", "jensenshannon") else "psi"
    if cfg.method == "chisquare":
        status = "alert" if p < 0.01 else ("warn" if p < 0.05 else "ok")
        return FeatureDrift(ref.name, "categorical", "chisquare", p, status, len(items),
                            null_share, stats)
    value = stats[method]
    return FeatureDrift(ref.name, "categorical", method, value, _status(value, cfg),
                        len(items), null_share, stats)


def _one(ref: FeatureProfile, values: NDArray[Any] | None, cfg: DriftConfig) -> FeatureDrift:
    if values is None:
        return FeatureDrift(ref.name, ref.kind, cfg.method, None, "missing", 0, 1.0)
    if ref.kind == "numeric":
        return _numeric(ref, values, cfg)
    return _categorical(ref, values, cfg)


def compute_drift(profile: ReferenceProfile, current: Mapping[str, NDArray[Any]],
                  cfg: DriftConfig | None = None, prediction: NDArray[Any] | None = None,
                  threads: int | None = None) -> DriftReport:
    cfg = cfg or DriftConfig()
    refs = [profile.features[n] for n in sorted(profile.features)]
    workers = threads or min(len(refs), os.cpu_count() or 1) or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda r: _one(r, current.get(r.name), cfg), refs))
    decided = [r for r in results if r.status in ("ok", "warn", "alert")]
    share = (sum(r.status == "alert" for r in decided) / len(decided)) if decided else 0.0
    pred = None
    if prediction is not None and profile.prediction is not None:
        pred = _numeric(profile.prediction, prediction, cfg)
    return DriftReport(results, share, bool(decided) and share >= cfg.drift_share, pred)
