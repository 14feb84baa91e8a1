"""The whole-window KS (grid, then only the cells that can beat it) is exactly the maximum
over every point: `==` against a brute-force integer search and the stream's counts.

The samples are large enough for the grid path (the small ones in test_monitor_stats fall
back to the full search), with the cases that break a careless bound: the supremum inside
a cell, heavy ties on grid values, identical samples (D = 0), disjoint supports, a current
window far smaller or larger than the reference.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import ks_2samp

from specops.runtime.monitor.stats import (
    ks_from_counts,
    ks_statistic,
    ref_support,
    support_counts,
)


def _brute(ref: np.ndarray, cur: np.ndarray) -> float:
    """max over all points x of |R(x)/n - C(x)/m|, in Python integers, rounded once."""
    n, m = len(ref), len(cur)
    pts = np.concatenate([ref, cur])
    r = np.searchsorted(ref, pts, side="right")
    c = np.searchsorted(cur, pts, side="right")
    best = max(abs(int(a) * m - int(b) * n) for a, b in zip(r, c, strict=True))
    return float(Fraction(best, n * m))


def _stream(ref: np.ndarray, cur: np.ndarray) -> float:
    support, ref_le = ref_support(ref)
    lt, le = support_counts(support, cur)
    return ks_from_counts(ref_le, len(ref), lt, le, len(cur))


def _cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    base = rng.normal(0, 1, 20_000)
    spike = np.sort(base)[5000:5040].repeat(30)      # 1,200 values inside a few cells
    return [
        ("shift", base, rng.normal(0.02, 1, 15_000)),
        ("same", base, base.copy()),
        ("subset", base, base[::3].copy()),
        ("ties", rng.integers(0, 6, 20_000).astype(float),
         rng.integers(0, 7, 9_000).astype(float)),
        ("grid_ties", np.round(rng.normal(0, 3, 20_000)), np.round(rng.normal(0.1, 3, 30_000))),
        ("fine_ties", np.round(rng.normal(0, 1, 20_000), 2),     # about 30 per value
         np.round(rng.normal(-0.1, 1, 30_000), 2)),  # F_cur above F_ref
        ("disjoint", base, rng.normal(50, 1, 5_000)),
        ("inside_cell", base, np.concatenate([rng.normal(0, 1, 18_800), spike])),
        ("small_cur", base, rng.normal(0.5, 1, 101)),
        ("big_cur", rng.normal(0, 1, 3_000), rng.normal(0, 1.01, 60_000)),
        ("one_value", base, np.full(500, np.sort(base)[10_000])),
    ]


@pytest.mark.parametrize("step", [1, 2, 5, 64, 1000])
@pytest.mark.parametrize("case", range(11))
def test_grid_ks_equals_every_point(case: int, step: int) -> None:
    name, ref, cur = _cases()[case]
    ref, cur = np.sort(ref), np.sort(cur)
    got = ks_statistic(ref, cur, step=step)
    assert got == _brute(ref, cur), name
    assert got == _stream(ref, cur), name
    assert got == pytest.approx(ks_2samp(ref, cur).statistic, abs=1e-12), name


def test_supremum_inside_a_cell_is_found() -> None:
    """The only gap sits strictly between two grid values: the grid alone sees D = 0."""
    ref = np.arange(64_000, dtype=np.float64)               # grid at 63, 127, ...
    cur = ref.copy()
    cur[6400:6464] = 6400.5                                 # one cell's values, bunched
    cur.sort()
    grid = ref[63::64]
    on_grid = np.abs(np.searchsorted(ref, grid, side="right")
                     - np.searchsorted(cur, grid, side="right")).max()
    assert on_grid == 0
    got = ks_statistic(ref, cur)
    assert got == _brute(ref, cur) == float(Fraction(63, 64_000))
