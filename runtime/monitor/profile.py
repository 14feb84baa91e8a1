"""The reference profile saved with every model version at training time.

Why a profile: monitoring must never need the raw training data (it may be gone, or
restricted), and must not re-sort it on every run. The profile keeps, per feature, the
sorted reference sample (capped), bin edges fit on the reference and the reference share
per bin, quantiles, mean/std and null share; per categorical feature the category shares;
the same for the model's predicted score; and the evaluation metrics.

Stored as `profile.json` plus one `.npy` per numeric feature, written and read with
`allow_pickle=False`: nothing in a profile can execute code when loaded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["MAX_SAMPLE", "FeatureProfile", "ReferenceProfile", "bin_counts", "build_profile"]

MAX_SAMPLE = 1_000_000
_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _edges(sorted_ref: NDArray[np.float64], bins: int, strategy: str) -> NDArray[np.float64]:
    """Inner bin edges; bin i holds edges[i-1] <= x < edges[i] (outer bins are open)."""
    if len(sorted_ref) == 0:
        return np.array([], dtype=np.float64)
    if strategy == "uniform":
        lo, hi = float(sorted_ref[0]), float(sorted_ref[-1])
        inner = np.linspace(lo, hi, bins + 1)[1:-1] if hi > lo else np.array([])
    else:
        inner = np.quantile(sorted_ref, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(np.asarray(inner, dtype=np.float64))


def bin_counts(sorted_values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """Counts per bin of *sorted* values: O(bins log n), no pass over the data."""
    cuts = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(np.concatenate([[0], cuts, [len(sorted_values)]])).astype(np.int64)


@dataclass
class FeatureProfile:
    name: str
    kind: str                                   # "numeric" or "categorical"
    count: int
    null_share: float
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] = field(default_factory=dict)
    edges: list[float] = field(default_factory=list)
    shares: list[float] = field(default_factory=list)
    categories: dict[str, float] = field(default_factory=dict)
    sorted_sample: NDArray[np.float64] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "sorted_sample"}
        out["sample"] = f"samples/{self.name}.npy" if self.sorted_sample is not None else None
        return out


@dataclass
class ReferenceProfile:
    features: dict[str, FeatureProfile]
    bins: int
    strategy: str
    metrics: dict[str, float] = field(default_factory=dict)
    prediction: FeatureProfile | None = None

    def save(self, folder: Path) -> None:
        (folder / "samples").mkdir(parents=True, exist_ok=True)
        items = list(self.features.values()) + ([self.prediction] if self.prediction else [])
        for fp in items:
            if fp.sorted_sample is not None:
                np.save(folder / "samples" / f"{fp.name}.npy", fp.sorted_sample,
                        allow_pickle=False)
        doc = {"version": 1, "bins": self.bins, "strategy": self.strategy,
               "metrics": self.metrics,
               "features": {n: f.to_json() for n, f in sorted(self.features.items())},
               "prediction": self.prediction.to_json() if self.prediction else None}
        (folder / "profile.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: Path) -> ReferenceProfile:
        doc = json.loads((folder / "profile.json").read_text())

        def one(d: Mapping[str, Any]) -> FeatureProfile:
            fields = {k: v for k, v in d.items() if k != "sample"}
            fp = FeatureProfile(**fields)
            if d.get("sample"):
                fp.sorted_sample = np.load(folder / d["sample"], allow_pickle=False)
            return fp

        pred = doc.get("prediction")
        return cls({n: one(d) for n, d in doc["features"].items()}, doc["bins"],
                   doc["strategy"], doc.get("metrics", {}), one(pred) if pred else None)


def _numeric(name: str, values: NDArray[Any], bins: int, strategy: str,
             rng: np.random.Generator) -> FeatureProfile:
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[~np.isnan(arr)]
    null_share = 1.0 - len(finite) / len(arr) if len(arr) else 0.0
    if len(finite) > MAX_SAMPLE:
        finite = rng.choice(finite, MAX_SAMPLE, replace=False)
    ordered = np.sort(finite)
    edges = _edges(ordered, bins, strategy)
    counts = bin_counts(ordered, edges)
    shares = counts / max(len(ordered), 1)
    qs = np.quantile(ordered, _QUANTILES) if len(ordered) else np.full(len(_QUANTILES), np.nan)
    return FeatureProfile(
        name, "numeric", len(arr), float(null_share),
        float(ordered.mean()) if len(ordered) else None,
        float(ordered.std()) if len(ordered) else None,
        {f"p{int(q * 100)}": float(v) for q, v in zip(_QUANTILES, qs, strict=True)},
        [float(e) for e in edges], [float(s) for s in shares], sorted_sample=ordered)


def _categorical(name: str, values: NDArray[Any]) -> FeatureProfile:
    items = [v for v in values.tolist() if v is not None]
    null_share = 1.0 - len(items) / len(values) if len(values) else 0.0
    cats, counts = np.unique(np.asarray([str(v) for v in items]), return_counts=True)
    total = max(int(counts.sum()), 1)
    return FeatureProfile(name, "categorical", len(values), float(null_share),
                          categories={str(c): int(n) / total
                                      for c, n in zip(cats, counts, strict=True)})


def build_profile(columns: Mapping[str, NDArray[Any]], *, bins: int = 10,
                  strategy: str = "quantile", prediction: NDArray[Any] | None = None,
                  metrics: Mapping[str, float] | None = None, seed: int = 0) -> ReferenceProfile:
    """Profile reference columns (numpy arrays); strings/objects/bools are categorical."""
    rng = np.random.default_rng(seed)
    features: dict[str, FeatureProfile] = {}
    for name, values in columns.items():
        arr = np.asarray(values)
        if arr.dtype.kind in "if":
            features[name] = _numeric(name, arr, bins, strategy, rng)
        else:
            features[name] = _categorical(name, arr)
    pred = _numeric("__prediction__", np.asarray(prediction), bins, strategy, rng) \
        if prediction is not None else None
    return ReferenceProfile(features, bins, strategy, dict(metrics or {}), pred)
