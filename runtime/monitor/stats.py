"""Drift statistics on binned or sorted data, written for a reference that is profiled once.

Why not call scipy per column: `ks_2samp` and `wasserstein_distance` sort both samples on
every call. A monitoring job compares one current window against a reference that does not
change, so the reference is sorted (and binned) once at training time and only the current
data is sorted here. Results equal scipy's definitions (tests check them against
`ks_2samp`, `jensenshannon` and `wasserstein_distance`).

Conventions (documented in docs/monitoring.md):
- PSI = sum((cur% - ref%) * ln(cur% / ref%)); zero shares are replaced by `epsilon` in both
  distributions (no renormalisation), as Evidently does with 1e-4.
- Jensen-Shannon is the *distance* (square root of the divergence) with natural logs, like
  `scipy.spatial.distance.jensenshannon` and Evidently; NannyML uses base 2.
- Wasserstein is W1 divided by the reference standard deviation (floored at 1e-3), like
  Evidently's normed Wasserstein.
- KS returns the two-sample statistic D (exact) and the asymptotic two-sided p-value
  (`ks_2samp(method="asymp")`); with large samples the p-value is ~0 for trivial shifts,
  so thresholds on D are usually the better alert.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "chi_square",
    "js_distance",
    "ks_pvalue",
    "ks_statistic",
    "psi",
    "wasserstein_normed",
]

FloatArray = NDArray[np.float64]


def psi(ref_share: FloatArray, cur_counts: NDArray[np.int64] | FloatArray,
        epsilon: float = 1e-4) -> float:
    """Population stability index of current bin counts against reference bin shares."""
    total = float(np.sum(cur_counts))
    if total <= 0:
        return float("nan")
    cur = np.asarray(cur_counts, dtype=np.float64) / total
    ref = np.where(ref_share > 0, ref_share, epsilon)
    cur = np.where(cur > 0, cur, epsilon)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def ks_statistic(sorted_ref: FloatArray, sorted_cur: FloatArray) -> float:
    """Two-sample KS statistic D = sup |F_ref - F_cur| for two *sorted* samples.

    Between consecutive current points F_cur is constant and F_ref only grows, so the
    supremum is reached at a current point (F_ref(c)) or just before the next one
    (F_ref(c-)); one binary search of the current points into the reference gives both,
    with a second search only where the reference has values equal to a current point.
    """
    n, m = len(sorted_ref), len(sorted_cur)
    if n == 0 or m == 0:
        return float("nan")
    right = np.searchsorted(sorted_ref, sorted_cur, side="right")
    prev = np.clip(right - 1, 0, n - 1)
    tied = (right > 0) & (sorted_ref[prev] == sorted_cur)
    has_ties = bool(tied.any())
    if not has_ties and not bool(np.any(sorted_cur[1:] == sorted_cur[:-1])):
        # Fast path (continuous data): F_ref(c-) = F_ref(c), so with r_j = F_ref(c_j) - j/m
        # D = max_j max(|r_j - 1/m|, |r_j|), reached at the extremes of r.
        r = right / n - np.arange(m, dtype=np.float64) / m
        hi, lo = float(r.max()), float(r.min())
        return max(abs(hi), abs(lo), abs(hi - 1.0 / m), abs(lo - 1.0 / m))
    left = right.copy()
    if has_ties:
        left[tied] = np.searchsorted(sorted_ref, sorted_cur[tied], side="left")
    # F_cur after the last of a run of equal current values.
    last = np.append(sorted_cur[1:] != sorted_cur[:-1], True)
    f_cur_at = np.arange(1, m + 1, dtype=np.float64)[last] / m
    f_ref_at = right[last] / n
    f_ref_before = left[np.append(True, last[:-1])] / n      # at each run start
    f_cur_before = np.append(0.0, f_cur_at[:-1])
    d_at = np.max(np.abs(f_ref_at - f_cur_at))
    d_before = np.max(np.abs(f_ref_before - f_cur_before))
    return float(max(d_at, d_before))


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Asymptotic two-sided p-value, as `scipy.stats.ks_2samp(..., method="asymp")`."""
    from scipy.stats import kstwo

    en = np.round(n * m / (n + m))
    return float(np.clip(kstwo.sf(d, en), 0.0, 1.0))


def js_distance(ref_share: FloatArray, cur_share: FloatArray) -> float:
    """Jensen-Shannon distance (natural log) between two binned distributions."""
    p = np.asarray(ref_share, dtype=np.float64)
    q = np.asarray(cur_share, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    mid = (p + q) / 2.0

    def kl(a: FloatArray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / mid[mask])))

    return float(np.sqrt(max((kl(p) + kl(q)) / 2.0, 0.0)))


def wasserstein_normed(sorted_ref: FloatArray, sorted_cur: FloatArray,
                       ref_std: float | None = None) -> float:
    """W1 between the two empirical distributions, divided by the reference std."""
    n, m = len(sorted_ref), len(sorted_cur)
    if n == 0 or m == 0:
        return float("nan")
    values = np.concatenate([sorted_ref, sorted_cur])
    values.sort(kind="stable")
    deltas = np.diff(values)
    cdf_ref = np.searchsorted(sorted_ref, values[:-1], side="right") / n
    cdf_cur = np.searchsorted(sorted_cur, values[:-1], side="right") / m
    w1 = float(np.sum(np.abs(cdf_ref - cdf_cur) * deltas))
    std = float(np.std(sorted_ref)) if ref_std is None else ref_std
    return w1 / max(std, 1e-3)


def chi_square(ref_share: FloatArray, cur_counts: NDArray[np.int64] | FloatArray,
               epsilon: float = 1e-4) -> tuple[float, float]:
    """Pearson chi-square of current category counts against reference shares."""
    from scipy.stats import chi2

    counts = np.asarray(cur_counts, dtype=np.float64)
    total = counts.sum()
    expected = np.where(ref_share > 0, ref_share, epsilon)
    expected = expected / expected.sum() * total
    stat = float(np.sum((counts - expected) ** 2 / expected))
    dof = max(len(counts) - 1, 1)
    return stat, float(chi2.sf(stat, dof))
