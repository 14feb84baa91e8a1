"""The acceptance chain: which trust root is in force, and `accept` (`specops policy accept`).

Why a chain of signed acceptances in the store: the working specops.yaml is editable by
anyone with the repository, so it only proposes. A proposal takes effect when enough
distinct people allowed to `change_policy` *under the root in force* have signed a
statement whose subject is the proposal's digest (`policy.accept_requires` of the root in
force: the two-person rule is `accept_requires: 2`; lowering it needs the old quorum).
The very first root is self-accepted by its own policy holders (trust on first use; the
audit checkpoint kept outside the store pins it afterwards). Once any root was in force the
table must match the audit log's `trust_root_in_force` entries (`_match_log`): deleting
the rows never makes room for a second "first root".

`in_force` re-verifies the whole chain on every call: a row inserted or edited in the
database without the keys of the policy holders breaks it, and every governed action is
then refused with the cause, instead of quietly trusting the edited people.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from specops.runtime.trust.dsse import EnvelopeError
from specops.runtime.trust.signer import Signer
from specops.runtime.trust.statements import sign_action, verify_action
from specops.runtime.trust.trust_root import TrustError, TrustRoot

__all__ = ["LOCK_FILE", "AcceptResult", "accept", "ensure_trust_schema", "in_force",
           "lock_document", "pending", "roots", "signatures"]

# compiler/passes/governance_checks/check_trust.py reads it (SPEC508)
LOCK_FILE = "trust.lock.json"

SUBJECT = "trust-root"
metadata = sa.MetaData()

roots = sa.Table(
    "trust_roots", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("digest", sa.String(80), nullable=False, unique=True),
    sa.Column("previous", sa.String(80), nullable=False, default=""),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("accepted_at", sa.Float, nullable=False),
)

signatures = sa.Table(
    "trust_signatures", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.String(80), nullable=False),     # the proposal signed
    sa.Column("previous", sa.String(80), nullable=False, default=""),
    sa.Column("person", sa.String(200), nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_trust_signatures_digest", "digest"),
)


def ensure_trust_schema(conn_or_engine: sa.Engine | sa.Connection) -> None:
    metadata.create_all(conn_or_engine, checkfirst=True)


def _has_tables(conn: sa.Connection) -> bool:
    return bool(sa.inspect(conn).has_table("trust_roots"))


def _policy_holders(root: TrustRoot) -> set[str]:
    from specops.runtime.governance.permissions import allowed

    d = root.directory()
    return {n for n in d.people if allowed(d, n, "change_policy")}


def _valid_signers(conn: sa.Connection, digest: str, previous: str, judge: TrustRoot
                   ) -> dict[str, str]:
    """Person -> envelope of every valid acceptance of `digest` (on top of `previous`)
    by someone allowed to change policy under `judge`."""
    holders = _policy_holders(judge)
    out: dict[str, str] = {}
    for row in conn.execute(sa.select(signatures).where(signatures.c.digest == digest,
                                                        signatures.c.previous == previous)
                            .order_by(signatures.c.id)):
        try:
            act = verify_action(row.envelope, judge)
        except EnvelopeError:
            continue
        if (act.action == "policy_accept" and act.subject == SUBJECT and act.digest == digest
                and act.predicate.get("previous", "") == previous and act.person in holders):
            out.setdefault(act.person, row.envelope)
    return out


def in_force(conn: sa.Connection) -> TrustRoot | None:
    """The last accepted trust root, after verifying every acceptance from the first;
    None when none was ever accepted. Raises `TrustError` naming the first bad link."""
    if not _has_tables(conn):
        _match_log(conn, [])
        return None
    current: TrustRoot | None = None
    chain: list[str] = []
    for row in conn.execute(sa.select(roots).order_by(roots.c.seq)):
        try:
            candidate = TrustRoot(json.loads(row.document))
        except ValueError:
            raise TrustError(f"trust root #{row.seq} is not valid JSON") from None
        if candidate.digest != row.digest:
            raise TrustError(f"trust root #{row.seq} was edited in the store (its digest "
                             "does not match its document)")
        previous = current.digest if current is not None else ""
        if row.previous != previous:
            raise TrustError(f"trust root #{row.seq} does not follow #{row.seq - 1}")
        judge = current if current is not None else candidate
        signed = _valid_signers(conn, row.digest, previous, judge)
        if len(signed) < judge.accept_requires:
            raise TrustError(f"trust root #{row.seq} lacks valid acceptances ({len(signed)} "
                             f"of {judge.accept_requires} by people allowed to change "
                             "policy)")
        current = candidate
        chain.append(candidate.digest)
    _match_log(conn, chain)
    return current


def _match_log(conn: sa.Connection, chain: list[str]) -> None:
    """The roots in the table must be exactly the ones the audit log put in force, in order.

    Why: the trust tables are ordinary rows; deleting them would make the next `policy
    accept` a "first root" again, self-accepted by whoever the edited specops.yaml names.
    The audit log is append-only (triggers, checkpoints), so once a root was in force the
    log keeps it: a table that disagrees refuses every governed action, and a new root can
    only follow the last logged one, accepted by its policy holders."""
    from specops.runtime.governance.ledger import audit

    if not sa.inspect(conn).has_table(audit.log.name):
        return
    logged: list[str] = []
    for row in conn.execute(sa.select(audit.log.c.details).where(
            audit.log.c.action == "trust_root_in_force").order_by(audit.log.c.seq)):
        try:
            logged.append(str(json.loads(row.details).get("digest") or ""))
        except (ValueError, AttributeError):
            logged.append("<unreadable entry>")
    if logged != chain:
        raise TrustError(f"trust roots do not match the audit log: the log put "
                         f"{len(logged)} root(s) in force (latest "
                         f"{logged[-1][:19] if logged else 'none'}), table trust_roots holds "
                         f"{len(chain)} (latest {chain[-1][:19] if chain else 'none'})")


def pending(conn: sa.Connection, proposal: TrustRoot) -> list[str]:
    """People who already signed `proposal` on top of the root in force."""
    current = in_force(conn)
    judge = current if current is not None else proposal
    previous = current.digest if current is not None else ""
    return sorted(_valid_signers(conn, proposal.digest, previous, judge))


@dataclass(frozen=True)
class AcceptResult:
    digest: str
    person: str
    signed_by: list[str]
    needed: int
    in_force: bool
    changed: bool = True


def accept(conn: sa.Connection, proposal: TrustRoot, signer: Signer, *, at: float,
           comment: str = "") -> AcceptResult:
    """Sign `proposal` with `signer`; put it in force once the quorum of the root in force
    (or, for the first root, its own) has signed. Inside the caller's transaction."""
    from specops.runtime.governance.ledger import audit

    ensure_trust_schema(conn)
    current = in_force(conn)
    judge = current if current is not None else proposal
    previous = current.digest if current is not None else ""
    if current is not None and current.digest == proposal.digest:
        return AcceptResult(proposal.digest, "", [], judge.accept_requires, True, False)
    person = judge.person_of(signer.key_id)
    if person is None:
        raise TrustError(f"key {signer.key_id} belongs to nobody in the "
                         f"{'trust root in force' if current else 'proposed trust root'}")
    if person not in _policy_holders(judge):
        raise TrustError(f"{person} may not change policy under the "
                         f"{'trust root in force' if current else 'proposed trust root'}")
    envelope = sign_action(signer, action="policy_accept", person=person, subject=SUBJECT,
                           digest=proposal.digest, comment=comment, at=at,
                           previous=previous)
    conn.execute(signatures.insert().values(digest=proposal.digest, previous=previous,
                                            person=person, envelope=json.dumps(envelope),
                                            at=at))
    audit.append(conn, actor=person, action="policy_accept", target=SUBJECT,
                 reason=comment, details={"digest": proposal.digest, "previous": previous,
                                          "envelope": envelope}, at=at)
    signed = sorted(_valid_signers(conn, proposal.digest, previous, judge))
    done = len(signed) >= judge.accept_requires
    if done:
        top = conn.execute(sa.select(sa.func.max(roots.c.seq))).scalar()
        conn.execute(roots.insert().values(
            seq=int(top or 0) + 1, digest=proposal.digest, previous=previous,
            document=json.dumps(dict(proposal.document), sort_keys=True), accepted_at=at))
        audit.append(conn, actor=person, action="trust_root_in_force", target=SUBJECT,
                     reason=f"accepted by {', '.join(signed)}",
                     details={"digest": proposal.digest, "previous": previous,
                              "signed_by": signed}, at=at)
    return AcceptResult(proposal.digest, person, signed, judge.accept_requires, done)


def lock_document(conn: sa.Connection) -> dict[str, Any] | None:
    """What `trust.lock.json` holds: the root in force and the statements that accepted
    it, for review in git and for lint (which has no store). Never trusted by the runtime:
    the store's chain is what counts."""
    current = in_force(conn)
    if current is None:
        return None
    row = conn.execute(sa.select(roots).where(roots.c.digest == current.digest)).one()
    judge = current
    if row.previous:
        prev = conn.execute(sa.select(roots.c.document).where(
            roots.c.digest == row.previous)).scalar_one()
        judge = TrustRoot(json.loads(prev))
    accepted = _valid_signers(conn, current.digest, row.previous, judge)
    return {"format": "specops.trust-lock/v1", "digest": current.digest,
            "previous": row.previous, "document": dict(current.document),
            "acceptances": [json.loads(e) for _p, e in sorted(accepted.items())]}
