"""Point-in-time join parity against a brute-force rendering of Feast's SQL template.

The reference below is deliberately naive (a loop per spine row over every view row) so it
reads like the SQL: equal non-null keys, `ev <= t`, `ev >= t - ttl` (inclusive), optional
`cr <= t` with null created dropped, winner = max (ev, cr) with null cr lowest, exact
duplicates resolved to the last row in (key, ev, cr)-sorted stored order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import hypothesis.strategies as st
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings

from specops.runtime.data import pit
from specops.runtime.data.pit import pit_join

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def brute_pit(spine: pl.DataFrame, view: pl.DataFrame, *, key: str, ts: str, vts: str,
              vcr: str | None, features: list[str], ttl_s: float | None,
              cutoff: bool) -> pl.DataFrame:
    vrows = view.with_row_index("__pos").to_dicts()
    # stored order after a stable sort by (key, ev, cr), nulls first: ties go to the last
    def sort_key(r: dict) -> tuple:
        c = r[vcr] if vcr else None
        return (r[key] is None, r[key] or 0, r[vts] is None, r[vts] or T0,
                c is not None, c or T0)
    vrows.sort(key=sort_key)
    out: list[dict] = []
    for s in spine.to_dicts():
        k, t = s[key], s[ts]
        best, best_rank = None, None
        for rank, r in enumerate(vrows):
            if k is None or r[key] is None or r[key] != k or t is None or r[vts] is None:
                continue
            if r[vts] > t:
                continue
            if ttl_s and r[vts] < t - timedelta(seconds=ttl_s):
                continue
            c = r[vcr] if vcr else None
            if cutoff and (c is None or c > t):
                continue
            cand = (r[vts], c is not None, c or T0, rank)
            if best_rank is None or cand > best_rank:
                best, best_rank = r, cand
        out.append({f: (best[f] if best else None) for f in features})
    return pl.DataFrame(out, schema={f: view.schema[f] for f in features})


def _mk(minutes: list[int | None]) -> list[datetime | None]:
    return [None if m is None else T0 + timedelta(minutes=m) for m in minutes]


def _run_both(spine, view, *, ttl_s, cutoff, created=True):
    kw = dict(features=["x", "y"], ttl_s=ttl_s, created_cutoff=cutoff)
    got = pit_join(spine, view, spine_keys=["k"], spine_ts="t", view_keys=["k"],
                   view_ts="ev", view_created="cr" if created else None, **kw)
    want = brute_pit(spine, view, key="k", ts="t", vts="ev", vcr="cr" if created else None,
                     features=["x", "y"], ttl_s=ttl_s, cutoff=cutoff)
    return got, want


@pytest.fixture
def adversarial() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Ties on event time broken by created time, TTL edges, nulls, duplicate spine rows."""
    view = pl.DataFrame({
        "k":  [1,    1,    1,    1,    2,    2,    3,    None, 4,    4,    5,  5],
        "ev": _mk([0, 10, 10, 10, 0, 60, 25, 5, 100, 100, 30, None]),
        "cr": _mk([0, 10, 50, 20, 0, 61, 500, 5, None, 100, 30, 30]),
        "x":  [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0],
        "y":  ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"],
    })
    spine = pl.DataFrame({
        "k": [1,  1,  1,  1,  2,  2,  3,   None, 4,   4,   5,  5,   6,  1],
        "t": _mk([10, 10, 20, 70, 60, 59, 30, 5, 100, 99, 31, 200, 10, None]),
        "label": list(range(14)),
    })
    return spine, view


@pytest.mark.parametrize("cutoff", [False, True])
@pytest.mark.parametrize("ttl_s", [None, 0, 600, 3600])
def test_adversarial_parity(adversarial, ttl_s, cutoff) -> None:
    spine, view = adversarial
    got, want = _run_both(spine, view, ttl_s=ttl_s, cutoff=cutoff)
    assert got.to_dicts() == want.to_dicts()


def test_adversarial_expected_values(adversarial) -> None:
    spine, view = adversarial
    got = pit_join(spine, view, spine_keys=["k"], spine_ts="t", view_keys=["k"],
                   view_ts="ev", view_created="cr", features=["x"], ttl_s=600)
    x = got.get_column("x").to_list()
    assert x[0] == x[1] == 3.0        # ev tie at 10: created 50 beats 20 and 10; dup spine kept
    assert x[2] == 3.0                # 10 minutes back: exactly at the TTL edge, inclusive
    assert x[3] is None               # 60 minutes later: only rows outside the TTL -> null row
    assert x[4] == 6.0                # a feature exactly at the event time is used
    assert x[5] is None               # the only earlier row is 59 minutes back
    assert x[6] == 7.0                # created after t, but no cutoff: used (Feast default)
    assert x[7] is None               # null spine key never matches (view has a null key too)
    assert x[8] == 10.0               # null created loses the tie to a non-null one
    assert x[9] is None and x[10] == 11.0 and x[11] is None
    assert x[12] is None and x[13] is None   # unknown entity; null spine time
    cut = pit_join(spine, view, spine_keys=["k"], spine_ts="t", view_keys=["k"],
                   view_ts="ev", view_created="cr", features=["x"], ttl_s=600,
                   created_cutoff=True).get_column("x").to_list()
    assert cut[0] == 2.0 and cut[6] is None and cut[8] == 10.0
    assert cut[2] == 4.0              # at 20 the row created at 50 is not yet known


def test_unsorted_view_and_string_keys(adversarial) -> None:
    spine, view = adversarial
    shuffled = view.sample(fraction=1.0, shuffle=True, seed=3)
    a, _ = _run_both(spine, view, ttl_s=600, cutoff=False)
    b, want = _run_both(spine, shuffled, ttl_s=600, cutoff=False)
    # exact duplicates aside (none here), order of storage must not matter
    assert a.to_dicts() == b.to_dicts() == want.to_dicts()
    s2 = spine.with_columns(pl.col("k").cast(pl.String))
    v2 = view.with_columns(pl.col("k").cast(pl.String))
    for cutoff in (False, True):
        got = pit_join(s2, v2, spine_keys=["k"], spine_ts="t", view_keys=["k"], view_ts="ev",
                       view_created="cr", features=["x", "y"], ttl_s=600,
                       created_cutoff=cutoff)
        want = brute_pit(spine, view, key="k", ts="t", vts="ev", vcr="cr",
                         features=["x", "y"], ttl_s=600, cutoff=cutoff)
        assert got.to_dicts() == want.to_dicts()


def test_multi_key_no_id_collision() -> None:
    """(1, 12) and (11, 2) would collide under Feast's concatenated ids; rows don't."""
    spine = pl.DataFrame({"a": [1, 11], "b": [12, 2], "t": _mk([5, 5])})
    view = pl.DataFrame({"a": [1, 11], "b": [12, 2], "ev": _mk([0, 1]), "x": [1.0, 2.0]})
    got = pit_join(spine, view, spine_keys=["a", "b"], spine_ts="t", view_keys=["a", "b"],
                   view_ts="ev", features=["x"])
    assert got.get_column("x").to_list() == [1.0, 2.0]


def test_naive_and_other_units_are_utc() -> None:
    spine = pl.DataFrame({"k": [1], "t": [datetime(2024, 1, 1, 1)]})        # naive
    view = pl.DataFrame({"k": [1], "ev": [datetime(2024, 1, 1, 1)]}).with_columns(
        pl.col("ev").dt.cast_time_unit("ns").dt.replace_time_zone("UTC"), x=pl.lit(1.0))
    got = pit_join(spine, view, spine_keys=["k"], spine_ts="t", view_keys=["k"],
                   view_ts="ev", features=["x"], ttl_s=1)
    assert got.get_column("x").to_list() == [1.0]


_minutes = st.one_of(st.none(), st.integers(0, 40))
_key = st.one_of(st.none(), st.integers(0, 4))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    vrows=st.lists(st.tuples(_key, _minutes, _minutes), min_size=0, max_size=30),
    srows=st.lists(st.tuples(_key, _minutes), min_size=1, max_size=20),
    ttl_min=st.sampled_from([None, 0, 1, 5, 20]),
    cutoff=st.booleans(),
    key_kind=st.sampled_from(["int", "wide", "str"]),
)
def test_hypothesis_parity(vrows, srows, ttl_min, cutoff, key_kind) -> None:
    """Tie-heavy random data (minute grid 0..40): packed ints, string keys (encoded, then
    packed) and keys too wide to pack (polars join_asof path)."""
    off = 2**61 if key_kind == "wide" else 0
    view = pl.DataFrame({
        "k": [None if k is None else k + off for k, _, _ in vrows],
        "ev": _mk([e for _, e, _ in vrows]), "cr": _mk([c for _, _, c in vrows]),
        "x": np.arange(len(vrows), dtype=np.float64), "y": [str(i) for i in range(len(vrows))],
    }, schema={"k": pl.Int64, "ev": pl.Datetime("us", "UTC"), "cr": pl.Datetime("us", "UTC"),
               "x": pl.Float64, "y": pl.String})
    # exact duplicates on (k, ev, cr) have no defined winner in Feast; make them identical
    view = view.with_columns(
        pl.col("x").first().over("k", "ev", "cr"), pl.col("y").first().over("k", "ev", "cr"))
    spine = pl.DataFrame({"k": [None if k is None else k + off for k, _ in srows],
                          "t": _mk([t for _, t in srows])},
                         schema={"k": pl.Int64, "t": pl.Datetime("us", "UTC")})
    if key_kind == "str":
        spine = spine.with_columns(pl.format("k{}", pl.col("k")).alias("k"))
        view = view.with_columns(pl.format("k{}", pl.col("k")).alias("k"))
    ttl_s = None if ttl_min is None else ttl_min * 60
    got, want = _run_both(spine, view, ttl_s=ttl_s, cutoff=cutoff)
    assert got.to_dicts() == want.to_dicts()


@pytest.mark.parametrize("cutoff", [False, True])
@pytest.mark.parametrize("ttl_min", [None, 7])
def test_threaded_ranges_chunked_view_and_feature_dtypes(monkeypatch, cutoff, ttl_min) -> None:
    """The packed path's threaded row ranges (index and join), blocked searches, cache
    blocks, a view read as several chunks and every kind of feature column (byte rows for
    plain numbers of any width, polars for nullable, string and boolean ones) give
    exactly the brute-force result."""
    monkeypatch.setattr(pit, "_RANGE_ROWS", 7)
    monkeypatch.setattr(pit, "_BLOCK_ROWS", 5)
    monkeypatch.setattr(pit, "_SEARCH_ROWS", 3)
    rng = np.random.default_rng(11)
    nv, ns = 160, 90
    vk = rng.integers(0, 12, nv)
    view = pl.DataFrame({
        "k": pl.Series([None if r < 0.05 else int(k)
                        for r, k in zip(rng.random(nv), vk, strict=True)], dtype=pl.Int64),
        "ev": _mk(rng.integers(0, 60, nv).tolist()),
        "cr": _mk(rng.integers(0, 70, nv).tolist()),
        "f64": rng.standard_normal(nv), "f32": rng.standard_normal(nv).astype(np.float32),
        "i32": rng.integers(-9, 9, nv).astype(np.int32),
        "u8": rng.integers(0, 255, nv).astype(np.uint8),
        "i64": rng.integers(-(2**40), 2**40, nv),
        "nullable": pl.Series([None if i % 4 == 0 else float(i) for i in range(nv)]),
        "s": [f"s{i}" for i in range(nv)], "b": (rng.random(nv) < 0.5).tolist(),
    }).sort("k", "ev", "cr", nulls_last=False)
    # exact duplicates on (k, ev, cr) have no defined winner in Feast; make them identical
    feats = [c for c in view.columns if c not in ("k", "ev", "cr")]
    view = view.with_columns(pl.col(feats).first().over("k", "ev", "cr"))
    chunked = pl.concat([view.slice(i, 23) for i in range(0, nv, 23)], rechunk=False)
    assert chunked.n_chunks() > 1
    spine = pl.DataFrame({
        "k": pl.Series([None if r < 0.05 else int(k) for r, k in
                        zip(rng.random(ns), rng.integers(0, 14, ns), strict=True)],
                       dtype=pl.Int64),
        "t": _mk(rng.integers(0, 75, ns).tolist()),
    })
    ttl_s = None if ttl_min is None else ttl_min * 60
    want = brute_pit(spine, view, key="k", ts="t", vts="ev", vcr="cr", features=feats,
                     ttl_s=ttl_s, cutoff=cutoff)
    assert want.get_column("f64").null_count() not in (0, ns)   # hits and misses both
    for v in (view, chunked):
        got = pit_join(spine, v, spine_keys=["k"], spine_ts="t", view_keys=["k"], view_ts="ev",
                       view_created="cr", features=feats, ttl_s=ttl_s, created_cutoff=cutoff)
        assert got.schema == want.schema
        assert got.to_dicts() == want.to_dicts()


@pytest.mark.parametrize("kbits", [3, 45, 58])
def test_packed_order_sorts_exactly(kbits: int) -> None:
    """`_packed_order` sorts exactly: room for the whole time (kbits 3), same key and near
    times colliding in the coarse sort (kbits 45: 5 of 20 time bits left, the timsort
    fix-up runs), exact ties, and no room for the row number (kbits 58: polars)."""
    rng = np.random.default_rng(5)
    n, tbits = 5000, 20
    packed = (rng.integers(0, 2**min(kbits, 3), n) << tbits) | rng.integers(0, 2**tbits, n)
    order, ordered = pit._packed_order(packed, kbits, tbits)
    assert sorted(order.tolist()) == list(range(n))
    assert ordered.tolist() == packed[order].tolist() == np.sort(packed).tolist()
