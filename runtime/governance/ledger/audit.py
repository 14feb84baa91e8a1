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

Every entry is also a leaf of an RFC 6962 Merkle tree (leaf data = canonical(entry),
`leaf_data`); `read_log` returns the leaf hashes with the chain check, and `ledger.merkle`
builds roots, inclusion and consistency proofs from them.

What the chain protects against: any edit, deletion, insertion or reordering of rows by
someone who does not also recompute every later hash and the head. The triggers of
`ledger.guards` refuse every rewrite path in the database (UPDATE, DELETE, REPLACE, UPSERT,
TRUNCATE, a head that does not follow the chain). What it does not: whoever can drop the
triggers can rewrite rows and recompute the whole chain and head; a signed checkpoint kept
outside the store (`ledger.checkpoint`) and the cross-check against the governance tables
(`ledger.crosscheck`) detect that. See docs/governance.md.
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

from specops.runtime.governance.ledger import merkle
from specops.runtime.governance.ledger.guards import GENESIS, install_triggers

__all__ = [
    "GENESIS",
    "AuditEntry",
    "LogState",
    "Problem",
    "append",
    "canonical",
    "entries",
    "entry_hash",
    "export_jsonl",
    "head",
    "head_table",
    "install_triggers",
    "leaf_data",
    "log",
    "metadata",
    "read_log",
    "verify",
]

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


# Statements built once: composing them per call (`.values(...)`) costs more than the
# append itself (SQLAlchemy re-coerces and re-keys each one).
_HEAD = sa.select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1)
_HEAD_LOCKED = _HEAD.with_for_update()
_INSERT = log.insert()
_ADVANCE = (head_table.update().where(head_table.c.id == 1)
            .values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash")))


def _lock_head(conn: sa.Connection) -> tuple[int, str]:
    row = conn.execute(_HEAD_LOCKED if conn.dialect.name == "postgresql" else _HEAD).first()
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
    conn.execute(_INSERT, {
        "seq": made.seq, "at": made.at, "actor": actor, "action": action, "target": target,
        "reason": made.reason, "details": canonical(made.details).decode("utf-8"),
        "prev_hash": prev, "hash": digest})
    conn.execute(_ADVANCE, {"new_seq": made.seq, "new_hash": digest})
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


@dataclass(frozen=True)
class LogState:
    """The whole log as read in one transaction: its entries, their Merkle leaf hashes,
    the head row, and the first problem the chain check found (None when it holds)."""
    entries: list[AuditEntry]
    leaves: list[bytes]
    head_seq: int | None
    head_hash: str | None
    checked: int
    problem: Problem | None

    @property
    def size(self) -> int:
        return len(self.entries)

    def tree(self) -> merkle.Tree:
        return merkle.Tree(self.leaves)


def leaf_data(entry: AuditEntry) -> bytes:
    """What the Merkle tree commits to for one entry: its canonical JSON (the same bytes
    the chain hash covers), so an inclusion proof carries the entry itself."""
    return canonical(entry.entry())


_STR: Any = json.encoder.encode_basestring   # what dumps(str, ensure_ascii=False) uses


def _stored_canonical(seq: int, at: str, actor: str, action: str, target: str, reason: str,
                      details: str) -> bytes:
    """canonical(entry) built from a row's stored text, without parsing `details` (which
    specops stores as its canonical text): the keys in sorted order, strings encoded as
    `json.dumps(..., ensure_ascii=False)` does. Equal to `canonical(entry.entry())` for
    every row specops wrote; `read_log` falls back to that when they differ."""
    return (f'{{"action":{_STR(action)},"actor":{_STR(actor)},"at":{_STR(at)},'
            f'"details":{details},"reason":{_STR(reason)},"seq":{seq},'
            f'"target":{_STR(target)}}}').encode()


def read_log(engine: sa.Engine) -> LogState:
    """Read the log and its head in one snapshot; check the chain; hash every leaf.

    Why so direct: verification reads every entry (100k in well under 2 s is the target),
    so rows are hashed from their stored text and only parsed once, into `entries`."""
    cols = (log.c.seq, log.c.at, log.c.actor, log.c.action, log.c.target, log.c.reason,
            log.c.details, log.c.prev_hash, log.c.hash)
    with engine.connect() as conn:
        raw = conn.execute(sa.select(*cols).order_by(log.c.seq)).all()
        hrow = conn.execute(sa.select(head_table).where(head_table.c.id == 1)).first()
    sha = hashlib.sha256
    rows: list[AuditEntry] = []
    leaves: list[bytes] = []
    problem: Problem | None = None
    checked = 0
    hashes: dict[str, int] | None = None
    prev, expected = GENESIS, 1
    for i, (seq, at, actor, action, target, reason, details, prev_hash, digest) in \
            enumerate(raw):
        try:
            parsed = json.loads(details)
        except (TypeError, ValueError):
            parsed = {"_unparseable": str(details)}
        r = AuditEntry(int(seq), at, actor, action, target, reason,
                       parsed if isinstance(parsed, dict) else {"_value": parsed},
                       prev_hash, digest)
        rows.append(r)
        data = _stored_canonical(int(seq), at, actor, action, target, reason, details)
        chained = sha(prev.encode("ascii") + data).hexdigest()
        if chained != digest:
            slow = canonical(r.entry())
            if slow != data:
                data, chained = slow, sha(prev.encode("ascii") + slow).hexdigest()
        leaves.append(sha(b"\x00" + data).digest())
        if problem is not None:
            continue
        if r.seq != expected or r.prev_hash != prev:
            if hashes is None:
                hashes = {str(x[8]): j for j, x in enumerate(raw)}
            problem = _link_problem(rows, raw, i, expected, prev, hashes)
        elif chained != r.hash:
            problem = Problem(r.seq, "edited",
                              "edited: its content no longer matches its hash "
                              f"(actor {r.actor!r}, action {r.action!r}, target {r.target!r})")
        if problem is not None:
            checked = i
            continue
        prev, expected = r.hash, r.seq + 1
    if problem is None:
        checked = len(rows)
        problem = _head_problem(rows, hrow, prev)
    return LogState(rows, leaves, None if hrow is None else int(hrow.seq),
                    None if hrow is None else str(hrow.hash), checked, problem)


def _link_problem(rows: list[AuditEntry], raw: Any, i: int, expected: int, prev: str,
                  hashes: dict[str, int]) -> Problem:
    """Row i is out of place or does not link to its predecessor: say what happened.
    Linking past the previous row means that row was inserted; linking to a later row
    means rows were reordered; a jump in `seq` means rows were deleted."""
    r = rows[i]
    if r.seq > expected:
        missing = (f"entry {expected} is" if r.seq == expected + 1
                   else f"entries {expected}..{r.seq - 1} are")
        return Problem(expected, "deleted",
                       f"missing: {missing} gone (the log jumps from {expected - 1} "
                       f"to {r.seq}); deleted")
    if r.seq < expected:
        return Problem(r.seq, "inserted", f"inserted: a second entry numbered {r.seq}")
    where = hashes.get(r.prev_hash)
    if i >= 2 and r.prev_hash == rows[i - 2].hash:
        bad = rows[i - 1]
        return Problem(bad.seq, "inserted",
                       f"inserted: entry {r.seq} links to entry {rows[i - 2].seq}, "
                       f"skipping entry {bad.seq}, which is not part of the chain")
    if where is not None and where > i:
        return Problem(r.seq, "reordered",
                       f"reordered: it links to entry {raw[where][0]}, which comes "
                       "after it")
    return Problem(r.seq, "deleted",
                   f"does not link to entry {expected - 1} (prev_hash "
                   f"{r.prev_hash[:12]}… != {prev[:12]}…): an entry before it was "
                   "deleted or replaced")


def _head_problem(rows: list[AuditEntry], hrow: Any, prev: str) -> Problem | None:
    last = rows[-1].seq if rows else 0
    if hrow is None:
        return Problem(1, "edited", "the chain head row is missing") if rows else None
    if int(hrow.seq) > last:
        return Problem(last + 1, "truncated",
                       f"missing: the head records {hrow.seq} entries but the log ends at "
                       f"{last}; the tail was deleted")
    if int(hrow.seq) < last:
        return Problem(int(hrow.seq) + 1, "appended",
                       f"inserted: not recorded in the chain head (head at {hrow.seq}); "
                       "written outside specops")
    if hrow.hash != prev:
        return Problem(last, "edited", "the chain head's hash differs from this entry's hash")
    return None


def verify(engine: sa.Engine) -> tuple[int, Problem | None]:
    """Recompute the chain. Returns (entries checked, the first problem or None).

    Each row is checked for its position (seq = previous + 1), its link (prev_hash = the
    previous row's hash) and its content (hash = recomputed), then the chain's end against
    `audit_head`. Checkpoints and the cross-check are `ledger.log_check`'s."""
    state = read_log(engine)
    return state.checked, state.problem


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
