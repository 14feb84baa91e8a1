"""Parity: the online path scores exactly what `specops predict` scores, as of the same T.

For every test row of both examples (see `raw_rows` for the credit-risk rows that are
the same request both ways): `materialize` as of T, then `/predict` requests by entity
key + raw fields (300 single-row requests, and every row in requests of 200 rows: the
compiled closures) and one OIP `infer` with every row (the polars micro-batch path)
against a real lean server whose clock reads T, versus `predict_file`
(batch scoring: `add_features`' point-in-time join) on the same rows with their time set
to T. The ONNX outputs must be equal bit for bit (float32). A second time, T + 200 days
(materialized again, incrementally), checks that staleness is applied at request time as
the offline TTL applies it (the bureau view's TTL is 365 days: more entities go stale,
and both paths agree on which).
SQLite always; Redis when SPECOPS_TEST_REDIS_URL is set.
"""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from online_helpers import as_of_T, backend_url, clean, online_server, post, raw_rows

from specops.runtime.serve.batch import predict_file
from specops.runtime.serve.served_model import resolve
from specops.runtime.store.online import open_online_store
from specops.runtime.store.online.materialize import materialize

pytestmark = pytest.mark.slow
DAY_US = 86_400 * 1_000_000
SINGLE = 300        # single-row requests per check (every row also goes in chunks of 200)


def _batch(example: dict[str, Any], rows: pl.DataFrame, at_us: int, tmp: Path) -> np.ndarray:
    ts = example["spine"]["timestamp"]
    src = tmp / f"in-{at_us}.parquet"
    rows.with_columns(pl.lit(at_us).cast(pl.Datetime("us", "UTC")).alias(ts)).write_parquet(src)
    out = tmp / f"out-{at_us}.parquet"
    root = example["root"]
    predict_file(resolve(root, None, example["model"], None), src, out, plan=example["plan"])
    scored = pl.read_parquet(out)
    col = "probability_1" if "probability_1" in scored.columns else "prediction"
    return scored.get_column(col).to_numpy().astype(np.float32)


def _score(p: dict[str, Any]) -> float:
    return float(p["probabilities"]["1"]) if "probabilities" in p else float(p["prediction"])


def _online(example: dict[str, Any], rows: pl.DataFrame, url: str | None, at_us: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores from a server whose clock reads `at_us`: (300 single-row `/predict`
    requests, every row through `/predict` in requests of 200 rows (closures), one OIP
    `infer` of all rows (polars))."""
    with online_server(example, url, at_us) as (server, online):
        fields = [f.name for f in online.vector.sig.fields]
        records = [{k: clean(r[k]) for k in fields}
                   for r in rows.select(fields).iter_rows(named=True)]
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        path = f"/v2/models/{example['model']}"
        single = []
        for rec in records[:SINGLE]:
            status, doc = post(conn, f"{path}/predict", rec)
            assert status == 200, doc
            single.append(_score(doc["predictions"][0]))
        chunked = []
        for i in range(0, len(records), 200):
            status, doc = post(conn, f"{path}/predict", records[i:i + 200])
            assert status == 200, doc
            chunked.extend(_score(p) for p in doc["predictions"])
        types = {f.name: f.as_tensor()["datatype"] for f in online.vector.sig.fields}
        infer = {"inputs": [{"name": k, "datatype": types[k], "shape": [len(records), 1],
                             "data": [r[k] for r in records]} for k in fields]}
        status, doc = post(conn, f"{path}/infer", infer)
        assert status == 200, doc
        out = next(o for o in doc["outputs"] if o["datatype"].startswith("FP"))
        data = np.array(out["data"], dtype=np.float32).reshape(len(records), -1)
        conn.close()
    return (np.array(single, dtype=np.float32), np.array(chunked, dtype=np.float32),
            data[:, -1])


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
@pytest.mark.parametrize("name", ["credit_example", "rul_example"])
def test_online_scores_equal_batch_scores_bit_for_bit(name: str, backend: str,
                                                      request: pytest.FixtureRequest,
                                                      tmp_path: Path) -> None:
    example = request.getfixturevalue(name)
    url = backend_url(backend) or f"sqlite:///{tmp_path / 'online.sqlite'}"
    root, plan = example["root"], example["plan"]
    t = as_of_T(example)
    store = open_online_store(url, root)
    try:
        reports = materialize(plan, root, store, until_us=t, full=True)
        assert sum(r.entities for r in reports) > 0
        rows = raw_rows(example)
        assert rows.height >= 0.8 * example["test"].height
        batch = _batch(example, rows, t, tmp_path)
        single, chunked, infer = _online(example, rows, url, t)
        assert np.array_equal(single, batch[:SINGLE]), int((single != batch[:SINGLE]).sum())
        assert np.array_equal(chunked, batch), int((chunked != batch).sum())
        assert np.array_equal(infer, batch), int((infer != batch).sum())
        if name == "credit_example":   # TTL at request time, as offline at the spine time
            later = t + 200 * DAY_US     # materialized again (incremental), read 200 days on
            materialize(plan, root, store, until_us=later)
            batch_later = _batch(example, rows, later, tmp_path)
            single, chunked, infer = _online(example, rows, url, later)
            assert (batch_later != batch).sum() > 0      # more stale bureau rows by then
            assert np.array_equal(single, batch_later[:SINGLE])
            assert np.array_equal(chunked, batch_later)
            assert np.array_equal(infer, batch_later)
    finally:
        if backend == "redis":
            store.clear()   # type: ignore[attr-defined]
        store.close()
