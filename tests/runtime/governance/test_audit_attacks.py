"""Attacks on the audit log of a real store (SQLite and Postgres), made the way an insider
with the database's file or the tables' ownership would make them, and how each is refused
by the database or detected by `check_log` against a signed checkpoint kept outside the
store and by the cross-check with the governance tables.

Each attack is first shown to *work* against the bare hash chain (`audit.verify` passes),
so each test proves the new layer is what catches it."""

from __future__ import annotations

import hashlib
import uuid

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519
from gov_helpers import facts, rule

from specops.runtime.governance.approvals import approve, open_request
from specops.runtime.governance.database import transaction
from specops.runtime.governance.ledger import audit as A
from specops.runtime.governance.ledger.checkpoint import (
    Checkpoint,
    Signer,
    Verifier,
    format_body,
    sign_note,
)
from specops.runtime.governance.ledger.guards import GENESIS, TRIGGER_NAMES
from specops.runtime.governance.ledger.log_check import check_log, make_checkpoint
from specops.runtime.governance.promotion import deploy

ORIGIN = "specops/test/audit"
REFUSED = r"append-only|audit_head: only the genesis|audit_head may only advance"


@pytest.fixture
def key() -> Signer:
    return Signer(ORIGIN, ed25519.Ed25519PrivateKey.generate())


def _pinned(key: Signer) -> list[Verifier]:
    return [Verifier(key.public, ORIGIN)]


def _history(gov, registry) -> None:
    """credit@1: request, two approvals, staging and production deploys (5 entries)."""
    v = registry.add("credit", 1)
    open_request(gov, model="credit", version=1, model_digest=v.model_digest,
                 spec_hash="s", facts=facts(rule({"model_risk_officer": 1,
                                                  "business_owner": 1})), trigger="dan")
    approve(gov, "bob", "credit", 1, "model_risk_officer", "reviewed")
    approve(gov, "carol", "credit", 1, "business_owner", "fit for use")
    deploy(gov, "frank", "credit", 1, "staging")
    deploy(gov, "frank", "credit", 1, "production")


def _note(gov, key: Signer) -> str:
    return make_checkpoint(check_log(gov.engine, origin=ORIGIN), ORIGIN, [key])


def _drop_triggers(conn) -> None:
    """What the SQLite file's owner, or the Postgres tables' owner, can always do."""
    if conn.dialect.name == "sqlite":
        for name in TRIGGER_NAMES:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    else:
        conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.exec_driver_sql("ALTER TABLE audit_head DISABLE TRIGGER USER")


def _rechain(conn, edit=lambda e: e) -> None:
    """Rewrite every row with `edit` applied and every hash recomputed, head included."""
    rows = [A._row_entry(r) for r in conn.execute(sa.select(A.log).order_by(A.log.c.seq))]
    conn.execute(A.log.delete())
    prev = GENESIS
    for r in rows:
        e = edit(r.entry())
        digest = A.entry_hash(prev, e)
        conn.execute(A.log.insert().values(**{**e, "details": A.canonical(e["details"])
                                              .decode()}, prev_hash=prev, hash=digest))
        prev = digest
    conn.execute(A.head_table.update().values(seq=len(rows), hash=prev))


def _more(gov, n: int) -> None:
    for i in range(n):
        with transaction(gov.engine) as conn:
            A.append(conn, actor="system", action="note", target="credit", reason=str(i),
                     at=gov.now())


# -- refused by the database ----------------------------------------------------------------
def _attempts(dialect: str) -> list[str]:
    forged = ("(3, '2027-01-01T00:00:00.000000Z', 'mallory', 'approve', 'credit@1', '', "
              "'{}', '" + "0" * 64 + "', '" + "1" * 64 + "')")
    cols = "(seq, at, actor, action, target, reason, details, prev_hash, hash)"
    common = [
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq >= 4",
        f"INSERT INTO audit_log {cols} VALUES {forged} "
        "ON CONFLICT (seq) DO UPDATE SET actor = 'mallory'",
        "UPDATE audit_head SET seq = 3",
        "DELETE FROM audit_head",
        f"INSERT INTO audit_log {cols} VALUES " + forged.replace("(3,", "(6,"),
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 3, '" + "1" * 64 + "') "
        "ON CONFLICT (id) DO UPDATE SET seq = 3",
    ]
    if dialect == "sqlite":
        return [*common,
                f"INSERT OR REPLACE INTO audit_log {cols} VALUES {forged}",
                f"REPLACE INTO audit_log {cols} VALUES {forged}",
                f"INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, 3, '{'1' * 64}')",
                "UPDATE OR REPLACE audit_head SET seq = 0, hash = '" + GENESIS + "'"]
    return [*common, "TRUNCATE audit_log", "TRUNCATE audit_head"]


def test_every_rewrite_path_is_refused_by_the_database(any_gov, registry):
    """As the application's database user: UPDATE, DELETE, UPSERT, INSERT OR REPLACE,
    REPLACE, TRUNCATE, an insert that does not extend the head, and any head rewrite."""
    _history(any_gov, registry)
    before = A.read_log(any_gov.engine)
    dialect = any_gov.engine.dialect.name
    for sql in _attempts(dialect):
        with pytest.raises(sa.exc.DBAPIError,
                           match=REFUSED), \
                any_gov.engine.begin() as conn:
            conn.exec_driver_sql(sql)
    after = A.read_log(any_gov.engine)
    assert after.problem is None and after.leaves == before.leaves
    assert after.head_seq == 5


@pytest.mark.postgres
@pytest.mark.parametrize("any_gov", ["postgres"], indirect=True)   # roles: Postgres only
def test_postgres_application_role_cannot_disable_the_triggers(any_gov, registry):
    """A non-superuser role with every DML privilege (what an application account has)
    is refused each rewrite, and cannot disable or drop the triggers."""
    assert any_gov.engine.dialect.name == "postgresql"
    _history(any_gov, registry)
    role = f"specops_app_{uuid.uuid4().hex[:10]}"
    with any_gov.engine.begin() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        conn.exec_driver_sql(f"CREATE ROLE {role} NOSUPERUSER NOLOGIN")
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        conn.exec_driver_sql(f'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES '
                             f'IN SCHEMA "{schema}" TO {role}')
    try:
        for sql in [*_attempts("postgresql"), "ALTER TABLE audit_log DISABLE TRIGGER USER",
                    "DROP TRIGGER audit_log_no_update ON audit_log"]:
            with pytest.raises(sa.exc.DBAPIError,
                               match=REFUSED + r"|must be owner"), \
                    any_gov.engine.begin() as conn:
                conn.exec_driver_sql(f"SET LOCAL ROLE {role}")
                conn.exec_driver_sql(sql)
        assert check_log(any_gov.engine, origin=ORIGIN).ok
    finally:
        with any_gov.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


# -- detected: the table owner rewrites history ----------------------------------------------
def test_truncated_tail_with_updated_head_is_detected_by_the_checkpoint(any_gov, registry,
                                                                        key):
    _history(any_gov, registry)
    note = _note(any_gov, key)
    _more(any_gov, 2)   # the log grows after the checkpoint: still an extension
    assert check_log(any_gov.engine, [("cp", note)], _pinned(key), ORIGIN).ok
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.delete().where(A.log.c.seq >= 4))
        third = conn.execute(sa.select(A.log.c.hash).where(A.log.c.seq == 3)).scalar_one()
        conn.execute(A.head_table.update().values(seq=3, hash=third))
    assert A.verify(any_gov.engine) == (3, None)       # the bare chain is fooled
    report = check_log(any_gov.engine, [("cp", note)], _pinned(key), ORIGIN)
    assert report.problems[0] == ("checkpoint cp: entry 4: truncated: the checkpoint records "
                                  "5 entries, the log has 3; entries 4..5 are gone")
    assert any("deployments row 1" in p and "audit entry 4 is missing" in p
               for p in report.problems)


def test_wiped_log_is_detected_without_a_checkpoint(any_gov, registry, key):
    """'ok: 0 entries' while deployments are listed is a failure: the cross-check."""
    _history(any_gov, registry)
    note = _note(any_gov, key)
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.delete())
        conn.execute(A.head_table.update().values(seq=0, hash=GENESIS))
    assert A.verify(any_gov.engine) == (0, None)
    report = check_log(any_gov.engine, origin=ORIGIN)
    assert not report.ok
    assert report.problems[0].startswith("cross-check: approval_votes row 1 (approve "
                                         "credit@1 by bob as model_risk_officer): its audit "
                                         "entry 2 is missing (the log has 0 entries)")
    assert any(p.startswith("cross-check: deployments row 2") for p in report.problems)
    with_cp = check_log(any_gov.engine, [("cp", note)], _pinned(key), ORIGIN)
    assert with_cp.problems[0].startswith("checkpoint cp: entry 1: truncated")


def test_recomputed_chain_after_editing_an_approver_is_detected(any_gov, registry, key):
    _history(any_gov, registry)
    note = _note(any_gov, key)

    def mallory(e):
        return {**e, "actor": "mallory"} if e["seq"] == 2 else e

    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        _rechain(conn, mallory)
    assert A.verify(any_gov.engine) == (5, None)       # recomputed: the chain holds
    report = check_log(any_gov.engine, [("cp", note)], _pinned(key), ORIGIN)
    assert report.problems[0].startswith("checkpoint cp: rewritten: entries 1..5 no longer "
                                         "hash to the checkpoint's root")
    assert ("cross-check: entry 2: rewritten: it disagrees with approval_votes row 1 "
            "(approve credit@1 by bob as model_risk_officer): actor 'bob' in the table, "
            "'mallory' in the log") in report.problems
    # the attacker also edits the vote row: the cross-check agrees now, the checkpoint not
    with any_gov.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE approval_votes SET actor = 'mallory' WHERE id = 1")
    report = check_log(any_gov.engine, [("cp", note)], _pinned(key), ORIGIN)
    assert not report.mismatches
    assert len(report.problems) == 1 and "rewritten" in report.problems[0]


def test_two_checkpoints_bound_the_rewritten_entry(any_gov, registry, key):
    _history(any_gov, registry)
    first = _note(any_gov, key)          # size 5
    _more(any_gov, 1)
    second = _note(any_gov, key)         # size 6
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        _rechain(conn, lambda e: {**e, "reason": "forged"} if e["seq"] == 6 else e)
    report = check_log(any_gov.engine, [("a", first), ("b", second)], _pinned(key), ORIGIN)
    assert report.checkpoints[0].problem is None
    assert report.problems == ["checkpoint b: rewritten: entries 1..6 no longer hash to the "
                               f"checkpoint's root {_root_b64(second)} (now "
                               f"{_b64(report.state.tree().root(6))}); the log is not an "
                               "append-only extension of it (the first rewritten entry is "
                               "among entry 6)"]


def test_forged_and_re_signed_checkpoints_are_refused(any_gov, registry, key):
    """After a rewrite the attacker writes a new checkpoint: re-signed with their own key
    it is not trusted; editing the pinned one breaks its signature."""
    _history(any_gov, registry)
    honest = _note(any_gov, key)
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        _rechain(conn, lambda e: {**e, "actor": "mallory"} if e["seq"] == 3 else e)
    own = Signer(ORIGIN, ed25519.Ed25519PrivateKey.generate())
    state = A.read_log(any_gov.engine)
    forged = sign_note(format_body(Checkpoint(ORIGIN, state.size, state.tree().root())),
                       [own])
    report = check_log(any_gov.engine, [("forged", forged)], _pinned(key), ORIGIN)
    assert report.problems[0].startswith("checkpoint forged: no valid signature by a "
                                         "pinned key")
    body, _, sigs = honest.partition("\n\n")
    lines = body.split("\n")
    lines[2] = _b64(A.read_log(any_gov.engine).tree().root(5))
    edited = "\n".join(lines) + "\n\n" + sigs
    report = check_log(any_gov.engine, [("edited", edited)], _pinned(key), ORIGIN)
    assert "no valid signature by a pinned key" in report.problems[0]
    other = check_log(any_gov.engine, [("x", honest)], _pinned(key), "specops/other/audit")
    assert "it is for log 'specops/test/audit'" in other.problems[0]


def test_entry_appended_outside_specops_after_a_checkpoint_is_named(any_gov, registry, key):
    """A forged approval row plus its entry, chained correctly but without moving the
    head: the head check names it; with the head moved too the cross-check does."""
    _history(any_gov, registry)
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        prev = conn.execute(sa.select(A.log.c.hash).where(A.log.c.seq == 5)).scalar_one()
        e = {"seq": 6, "at": "2027-01-01T00:00:00.000000Z", "actor": "mallory",
             "action": "approve", "target": "credit@1", "reason": "",
             "details": {"request_id": 1, "role": "business_owner"}}
        conn.execute(A.log.insert().values(**{**e, "details": A.canonical(e["details"])
                                              .decode()}, prev_hash=prev,
                                           hash=A.entry_hash(prev, e)))
        conn.execute(A.head_table.update().values(seq=6, hash=A.entry_hash(prev, e)))
    report = check_log(any_gov.engine, origin=ORIGIN)
    assert report.problems == ["cross-check: entry 6 (approve credit@1 by mallory) has no "
                               "approval vote in table approval_votes"]


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def _root_b64(note: str) -> str:
    return note.split("\n")[2]


def test_leaf_is_the_canonical_entry(any_gov, registry):
    """The Merkle leaf commits to exactly the bytes the chain hash covers."""
    _history(any_gov, registry)
    st = A.read_log(any_gov.engine)
    e = st.entries[1]
    assert st.leaves[1] == hashlib.sha256(b"\x00" + A.leaf_data(e)).digest()
    assert A.entry_hash(e.prev_hash, e.entry()) == e.hash
