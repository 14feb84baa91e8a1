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
- KS returns the two-sample statistic D (exact: computed in integers from the current
  counts below/at each distinct reference value, so batches of a stream give the same
  float as the whole window) and the asymptotic two-sided p-value
  (`ks_2samp(method="asymp")`); with large samples the p-value is ~0 for trivial shifts,
  so thresholds on D are usually the better alert.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "chi_square",
    "js_distance",
    "ks_from_counts",
    "ks_pvalue",
    "ks_statistic",
    "psi",
    "ref_support",
    "support_counts",
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


def ref_support(sorted_ref: FloatArray) -> tuple[FloatArray, NDArray[np.int64]]:
    """The reference's distinct values and, for each, how many reference values are <= it.

    F_ref only jumps at these values, so the KS statistic needs the current CDF at them
    (and just before them) and nothing else: that is what makes KS streamable exactly.
    """
    if len(sorted_ref) == 0:
        return sorted_ref, np.zeros(0, dtype=np.int64)
    last = np.flatnonzero(np.append(sorted_ref[1:] != sorted_ref[:-1], True))
    return sorted_ref[last], (last + 1).astype(np.int64)


def support_counts(support: FloatArray, sorted_cur: FloatArray
                   ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(#cur < u, #cur <= u) for each support value u: one binary search per support value
    (a second only where a current value equals it). Counts add up over batches."""
    le = np.searchsorted(sorted_cur, support, side="right").astype(np.int64)
    lt = le.copy()
    if len(sorted_cur):
        tied = (le > 0) & (sorted_cur[np.maximum(le - 1, 0)] == support)
        if tied.any():
            lt[tied] = np.searchsorted(sorted_cur, support[tied], side="left")
    return lt, le


def ks_from_counts(ref_le: NDArray[np.int64], n: int, cur_lt: NDArray[np.int64],
                   cur_le: NDArray[np.int64], m: int) -> float:
    """Exact two-sample KS statistic from counts on the reference support.

    On [u_i, u_i+1) F_ref is ref_le[i]/n while F_cur rises from cur_le[i]/m to
    cur_lt[i+1]/m, so the supremum is at one of those ends (before u_0: F_ref = 0). All in
    integers, D = max|a*m - b*n| / (n*m), rounded once: the same float whatever the batches.
    """
    if n == 0 or m == 0 or len(ref_le) == 0:
        return float("nan")
    rm = ref_le * np.int64(m)
    best = int(cur_lt[0]) * n
    best = max(best, int(np.abs(rm - cur_le * np.int64(n)).max()))
    if len(ref_le) > 1:
        best = max(best, int(np.abs(rm[:-1] - cur_lt[1:] * np.int64(n)).max()))
    return float(Fraction(best, n * m))


def _ks_numerator_full(sorted_ref: FloatArray, sorted_cur: FloatArray) -> int:
    """max|R(x)*m - C(x)*n| over every point x of both samples (R, C: counts <= x)."""
    n, m = len(sorted_ref), len(sorted_cur)
    support, ref_le = ref_support(sorted_ref)
    lt, le = support_counts(support, sorted_cur)
    rm = ref_le * np.int64(m)
    best = max(int(lt[0]) * n, int(np.abs(rm - le * np.int64(n)).max()))
    if len(ref_le) > 1:
        best = max(best, int(np.abs(rm[:-1] - lt[1:] * np.int64(n)).max()))
    return best


def _spans(starts: NDArray[np.int64], stops: NDArray[np.int64]) -> NDArray[np.int64]:
    """The indices start..stop-1 of every span, concatenated."""
    lengths = stops - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return offsets + np.arange(total, dtype=np.int64)


def _grid(sorted_ref: FloatArray, step: int) -> tuple[FloatArray, NDArray[np.int64]]:
    """Every `step`-th reference value (distinct) and how many reference values are <= it:
    the index after it, unless equal values follow (then a search, for those only)."""
    idx = np.arange(step - 1, len(sorted_ref), step, dtype=np.int64)
    vals = sorted_ref[idx]
    last = np.append(vals[1:] != vals[:-1], True) if len(vals) else np.zeros(0, dtype=bool)
    grid, at = vals[last], idx[last] + 1
    tied = at < len(sorted_ref)
    tied[tied] = sorted_ref[at[tied]] == grid[tied]
    if tied.any():
        at[tied] = np.searchsorted(sorted_ref, grid[tied], side="right")
    return grid, at


def ks_statistic(sorted_ref: FloatArray, sorted_cur: FloatArray, step: int = 64) -> float:
    """Two-sample KS statistic D = sup |F_ref - F_cur| for two *sorted* samples (exact).

    D*n*m = max|R(x)*m - C(x)*n| over the points x of both samples (R, C: how many
    reference / current values are <= x), an integer. It is computed first at a grid
    (every `step`-th reference value); on a cell (g_a, g_b] R and C only rise, so there
    |R*m - C*n| <= max(R_b*m - C_a*n, C_b*n - R_a*m). Only the points of cells whose bound
    beats the best grid value are then evaluated, so the maximum is the same integer as over
    every point, and the same float as `ks_from_counts` (what the stream uses). When the
    open cells hold over a quarter of the points (samples almost equal), every point is.
    """
    n, m = len(sorted_ref), len(sorted_cur)
    if n == 0 or m == 0:
        return float("nan")
    grid, at = _grid(sorted_ref, step)
    rg = np.concatenate([[0], at, [n]])
    cg = np.concatenate([[0], np.searchsorted(sorted_cur, grid, side="right"), [m]])
    rg, cg = rg.astype(np.int64), cg.astype(np.int64)
    rm, cn = rg * np.int64(m), cg * np.int64(n)
    best = int(np.abs(rm - cn).max())
    bound = np.maximum(rm[1:] - cn[:-1], cn[1:] - rm[:-1])
    cells = np.flatnonzero(bound > best)
    inside = int((rg[cells + 1] - rg[cells]).sum() + (cg[cells + 1] - cg[cells]).sum())
    if inside > (n + m) // 4:
        return float(Fraction(_ks_numerator_full(sorted_ref, sorted_cur), n * m))
    if inside:
        pts = np.concatenate([sorted_ref[_spans(rg[cells], rg[cells + 1])],
                              sorted_cur[_spans(cg[cells], cg[cells + 1])]])
        big_r = np.searchsorted(sorted_ref, pts, side="right").astype(np.int64)
        big_c = np.searchsorted(sorted_cur, pts, side="right").astype(np.int64)
        best = max(best, int(np.abs(big_r * np.int64(m) - big_c * np.int64(n)).max()))
    return float(Fraction(best, n * m))


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
