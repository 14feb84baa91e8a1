"""Cross-check the audit log against the tables it is the evidence for, both ways.

Why: a chain and a Merkle tree prove the log was not rewritten *relative to something*;
they cannot tell that a log wiped and restarted, or recomputed after one approver was
renamed, no longer describes what the store holds. Every governance row that matters
carries its audit entry's sequence number (`audit_seq`) or is written together with an
entry about the same target, so each side can be checked against the other:

- approval votes <-> `approve` / `reject` entries (actor, role, decision, digest, target);
- deployments <-> `deploy` / `rollback` entries (actor, environment, version, digest);
- approval requests <-> `request_approval` entries (request id, digest, spec hash);
- registry versions <-> `register` entries (model@version and model digest);
- trust-root acceptances (`trust_signatures`) <-> `policy_accept` entries and roots put in
  force (`trust_roots`) <-> `trust_root_in_force` entries (person, digest, previous);
- rollout events (`rollouts`: start, promote, abort) <-> `rollout` / `promote` /
  `rollout_abort` entries (actor, challenger, environment, mode, share, champion, digest).

A row without its entry means the log lost history (a wipe, a truncation); an entry
without its row means the table lost it, or the entry was forged; a field that differs
names the entry that was rewritten. Tables that do not exist in this store are skipped.
More bindings (e.g. signed policy acceptances) are added with `register_binding`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from specops.runtime.governance.ledger.audit import AuditEntry

__all__ = ["BINDINGS", "Binding", "Mismatch", "crosscheck", "register_binding"]


@dataclass(frozen=True)
class Mismatch:
    seq: int | None       # the audit entry concerned, when there is one
    message: str

    def __str__(self) -> str:
        return self.message


Row = Mapping[str, Any]


@dataclass(frozen=True)
class Binding:
    """How one table is bound to the log.

    `query` returns the table's rows (as mappings) given a connection; `actions` are the
    entry actions that must each have a row; `seq_of(row)` is the row's audit entry
    number, or None to find it with `find(row, entries)`; `compare(row, entry)` returns
    what differs (empty when they agree); `key(entry)` identifies the row an entry
    claims, matched against `row_key(row)`, for the reverse direction."""
    name: str
    table: str
    query: Callable[[sa.Connection], Sequence[Row]]
    actions: frozenset[str]
    describe: Callable[[Row], str]
    compare: Callable[[Row, AuditEntry], list[str]]
    seq_of: Callable[[Row], int | None] = lambda row: None
    row_key: Callable[[Row], Any] = lambda row: None
    entry_key: Callable[[AuditEntry], Any] = lambda entry: None


def _diff(pairs: Iterable[tuple[str, Any, Any]]) -> list[str]:
    return [f"{what} {mine!r} in the table, {theirs!r} in the log"
            for what, mine, theirs in pairs if mine != theirs]


def _rows(table: str, sql: str) -> Callable[[sa.Connection], Sequence[Row]]:
    def query(conn: sa.Connection) -> Sequence[Row]:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql))]
    query.__name__ = f"rows_{table}"
    return query


_VOTES = Binding(
    name="approval vote", table="approval_votes",
    query=_rows("approval_votes",
                "SELECT v.id, v.actor, v.role, v.decision, v.model_digest, v.spec_hash, "
                "v.request_id, v.audit_seq, r.model, r.version FROM approval_votes v "
                "JOIN approval_requests r ON r.id = v.request_id"),
    actions=frozenset({"approve", "reject"}),
    describe=lambda r: (f"approval_votes row {r['id']} ({r['decision']} "
                        f"{r['model']}@{r['version']} by {r['actor']} as {r['role']})"),
    seq_of=lambda r: None if r["audit_seq"] is None else int(r["audit_seq"]),
    compare=lambda r, e: _diff([
        ("action", r["decision"], e.action), ("actor", r["actor"], e.actor),
        ("target", f"{r['model']}@{r['version']}", e.target),
        ("role", r["role"], e.details.get("role")),
        ("model digest", r["model_digest"], e.details.get("model_digest")),
        ("request", r["request_id"], e.details.get("request_id"))]),
)

_DEPLOYS = Binding(
    name="deployment", table="deployments",
    query=_rows("deployments",
                "SELECT id, model, environment, version, model_digest, action, actor, "
                "audit_seq FROM deployments"),
    actions=frozenset({"deploy", "rollback", "promote", "auto_rollback"}),
    describe=lambda r: (f"deployments row {r['id']} ({r['action']} {r['model']}@"
                        f"{r['version']} to {r['environment']} by {r['actor']})"),
    seq_of=lambda r: None if r["audit_seq"] is None else int(r["audit_seq"]),
    compare=lambda r, e: _diff([
        ("action", r["action"], e.action), ("actor", r["actor"], e.actor),
        ("target", f"{r['model']}@{r['version']}", e.target),
        ("environment", r["environment"], e.details.get("environment")),
        ("model digest", r["model_digest"], e.details.get("model_digest"))]),
)

_REQUESTS = Binding(
    name="approval request", table="approval_requests",
    query=_rows("approval_requests",
                "SELECT id, model, version, model_digest, spec_hash FROM approval_requests"),
    actions=frozenset({"request_approval"}),
    describe=lambda r: f"approval_requests row {r['id']} ({r['model']}@{r['version']})",
    row_key=lambda r: int(r["id"]),
    entry_key=lambda e: e.details.get("request_id"),
    compare=lambda r, e: _diff([
        ("target", f"{r['model']}@{r['version']}", e.target),
        ("model digest", r["model_digest"], e.details.get("model_digest")),
        ("spec hash", r["spec_hash"], e.details.get("spec_hash"))]),
)

_VERSIONS = Binding(
    name="registry version", table="registry_versions",
    query=_rows("registry_versions",
                "SELECT id, model, version, model_digest FROM registry_versions"),
    actions=frozenset({"register"}),
    describe=lambda r: f"registry version {r['model']}@{r['version']}",
    row_key=lambda r: (f"{r['model']}@{r['version']}", r["model_digest"]),
    entry_key=lambda e: (e.target, e.details.get("model_digest")),
    compare=lambda r, e: [],
)

_ACCEPTANCES = Binding(
    name="policy acceptance", table="trust_signatures",
    query=_rows("trust_signatures", "SELECT id, person, digest, previous FROM trust_signatures"),
    actions=frozenset({"policy_accept"}),
    describe=lambda r: (f"trust_signatures row {r['id']} ({r['person']} accepted trust root "
                        f"{str(r['digest'])[:19]})"),
    row_key=lambda r: (r["person"], r["digest"], r["previous"]),
    entry_key=lambda e: (e.actor, e.details.get("digest"), e.details.get("previous")),
    compare=lambda r, e: [],
)

_ROOTS = Binding(
    name="trust root in force", table="trust_roots",
    query=_rows("trust_roots", "SELECT seq, digest, previous FROM trust_roots"),
    actions=frozenset({"trust_root_in_force"}),
    describe=lambda r: f"trust_roots row {r['seq']} ({str(r['digest'])[:19]})",
    row_key=lambda r: (r["digest"], r["previous"]),
    entry_key=lambda e: (e.details.get("digest"), e.details.get("previous")),
    compare=lambda r, e: [],
)

# A rollouts row's action and the audit action that records it (deploy.py).
_ROLLOUT_ACTIONS = {"rollout": "rollout", "promote": "promote", "abort": "rollout_abort"}


def _rollout_diff(r: Row, e: AuditEntry) -> list[str]:
    """What a rollouts row and its entry disagree on. Why this many fields: the server
    routes by mode, share, sticky key and champion, so each is a lever an insider would
    pull; the start's entry carries all of them, promote and abort carry the champion."""
    d = e.details
    pairs: list[tuple[str, Any, Any]] = [
        ("action", _ROLLOUT_ACTIONS.get(str(r["action"]), r["action"]), e.action),
        ("actor", r["actor"], e.actor),
        ("target", f"{r['model']}@{r['challenger']}", e.target),
        ("environment", r["environment"], d.get("environment")),
        ("model digest", r["challenger_digest"], d.get("model_digest"))]
    if r["action"] == "rollout":
        pairs += [("mode", r["mode"], d.get("mode")),
                  ("share", float(r["share"]), _float(d.get("share"))),
                  ("champion", int(r["champion"]), d.get("champion")),
                  ("sticky key", r["sticky_key"] or "", d.get("sticky_key") or "")]
    elif r["action"] == "promote":
        pairs.append(("champion", int(r["champion"]), d.get("previous_version")))
    else:
        pairs.append(("champion", int(r["champion"]), d.get("champion")))
    return _diff(pairs)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


_ROLLOUTS = Binding(
    name="rollout event", table="rollouts",
    query=_rows("rollouts",
                "SELECT id, model, environment, action, mode, champion, challenger, "
                "challenger_digest, share, sticky_key, actor, audit_seq FROM rollouts"),
    actions=frozenset(_ROLLOUT_ACTIONS.values()),
    describe=lambda r: (f"rollouts row {r['id']} ({r['action']} {r['mode']} {r['model']}@"
                        f"{r['challenger']} in {r['environment']} by {r['actor']})"),
    seq_of=lambda r: None if r["audit_seq"] is None else int(r["audit_seq"]),
    row_key=lambda r: ("unbound rollouts row", r["id"]),   # no entry claims such a row
    compare=_rollout_diff,
)

BINDINGS: list[Binding] = [_VOTES, _DEPLOYS, _REQUESTS, _VERSIONS, _ACCEPTANCES, _ROOTS,
                           _ROLLOUTS]


def register_binding(binding: Binding) -> None:
    """Bind another table to the log (replaces a binding of the same name)."""
    BINDINGS[:] = [b for b in BINDINGS if b.name != binding.name] + [binding]


def _check(binding: Binding, rows: Sequence[Row], entries: Sequence[AuditEntry],
           by_seq: Mapping[int, AuditEntry]) -> list[Mismatch]:
    out: list[Mismatch] = []
    claimed: set[int] = set()
    keyed: dict[Any, list[AuditEntry]] = {}
    for e in entries:
        if e.action in binding.actions:
            keyed.setdefault(binding.entry_key(e), []).append(e)
    for row in rows:
        seq = binding.seq_of(row)
        if seq is not None:
            entry = by_seq.get(seq)
            if entry is None:
                out.append(Mismatch(seq, f"{binding.describe(row)}: its audit entry {seq} "
                                         f"is missing (the log has {len(entries)} entries)"))
                continue
            diff = binding.compare(row, entry)
            if diff:
                out.append(Mismatch(seq, f"entry {seq}: rewritten: it disagrees with "
                                         f"{binding.describe(row)}: {'; '.join(diff)}"))
            claimed.add(seq)
            continue
        candidates = keyed.get(binding.row_key(row), [])
        if not candidates:
            actions = "/".join(sorted(binding.actions))
            out.append(Mismatch(None, f"{binding.describe(row)} has no {actions} entry in "
                                      "the audit log"))
            continue
        diffs = [binding.compare(row, e) for e in candidates]
        if all(diffs):
            e = candidates[0]
            out.append(Mismatch(e.seq, f"entry {e.seq}: rewritten: it disagrees with "
                                       f"{binding.describe(row)}: {'; '.join(diffs[0])}"))
        claimed.update(e.seq for e in candidates)
    for e in entries:
        if e.action in binding.actions and e.seq not in claimed:
            out.append(Mismatch(e.seq, f"entry {e.seq} ({e.action} {e.target} by {e.actor}) "
                                       f"has no {binding.name} in table {binding.table}"))
    return out


def crosscheck(engine: sa.Engine, entries: Sequence[AuditEntry]
               ) -> tuple[dict[str, int], list[Mismatch]]:
    """Check every bound table against `entries` (the whole log, in order).

    Returns rows checked per binding and every mismatch, those naming the earliest entry
    first."""
    present = set(sa.inspect(engine).get_table_names())
    by_seq = {e.seq: e for e in entries}
    counts: dict[str, int] = {}
    problems: list[Mismatch] = []
    with engine.connect() as conn:
        for binding in BINDINGS:
            if binding.table not in present:
                continue
            rows = binding.query(conn)
            counts[binding.name] = len(rows)
            problems.extend(_check(binding, rows, entries, by_seq))
    problems.sort(key=lambda m: (m.seq is None, m.seq or 0))
    return counts, problems
