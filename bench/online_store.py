"""Benchmark: the online store's write and read paths (issue 16), SQLite and Redis.

Prints one JSON object:
- `codec`: CPU microseconds to decode one 3-feature record, for the stored format (JSON array
  with a name->value object) and two alternatives measured against it (values-only JSON
  array zipped with known names; struct-packed float64, floats only), plus encode time;
- `materialize`: a synthetic view of `--rows` rows over rows/10 entities (entity, ts,
  created, three float64 features), as compute_features stores it; seconds to pick the
  latest row per entity as of T (`latest_values`, i.e. pit_join) and to write them, per
  backend, and the entities written per second;
- `read`: single-thread `read_many` latency of one key in 1 view and in 5 views (one
  call), p50/p99 in milliseconds, per backend.

    uv run python bench/online_store.py --rows 1000000 [--redis redis://127.0.0.1:6379/0]

Redis defaults to $SPECOPS_TEST_REDIS_URL and is skipped without it; keys go under a
fresh prefix that is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import struct
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

DAY_US = 86_400_000_000
T0_US = 1_735_689_600_000_000  # 2025-01-01 UTC


def _codec(n: int = 200_000) -> dict[str, float]:
    from specops.runtime.store.online import OnlineValue
    from specops.runtime.store.online.codec import decode_value, encode_value

    names = ("utilization", "open_accounts", "late_12m")
    v = OnlineValue({"utilization": 0.1234567890123, "open_accounts": 3, "late_12m": 2},
                    T0_US, T0_US + 5)
    text = encode_value(v).encode()
    values_only = json.dumps([T0_US, T0_US + 5, 0.1234567890123, 3, 2]).encode()
    packed = struct.pack("<qq3d", T0_US, T0_US + 5, 0.1234567890123, 3.0, 2.0)
    loads, unpack = json.loads, struct.Struct("<qq3d").unpack

    def per_call(fn: Any) -> float:   # CPU time: steadier than wall on a shared machine
        t = time.process_time()
        for _ in range(n):
            fn()
        return round((time.process_time() - t) / n * 1e6, 3)

    def zipped() -> OnlineValue:
        r = loads(values_only)
        return OnlineValue(dict(zip(names, r[2:], strict=True)), r[0], r[1])

    def structs() -> OnlineValue:
        r = unpack(packed)
        return OnlineValue(dict(zip(names, r[2:], strict=True)), r[0], r[1])

    return {"decode_us_stored_json": per_call(lambda: decode_value(text)),
            "decode_us_values_only_json": per_call(zipped),
            "decode_us_struct_float64": per_call(structs),
            "encode_us_stored_json": per_call(lambda: encode_value(v)),
            "record_bytes": len(text)}


def _view(rows: int) -> Any:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(7)
    ts = pl.Datetime("us", "UTC")
    ev = T0_US - rng.integers(0, 60 * DAY_US, rows)
    return pl.DataFrame({
        "entity_id": rng.integers(0, max(1, rows // 10), rows, dtype=np.int64),
        "ts": pl.Series(ev).cast(ts),
        "created": pl.Series(ev + rng.integers(0, DAY_US, rows)).cast(ts),
        **{f"f{i}": rng.standard_normal(rows) for i in range(3)},
    }).sort("entity_id", "ts", "created")


def _stores(redis_url: str | None, tmp: Path) -> list[tuple[str, Any]]:
    from specops.runtime.store.online import open_online_store

    out = [("sqlite", open_online_store(None, tmp))]
    if redis_url:
        sep = "&" if "?" in redis_url else "?"
        out.append(("redis", open_online_store(
            f"{redis_url}{sep}prefix=specops-bench:{uuid.uuid4().hex}:", tmp)))
    return out


def _reads(store: Any, views: list[str], keys: int, n: int) -> dict[str, float]:
    import random

    rnd = random.Random(1)
    lat = []
    for _ in range(n):
        k = (rnd.randrange(keys),)
        t = time.perf_counter()
        store.read_many({v: [k] for v in views})
        lat.append(time.perf_counter() - t)
    q = statistics.quantiles(lat, n=100)
    return {"p50_ms": round(q[49] * 1e3, 4), "p99_ms": round(q[98] * 1e3, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--reads", type=int, default=5_000)
    ap.add_argument("--redis", default=os.environ.get("SPECOPS_TEST_REDIS_URL"))
    a = ap.parse_args(argv)
    from specops.runtime.store.online.materialize import OnlineView, latest_values

    out: dict[str, Any] = {"rows": a.rows, "entities": None, "codec": _codec()}
    view = OnlineView("bench@1", "features:bench@1", "entity_id", "ts", "created", 3 * 86_400,
                      ("f0", "f1", "f2"))
    df = _view(a.rows)
    t, c = time.perf_counter(), time.process_time()
    latest = latest_values(df, view, T0_US)
    pick_s, pick_cpu = time.perf_counter() - t, time.process_time() - c
    out["entities"] = len(latest)
    out["materialize"] = {"latest_values_s": round(pick_s, 3),
                          "latest_values_cpu_s": round(pick_cpu, 3)}
    out["read"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, store in _stores(a.redis, Path(tmp)):
            t, c = time.perf_counter(), time.process_time()
            written = store.write("bench@1", latest)
            w, wc = time.perf_counter() - t, time.process_time() - c
            out["materialize"][name] = {"write_s": round(w, 3), "client_cpu_s": round(wc, 3),
                                        "written": written, "entities_per_s": round(written / w)}
            for i in range(2, 6):
                store.write(f"bench{i}@1", latest)
            views = ["bench@1", *(f"bench{i}@1" for i in range(2, 6))]
            out["read"][name] = {"1_view": _reads(store, views[:1], len(latest), a.reads),
                                 "5_views": _reads(store, views, len(latest), a.reads)}
            if name == "redis":
                store.clear()
            store.close()
    out["load_avg_1m"] = round(os.getloadavg()[0], 1)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
