"""Helpers for the online-features tests: raw request rows, an online server, HTTP calls."""

from __future__ import annotations

import http.client
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from specops.runtime.serve.asgi import Service
from specops.runtime.serve.features import enable_online
from specops.runtime.serve.lean import LeanServer
from specops.runtime.serve.served_model import load_model, resolve

__all__ = ["as_of_T", "backend_url", "clean", "online_server", "post", "raw_rows"]


def backend_url(backend: str) -> str | None:
    """None = the embedded SQLite; redis: the CI Redis with a fresh key prefix (skips
    without SPECOPS_TEST_REDIS_URL)."""
    if backend == "sqlite":
        return None
    url = os.environ.get("SPECOPS_TEST_REDIS_URL")
    if not url:
        pytest.skip("SPECOPS_TEST_REDIS_URL is not set (CI's .ci/run sets it)")
    return f"{url}{'&' if '?' in url else '?'}prefix=specops-test-{uuid.uuid4().hex}:"


def clean(v: Any) -> Any:
    return None if isinstance(v, float) and v != v else v


def as_of_T(example: dict[str, Any]) -> int:
    """T: one second after the last spine time of the example (UTC microseconds)."""
    root, spine = example["root"], example["spine"]
    src = pl.read_parquet(root / "data" / f"{spine['source']}.parquet")
    return int(src.get_column(spine["timestamp"]).max().timestamp() * 1e6) + 1_000_000


def raw_rows(example: dict[str, Any]) -> pl.DataFrame:
    """The example's test rows as raw spine rows (the source's own columns).

    A view over the spine source is joined offline from the source at (entity, time), so
    as of T the batch path finds each entity's latest spine row: only test rows that are
    their entity's latest row are the same request both ways (credit-risk: 3.5k of 4k;
    machine-rul has no such view, so every test row)."""
    spine = example["spine"]
    ent, ts = spine["entity"], spine["timestamp"]
    src = pl.read_parquet(example["root"] / "data" / f"{spine['source']}.parquet")
    test = example["test"]
    keyed = test.select(ent, ts).join(src, on=[ent, ts], how="inner")
    latest = src.sort(ts).group_by(ent).agg(pl.col(ts).last())
    plan = example["plan"]
    node = plan.by_id[f"training_set:{example['model']}"]
    spine_views = [v for v in node.params["views"]
                   if plan.by_id[v["node"]].params.get("source") == f"source:{spine['source']}"]
    if spine_views:
        keyed = keyed.join(latest, on=[ent, ts], how="inner")
    return keyed.unique([ent, ts], keep="first", maintain_order=True)


@contextmanager
def online_server(example: dict[str, Any], url: str | None, now_us: int
                  ) -> Iterator[tuple[LeanServer, Any]]:
    root: Path = example["root"]
    source = resolve(root, None, example["model"], None)
    service = Service(load_model(source), None)
    online = enable_online(service, example["plan"], root, url, now_us=lambda: now_us)
    with LeanServer(service) as server:
        yield server, online


def post(conn: http.client.HTTPConnection, path: str, doc: Any,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    body = json.dumps(doc).encode()
    conn.request("POST", path, body, {"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    payload = resp.read()
    return resp.status, json.loads(payload) if payload else None
