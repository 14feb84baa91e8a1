"""Out-of-core point-in-time join: spine and views split by entity hash, parts joined as
Ray tasks, the result streamed to parquet.

Why: the in-memory join (`pit.py`) holds the spine, every view and the result at once
(10M rows: ~3 GB). The join's semantics are per entity (a spine row only ever matches view
rows with the same keys), so splitting every input by a hash of its keys gives independent
parts whose joins, concatenated, are exactly the in-memory join. Each part is joined by
`pit.pit_join` itself (same code, same TTL / created-time / null-key rules), so the two
paths cannot drift apart.

How:
1. one streaming pass per input file, each a Ray task (`pyarrow` record batches, never
   the whole file)
   appends each row to the part file of `hash(keys) % parts`; the spine also gets its row
   position (`ROW`), so the in-memory order is recovered by sorting on it;
2. one Ray task per part reads its spine part and view parts, joins, and writes
   `part-NNNNN.parquet` (spine columns, `ROW`, then the features view by view) to the
   output folder; only paths travel through Ray's object store;
3. memory is bounded by the part size (`rows_per_part`), not by the input size.

Null keys hash like any value; such rows never match (as in memory) and keep null features.
Hashing casts integer keys to Int64 and string-like keys to String on both sides, so a
spine key and a view key of different widths land in the same part.

`join_files(..., mode="auto")` picks the in-memory path below `IN_MEMORY_MAX_ROWS` input
rows (spine plus views) and the partitioned path above; `mode="memory"` or
`"partitioned"` forces one.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

# As in the Ray executor: under `uv run`, Ray would otherwise ship the working directory
# (the project's data and .venv) to every worker; the driver's environment is the one the
# part tasks need. Read when ray is first imported.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

import polars as pl

from specops.runtime.data.pit import index_spine, pit_join

__all__ = ["IN_MEMORY_MAX_ROWS", "ROW", "ROWS_PER_PART", "JoinResult", "ViewInput",
           "ensure_ray", "join_files", "partition_file", "read_joined"]

ROW = "__spine_row"
IN_MEMORY_MAX_ROWS = 40_000_000   # spine + view rows: ~10M-row spine with 3 views, ~3 GB
ROWS_PER_PART = 2_500_000         # spine rows per part: ~0.8 GB per task with 3 views
_BATCH = 1_000_000
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
    nodes: list[str] = field(default_factory=list)   # Ray node id per part


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    return int(pq.ParquetFile(path).metadata.num_rows)


def _hash_key(keys: Sequence[str], schema: pl.Schema) -> pl.Expr:
    """A hash of the keys that is equal for equal key values whatever their int width."""
    cols = []
    for k in keys:
        dt = schema[k]
        if dt.is_integer():
            cols.append(pl.col(k).cast(pl.Int64))
        elif dt in (pl.String, pl.Categorical, pl.Enum) or isinstance(dt, pl.Enum):
            cols.append(pl.col(k).cast(pl.String))
        else:
            cols.append(pl.col(k))
    expr = cols[0] if len(cols) == 1 else pl.struct(cols)
    return expr.hash(seed=0)


def partition_file(path: Path, keys: Sequence[str], parts: int, out: Path, *,
                   row_column: str | None = None, columns: Sequence[str] | None = None
                   ) -> list[Path]:
    """Stream `path` in record batches into `parts` files `out/NNNNN.parquet` by key hash.

    Rows keep their relative order inside each part (a view sorted by (key, ev, cr) stays
    sorted, so `pit_join` does not re-sort it). Returns the part paths (all exist, maybe
    empty). `row_column` adds the row's position in the file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    pf = pq.ParquetFile(path)
    names = list(columns) if columns is not None else None
    paths = [out / f"{p:05d}.parquet" for p in range(parts)]
    writers: list[Any] = [None] * parts
    start = 0
    try:
        for batch in pf.iter_batches(batch_size=_BATCH, columns=names):
            df = pl.from_arrow(batch)
            assert isinstance(df, pl.DataFrame)
            if row_column:
                df = df.with_columns(pl.int_range(start, start + df.height, dtype=pl.Int64)
                                     .alias(row_column))
            start += batch.num_rows
            part = df.select((_hash_key(keys, df.schema) % parts).alias("__p")).to_series()
            df = df.with_columns(part)
            for (p,), chunk in df.partition_by("__p", as_dict=True, maintain_order=True).items():
                table = chunk.drop("__p").to_arrow()
                i = int(p)
                if writers[i] is None:
                    writers[i] = pq.ParquetWriter(paths[i], table.schema, compression="lz4")
                writers[i].write_table(table)
        schema = None
        for w in writers:
            if w is not None:
                schema = w.schema
        if schema is None:  # empty input: the file's own schema
            schema = pa.schema([f for f in pf.schema_arrow if names is None or f.name in names])
            if row_column:
                schema = schema.append(pa.field(row_column, pa.int64()))
        for i in range(parts):
            if writers[i] is None:
                pq.write_table(schema.empty_table(), paths[i], compression="lz4")
    finally:
        for w in writers:
            if w is not None:
                w.close()
    return paths


def _join_part(spine_path: Path, view_paths: Sequence[Path], views: Sequence[ViewInput],
               spine_keys: Sequence[str], spine_ts: str, out: Path) -> tuple[int, str]:
    """Join one part in memory with `pit_join` and write it; returns (rows, node id)."""
    spine = pl.read_parquet(spine_path)
    index = index_spine(spine, list(spine_keys), spine_ts) if spine.height else None
    cols = [spine]
    for v, path in zip(views, view_paths, strict=True):
        view = pl.read_parquet(path)
        cols.append(pit_join(spine, view, spine_keys=spine_keys, spine_ts=spine_ts,
                             view_keys=v.keys, view_ts=v.ts, features=v.features,
                             view_created=v.created, ttl_s=v.ttl_s,
                             created_cutoff=v.created_cutoff, spine_index=index))
        del view
    joined = pl.concat(cols, how="horizontal")
    joined.write_parquet(out, compression="lz4")
    node = ""
    try:
        import ray

        if ray.is_initialized():
            node = ray.get_runtime_context().get_node_id()
    except ImportError:  # pragma: no cover - ray is a runtime dependency
        pass
    return joined.height, node


def _in_memory(spine_path: Path, views: Sequence[ViewInput], spine_keys: Sequence[str],
               spine_ts: str, out_dir: Path) -> JoinResult:
    spine = pl.read_parquet(spine_path).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW))
    out = out_dir / "part-00000.parquet"
    rows, _ = _join_part_frame(spine, views, spine_keys, spine_ts, out)
    return JoinResult("memory", [out], rows)


def _join_part_frame(spine: pl.DataFrame, views: Sequence[ViewInput], spine_keys: Sequence[str],
                     spine_ts: str, out: Path) -> tuple[int, str]:
    tmp = out.with_suffix(".spine.parquet")
    spine.write_parquet(tmp)
    try:
        return _join_part(tmp, [v.path for v in views], views, spine_keys, spine_ts, out)
    finally:
        tmp.unlink(missing_ok=True)


def join_files(spine_path: Path | str, views: Sequence[ViewInput], out_dir: Path | str, *,
               spine_keys: Sequence[str], spine_ts: str, mode: str = "auto",
               parts: int | None = None, rows_per_part: int = ROWS_PER_PART,
               work_dir: Path | str | None = None, max_in_flight: int | None = None
               ) -> JoinResult:
    """Join every view onto the spine file; the result is parquet under `out_dir`.

    Each output file holds the spine's columns, `ROW` (the spine row position) and the
    features of each view in `views` order; sorting all files' rows by `ROW` gives exactly
    the frame the in-memory join returns (`read_joined` does that). `mode`: "auto",
    "memory" or "partitioned". The partitioned path runs its parts as Ray tasks on the
    Ray this process is connected to (or a local one it starts).
    """
    spine_path, out = Path(spine_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if mode not in ("auto", "memory", "partitioned"):
        raise ValueError(f"mode must be auto, memory or partitioned, not {mode!r}")
    spine_rows = _parquet_rows(spine_path)
    if mode == "auto":
        total = spine_rows + sum(_parquet_rows(Path(v.path)) for v in views)
        mode = "memory" if total <= IN_MEMORY_MAX_ROWS else "partitioned"
    if mode == "memory":
        return _in_memory(spine_path, views, spine_keys, spine_ts, out)
    n_parts = parts or max(1, math.ceil(spine_rows / rows_per_part))
    work = Path(tempfile.mkdtemp(prefix="pit_parts_", dir=work_dir))
    try:
        # every input is split by its own Ray task: the spine and the views side by side
        jobs: list[tuple[Path, Sequence[str], Path, str | None, list[str] | None]] = [
            (spine_path, spine_keys, work / "spine", ROW, None)]
        for i, v in enumerate(views):
            cols = list(dict.fromkeys([*v.keys, v.ts, *([v.created] if v.created else []),
                                       *v.features]))
            jobs.append((Path(v.path), v.keys, work / f"view{i}", None, cols))
        split = _run_tasks(_split, [(*j, n_parts) for j in jobs], max_in_flight)
        spine_parts, view_parts = split[0], split[1:]
        files = [out / f"part-{p:05d}.parquet" for p in range(n_parts)]
        results = _run_tasks(_join_part, [
            (spine_parts[p], [vp[p] for vp in view_parts], list(views), list(spine_keys),
             spine_ts, files[p]) for p in range(n_parts)], max_in_flight)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return JoinResult("partitioned", files, sum(r for r, _ in results), n_parts,
                      [n for _, n in results])


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


def _split(path: Path, keys: Sequence[str], out: Path, row_column: str | None,
           columns: list[str] | None, parts: int) -> list[Path]:
    return partition_file(path, keys, parts, out, row_column=row_column, columns=columns)


def _run_tasks(fn: Callable[..., T], calls: list[tuple[Any, ...]],
               max_in_flight: int | None) -> list[T]:
    """`fn(*call)` for every call as Ray tasks, at most `max_in_flight` at once (default:
    the cluster's CPUs), so memory stays at a few parts whatever their number. Results in
    call order."""
    import ray

    ensure_ray()
    # SPREAD: parts are independent and memory-bound, so a cluster shares them out rather
    # than packing them onto the node that holds the driver
    task = ray.remote(num_cpus=1, max_retries=2, scheduling_strategy="SPREAD")(fn)
    cpus = ray.cluster_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
    limit = max_in_flight or max(1, int(cpus))
    results: dict[int, T] = {}
    pending: dict[Any, int] = {}
    for i, call in enumerate(calls):
        if len(pending) >= limit:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                results[pending.pop(ref)] = ray.get(ref)
        pending[task.remote(*call)] = i
    for ref, i in pending.items():
        results[i] = ray.get(ref)
    return [results[i] for i in range(len(calls))]


def read_joined(result: JoinResult) -> pl.DataFrame:
    """All parts in spine order (small results and tests; large ones stay on disk)."""
    return pl.read_parquet(result.files).sort(ROW)
