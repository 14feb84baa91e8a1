"""Out-of-core point-in-time join: the spine split into entity ranges, each range joined
with the matching slice of every view, the result written to parquet part by part.

Why: the in-memory join (`pit.py`) holds the spine, every view and the result at once
(10M rows: ~3 GB). The join's semantics are per entity (a spine row only ever matches view
rows with the same keys), so splitting the inputs by entity gives independent parts whose
joins, concatenated, are exactly the in-memory join. Each part is joined by
`pit.pit_join` itself (same code, same TTL / created-time / null-key rules), so the two
paths cannot drift apart.

How:
1. the spine is read once; the part boundaries are quantiles of its first key column
   (from a strided sample), so every part gets about `rows_per_part` spine rows; each
   spine row goes to the range holding its first key (null keys: part 0, where they get
   null features as in memory), keeping spine order inside a part (`ROW` is the row's
   position in the spine);
2. views need no shuffle: compute_features stores them sorted by (entity, ts), so a
   range of entities is a contiguous run of row groups, read with a predicate on the key
   (parquet statistics skip the other row groups; an unsorted view is still correct,
   only slower to read);
3. part p joins its spine rows with every view's slice and writes `part-NNNNN.parquet`
   (spine columns, `ROW`, then the features view by view). Memory is bounded by the
   spine plus about two parts, not by the views or the result.

Runner: `"local"` joins two parts at a time in threads of this process (numpy and polars
release the GIL); `"ray"` writes each part's spine rows to a file and runs the parts as
Ray tasks, placed round-robin over the cluster's alive nodes (`NodeAffinity`, soft), the
views read by each task from the shared path; only paths travel through the object
store. `"auto"` takes Ray when this process is connected to a Ray with more than one
node, local otherwise (on one machine Ray only adds its start and per-task costs).

`join_files(..., mode="auto")` picks the in-memory path up to `IN_MEMORY_MAX_ROWS` input
rows (spine plus views) and the partitioned path above; `mode="memory"` or
`"partitioned"` forces one. `iter_in_order` streams any result back in spine order.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

# As in the Ray executor: under `uv run`, Ray would otherwise ship the working directory
# (the project's data and .venv) to every worker; the driver's environment is the one the
# part tasks need. Read when ray is first imported.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

import numpy as np
import polars as pl

from specops.runtime.data.pit import index_spine, pit_join

__all__ = ["IN_MEMORY_MAX_ROWS", "ROW", "ROWS_PER_PART", "JoinResult", "ViewInput",
           "ensure_ray", "iter_in_order", "join_files", "parquet_rows", "read_joined"]

ROW = "__spine_row"
IN_MEMORY_MAX_ROWS = 40_000_000   # spine + view rows: ~10M-row spine with 3 views, ~3 GB
ROWS_PER_PART = 1_250_000         # spine rows per part (10M rows: 12.2-12.5 CPU-s, 1.35 GB vs
#                                   2.5M per part 12.9-15.0 CPU-s, 1.65 GB)
_PART_ROW_GROUP = 65_536          # row groups of part files: `iter_in_order` reads ranges
_SAMPLE = 200_000                 # spine keys sampled for the part boundaries
T = TypeVar("T")


@dataclass(frozen=True)
class ViewInput:
    """One feature view stored as parquet, and how to join it (see `pit.pit_join`)."""

    path: Path
    keys: Sequence[str]
    ts: str
    features: Sequence[str]
    created: str | None = None
    ttl_s: float | None = None
    created_cutoff: bool = False


@dataclass
class JoinResult:
    """Where the joined rows are: one file (memory) or one file per part (partitioned)."""

    mode: str
    files: list[Path]
    rows: int
    parts: int = 1
    nodes: list[str] = field(default_factory=list)   # Ray node id per part ("" locally)
    runner: str = "local"


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    return int(pq.ParquetFile(path).metadata.num_rows)


def _bounds(key: pl.Series, parts: int) -> pl.Series:
    """Sorted distinct split points: part p holds keys in [b[p-1], b[p]) (part 0 also
    nulls). Quantiles of a strided sample of the non-null keys; duplicates (a hot key)
    merge parts, so there may be fewer than `parts`."""
    k = key.drop_nulls()
    if key.dtype.is_integer():
        k = k.cast(pl.Int64)
    elif key.dtype in (pl.Categorical,) or isinstance(key.dtype, pl.Enum):
        k = k.cast(pl.String)
    if parts <= 1 or k.len() == 0:
        return k.head(0)
    step = max(1, k.len() // _SAMPLE)
    sample = k.gather_every(step).sort()
    picks = [round(i * sample.len() / parts) for i in range(1, parts)]
    return sample.gather([min(p, sample.len() - 1) for p in picks]).unique(maintain_order=True)


def _part_of(key: pl.Series, bounds: pl.Series) -> np.ndarray:
    """Part index of every spine row (uint16: numpy sorts it by radix)."""
    if bounds.len() == 0:
        return np.zeros(key.len(), dtype=np.uint16)
    if key.dtype.is_integer():
        k = key.cast(pl.Int64)
        vals = k.fill_null(0).to_numpy()
        pid = np.searchsorted(bounds.to_numpy(), vals, side="right")
        if k.null_count():
            pid[k.is_null().to_numpy()] = 0
    else:
        k = key.cast(bounds.dtype) if key.dtype != bounds.dtype else key
        pid = bounds.search_sorted(k.fill_null(bounds[0]), side="right").to_numpy(writable=True)
        if k.null_count():
            pid[k.is_null().to_numpy()] = 0
    return pid.astype(np.uint16)


def _range_filter(col: str, dtype: pl.DataType, lo: Any, hi: Any) -> pl.Expr:
    """Rows of a view whose key is in [lo, hi) (None: no bound); nulls excluded (they
    never match)."""
    c = pl.col(col)
    if not dtype.is_integer() and (dtype == pl.Categorical or isinstance(dtype, pl.Enum)):
        c = c.cast(pl.String)
    cond = c.is_not_null()
    if lo is not None:
        cond = cond & (c >= lo)
    if hi is not None:
        cond = cond & (c < hi)
    return cond


@dataclass(frozen=True)
class _Part:
    """What one part task needs: its spine rows (a frame locally, a file on Ray) and the
    key range [lo, hi) of the views to read."""

    index: int
    spine: pl.DataFrame | Path
    lo: Any
    hi: Any
    out: Path


def _view_slice(v: ViewInput, lo: Any, hi: Any) -> pl.DataFrame:
    cols = list(dict.fromkeys([*v.keys, v.ts, *([v.created] if v.created else []),
                               *v.features]))
    scan = pl.scan_parquet(v.path).select(cols)
    dtype = scan.collect_schema()[v.keys[0]]
    return scan.filter(_range_filter(v.keys[0], dtype, lo, hi)).collect()


def _join_part(part: _Part, views: Sequence[ViewInput], spine_keys: Sequence[str],
               spine_ts: str) -> tuple[int, str]:
    """Join one part in memory with `pit_join` and write it; returns (rows, node id)."""
    spine = part.spine if isinstance(part.spine, pl.DataFrame) else pl.read_parquet(part.spine)
    index = index_spine(spine, list(spine_keys), spine_ts) if spine.height else None
    cols = [spine]
    for v in views:
        view = _view_slice(v, part.lo, part.hi)
        cols.append(pit_join(spine, view, spine_keys=spine_keys, spine_ts=spine_ts,
                             view_keys=v.keys, view_ts=v.ts, features=v.features,
                             view_created=v.created, ttl_s=v.ttl_s,
                             created_cutoff=v.created_cutoff, spine_index=index))
        del view
    joined = pl.concat(cols, how="horizontal")
    joined.write_parquet(part.out, compression="lz4", row_group_size=_PART_ROW_GROUP)
    ray = sys.modules.get("ray")   # set inside a Ray task; never imported here
    node = ray.get_runtime_context().get_node_id() if ray and ray.is_initialized() else ""
    return joined.height, node


def join_files(spine: Path | str | pl.DataFrame, views: Sequence[ViewInput],
               out_dir: Path | str, *, spine_keys: Sequence[str], spine_ts: str,
               mode: str = "auto", parts: int | None = None,
               rows_per_part: int = ROWS_PER_PART, work_dir: Path | str | None = None,
               max_in_flight: int | None = None, runner: str = "auto") -> JoinResult:
    """Join every view onto the spine (a parquet file or a frame); the result is parquet
    under `out_dir`.

    Each output file holds the spine's columns, `ROW` (the spine row position) and the
    features of each view in `views` order; sorting all files' rows by `ROW` gives exactly
    the frame the in-memory join returns (`read_joined`, `iter_in_order`). `mode`: "auto",
    "memory" or "partitioned"; `runner` (partitioned): "auto", "local" or "ray" (module
    doc).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if mode not in ("auto", "memory", "partitioned"):
        raise ValueError(f"mode must be auto, memory or partitioned, not {mode!r}")
    if runner not in ("auto", "local", "ray"):
        raise ValueError(f"runner must be auto, local or ray, not {runner!r}")
    frame = spine if isinstance(spine, pl.DataFrame) else pl.read_parquet(Path(spine))
    if mode == "auto":
        total = frame.height + sum(parquet_rows(Path(v.path)) for v in views)
        mode = "memory" if total <= IN_MEMORY_MAX_ROWS else "partitioned"
    n_parts = 1 if mode == "memory" else (parts or max(1, math.ceil(frame.height /
                                                                    rows_per_part)))
    key = frame.get_column(spine_keys[0])
    bounds = _bounds(key, n_parts)
    pid = _part_of(key, bounds)
    counts = np.bincount(pid, minlength=bounds.len() + 1)
    order = np.argsort(pid, kind="stable")   # radix sort: spine order kept within a part
    del pid
    edges = [None, *bounds.to_list(), None]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n = len(counts)
    if runner == "auto":
        runner = "ray" if mode == "partitioned" and _cluster_nodes() > 1 else "local"
    work = Path(tempfile.mkdtemp(prefix="pit_parts_", dir=work_dir)) if runner == "ray" \
        else None

    def make(p: int) -> _Part:
        if n == 1:   # one part: the whole spine, in order
            part = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW))
        else:
            rows = order[offsets[p]:offsets[p + 1]]
            part = frame.gather(rows).with_columns(pl.Series(ROW, rows, dtype=pl.Int64))
        target = out / f"part-{p:05d}.parquet"
        if work is None:
            return _Part(p, part, edges[p], edges[p + 1], target)
        path = work / f"spine-{p:05d}.parquet"
        part.write_parquet(path, compression="uncompressed")
        return _Part(p, path, edges[p], edges[p + 1], target)

    try:
        calls = [(p, list(views), list(spine_keys), spine_ts) for p in range(n)]
        if runner == "ray":
            results = _run_ray([(make(p), *rest) for p, *rest in calls], max_in_flight)
        else:
            results = _run_local(make, calls, max_in_flight or min(2, os.cpu_count() or 1))
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    files = [out / f"part-{p:05d}.parquet" for p in range(n)]
    return JoinResult(mode, files, sum(r for r, _ in results), n,
                      [nd for _, nd in results], runner)


def _run_local(make: Callable[[int], _Part], calls: list[tuple[Any, ...]],
               threads: int) -> list[tuple[int, str]]:
    """Parts in this process, `threads` at a time (numpy and polars release the GIL); a
    part's spine rows are gathered only when its turn comes, so memory holds the spine
    plus `threads` parts. Threads, not processes: at 10M rows in 4 parts, two spawned
    worker processes took 21.5-21.9 CPU-s (their start, the spine parts written to disk
    and read back) against 16.9-18.5 CPU-s for two threads, and were no faster."""
    def one(call: tuple[Any, ...]) -> tuple[int, str]:
        return _join_part(make(call[0]), *call[1:])

    if threads <= 1 or len(calls) == 1:
        return [one(c) for c in calls]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, calls))


def _cluster_nodes() -> int:
    """Alive nodes with CPUs of the Ray this process is connected to (0 when none)."""
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a runtime dependency
        return 0
    if not ray.is_initialized():
        return 0
    return len(_cpu_nodes())


def _cpu_nodes() -> list[str]:
    import ray

    return sorted(n["NodeID"] for n in ray.nodes()  # type: ignore[no-untyped-call]
                  if n["Alive"] and n.get("Resources", {}).get("CPU", 0) > 0)


def ensure_ray(attempts: int = 3) -> None:
    """Connect to the Ray this process already uses, or start a local one (1 CPU per core,
    a small object store: only paths travel). Ray gives its raylet a fixed 30 s to
    register, which a loaded machine can miss, so a failed start is retried."""
    import ray

    for attempt in range(attempts):
        if ray.is_initialized():
            return
        try:
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False,
                     log_to_driver=False, configure_logging=False,
                     object_store_memory=100_000_000)
        except Exception:
            ray.shutdown()
            if attempt == attempts - 1:
                raise


def _run_ray(calls: list[tuple[Any, ...]], max_in_flight: int | None
             ) -> list[tuple[int, str]]:
    """`_join_part(*call)` for every call as Ray tasks, at most `max_in_flight` at once
    (default: the cluster's CPUs). Part i is pinned (soft: another node if that one dies)
    to alive node i mod N, so the placement is known, not left to the scheduler: on a
    two-node test cluster with two tasks in flight, Ray's default strategy put 5 of 6
    tasks on the head (SPREAD alternated; one scratch run). Results in call order."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ensure_ray()
    task = ray.remote(num_cpus=1, max_retries=2)(_join_part)
    nodes = _cpu_nodes()
    cpus = ray.cluster_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
    limit = max_in_flight or max(1, int(cpus))
    results: dict[int, tuple[int, str]] = {}
    pending: dict[Any, int] = {}
    for i, call in enumerate(calls):
        if len(pending) >= limit:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                results[pending.pop(ref)] = ray.get(ref)
        opts: dict[str, Any] = {}
        if nodes:
            opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                nodes[i % len(nodes)], soft=True)
        pending[task.options(**opts).remote(*call)] = i
    for ref, i in pending.items():
        results[i] = ray.get(ref)
    return [results[i] for i in range(len(calls))]


def iter_in_order(result: JoinResult, chunk_rows: int = 1_000_000,
                  columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
    """The joined rows in spine order, `chunk_rows` at a time (the last chunk shorter),
    without `ROW`. Every part is sorted by `ROW` and stored in small row groups, so each
    chunk reads only the row groups that hold its rows."""
    cols = [*columns, ROW] if columns is not None else None
    for start in range(0, result.rows, chunk_rows):
        stop = min(start + chunk_rows, result.rows)
        pieces = [pl.scan_parquet(f).select(cols if cols else pl.all())
                  .filter((pl.col(ROW) >= start) & (pl.col(ROW) < stop)).collect()
                  for f in result.files]
        chunk = pl.concat(pieces).sort(ROW) if len(pieces) > 1 else pieces[0]
        yield chunk.drop(ROW)


def read_joined(result: JoinResult) -> pl.DataFrame:
    """All parts in spine order (small results and tests; large ones stay on disk)."""
    return pl.read_parquet(result.files).sort(ROW)
