"""8 processes x 200 governed actions (100 registrations + 100 approvals each) against one
store: every action is recorded exactly once and the hash chain verifies, on SQLite and
on PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import sys
import time

import pytest
import sqlalchemy as sa
from concurrency_worker import work
from gov_helpers import directory, drop_pg_schema, pg_schema, sqlite_url
from postgres_helpers import require_postgres

from specops.runtime.governance import Governance
from specops.runtime.governance.governance_tables import requests, votes
from specops.runtime.governance.ledger import audit as A

WORKERS, PER_WORKER = 8, 100        # 8 x (100 register + 100 approve) = 1,600 actions


def _run(url: str, schema: str | None, root: str) -> None:
    ctx = mp.get_context("spawn")
    started = time.perf_counter()
    with ctx.Pool(WORKERS) as pool:
        results = pool.starmap(work, [(url, schema, root, w, PER_WORKER)
                                      for w in range(WORKERS)])
    elapsed = time.perf_counter() - started
    assert results == [2 * PER_WORKER] * WORKERS
    gov = Governance.open(root, url, directory=directory(), schema=schema,
                          with_registry=False)
    try:
        n, problem = A.verify(gov.engine)
        assert problem is None, str(problem)
        # per version: register + request_approval + approve
        assert n == WORKERS * PER_WORKER * 3
        entries = list(A.entries(gov.engine))
        assert [e.seq for e in entries] == list(range(1, n + 1))
        by_action: dict[str, int] = {}
        for e in entries:
            by_action[e.action] = by_action.get(e.action, 0) + 1
        assert by_action == {"register": 1600 // 2, "request_approval": 800, "approve": 800}
        with gov.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(votes)).scalar() == 800
            states = conn.execute(sa.select(requests.c.status, sa.func.count())
                                  .group_by(requests.c.status)).all()
        assert dict(states) == {"approved": 800}
    finally:
        gov.close()
    print(f"{WORKERS}x{2 * PER_WORKER} actions in {elapsed:.1f}s", file=sys.stderr)


@pytest.mark.slow
def test_concurrent_actions_sqlite(tmp_path):
    _run(sqlite_url(tmp_path), None, str(tmp_path))


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_actions_postgres(tmp_path):
    url = require_postgres()
    schema = pg_schema()
    try:
        Governance.open(tmp_path, url, schema=schema, with_registry=False).close()
        _run(url, schema, str(tmp_path))
    finally:
        drop_pg_schema(schema)
