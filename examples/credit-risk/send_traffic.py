"""Replay rows as live traffic to a served model, one Open Inference Protocol request each.

    python examples/credit-risk/send_traffic.py data/next_month_inputs.parquet \
        --url http://127.0.0.1:8000 --model credit_default

Why one request per row, with the application id as the request id: the prediction log
keeps `request_id`, so `specops monitor --from-log` can join realised outcomes to the
predictions later (the log holds model inputs only, not the application id). The model's
input names and datatypes come from its metadata endpoint (`GET /v2/models/<name>`).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import httpx
import polars as pl


def _value(v: Any, datatype: str) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v) if datatype == "BYTES" else float(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input", help="parquet with the model's input columns")
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--model", default="credit_default")
    ap.add_argument("--id-column", default="application_id")
    ap.add_argument("--limit", type=int, help="send only the first N rows")
    a = ap.parse_args(argv)
    df = pl.read_parquet(a.input)
    if a.limit:
        df = df.head(a.limit)
    base = f"{a.url.rstrip('/')}/v2/models/{a.model}"
    with httpx.Client(timeout=10.0) as client:
        meta = client.get(base).raise_for_status().json()
        inputs = [(t["name"], t["datatype"]) for t in meta["inputs"]]
        started, failed = time.perf_counter(), 0
        for i, row in enumerate(df.iter_rows(named=True)):
            body = {"inputs": [{"name": n, "shape": [1, 1], "datatype": d,
                                "data": [_value(row.get(n), d)]} for n, d in inputs]}
            if a.id_column in row:
                body["id"] = str(row[a.id_column])
            r = client.post(f"{base}/infer", json=body)
            failed += r.status_code != 200
            if failed == 1 and r.status_code != 200:
                print(f"row {i}: HTTP {r.status_code}: {r.text[:200]}")
    took = time.perf_counter() - started
    print(f"sent {df.height} requests in {took:.1f}s ({df.height / max(took, 1e-9):.0f}/s), "
          f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
