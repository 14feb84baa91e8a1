"""Groups of a protected attribute, and the favourable decision: one definition for
evaluation, gates, the governance report and monitoring.

Why one module: a fairness number only means something if every place that computes it
forms the same groups and counts the same decisions. Before, evaluation made every
distinct age its own group while monitoring cut quartiles of whatever rows it saw, and
"selection" meant "predicted the positive class at 0.5" even where the positive class is
the adverse outcome (1 = default). Now:

- A banded attribute's edges are fixed once, at evaluation, from the spec (`bands: [25,
  40, 60]`) or from quantiles of the training split (`bands: {quantiles: 4}`), stored in
  `evaluation.json` (`fairness_settings.bands`) and reused verbatim by the monitor, so a
  window's "25-40" is the evaluation's "25-40". Bands are half-open: `[a, b)`, labelled
  `<25`, `25-40`, `40-60`, `>=60`. A missing value is its own group (`<null>`).
- The favourable decision (what fairlearn calls a selection) is `P(favourable label) >=
  threshold` for a classifier, and `prediction >= threshold` (`higher_score`) or
  `prediction <= threshold` (`lower_score`) for a regressor. The favourable truth, used by
  equal opportunity and equalized odds, is `label == favourable label`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DIRECTIONS", "FairnessSettings", "band_edges", "band_groups", "band_names",
           "describe", "favourable"]

DIRECTIONS = ("higher_score", "lower_score")


def band_edges(values: np.ndarray, spec: Sequence[float] | Mapping[str, Any]) -> list[float]:
    """Edges for one attribute: the spec's list as is, or `{quantiles: q}` cut points of
    `values` (the training split), deduplicated so ties never make empty bands."""
    if isinstance(spec, Mapping):
        q = int(spec["quantiles"])
        arr = np.asarray(values, dtype=np.float64)
        arr = arr[~np.isnan(arr)]
        if not len(arr) or q < 2:
            return []
        cuts = np.quantile(arr, [i / q for i in range(1, q)])
        return [float(c) for c in np.unique(cuts)]
    return [float(e) for e in spec]


def _label(i: int, edges: Sequence[float]) -> str:
    if i == 0:
        return f"<{edges[0]:g}"
    if i == len(edges):
        return f">={edges[-1]:g}"
    return f"{edges[i - 1]:g}-{edges[i]:g}"


def band_groups(values: np.ndarray, edges: Sequence[float] | None) -> np.ndarray:
    """Group label per row: the band of a numeric value when `edges` is given (None for a
    missing value), else the value itself as text (None stays None)."""
    raw = np.asarray(values, dtype=object)
    if edges is None:
        return np.asarray([None if v is None or (isinstance(v, float) and np.isnan(v))
                           else str(v) for v in raw.tolist()], dtype=object)
    if not len(edges):
        return np.asarray(["all" if v is not None else None for v in raw.tolist()],
                          dtype=object)
    arr = np.asarray([np.nan if v is None else float(v) for v in raw.tolist()],
                     dtype=np.float64)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), arr, side="right")
    return np.asarray([None if np.isnan(v) else _label(int(i), edges)
                       for i, v in zip(idx, arr, strict=True)], dtype=object)


def band_names(edges: Sequence[float]) -> list[str]:
    """Every band's label in order (for reports)."""
    return [_label(i, edges) for i in range(len(edges) + 1)] if edges else ["all"]


def _same(values: np.ndarray, label: Any) -> np.ndarray:
    """values == label, numerically when both are numbers (1.0 is class 1), else as text."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iufb" and isinstance(label, (int, float, bool)):
        return np.asarray(arr == label, dtype=bool)
    return np.asarray([str(v) == str(label) for v in arr.tolist()], dtype=bool)


@dataclass(frozen=True)
class FairnessSettings:
    """What a favourable outcome is, the decision threshold, and the bands (edges per
    attribute, already fixed). `favorable` None means the positive class (`classes[1]`)."""

    favorable: Any = None
    threshold: float | None = None
    bands: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"favorable": self.favorable, "threshold": self.threshold,
                "bands": {k: list(v) for k, v in sorted(self.bands.items())}}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> FairnessSettings:
        doc = doc or {}
        return cls(doc.get("favorable"), doc.get("threshold"),
                   {str(k): [float(e) for e in v] for k, v in (doc.get("bands") or {}).items()})

    def favourable_label(self, classes: Sequence[Any]) -> Any:
        """The class whose probability is thresholded (classifiers)."""
        if self.favorable is None or self.favorable == "higher_score":
            return classes[-1]
        if self.favorable == "lower_score":
            return classes[0]
        for c in classes:
            if _same(np.asarray([c]), self.favorable)[0]:
                return c
        raise ValueError(f"favorable outcome {self.favorable!r} is not a class of the model "
                         f"(classes: {', '.join(map(str, classes))})")


def favourable(settings: FairnessSettings, classes: Sequence[Any], y_true: np.ndarray | None,
               proba: np.ndarray | None, prediction: np.ndarray | None
               ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(favourable truth 0/1 or None, favourable decision 0/1 or None).

    Classifiers: `proba` is the (n, n_classes) probability matrix, or for a binary model
    the positive-class column alone (what a serving log records); without probabilities
    the decision is `prediction == favourable label`. Regressors: `prediction` against the
    threshold in the favourable direction (a regression needs one; lint enforces it)."""
    t = 0.5 if settings.threshold is None else float(settings.threshold)
    if not classes:   # regression
        if settings.favorable not in DIRECTIONS or settings.threshold is None:
            return None, None
        higher = settings.favorable == "higher_score"

        def side(v: np.ndarray) -> np.ndarray:
            a = np.asarray(v, dtype=np.float64)
            return ((a >= t) if higher else (a <= t)).astype(np.int64)

        return (side(y_true) if y_true is not None else None,
                side(prediction) if prediction is not None else None)
    label = settings.favourable_label(classes)
    truth = _same(y_true, label).astype(np.int64) if y_true is not None else None
    decision: np.ndarray | None = None
    if proba is not None:
        p = np.asarray(proba, dtype=np.float64)
        if p.ndim == 2:
            col = p[:, list(classes).index(label)]
        elif len(classes) == 2:   # the positive-class column
            col = p if label == classes[-1] else 1.0 - p
        else:
            col = None
        if col is not None:
            decision = (col >= t).astype(np.int64)
    if decision is None and prediction is not None:
        decision = _same(prediction, label).astype(np.int64)
    return truth, decision


def describe(settings: FairnessSettings, classes: Sequence[Any]) -> str:
    """One line for reports: what counts as a favourable decision."""
    t = 0.5 if settings.threshold is None else settings.threshold
    if not classes:
        op = ">=" if settings.favorable == "higher_score" else "<="
        return f"favourable decision: prediction {op} {t:g}"
    label = settings.favourable_label(classes)
    return f"favourable decision: P({label}) >= {t:g}; favourable outcome: label {label}"
