"""The store's tables and their ordered migrations (SQLAlchemy Core).

Why hand-written migrations instead of Alembic: the schema is small, the store must
upgrade itself on first use on any laptop or CI box, and the same code must run on SQLite
and Postgres. `MIGRATIONS[i]` takes a schema from version i to i+1; the applied version is
kept in `schema_version`, so an old store is upgraded in place and a store written by a
newer specops is refused instead of corrupted.

Times are epoch seconds (floats): portable across both databases and trivially sortable.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "metadata", "tables"]

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.Float, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("project", sa.String(200), nullable=False, default=""),
    sa.Column("spec_hash", sa.String(80), nullable=False, default=""),
    sa.Column("status", sa.String(16), nullable=False),   # running/succeeded/failed/interrupted
    sa.Column("executor", sa.String(200), nullable=False, default=""),
    sa.Column("selection", sa.JSON, nullable=False, default=list),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("host", sa.String(255), nullable=False, default=""),
    sa.Column("pid", sa.Integer, nullable=False, default=0),
    sa.Column("summary", sa.JSON, nullable=False, default=dict),
)

node_runs = sa.Table(
    "node_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("node_id", sa.String(300), nullable=False),
    sa.Column("op", sa.String(100), nullable=False),
    sa.Column("fingerprint", sa.String(80), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),   # running/done/failed/skipped
    sa.Column("cache_hit", sa.Boolean, nullable=False, default=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column("digest", sa.String(80)),
    sa.Column("cause", sa.Text),
    sa.Column("failure_kind", sa.String(16)),
    sa.Column("traceback", sa.Text),
    sa.Column("message", sa.Text),
    sa.Column("report", sa.JSON),
    sa.UniqueConstraint("run_id", "node_id", name="uq_node_runs_run_node"),
)

metrics = sa.Table(
    "metrics", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("node_id", sa.String(300), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("value", sa.Float),
    sa.Index("ix_metrics_run_node", "run_id", "node_id"),
)

artifacts = sa.Table(
    "artifacts", metadata,
    sa.Column("digest", sa.String(80), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("n_files", sa.Integer, nullable=False),
    sa.Column("manifest", sa.JSON, nullable=False),
)

cache_entries = sa.Table(
    "cache_entries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cache_key", sa.String(80), nullable=False, index=True),
    sa.Column("node_id", sa.String(300), nullable=False),
    sa.Column("fingerprint", sa.String(80), nullable=False),
    sa.Column("data_hashes", sa.JSON, nullable=False),
    sa.Column("digest", sa.String(80), nullable=False, index=True),
    sa.Column("result", sa.JSON, nullable=False),     # metrics/report/message to replay
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

lineage = sa.Table(
    "lineage", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("node_id", sa.String(300), nullable=False),
    sa.Column("digest", sa.String(80), nullable=False, index=True),   # the output
    sa.Column("source_kind", sa.String(16), nullable=False),          # artifact | file
    sa.Column("source", sa.String(1000), nullable=False),             # node id or path
    sa.Column("source_hash", sa.String(80), nullable=False),          # digest or file hash
)

file_hashes = sa.Table(
    "file_hashes", metadata,
    sa.Column("path", sa.String(2000), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(80), nullable=False),
)

tables = {t.name: t for t in metadata.sorted_tables}


def _v1(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=[runs, node_runs, metrics, artifacts, cache_entries,
                                      lineage, file_hashes])


MIGRATIONS: list[Callable[[sa.Connection], None]] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)
