"""The governance database connection: serialized write transactions on SQLite and Postgres.

Why a dedicated engine: governance writes (an approval and its audit entry) must be one
transaction, and appends to the hash chain must be strictly serialized across processes.
- SQLite: Python's sqlite3 opens *deferred* transactions, which fail with "database is
  locked" when two writers upgrade at once (the busy timeout does not apply to an upgrade
  from a stale snapshot). This engine turns the driver's implicit transactions off and
  issues `BEGIN IMMEDIATE` itself for `transaction()`, so a writer waits for the lock up
  front (busy timeout 30 s) instead of failing half-way. WAL keeps readers unblocked.
- Postgres: every governance transaction first takes `pg_advisory_xact_lock` on one key;
  the audit append additionally locks the chain's head row `FOR UPDATE`.

The engine is built from the store URL the rest of the runtime uses (`store.resolve_url`),
so governance tables live in the same database as runs and the registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from specops.runtime.store import resolve_url

__all__ = ["LOCK_KEY", "open_engine", "transaction"]

_WRITE = "specops_governance_write"
LOCK_KEY = 7419006   # pg advisory lock of governance writes (the store migration uses 7419001)


def open_engine(url: str | sa.Engine | None, project_root: Path | str | None = None,
                schema: str | None = None) -> sa.Engine:
    """A governance engine for `url` (or for the database an existing engine points at).

    `schema` (Postgres) puts every table in that schema, as `Store.from_url` does."""
    if isinstance(url, sa.Engine):
        if url.dialect.name != "sqlite":
            return url
        url = url.url.render_as_string(hide_password=False)
    full = resolve_url(url, project_root)
    sa_url = sa.engine.make_url(full)
    if sa_url.get_backend_name() == "sqlite":
        db = sa_url.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(sa_url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None   # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            write = conn.get_execution_options().get(_WRITE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    engine = sa.create_engine(sa_url)
    if schema:
        if not schema.replace("_", "").isalnum():
            raise ValueError(f"bad schema name {schema!r}")
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

        @sa.event.listens_for(engine, "connect")
        def _search_path(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f'SET search_path TO "{schema}"')
            cur.close()
            dbapi_conn.commit()

        engine.dispose()   # the pooled connection above predates the listener
    return engine


@contextmanager
def transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One serialized governance write transaction (commit on success, rollback on error).

    Only these take the write lock up front; plain reads (`engine.connect()`) begin a
    deferred transaction, so a read inside a write (e.g. the registry looking up a digest
    on another connection) never waits for the lock its own caller holds."""
    with engine.connect() as raw:
        conn = raw.execution_options(**{_WRITE: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            yield conn
