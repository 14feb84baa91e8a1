"""Governance tables (approval requests, votes, deployments, rollouts) and `ensure_schema`.

Why a separate MetaData (like the registry's): the run store owns its migration list;
these tables live in the same database and are created idempotently on first use, with
the audit log's triggers. The integrator can fold `ensure_schema` into the store's
migrations as a later version; nothing here depends on the store's schema module.

Approval requests snapshot the model's approval plan (rule, roles, counts, owner, authors,
expiry, environments) when they are opened: a later edit of the specs cannot change what
an existing request needs, it opens a new request instead (and voids the old one).
"""

from __future__ import annotations

import sqlalchemy as sa

from specops.runtime.governance.database import transaction
from specops.runtime.governance.ledger import audit

__all__ = ["deployments", "ensure_schema", "metadata", "requests", "rollouts", "votes"]

metadata = sa.MetaData()

requests = sa.Table(
    "approval_requests", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model_digest", sa.String(80), nullable=False),
    sa.Column("spec_hash", sa.String(80), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),   # open|approved|rejected|voided
    sa.Column("plan", sa.JSON, nullable=False),           # the approval plan snapshot
    sa.Column("trigger", sa.String(200), nullable=False, default=""),
    sa.Column("run_id", sa.String(64), nullable=False, default=""),
    sa.Column("opened_at", sa.Float, nullable=False),
    sa.Column("closed_at", sa.Float),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("envelope", sa.Text),   # the pipeline's signed statement; runtime/trust
    sa.Index("ix_approval_requests_model_version", "model", "version"),
)

votes = sa.Table(
    "approval_votes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.Integer, sa.ForeignKey("approval_requests.id"),
              nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("role", sa.String(100), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),   # approve | reject
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("model_digest", sa.String(80), nullable=False),   # what was signed
    sa.Column("spec_hash", sa.String(80), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("audit_seq", sa.BigInteger().with_variant(sa.Integer, "sqlite")),
    sa.Column("envelope", sa.Text),   # the signed statement (DSSE JSON); runtime/trust
    sa.Index("ix_approval_votes_request", "request_id"),
)

deployments = sa.Table(
    "deployments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("environment", sa.String(50), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model_digest", sa.String(80), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),     # deploy | rollback
    sa.Column("previous_version", sa.Integer),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("request_id", sa.Integer),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("audit_seq", sa.BigInteger().with_variant(sa.Integer, "sqlite")),
    sa.Column("envelope", sa.Text),   # the signed statement (DSSE JSON); runtime/trust
    sa.Index("ix_deployments_model_env", "model", "environment"),
)

# Progressive delivery (runtime/governance/deploy.py): append-only events per model and
# environment. A `rollout` row starts a canary (share: percent of traffic) or a shadow
# (share 0) of `challenger` beside `champion`; a `promote` or `abort` row ends it
# (`start_id`). Like a deploy, a start counts only when its signed statement and its
# audit entry agree with the row (an inserted or edited share routes nothing).
rollouts = sa.Table(
    "rollouts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("environment", sa.String(50), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),     # rollout | promote | abort
    sa.Column("mode", sa.String(16), nullable=False),       # canary | shadow
    sa.Column("champion", sa.Integer, nullable=False),
    sa.Column("challenger", sa.Integer, nullable=False),
    sa.Column("challenger_digest", sa.String(80), nullable=False),
    sa.Column("share", sa.Float, nullable=False),           # percent of requests (canary)
    sa.Column("sticky_key", sa.String(200), nullable=False, default=""),
    sa.Column("start_id", sa.Integer),                      # the rollout a promote/abort ends
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("audit_seq", sa.BigInteger().with_variant(sa.Integer, "sqlite")),
    sa.Column("envelope", sa.Text),
    sa.Index("ix_rollouts_model_env", "model", "environment"),
)


def _add_envelope_columns(conn: sa.Connection) -> None:
    """Stores made before signed actions lack `envelope`; add it (rows stay unsigned,
    so in signed mode they no longer count, which is the point)."""
    inspector = sa.inspect(conn)
    for table in (requests, votes, deployments):
        names = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
        if "envelope" not in names:
            conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN envelope TEXT"))

def ensure_schema(engine: sa.Engine) -> None:
    """Create the governance and audit tables and the audit triggers (safe to repeat)."""
    with transaction(engine) as conn:    # serialized: several processes may race here
        metadata.create_all(conn, checkfirst=True)
        _add_envelope_columns(conn)
        audit.metadata.create_all(conn, checkfirst=True)
        audit.install_triggers(conn)
        if conn.execute(sa.select(audit.head_table.c.id)).first() is None:
            conn.execute(audit.head_table.insert().values(id=1, seq=0, hash=audit.GENESIS))
