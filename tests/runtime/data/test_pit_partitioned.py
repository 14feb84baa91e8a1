"""The partitioned (out-of-core, Ray) point-in-time join equals the in-memory one.

Inputs are built to hit every rule of `pit.pit_join`: duplicate (key, ev) rows decided by
created time (ties and nulls included), a TTL, the created-time cutoff, null keys on both
sides, string and two-column keys, a view of windowed aggregates, and integer keys of
different widths on the two sides (they must land in the same entity range). Parts run in
this process's threads and as real Ray tasks on the session's cluster; one test adds a
second Ray node and checks both nodes joined parts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from specops.runtime.data.pit import pit_join
from specops.runtime.data.pit_partitioned import (
    ROW,
    ViewInput,
    iter_in_order,
    join_files,
    read_joined,
)

pytestmark = pytest.mark.ray

T0 = 1_704_067_200_000_000  # 2024-01-01 UTC, microseconds
MIN = 60_000_000
TS = pl.Datetime("us", "UTC")


def _data(root: Path, n: int = 3000, seed: int = 0) -> tuple[Path, list[ViewInput]]:
    rng = np.random.default_rng(seed)
    n_ent = 40

    def keys(size: int, dtype: type) -> pl.Series:
        k = pl.Series(rng.integers(0, n_ent, size)).cast(pl.Int64)
        nulls = rng.random(size) < 0.03
        return pl.select(pl.when(pl.Series(nulls)).then(None).otherwise(k)).to_series() \
            .cast(pl.Int32 if dtype is np.int32 else pl.Int64)

    def times(size: int) -> pl.Series:
        # minutes on a coarse grid: many exact (key, ev) and (key, ev, cr) ties
        return pl.Series(T0 + rng.integers(0, 300, size) * MIN).cast(TS)

    spine = pl.DataFrame({"eid": keys(n, np.int64), "t": times(n),
                          "grp": rng.choice(["a", "b", "c"], n),
                          "label": rng.integers(0, 2, n)})
    spine = spine.with_columns(
        pl.when(pl.Series(rng.random(n) < 0.02)).then(None).otherwise(pl.col("t")).alias("t"))
    spine.write_parquet(root / "spine.parquet")
    views = []
    # plain view: int32 key (the spine's is int64), created time with ties and nulls
    m = 4 * n
    cr = pl.Series(T0 + rng.integers(0, 320, m) * MIN).cast(TS)
    cr = pl.select(pl.when(pl.Series(rng.random(m) < 0.1)).then(None).otherwise(cr)).to_series()
    v0 = pl.DataFrame({"eid": keys(m, np.int32), "ev": times(m), "cr": cr,
                       "x": rng.standard_normal(m), "y": rng.integers(0, 5, m)})
    v0 = v0.with_columns(pl.when(pl.Series(rng.random(m) < 0.05)).then(None)
                         .otherwise(pl.col("x")).alias("x"))
    v0.sort("eid", "ev", "cr", nulls_last=False).write_parquet(root / "v0.parquet")
    views.append(ViewInput(root / "v0.parquet", ["eid"], "ev", ["x", "y"], created="cr",
                           ttl_s=45 * 60))
    # the same rows under the created-time cutoff
    v0.sort("eid", "ev", "cr", nulls_last=False).rename({"x": "x_cut"}) \
        .write_parquet(root / "v1.parquet")
    views.append(ViewInput(root / "v1.parquet", ["eid"], "ev", ["x_cut"], created="cr",
                           ttl_s=3600, created_cutoff=True))
    # unsorted copy: the parts are re-sorted exactly like memory does
    v0.rename({"y": "y_unsorted"}).write_parquet(root / "v2.parquet")
    views.append(ViewInput(root / "v2.parquet", ["eid"], "ev", ["y_unsorted"], created="cr"))
    # windowed aggregates per entity (what compute_features writes for `window:` features)
    agg = (v0.drop_nulls(["eid"]).sort("eid", "ev")
           .with_columns(pl.col("y").cast(pl.Float64).rolling_sum_by("ev", "1h").over("eid")
                         .alias("y_sum_1h"),
                         pl.col("x").rolling_mean_by("ev", "2h").over("eid").alias("x_mean_2h"))
           .select("eid", "ev", "y_sum_1h", "x_mean_2h"))
    agg.write_parquet(root / "agg.parquet")
    views.append(ViewInput(root / "agg.parquet", ["eid"], "ev", ["y_sum_1h", "x_mean_2h"],
                           ttl_s=7200))
    return root / "spine.parquet", views


def _memory(spine_path: Path, views: list[ViewInput], keys: list[str], ts: str
            ) -> pl.DataFrame:
    """The reference: read everything, `pit_join` each view, hstack (build_training_set)."""
    spine = pl.read_parquet(spine_path)
    cols = [spine.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW))]
    for v in views:
        cols.append(pit_join(spine, pl.read_parquet(v.path), spine_keys=keys, spine_ts=ts,
                             view_keys=v.keys, view_ts=v.ts, features=v.features,
                             view_created=v.created, ttl_s=v.ttl_s,
                             created_cutoff=v.created_cutoff))
    return pl.concat(cols, how="horizontal")


def _features(views: list[ViewInput]) -> list[str]:
    return [f for v in views for f in v.features]


@pytest.mark.parametrize(("parts", "runner"), [(2, "ray"), (7, "local"), (7, "ray")])
def test_partitioned_equals_in_memory(ray_local, tmp_path: Path, parts: int,
                                      runner: str) -> None:
    """All views at once: TTL + created ties (0), created cutoff (1), an unsorted view (2),
    windowed aggregates (3)."""
    spine, views = _data(tmp_path, seed=parts)
    want = _memory(spine, views, ["eid"], "t")
    res = join_files(spine, views, tmp_path / "out", spine_keys=["eid"], spine_ts="t",
                     mode="partitioned", parts=parts, runner=runner)
    assert (res.mode, res.runner) == ("partitioned", runner)
    assert res.parts == parts and len(res.files) == parts
    sizes = [pl.read_parquet(f).height for f in res.files]
    assert min(sizes) > 0.5 * want.height / parts, sizes   # quantile ranges: balanced
    got = read_joined(res)
    assert got.schema == want.schema
    assert got.equals(want)
    feats = _features(views)
    matched = want.select(pl.col(feats).is_not_null().sum()).row(0)
    assert all(100 < k < want.height for k in matched), matched   # matches and misses


def test_string_and_two_column_keys(ray_local, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 2000
    def strs(choices: list[str | None], size: int) -> pl.Series:
        return pl.Series([choices[i] for i in rng.integers(0, len(choices), size)],
                         dtype=pl.String)

    spine = pl.DataFrame({"a": strs(["p", "q", "r", "s", None], n),
                          "b": rng.integers(0, 4, n),
                          "t": pl.Series(T0 + rng.integers(0, 100, n) * MIN).cast(TS)})
    view = pl.DataFrame({"a": strs(["p", "q", "r", "zz", None], 3 * n),
                         "b": rng.integers(0, 4, 3 * n).astype(np.int16),
                         "ev": pl.Series(T0 + rng.integers(0, 100, 3 * n) * MIN).cast(TS),
                         "f": rng.standard_normal(3 * n)})
    spine.write_parquet(tmp_path / "s.parquet")
    view.write_parquet(tmp_path / "v.parquet")
    for keys in (["a"], ["a", "b"]):
        v = ViewInput(tmp_path / "v.parquet", keys, "ev", ["f"], ttl_s=1800)
        want = _memory(tmp_path / "s.parquet", [v], keys, "t")
        got = read_joined(join_files(tmp_path / "s.parquet", [v], tmp_path / "o" / keys[-1],
                                     spine_keys=keys, spine_ts="t", mode="partitioned",
                                     parts=4))
        assert got.equals(want), keys
        assert 0 < got.get_column("f").null_count() < n


def test_iter_in_order_streams_the_spine_order(tmp_path: Path) -> None:
    """Chunks of any size, concatenated, are the in-memory join (without `ROW`), and a
    hot entity (most of the spine) merges ranges instead of splitting an entity."""
    spine, views = _data(tmp_path, n=3000, seed=5)
    frame = pl.read_parquet(spine)
    hot = frame.with_columns(pl.when(pl.int_range(pl.len()) % 4 != 0).then(7)
                             .otherwise(pl.col("eid")).alias("eid"))
    want = _memory(spine, views, ["eid"], "t").drop(ROW)
    res = join_files(spine, views, tmp_path / "out", spine_keys=["eid"], spine_ts="t",
                     mode="partitioned", parts=5, runner="local")
    for chunk in (700, 3000, 10_000):
        assert pl.concat(list(iter_in_order(res, chunk))).equals(want), chunk
    cols = ["t", "x_cut"]
    assert pl.concat(list(iter_in_order(res, 1000, cols))).equals(want.select(cols))
    hot.write_parquet(tmp_path / "hot.parquet")
    want_hot = _memory(tmp_path / "hot.parquet", views, ["eid"], "t")
    res = join_files(hot, views, tmp_path / "hot", spine_keys=["eid"], spine_ts="t",
                     mode="partitioned", parts=8, runner="local")
    assert res.parts < 8   # 75% of rows share one key: one range holds them all
    assert read_joined(res).equals(want_hot)


def test_auto_mode_picks_memory_for_small_inputs(tmp_path: Path) -> None:
    spine, views = _data(tmp_path, n=500)
    res = join_files(spine, views[:1], tmp_path / "out", spine_keys=["eid"], spine_ts="t")
    assert res.mode == "memory" and res.parts == 1
    assert read_joined(res).equals(_memory(spine, views[:1], ["eid"], "t"))
    with pytest.raises(ValueError, match="mode must be"):
        join_files(spine, views[:1], tmp_path / "x", spine_keys=["eid"], spine_ts="t",
                   mode="fast")


@pytest.mark.slow
def test_partitioned_join_on_a_two_node_cluster(second_ray_node, tmp_path: Path) -> None:
    """On a real two-node cluster the parts run as Ray tasks (runner auto picks Ray when
    connected to several nodes), both nodes join parts (each part reports the node that
    ran it), and the result is the in-memory one; the executor's fan-out mapper also
    reaches both nodes."""
    import ray

    spine, views = _data(tmp_path, n=4000, seed=11)
    want = _memory(spine, views[:1], ["eid"], "t")
    res = join_files(spine, views[:1], tmp_path / "out", spine_keys=["eid"], spine_ts="t",
                     mode="partitioned", parts=6)
    assert read_joined(res).equals(want)
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(alive) == 2
    assert res.runner == "ray" and len(res.nodes) == 6
    assert set(res.nodes) == alive, res.nodes   # every node ran parts

    # the training fan-out's mapper (Ray's default strategy, all tasks at once): half a
    # second each on one-CPU nodes, so the head's queue spills to the other node
    from specops.runtime.engine.executors.ray_executor import ray_map

    def where(_: int) -> str:
        import time

        time.sleep(0.5)
        return str(ray.get_runtime_context().get_node_id())

    assert set(ray_map(where, list(range(6)))) == alive
