"""The audit log: append-only, hash-chained, verifiable, exportable.

Format (one row per governed event, `seq` = 1, 2, 3, ... with no gaps):

    entry = {"seq", "at" (ISO-8601 UTC, microseconds), "actor", "action", "target",
             "reason", "details" (an object)}
    hash  = sha256(prev_hash || canonical(entry))       hex, 64 characters
    prev_hash of entry 1 = GENESIS ("0" * 64)

canonical() is JSON with sorted keys, no whitespace, UTF-8, no NaN. `details` is stored as
that canonical text, so what is hashed is exactly what is stored. `audit_head` holds the
sequence number and hash of the last entry: appends lock it (`FOR UPDATE` on Postgres,
`BEGIN IMMEDIATE` on SQLite), and `verify` compares the chain's end against it, which is
how a deleted *tail* is noticed (a chain cut short is otherwise still a valid chain).

What it protects against: any edit, deletion, insertion or reordering of rows by someone
who does not also recompute every later hash and the head. Database triggers refuse
UPDATE and DELETE (and TRUNCATE on Postgres) so applications cannot rewrite history by
accident. What it does not: a database superuser can drop the triggers, rewrite rows and
recompute the whole chain. Anchor the head externally (`head()` -> a signed timestamp or
WORM storage) to close that gap; see docs/governance.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

__all__ = [
    "GENESIS",
    "AuditEntry",
    "Problem",
    "append",
    "canonical",
    "entries",
    "entry_hash",
    "export_jsonl",
    "head",
    "head_table",
    "install_triggers",
    "log",
    "metadata",
    "verify",
]

GENESIS = "0" * 64

metadata = sa.MetaData()

log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("target", sa.String(400), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_target", "target"),
)

head_table = sa.Table(
    "audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
)
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION specops_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END $$
"""
_PG_TRIGGERS = {
    "audit_log_no_update": "BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW",
    "audit_log_no_truncate": "BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT",
}


def install_triggers(conn: sa.Connection) -> None:
    """Refuse UPDATE and DELETE on audit_log (idempotent; both dialects)."""
    if conn.dialect.name == "sqlite":
        for ddl in _SQLITE_TRIGGERS:
            conn.exec_driver_sql(ddl)
        return
    if conn.dialect.name != "postgresql":
        return
    conn.execute(sa.text(_PG_FUNCTION))
    have = {r[0] for r in conn.execute(sa.text(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass"))}
    for name, when in _PG_TRIGGERS.items():
        if name not in have:
            conn.exec_driver_sql(f"CREATE TRIGGER {name} {when} "
                                 "EXECUTE FUNCTION specops_audit_append_only()")


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(dict(entry))).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    target: str
    reason: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def entry(self) -> dict[str, Any]:
        """The hashed part."""
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
                "target": self.target, "reason": self.reason, "details": self.details}

    def as_json(self) -> dict[str, Any]:
        return {**self.entry(), "prev_hash": self.prev_hash, "hash": self.hash}


def _now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _lock_head(conn: sa.Connection) -> tuple[int, str]:
    q = sa.select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:
        conn.execute(head_table.insert().values(id=1, seq=0, hash=GENESIS))
        return 0, GENESIS
    return int(row.seq), str(row.hash)


def append(conn: sa.Connection, *, actor: str, action: str, target: str, reason: str = "",
           details: Mapping[str, Any] | None = None, at: float) -> AuditEntry:
    """Append one entry inside the caller's transaction (which must be a governance
    `transaction()`, so the head lock is held until it commits)."""
    seq, prev = _lock_head(conn)
    made = AuditEntry(seq + 1, _now_iso(at), actor, action, target, reason or "",
                      dict(details or {}), prev, "")
    digest = entry_hash(prev, made.entry())
    conn.execute(log.insert().values(
        seq=made.seq, at=made.at, actor=actor, action=action, target=target,
        reason=made.reason, details=canonical(made.details).decode("utf-8"),
        prev_hash=prev, hash=digest))
    conn.execute(head_table.update().where(head_table.c.id == 1)
                 .values(seq=made.seq, hash=digest))
    return replace(made, hash=digest)


def _row_entry(row: Any) -> AuditEntry:
    try:
        details = json.loads(row.details)
    except (TypeError, ValueError):
        details = {"_unparseable": str(row.details)}
    return AuditEntry(int(row.seq), row.at, row.actor, row.action, row.target, row.reason,
                      details if isinstance(details, dict) else {"_value": details},
                      row.prev_hash, row.hash)


def entries(engine_or_conn: sa.Engine | sa.Connection, target: str | None = None,
            target_prefix: str | None = None) -> Iterator[AuditEntry]:
    """Entries in chain order, optionally only those about `target` (or a prefix of it)."""
    q = sa.select(log)
    if target is not None:
        q = q.where(log.c.target == target)
    if target_prefix is not None:
        q = q.where(log.c.target.startswith(target_prefix, autoescape=True))
    q = q.order_by(log.c.seq)
    if isinstance(engine_or_conn, sa.Connection):
        for row in engine_or_conn.execute(q):
            yield _row_entry(row)
        return
    with engine_or_conn.connect() as conn:
        rows = conn.execute(q).all()
    for row in rows:
        yield _row_entry(row)


def head(engine: sa.Engine) -> dict[str, Any]:
    """The chain's head `{seq, hash}`: what to anchor outside the database."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(head_table).where(head_table.c.id == 1)).first()
    return {"seq": int(row.seq), "hash": row.hash} if row else {"seq": 0, "hash": GENESIS}


@dataclass(frozen=True)
class Problem:
    seq: int           # the first bad entry
    kind: str          # edited | deleted | inserted | reordered | truncated | appended
    message: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.message}"


def verify(engine: sa.Engine) -> tuple[int, Problem | None]:
    """Recompute the chain. Returns (entries checked, the first problem or None).

    Each row is checked for its position (seq = previous + 1), its link (prev_hash = the
    previous row's hash) and its content (hash = recomputed). When a link is broken, the
    stored hashes tell what happened: linking past the previous row means that row was
    inserted; linking to a later row means rows were reordered."""
    with engine.connect() as conn:
        rows = [_row_entry(r) for r in conn.execute(sa.select(log).order_by(log.c.seq))]
        hrow = conn.execute(sa.select(head_table).where(head_table.c.id == 1)).first()
    hashes = {r.hash: i for i, r in enumerate(rows)}
    prev, expected = GENESIS, 1
    for i, r in enumerate(rows):
        if r.seq > expected:
            missing = (f"entry {expected} is" if r.seq == expected + 1
                       else f"entries {expected}..{r.seq - 1} are")
            return i, Problem(expected, "deleted",
                              f"missing: {missing} gone (the log jumps from {expected - 1} "
                              f"to {r.seq}); deleted")
        if r.prev_hash != prev:
            where = hashes.get(r.prev_hash)
            if i >= 2 and r.prev_hash == rows[i - 2].hash:
                bad = rows[i - 1]
                return i, Problem(bad.seq, "inserted",
                                  f"inserted: entry {r.seq} links to entry {rows[i - 2].seq}, "
                                  f"skipping entry {bad.seq}, which is not part of the chain")
            if where is not None and where > i:
                return i, Problem(r.seq, "reordered",
                                  f"reordered: it links to entry {rows[where].seq}, which "
                                  "comes after it")
            return i, Problem(r.seq, "deleted",
                              f"does not link to entry {expected - 1} (prev_hash "
                              f"{r.prev_hash[:12]}… != {prev[:12]}…): an entry before it was "
                              "deleted or replaced")
        if entry_hash(prev, r.entry()) != r.hash:
            return i, Problem(r.seq, "edited",
                              "edited: its content no longer matches its hash "
                              f"(actor {r.actor!r}, action {r.action!r}, target {r.target!r})")
        prev, expected = r.hash, r.seq + 1
    last = rows[-1].seq if rows else 0
    if hrow is not None:
        if int(hrow.seq) > last:
            return len(rows), Problem(last + 1, "truncated",
                                      f"missing: the head records {hrow.seq} entries but the "
                                      f"log ends at {last}; the tail was deleted")
        if int(hrow.seq) < last:
            return len(rows), Problem(int(hrow.seq) + 1, "appended",
                                      f"inserted: not recorded in the chain head (head at "
                                      f"{hrow.seq}); written outside specops")
        if hrow.hash != prev:
            return len(rows), Problem(last, "edited",
                                      "the chain head's hash differs from this entry's hash")
    elif rows:
        return len(rows), Problem(1, "edited", "the chain head row is missing")
    return len(rows), None


def export_jsonl(engine: sa.Engine, out: IO[str] | Path, target_prefix: str | None = None
                 ) -> int:
    """Write entries as JSON lines (chain order, with prev_hash and hash); return the count."""
    n = 0
    if isinstance(out, Path):
        with out.open("w", encoding="utf-8") as fh:
            return export_jsonl(engine, fh, target_prefix)
    for e in entries(engine, target_prefix=target_prefix):
        out.write(canonical(e.as_json()).decode("utf-8") + "\n")
        n += 1
    return n
