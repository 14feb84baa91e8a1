"""Group fairness for binary classifiers, with fairlearn's definitions (without fairlearn).

Definitions (fairlearn `metrics/_fairness_metrics.py`, `method="between_groups"`,
`agg="worst_case"`), over the groups of one protected attribute:
- selection rate of a group: share of its rows given the favourable decision (`y_pred` is
  1 for a favourable decision, `y_true` 1 for a favourable outcome: what counts as
  favourable, at which threshold, is decided once in `banding.py` from the model spec).
- `demographic_parity_difference` = max - min group selection rate;
  `demographic_parity_ratio` = min / max.
- `disparate_impact` = min / max group selection rate as well: the four-fifths rule
  (29 CFR 1607.4(D)) compares each group's rate with the highest group's, and the worst case
  of that comparison is exactly min / max. Reported separately because specs name it.
- `equalized_odds_difference` = max(TPR max-min, FPR max-min);
  `equalized_odds_ratio` = min(TPR min/max, FPR min/max).
- `equal_opportunity_difference` = TPR max-min; `equal_opportunity_ratio` = TPR min/max.

Why a minimum group size: a group of 3 rows makes every gap meaningless and noisy; groups
below `min_group_size` are listed as excluded (never silently dropped), and a metric with
fewer than two comparable groups is reported as null with the reason, so a gate referencing
it fails instead of passing. A rate that is undefined for a group (TPR with no positives)
leaves that group out of that rate's comparison, and is listed too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FAIRNESS_METRICS", "fairness_from_groups", "fairness_report",
           "group_rates"]

FAIRNESS_METRICS = ("demographic_parity_difference", "demographic_parity_ratio",
                    "disparate_impact", "equal_opportunity_difference",
                    "equal_opportunity_ratio", "equalized_odds_difference",
                    "equalized_odds_ratio", "selection_rate_min", "selection_rate_max",
                    "selection_rate_ratio")


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def group_rates(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray
                ) -> dict[str, dict[str, Any]]:
    """Per group: n, positives, selection rate, TPR, FPR (y_* are 0/1 arrays)."""
    out: dict[str, dict[str, Any]] = {}
    keys = ["<null>" if g is None else str(g) for g in groups.tolist()]
    arr = np.asarray(keys, dtype=object)
    for key in sorted(set(keys)):
        mask = arr == key
        yt, yp = y_true[mask], y_pred[mask]
        pos, neg = int(yt.sum()), int((1 - yt).sum())
        out[key] = {"n": int(mask.sum()), "positives": pos,
                    "selection_rate": float(yp.mean()),
                    "tpr": _rate(int((yp * yt).sum()), pos),
                    "fpr": _rate(int((yp * (1 - yt)).sum()), neg)}
    return out


def _spread(values: dict[str, float | None]) -> tuple[float | None, float | None, list[str]]:
    """(max - min, min / max, groups left out because the rate is undefined)."""
    defined = {k: v for k, v in values.items() if v is not None}
    undefined = sorted(k for k, v in values.items() if v is None)
    if len(defined) < 2:
        return None, None, undefined
    hi, lo = max(defined.values()), min(defined.values())
    ratio = lo / hi if hi > 0 else (1.0 if lo == hi else None)
    return hi - lo, ratio, undefined


def fairness_report(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray,
                    min_group_size: int = 1) -> dict[str, Any]:
    rates = group_rates(np.asarray(y_true, dtype=np.int64),
                        np.asarray(y_pred, dtype=np.int64), groups)
    return fairness_from_groups(rates, min_group_size)


def fairness_from_groups(rates: dict[str, dict[str, Any]], min_group_size: int
                         ) -> dict[str, Any]:
    """The report from per-group rates (`group_rates`, or the `groups` of a stored report).

    Why separate: `evaluation.json` stores every group's counts once, and each gate then
    compares the groups that meet *its own* `min_group_size` (a gate that says 100 must
    never be decided on groups of 77), without re-scoring the model."""
    rates = {str(k): dict(v) for k, v in rates.items()}
    kept = {k: v for k, v in rates.items() if v["n"] >= min_group_size}
    excluded = sorted(k for k in rates if k not in kept)
    report: dict[str, Any] = {"groups": rates, "min_group_size": min_group_size,
                              "excluded_groups": excluded, "compared_groups": sorted(kept)}
    sel_d, sel_r, _ = _spread({k: v["selection_rate"] for k, v in kept.items()})
    tpr_d, tpr_r, no_pos = _spread({k: v.get("tpr") for k, v in kept.items()})
    fpr_d, fpr_r, no_neg = _spread({k: v.get("fpr") for k, v in kept.items()})
    sel = [v["selection_rate"] for v in kept.values()]
    report.update({
        "selection_rate_min": min(sel) if sel else None,
        "selection_rate_max": max(sel) if sel else None,
        "demographic_parity_difference": sel_d,
        "demographic_parity_ratio": sel_r,
        "disparate_impact": sel_r,
        "selection_rate_ratio": sel_r,
        "equal_opportunity_difference": tpr_d,
        "equal_opportunity_ratio": tpr_r,
        "equalized_odds_difference": (max(tpr_d, fpr_d) if tpr_d is not None
                                      and fpr_d is not None else None),
        "equalized_odds_ratio": (min(tpr_r, fpr_r) if tpr_r is not None
                                 and fpr_r is not None else None),
        "groups_without_positives": no_pos, "groups_without_negatives": no_neg,
    })
    if len(kept) < 2:
        report["note"] = (f"fewer than two groups with at least {min_group_size} rows: "
                          "fairness metrics are undefined")
    return report
