"""The audit chain: triggers refuse UPDATE/DELETE, and `verify` names the first bad entry
after an edit, a deletion, an insertion or a reordering made directly in the database
(the tests drop the triggers first, as an attacker with DDL rights would)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from specops.runtime.governance.database import transaction
from specops.runtime.governance.ledger import audit as A
from specops.runtime.governance.ledger.guards import TRIGGER_NAMES


def _fill(gov, n=8):
    for i in range(1, n + 1):
        with transaction(gov.engine) as conn:
            A.append(conn, actor="bob", action="approve", target=f"m@{i}",
                     reason=f"reason {i}", details={"i": i, "role": "model_risk_officer"},
                     at=1_800_000_000.0 + i)


def _drop_triggers(conn):
    """What the owner of the SQLite file or of the Postgres tables can always do."""
    if conn.dialect.name == "sqlite":
        for name in TRIGGER_NAMES:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
    else:
        conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.exec_driver_sql("ALTER TABLE audit_head DISABLE TRIGGER USER")


def _row(conn, seq):
    return dict(conn.execute(sa.select(A.log).where(A.log.c.seq == seq)).one()._mapping)


def test_clean_chain_verifies_and_exports(any_gov, tmp_path):
    _fill(any_gov)
    n, problem = A.verify(any_gov.engine)
    assert (n, problem) == (8, None)
    out = tmp_path / "audit.jsonl"
    assert A.export_jsonl(any_gov.engine, out) == 8
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, 9))
    assert lines[0]["prev_hash"] == A.GENESIS and lines[1]["prev_hash"] == lines[0]["hash"]
    # the export alone is enough to recompute the chain
    prev = A.GENESIS
    for x in lines:
        entry = {k: x[k] for k in ("seq", "at", "actor", "action", "target", "reason",
                                   "details")}
        assert A.entry_hash(prev, entry) == x["hash"]
        prev = x["hash"]
    assert A.head(any_gov.engine) == {"seq": 8, "hash": prev}


def test_triggers_refuse_update_and_delete(any_gov):
    _fill(any_gov, 2)
    for stmt in (A.log.update().values(reason="x"), A.log.delete()):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), \
                any_gov.engine.begin() as conn:
            conn.execute(stmt)
    assert A.verify(any_gov.engine) == (2, None)


def test_edit_is_named(any_gov):
    _fill(any_gov)
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.update().where(A.log.c.seq == 5).values(actor="mallory"))
    _n, p = A.verify(any_gov.engine)
    assert p is not None and (p.seq, p.kind) == (5, "edited")
    assert "entry 5: edited" in str(p)


def test_details_edit_is_named(any_gov):
    _fill(any_gov)
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.update().where(A.log.c.seq == 3)
                     .values(details='{"i":3,"role":"business_owner"}'))
    assert A.verify(any_gov.engine)[1].seq == 3


def test_delete_is_named(any_gov):
    _fill(any_gov)
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.delete().where(A.log.c.seq == 4))
    p = A.verify(any_gov.engine)[1]
    assert (p.seq, p.kind) == (4, "deleted") and "missing" in p.message


def test_delete_and_renumber_is_named(any_gov):
    _fill(any_gov)
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.delete().where(A.log.c.seq == 4))
        for seq in range(5, 9):
            conn.execute(A.log.update().where(A.log.c.seq == seq).values(seq=seq - 1))
        conn.execute(A.head_table.update().values(seq=7))
    p = A.verify(any_gov.engine)[1]
    assert (p.seq, p.kind) == (4, "deleted")


def test_tail_delete_is_named(any_gov):
    _fill(any_gov)
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.delete().where(A.log.c.seq >= 7))
    p = A.verify(any_gov.engine)[1]
    assert (p.seq, p.kind) == (7, "truncated")


@pytest.mark.parametrize("forge", ["garbage", "chained"])
def test_insert_is_named(any_gov, forge):
    """A forged entry slipped in at position 4, later entries renumbered: with a garbage
    hash it fails its own check; with a correctly chained hash the next entry's link
    skips over it."""
    _fill(any_gov)
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        for seq in range(8, 3, -1):
            conn.execute(A.log.update().where(A.log.c.seq == seq).values(seq=seq + 1))
        prev = _row(conn, 3)["hash"]
        entry = {"seq": 4, "at": "2027-01-15T08:00:03.500000Z", "actor": "mallory",
                 "action": "approve", "target": "m@99", "reason": "", "details": {}}
        digest = A.entry_hash(prev, entry) if forge == "chained" else "0" * 64
        conn.execute(A.log.insert().values(**{**entry, "details": "{}"}, prev_hash=prev,
                                           hash=digest))
        conn.execute(A.head_table.update().values(seq=9))
    p = A.verify(any_gov.engine)[1]
    assert p.seq == 4
    assert p.kind == ("inserted" if forge == "chained" else "edited")


def test_append_outside_specops_is_named(any_gov):
    _fill(any_gov)
    with any_gov.engine.begin() as conn:
        last = _row(conn, 8)
        entry = {"seq": 9, "at": "2027-01-15T08:00:09.000000Z", "actor": "mallory",
                 "action": "approve", "target": "m@9", "reason": "", "details": {}}
        conn.execute(A.log.insert().values(**{**entry, "details": "{}"},
                                           prev_hash=last["hash"],
                                           hash=A.entry_hash(last["hash"], entry)))
    p = A.verify(any_gov.engine)[1]
    assert (p.seq, p.kind) == (9, "appended")


def test_reorder_is_named(any_gov):
    _fill(any_gov)
    with any_gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.update().where(A.log.c.seq == 5).values(seq=-5))
        conn.execute(A.log.update().where(A.log.c.seq == 6).values(seq=5))
        conn.execute(A.log.update().where(A.log.c.seq == -5).values(seq=6))
    p = A.verify(any_gov.engine)[1]
    assert (p.seq, p.kind) == (5, "reordered")
