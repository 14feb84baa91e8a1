"""Benchmark: point-in-time training-set retrieval (spine x 3 feature views), specops vs Feast.

Workload (research/peer_baselines.md): an entity spine of N rows over 30 days with N/10
entities; 3 feature views of N rows each (entity, ts, three float64 features), stored as
compute_features stores them (sorted by entity, time); TTL 3 days. The timed step runs in
a fresh process and includes reading the parquet files. Prints one JSON line:
`rows`, `seconds`, `peak_rss_mb`, `matched_share`, `checksum` (and with `--feast`:
`feast_seconds`, `feast_peak_rss_mb`, `ratio`, `identical`, or `feast_error`).

    uv run python bench/pit_join.py --rows 1000000 [--feast] [--repeats 1]
    uv run python bench/pit_join.py --rows 50000000 --mode auto --feast-rows 5000000

`--mode memory` (default) times `pit.pit_join` as build_training_set runs it;
`--mode partitioned|auto` times `pit_partitioned.join_files` (auto: in memory below
IN_MEMORY_MAX_ROWS input rows, else entity-range parts), the result written to parquet
part by part.
`--runner local|ray|auto` (partitioned): parts in the timed process, or as Ray tasks (auto:
Ray only when connected to a Ray of several nodes, so local here).
`peak_tree_rss_mb` is the peak of the summed RSS of the timed process and every process
under it (Ray's raylet, GCS and workers included), sampled every 0.2 s;
`tree_cpu_seconds` the CPU time of that process and the descendants it waited for (the
whole worker run: join, checksum pass, Ray's start and stop).
`--feast-rows N` runs Feast (and specops in memory) on a separate N-row data set in the
same invocation: Feast at the largest size it survives, not at `--rows`.

`--feast` builds `bench/.venvs/feast` with `uv venv` + `uv pip install feast[duckdb]` (never
the project's own dependencies) and runs Feast's duckdb offline store on the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venvs" / "feast"
DAY_US = 86_400_000_000
T0_US = 1_735_689_600_000_000  # 2025-01-01 UTC
VIEWS = 3
TTL_S = 3 * 86_400
THREADS = int(os.environ.get("SPECOPS_PIT_THREADS", "2"))


def generate(n: int, out: Path, seed: int) -> None:
    import numpy as np
    import polars as pl

    from specops.runtime.data.table_files import COMPRESSION

    rng = np.random.default_rng(seed)
    n_ent = max(1, n // 10)
    ts = pl.Datetime("us", "UTC")
    spine = pl.DataFrame({
        "entity_id": rng.integers(0, n_ent, n, dtype=np.int64),
        "event_timestamp": pl.Series(T0_US + rng.integers(0, 30 * DAY_US, n)).cast(ts),
    }).with_columns(row_id=pl.int_range(pl.len(), dtype=pl.Int64))
    spine.write_parquet(out / "spine.parquet")
    for v in range(VIEWS):
        df = pl.DataFrame({
            "entity_id": rng.integers(0, n_ent, n, dtype=np.int64),
            "ts": pl.Series(T0_US + rng.integers(0, 30 * DAY_US, n)).cast(ts),
            **{f"v{v}_f{j}": rng.standard_normal(n) for j in range(3)},
        }).sort("entity_id", "ts")
        # stored as compute_features stores a view: sorted by (entity, ts), lz4
        df.write_parquet(out / f"view{v}.parquet", compression=COMPRESSION)


def run_partitioned(data: Path, mode: str, runner: str) -> dict[str, float | int | str]:
    """The out-of-core path: join_files writes parquet parts; checksum read part by part."""
    import polars as pl

    from specops.runtime.data.pit_partitioned import ViewInput, ensure_ray, join_files

    ray_s = 0.0
    if runner == "ray":   # a local Ray started first, its start reported apart
        t = time.perf_counter()
        ensure_ray()
        ray_s = time.perf_counter() - t
    views = [ViewInput(data / f"view{v}.parquet", ["entity_id"], "ts",
                       [f"v{v}_f{j}" for j in range(3)], ttl_s=TTL_S) for v in range(VIEWS)]
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    res = join_files(data / "spine.parquet", views, data / "out", spine_keys=["entity_id"],
                     spine_ts="event_timestamp", mode=mode, work_dir=data, runner=runner)
    seconds = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    total, matched, hsum = 0, 0, 0
    feats = sorted(f"v{v}_f{j}" for v in range(VIEWS) for j in range(3))
    for f in res.files:   # one part at a time: the result never sits in memory whole
        part = pl.read_parquet(f)
        total += part.height
        matched += int(part.get_column("v0_f0").is_not_null().sum())
        h = part.select(pl.col(feats).fill_null(-1e300)).hash_rows(seed=0)
        hsum += int(h.cast(pl.UInt64).sum())
    if runner == "ray":
        import ray

        ray.shutdown()
    return {"seconds": round(seconds, 3), "ray_start_seconds": round(ray_s, 2),
            "mode": res.mode, "runner": res.runner, "parts": res.parts,
            "driver_peak_rss_mb": _peak_rss_mb(), "driver_cpu_seconds": round(cpu, 2),
            "rows_out": total, "matched_share": round(matched / max(total, 1), 4),
            "checksum": f"{hsum & 0xFFFFFFFFFFFF:012x}"}


def _tree_rss_kb(root: int) -> int:
    """Summed VmRSS of `root` and all its descendants (from /proc; no psutil needed)."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    parent[int(d)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        for c, pp in parent.items():
            if pp == p and c not in tree:
                tree.add(c)
                frontier.append(c)
    kb = 0
    for p in tree:
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        kb += int(line.split()[1])
        except OSError:
            continue
    return kb


def _run_worker(args: list[str]) -> dict[str, object]:
    """Run the timed worker in a fresh process, sampling its process tree's RSS."""
    import threading

    ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            stop.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise RuntimeError(err[-3000:])
    res: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    res["peak_tree_rss_mb"] = round(peak[0] / 1024, 1)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of the worker and the descendants it waited for (whole run, reading included)
    res["tree_cpu_seconds"] = round(ch.ru_utime + ch.ru_stime - ch0.ru_utime - ch0.ru_stime, 1)
    return res


def run_specops(data: Path) -> dict[str, float | int | str]:
    """The timed retrieval, as build_training_set does it: read, join each view, hstack."""
    import polars as pl

    from specops.runtime.data.pit import index_spine, pit_join

    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    spine = pl.read_parquet(data / "spine.parquet")
    index = index_spine(spine, ["entity_id"], "event_timestamp")

    def one(v: int) -> pl.DataFrame:
        view = pl.read_parquet(data / f"view{v}.parquet")
        return pit_join(spine, view, spine_keys=["entity_id"], spine_ts="event_timestamp",
                        spine_index=index, view_keys=["entity_id"], view_ts="ts",
                        features=[f"v{v}_f{j}" for j in range(3)], ttl_s=TTL_S)

    # as build_training_set does it: two views at a time, results in view order
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        cols = [spine, *pool.map(one, range(VIEWS))]
    out = pl.concat(cols, how="horizontal")
    seconds = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    matched = int(out.get_column("v0_f0").is_not_null().sum()) / max(out.height, 1)
    return {"seconds": round(seconds, 3), "peak_rss_mb": _peak_rss_mb(),
            "cpu_seconds": round(cpu, 2),
            "matched_share": round(matched, 4), "checksum": _checksum(out)}


def _checksum(df: object) -> str:
    import polars as pl

    assert isinstance(df, pl.DataFrame)
    feats = sorted(c for c in df.columns if c.startswith("v"))
    h = df.sort("row_id").select(pl.col(feats).fill_null(-1e300)).hash_rows(seed=0)
    return f"{int(h.cast(pl.UInt64).sum()) & 0xFFFFFFFFFFFF:012x}"


def _peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM of its memory map. Why not `ru_maxrss`: Linux
    keeps it across fork and exec, so a worker forked from the bench (which just held the
    generated data: 7.2 GB at 50M rows) reports the bench's peak, not its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


FEAST_HELPER = r'''
import json, resource, sys, time, tempfile, os
from datetime import timedelta
from pathlib import Path
data = Path(sys.argv[1]); repo = Path(tempfile.mkdtemp())
(repo / "feature_store.yaml").write_text(
    "project: bench\nregistry: %s/registry.db\nprovider: local\n"
    "offline_store:\n  type: duckdb\nonline_store:\n  type: sqlite\n  path: %s/online.db\n"
    "entity_key_serialization_version: 3\n" % (repo, repo))
from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64
ent = Entity(name="entity", join_keys=["entity_id"])
views = []
for v in range(3):
    src = FileSource(path=str(data / f"view{v}.parquet"), timestamp_field="ts")
    views.append(FeatureView(name=f"view{v}", entities=[ent], ttl=timedelta(days=3),
        schema=[Field(name=f"v{v}_f{j}", dtype=Float64) for j in range(3)], source=src))
store = FeatureStore(repo_path=str(repo)); store.apply([ent, *views])
import pandas as pd
t = time.perf_counter()
spine = pd.read_parquet(data / "spine.parquet")
refs = [f"view{v}:v{v}_f{j}" for v in range(3) for j in range(3)]
df = store.get_historical_features(entity_df=spine, features=refs).to_df()
secs = time.perf_counter() - t
df.to_parquet(data / "feast_out.parquet")
print(json.dumps({"seconds": round(secs, 3),
    "peak_rss_mb": round(int(next(l for l in open("/proc/self/status")
                                  if l.startswith("VmHWM:")).split()[1]) / 1024, 1)}))
'''


def run_feast(data: Path) -> dict[str, object]:
    py = VENV / "bin" / "python"
    try:
        if not py.exists():
            VENV.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["uv", "venv", "--python", sys.executable, str(VENV)], check=True,
                           capture_output=True, text=True, timeout=600)
        # the venv is shared with bench/online_serve.py, which installs feast[redis]: add
        # the duckdb store when it is missing rather than failing on the import
        probe = subprocess.run([str(py), "-c", "import feast.infra.offline_stores.duckdb"],
                               capture_output=True)
        if probe.returncode != 0:
            subprocess.run(["uv", "pip", "install", "--python", str(py), "feast[duckdb]"],
                           check=True, capture_output=True, text=True, timeout=1800)
        helper = data / "feast_helper.py"
        helper.write_text(FEAST_HELPER)
        r = subprocess.run([str(py), str(helper), str(data)], capture_output=True, text=True,
                           timeout=3600, cwd=data)
        if r.returncode != 0:
            return {"feast_error": r.stderr.strip().splitlines()[-1:] or ["failed"]}
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, OSError) as e:
        err = getattr(e, "stderr", None) or str(e)
        return {"feast_error": str(err).strip().splitlines()[-1][:300]}
    import polars as pl

    feast = pl.read_parquet(data / "feast_out.parquet")
    feast = feast.with_columns(pl.col(c).fill_nan(None) for c in feast.columns
                               if c.startswith("v"))
    return {"feast_seconds": res["seconds"], "feast_peak_rss_mb": res["peak_rss_mb"],
            "feast_checksum": _checksum(feast)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--feast", action="store_true", help="also run Feast's duckdb store")
    ap.add_argument("--repeats", type=int, default=1, help="fresh processes; median reported")
    ap.add_argument("--mode", default="memory", choices=["memory", "partitioned", "auto"])
    ap.add_argument("--runner", default="auto", choices=["auto", "local", "ray"],
                    help="partitioned parts: in this process (local) or as Ray tasks")
    ap.add_argument("--feast-rows", type=int, default=0,
                    help="also run Feast (and specops in memory) on a separate N-row set")
    ap.add_argument("--also-memory", action="store_true",
                    help="with --mode partitioned/auto: also the in-memory join, same files")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        out = run_specops(Path(a.worker)) if a.mode == "memory" else \
            run_partitioned(Path(a.worker), a.mode, a.runner)
        print(json.dumps(out))
        return 0
    res: dict[str, object] = {"rows": a.rows, "views": VIEWS, "ttl_days": 3,
                              "cpus": os.cpu_count()}
    res.update(_one_size(a.rows, a.seed, a.repeats, a.mode, a.feast, a.also_memory,
                         a.runner))
    if a.feast_rows:
        res["feast_size"] = {"rows": a.feast_rows,
                             **_one_size(a.feast_rows, a.seed, 1, "memory", True)}
    print(json.dumps(res))
    return 0


def _one_size(rows: int, seed: int, repeats: int, mode: str, feast: bool,
              also_memory: bool = False, runner: str = "auto") -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="specops_pit_"))
    try:
        t = time.perf_counter()
        generate(rows, tmp, seed)
        gen_s = time.perf_counter() - t
        runs = [_run_worker(["--worker", str(tmp), "--mode", mode, "--runner", runner])
                for _ in range(repeats)]
        runs.sort(key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
        res: dict[str, object] = {**runs[len(runs) // 2], "generate_seconds": round(gen_s, 1)}
        if also_memory and mode != "memory":
            mem = _run_worker(["--worker", str(tmp), "--mode", "memory"])
            res["memory"] = {k: mem[k] for k in ("seconds", "peak_tree_rss_mb", "cpu_seconds",
                                                 "tree_cpu_seconds", "checksum")}
            res["identical_to_memory"] = mem["checksum"] == res["checksum"]
        if feast:
            fr = run_feast(tmp)
            res.update(fr)
            if "feast_seconds" in fr:
                res["ratio"] = round(float(fr["feast_seconds"]) /  # type: ignore[arg-type]
                                     float(res["seconds"]), 2)  # type: ignore[arg-type]
                res["identical"] = fr["feast_checksum"] == res["checksum"]
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
