"""`Store`: the run database (runs, node runs, metrics, artifacts, cache index, lineage).

Why SQLAlchemy Core: one code path for SQLite (the default, a file under the project,
zero setup) and Postgres (teams, clusters). SQLite runs in WAL mode with a busy timeout so
a `specops runs list` never blocks a running driver. Every write is its own short
transaction, committed as soon as a node finishes: a driver killed with SIGKILL loses at
most the nodes that were in flight, which is what makes resume work.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from specops.runtime.engine.datahash import HashMemo
from specops.runtime.store import schema as S

__all__ = ["Store", "StoreError", "resolve_url"]


class StoreError(RuntimeError):
    """The store cannot be used (bad URL, newer schema, unreachable server)."""


def resolve_url(url: str | None, project_root: Path | str | None = None) -> str:
    """Make a relative SQLite path absolute against the project root; default to
    `<project>/.specops/store.db`."""
    root = Path(project_root or ".").resolve()
    if not url:
        url = "sqlite:///.specops/store.db"
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:":
            return "sqlite:///" + str((root / rel).resolve())
    return url


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def from_url(cls, url: str | None = None, project_root: Path | str | None = None,
                 schema: str | None = None) -> Store:
        """Open (and create or upgrade) a store. `schema` (Postgres only) keeps every table
        in that schema, which tests use to stay apart from each other."""
        full = resolve_url(url, project_root)
        try:
            sa_url = sa.engine.make_url(full)
        except sa.exc.ArgumentError:
            raise StoreError(f"not a database URL: {url!r} (try sqlite:///path.db or "
                             "postgresql+psycopg://user@host/db)") from None
        kwargs: dict[str, Any] = {"future": True}
        if sa_url.get_backend_name() == "sqlite":
            db = sa_url.database
            if db and db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        try:
            engine = sa.create_engine(sa_url, **kwargs)
        except (ImportError, sa.exc.ArgumentError) as exc:
            raise StoreError(f"cannot open store {url!r}: {exc}") from None
        if sa_url.get_backend_name() == "sqlite":
            @sa.event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()
                dbapi_conn.isolation_level = None    # we issue BEGIN ourselves (below)

            # Writers take the lock up front (BEGIN IMMEDIATE, waiting up to the busy
            # timeout): a deferred transaction that reads, then writes, fails at once with
            # "database is locked" when another driver wrote in between.
            @sa.event.listens_for(engine, "begin")
            def _sqlite_begin(conn: sa.Connection) -> None:
                immediate = conn.get_execution_options().get("sqlite_immediate")
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        elif schema:
            if not schema.replace("_", "").isalnum():
                raise StoreError(f"bad schema name {schema!r}")

            # registered before the first connection, so every pooled connection has it
            @sa.event.listens_for(engine, "connect")
            def _search_path(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                cur.execute(f'SET search_path TO "{schema}"')
                cur.close()
                dbapi_conn.commit()
        store = cls(engine)
        try:
            store.migrate()
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot reach store {store.url}: "
                             f"{str(exc.orig).strip().splitlines()[0]}") from None
        return store

    def _write(self) -> Any:
        """A write transaction (BEGIN IMMEDIATE on SQLite)."""
        return self.engine.execution_options(sqlite_immediate=True).begin()

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> int:
        """Apply pending migrations in order; return the schema version."""
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7419001)"))
            S.schema_version.create(conn, checkfirst=True)
            current = conn.execute(sa.select(sa.func.max(S.schema_version.c.version))) \
                .scalar() or 0
            if current > S.SCHEMA_VERSION:
                raise StoreError(f"store {self.url} has schema version {current}, newer than "
                                 f"this specops ({S.SCHEMA_VERSION}); upgrade specops")
            for version in range(current, S.SCHEMA_VERSION):
                S.MIGRATIONS[version](conn)
                conn.execute(sa.insert(S.schema_version).values(version=version + 1,
                                                                applied_at=time.time()))
            return S.SCHEMA_VERSION

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(S.schema_version.c.version)))
                       .scalar() or 0)

    # -- runs --------------------------------------------------------------------------
    def begin_run(self, run_id: str, *, project: str = "", spec_hash: str = "",
                  executor: str = "", selection: Iterable[str] = ()) -> None:
        with self._write() as conn:
            conn.execute(sa.insert(S.runs).values(
                run_id=run_id, project=project, spec_hash=spec_hash, status="running",
                executor=executor, selection=list(selection), started_at=time.time(),
                host=socket.gethostname(), pid=os.getpid(), summary={}))

    def finish_run(self, run_id: str, status: str, summary: Mapping[str, Any]) -> None:
        with self._write() as conn:
            conn.execute(sa.update(S.runs).where(S.runs.c.run_id == run_id).values(
                status=status, finished_at=time.time(), summary=dict(summary)))
            conn.execute(sa.update(S.node_runs).where(
                S.node_runs.c.run_id == run_id, S.node_runs.c.status == "running")
                .values(status="interrupted"))

    def mark_interrupted(self) -> list[str]:
        """Runs on this host still marked running whose driver is gone -> interrupted."""
        host = socket.gethostname()
        with self._write() as conn:
            rows = conn.execute(sa.select(S.runs.c.run_id, S.runs.c.pid).where(
                S.runs.c.status == "running", S.runs.c.host == host)).all()
            dead = [r.run_id for r in rows if not _pid_alive(r.pid)]
            if dead:
                conn.execute(sa.update(S.runs).where(S.runs.c.run_id.in_(dead))
                             .values(status="interrupted"))
                conn.execute(sa.update(S.node_runs).where(
                    S.node_runs.c.run_id.in_(dead), S.node_runs.c.status == "running")
                    .values(status="interrupted"))
        return dead

    def live_run_ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.select(S.runs.c.run_id)
                                                .where(S.runs.c.status == "running"))}

    def list_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.runs).order_by(S.runs.c.started_at.desc())
                                .limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """A run by id or unique id prefix (`latest` for the newest)."""
        with self.engine.connect() as conn:
            if run_id == "latest":
                q = sa.select(S.runs).order_by(S.runs.c.started_at.desc()).limit(1)
            else:
                q = sa.select(S.runs).where(S.runs.c.run_id.startswith(run_id, autoescape=True))
                exact = conn.execute(sa.select(S.runs).where(S.runs.c.run_id == run_id)) \
                    .mappings().first()
                if exact is not None:
                    return dict(exact)
                q = q.limit(2)
            rows = conn.execute(q).mappings().all()
        if len(rows) != 1:
            return None
        return dict(rows[0])

    # -- nodes ---------------------------------------------------------------------------
    def node_started(self, run_id: str, node_id: str, op: str, fingerprint: str) -> None:
        with self._write() as conn:
            conn.execute(sa.insert(S.node_runs).values(
                run_id=run_id, node_id=node_id, op=op, fingerprint=fingerprint,
                status="running", cache_hit=False, attempts=0, started_at=time.time()))

    def node_finished(self, run_id: str, node_id: str, op: str, fingerprint: str, *,
                      status: str, cache_hit: bool = False, attempts: int = 0,
                      duration_s: float | None = None, digest: str | None = None,
                      cause: str | None = None, failure_kind: str | None = None,
                      traceback: str | None = None, message: str | None = None,
                      report: Mapping[str, Any] | None = None,
                      metrics: Mapping[str, float] | None = None) -> None:
        now = time.time()
        values = dict(status=status, cache_hit=cache_hit, attempts=attempts,
                      finished_at=now, duration_s=duration_s, digest=digest, cause=cause,
                      failure_kind=failure_kind, traceback=traceback, message=message,
                      report=dict(report) if report is not None else None)
        with self._write() as conn:
            updated = conn.execute(sa.update(S.node_runs).where(
                S.node_runs.c.run_id == run_id, S.node_runs.c.node_id == node_id)
                .values(**values)).rowcount
            if not updated:
                conn.execute(sa.insert(S.node_runs).values(
                    run_id=run_id, node_id=node_id, op=op, fingerprint=fingerprint,
                    started_at=now, **values))
            if metrics:
                conn.execute(sa.insert(S.metrics), [
                    {"run_id": run_id, "node_id": node_id, "name": k, "value": float(v)}
                    for k, v in sorted(metrics.items())])

    def node_runs(self, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.node_runs).where(S.node_runs.c.run_id == run_id)
                                .order_by(S.node_runs.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def metrics(self, run_id: str) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(sa.select(S.metrics).where(S.metrics.c.run_id == run_id)
                                  .order_by(S.metrics.c.id)).mappings():
                out.setdefault(r["node_id"], {})[r["name"]] = r["value"]
        return out

    # -- artifacts, cache, lineage --------------------------------------------------------
    def record_output(self, *, run_id: str, node_id: str, fingerprint: str, cache_key: str,
                      digest: str, size_bytes: int, manifest: Mapping[str, Any],
                      data_hashes: Mapping[str, str], result: Mapping[str, Any],
                      lineage: Iterable[tuple[str, str, str]]) -> None:
        """One transaction: the artifact row, the cache entry and the lineage edges
        (`(kind, source, hash)`), so a crash leaves either all of them or none."""
        now = time.time()
        with self._write() as conn:
            exists = conn.execute(sa.select(S.artifacts.c.digest)
                                  .where(S.artifacts.c.digest == digest)).first()
            if not exists:
                conn.execute(sa.insert(S.artifacts).values(
                    digest=digest, created_at=now, size_bytes=size_bytes,
                    n_files=len(manifest.get("files", {})), manifest=dict(manifest)))
            conn.execute(sa.insert(S.cache_entries).values(
                cache_key=cache_key, node_id=node_id, fingerprint=fingerprint,
                data_hashes=dict(data_hashes), digest=digest, result=dict(result),
                run_id=run_id, created_at=now))
            edges = [{"run_id": run_id, "node_id": node_id, "digest": digest,
                      "source_kind": k, "source": s, "source_hash": h} for k, s, h in lineage]
            if edges:
                conn.execute(sa.insert(S.lineage), edges)

    def cache_candidates(self, cache_key: str) -> list[dict[str, Any]]:
        """Cache entries for a key, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.cache_entries)
                                .where(S.cache_entries.c.cache_key == cache_key)
                                .order_by(S.cache_entries.c.id.desc())).mappings().all()
        return [dict(r) for r in rows]

    def forget_digest(self, digest: str) -> None:
        """Drop a (corrupted) artifact from the index; its lineage stays as history."""
        with self._write() as conn:
            conn.execute(sa.delete(S.cache_entries).where(S.cache_entries.c.digest == digest))
            conn.execute(sa.delete(S.artifacts).where(S.artifacts.c.digest == digest))

    def lineage(self, digest: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.lineage).where(S.lineage.c.digest == digest)
                                .order_by(S.lineage.c.id)).mappings().all()
        return [dict(r) for r in rows]

    # -- file hash memo --------------------------------------------------------------------
    def load_memo(self, memo: HashMemo) -> None:
        with self.engine.connect() as conn:
            for r in conn.execute(sa.select(S.file_hashes)):
                memo.put(r.path, r.size, r.mtime_ns, r.hash, dirty=False)

    def save_memo(self, memo: HashMemo) -> None:
        dirty = sorted(memo.dirty)
        if not dirty:
            return
        with self._write() as conn:
            conn.execute(sa.delete(S.file_hashes).where(S.file_hashes.c.path.in_(dirty)))
            conn.execute(sa.insert(S.file_hashes), [
                {"path": p, "size": memo.entries[p][0], "mtime_ns": memo.entries[p][1],
                 "hash": memo.entries[p][2]} for p in dirty])
        memo.dirty.clear()
