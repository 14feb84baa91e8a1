"""Registry tables (SQLAlchemy Core) and `ensure_schema`.

Why a separate MetaData: the run store (`runtime/store`) owns its migration list; these
tables live in the same database but are created by `ensure_schema`, idempotently, on
first use of the registry. The integrator can fold them into the store's migrations as a
later version by calling `ensure_schema` from it; nothing here depends on the store's code.

Rows are append-only except `registry_aliases` (a pointer), whose every move is appended
to `registry_alias_history`: who moved it, from which version to which, when and why.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["alias_history", "aliases", "ensure_schema", "metadata", "models", "versions"]

metadata = sa.MetaData()

models = sa.Table(
    "registry_models", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False, default=""),
    sa.Column("risk_tier", sa.String(50), nullable=False, default=""),
    sa.Column("task", sa.String(100), nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
)

versions = sa.Table(
    "registry_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), sa.ForeignKey("registry_models.name"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),        # registered | rejected
    sa.Column("content_digest", sa.String(80), nullable=False),
    sa.Column("model_digest", sa.String(80), nullable=False, default=""),
    sa.Column("manifest_sha256", sa.String(80), nullable=False),
    sa.Column("key_id", sa.String(80), nullable=False),
    sa.Column("path", sa.String(1000), nullable=False),        # relative to registry root
    sa.Column("run_id", sa.String(64), nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False, default=list),
    sa.Column("metrics", sa.JSON, nullable=False, default=dict),
    sa.UniqueConstraint("model", "version", name="uq_registry_versions_model_version"),
    sa.Index("ix_registry_versions_content", "model", "content_digest"),
)

aliases = sa.Table(
    "registry_aliases", metadata,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("alias", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False, default=""),
    sa.Column("updated_at", sa.Float, nullable=False),
)

alias_history = sa.Table(
    "registry_alias_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("alias", sa.String(100), nullable=False),
    sa.Column("from_version", sa.Integer),
    sa.Column("to_version", sa.Integer),                        # null: alias removed
    sa.Column("actor", sa.String(200), nullable=False, default=""),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_registry_alias_history_model", "model", "alias"),
)


def ensure_schema(engine: sa.Engine) -> None:
    """Create the registry tables if missing (safe to call on every open)."""
    metadata.create_all(engine, checkfirst=True)
