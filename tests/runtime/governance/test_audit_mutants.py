"""Audit log reading and verification, message by message (mutation survivors of
runtime/governance/ledger/audit.py): what `verify` says names the right entries, the
filters of `entries`/`export_jsonl` select exactly what they claim, and rows an attacker
wrote by hand (unparseable details) still read back.

The attacks drop the triggers first, as the owner of the SQLite file can.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from specops.runtime.governance import Governance
from specops.runtime.governance.database import transaction
from specops.runtime.governance.ledger import audit as A
from specops.runtime.governance.ledger.guards import TRIGGER_NAMES


def _fill(gov: Governance, targets: list[str] | None = None) -> None:
    for i, target in enumerate(targets or [f"m@{i}" for i in range(1, 9)], 1):
        with transaction(gov.engine) as conn:
            A.append(conn, actor="bob", action="approve", target=target,
                     reason=f"reason {i}: geprüft", details={"i": i},
                     at=1_800_000_000.0 + i)


def _drop_triggers(conn: sa.Connection) -> None:
    for name in TRIGGER_NAMES:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def _hash(conn: sa.Connection, seq: int) -> str:
    return str(conn.execute(sa.select(A.log.c.hash).where(A.log.c.seq == seq)).scalar())


def test_one_deleted_entry_is_named_with_the_gap(gov) -> None:
    _fill(gov)
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.delete().where(A.log.c.seq == 4))
    p = A.verify(gov.engine)[1]
    assert p is not None and (p.seq, p.kind) == (4, "deleted")
    assert p.message == "missing: entry 4 is gone (the log jumps from 3 to 5); deleted"


def test_several_deleted_entries_are_named_with_the_range(gov) -> None:
    _fill(gov)
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.delete().where(A.log.c.seq.in_([4, 5, 6])))
    p = A.verify(gov.engine)[1]
    assert p is not None
    assert p.message == "missing: entries 4..6 are gone (the log jumps from 3 to 7); deleted"


def test_chained_insert_at_the_second_position_is_named(gov) -> None:
    """A forged, correctly chained entry 2: entry 3 then links to entry 1, skipping it."""
    _fill(gov)
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        for seq in range(8, 1, -1):
            conn.execute(A.log.update().where(A.log.c.seq == seq).values(seq=seq + 1))
        prev = _hash(conn, 1)
        entry = {"seq": 2, "at": "2027-01-15T08:00:03.500000Z", "actor": "mallory",
                 "action": "approve", "target": "m@99", "reason": "", "details": {}}
        conn.execute(A.log.insert().values(**{**entry, "details": "{}"}, prev_hash=prev,
                                           hash=A.entry_hash(prev, entry)))
        conn.execute(A.head_table.update().values(seq=9))
    p = A.verify(gov.engine)[1]
    assert p is not None and (p.seq, p.kind) == (2, "inserted")
    assert p.message == ("inserted: entry 3 links to entry 1, skipping entry 2, which is not "
                         "part of the chain")


def test_reordered_entry_names_the_later_entry_it_links_to(gov) -> None:
    _fill(gov)
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.update().where(A.log.c.seq == 5).values(seq=-5))
        conn.execute(A.log.update().where(A.log.c.seq == 6).values(seq=5))
        conn.execute(A.log.update().where(A.log.c.seq == -5).values(seq=6))
    p = A.verify(gov.engine)[1]
    assert p is not None
    assert p.message == "reordered: it links to entry 6, which comes after it"


def test_broken_link_names_both_hashes(gov) -> None:
    _fill(gov)
    forged = "ab" * 32
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        prev = _hash(conn, 4)
        conn.execute(A.log.update().where(A.log.c.seq == 5).values(prev_hash=forged))
    p = A.verify(gov.engine)[1]
    assert p is not None and (p.seq, p.kind) == (5, "deleted")
    assert p.message == (f"does not link to entry 4 (prev_hash {forged[:12]}… != "
                         f"{prev[:12]}…): an entry before it was deleted or replaced")


def test_head_of_an_empty_log_is_genesis(gov) -> None:
    assert A.head(gov.engine) == {"seq": 0, "hash": A.GENESIS}
    _fill(gov, ["m@1"])
    head = A.head(gov.engine)
    assert head["seq"] == 1 and head["hash"] == next(A.entries(gov.engine)).hash


def test_hand_written_details_still_read_back(gov) -> None:
    _fill(gov, ["a@1", "a@2"])
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.update().where(A.log.c.seq == 1).values(details="not json"))
        conn.execute(A.log.update().where(A.log.c.seq == 2).values(details="[1, 2]"))
    first, second = A.entries(gov.engine)
    assert first.details == {"_unparseable": "not json"}
    assert second.details == {"_value": [1, 2]}
    assert A.verify(gov.engine)[1].seq == 1


def test_entries_filter_by_target_and_escaped_prefix(gov) -> None:
    _fill(gov, ["m_1@1", "mx1@1", "m_1@2", "other@1"])
    assert [e.seq for e in A.entries(gov.engine, target="m_1@1")] == [1]
    assert [e.target for e in A.entries(gov.engine, target_prefix="m_1@")] == \
        ["m_1@1", "m_1@2"]
    assert [e.target for e in A.entries(gov.engine, target_prefix="m_")] == \
        ["m_1@1", "m_1@2"]                       # `_` is not a LIKE wildcard
    with gov.engine.connect() as conn:
        assert [e.seq for e in A.entries(conn)] == [1, 2, 3, 4]
        assert [e.seq for e in A.entries(conn, target_prefix="other")] == [4]


def test_export_jsonl_with_prefix_to_a_path(gov, tmp_path: Path) -> None:
    _fill(gov, ["m_1@1", "mx1@1", "m_1@2"])
    out = tmp_path / "audit.jsonl"
    assert A.export_jsonl(gov.engine, out, target_prefix="m_") == 2
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["target"] for x in lines] == ["m_1@1", "m_1@2"]
    assert lines[0]["reason"] == "reason 1: geprüft"


# -- canonical form and read_log (mutation survivors) ---------------------------------------
def test_canonical_form_is_fixed_bytes() -> None:
    """The hashed bytes are specified (sorted keys, no spaces, UTF-8, no NaN): a change
    would make every earlier hash unverifiable elsewhere, even if append and verify agree."""
    import hashlib

    import pytest

    assert A.canonical({"b": 1, "a": "é", "c": [1, 2.5]}) == \
        '{"a":"é","b":1,"c":[1,2.5]}'.encode()
    with pytest.raises(ValueError):
        A.canonical({"x": float("nan")})
    entry = {"seq": 1, "at": "t", "actor": "bob", "action": "approve", "target": "m@1",
             "reason": "ok", "details": {"k": "v"}}
    body = ('{"action":"approve","actor":"bob","at":"t","details":{"k":"v"},"reason":"ok",'
            '"seq":1,"target":"m@1"}')
    assert A.entry_hash(A.GENESIS, entry) == hashlib.sha256(
        (A.GENESIS + body).encode()).hexdigest()


def test_non_canonical_stored_details_still_verify(gov) -> None:
    """A row whose details text is the same JSON written differently (spacing, key order),
    as a database may store it, verifies through the parsed form."""
    _fill(gov, ["a@1", "a@2", "a@3"])
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.update().where(A.log.c.seq == 2).values(details='{ "i" : 2 }'))
    assert A.verify(gov.engine) == (3, None)


def test_read_log_after_a_problem_keeps_every_entry(gov) -> None:
    _fill(gov)
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.log.update().where(A.log.c.seq == 5).values(actor="mallory"))
        conn.execute(A.log.update().where(A.log.c.seq == 7).values(details="not json"))
        conn.execute(A.log.update().where(A.log.c.seq == 8).values(details="[8]"))
    state = A.read_log(gov.engine)
    assert state.size == 8 and len(state.leaves) == 8
    assert [e.seq for e in state.entries] == list(range(1, 9))
    assert state.entries[6].details == {"_unparseable": "not json"}
    assert state.entries[7].details == {"_value": [8]}
    assert state.checked == 4 and state.problem is not None and state.problem.seq == 5
    assert A.verify(gov.engine)[0] == 4
    head = A.head(gov.engine)
    assert (state.head_seq, state.head_hash) == (head["seq"], head["hash"]) and head["seq"] == 8


def test_empty_log_and_missing_head_row(gov) -> None:
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.head_table.delete())
    assert A.head(gov.engine) == {"seq": 0, "hash": A.GENESIS}
    assert A.verify(gov.engine) == (0, None)
    state = A.read_log(gov.engine)
    assert (state.head_seq, state.head_hash) == (None, None)


def test_entry_time_is_utc_iso_with_microseconds(monkeypatch) -> None:
    """Stamped in UTC whatever the machine's zone (the hash covers the text)."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert A._now_iso(1_800_000_000.5) == "2027-01-15T08:00:00.500000Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_append_returns_the_stored_entry(gov) -> None:
    with transaction(gov.engine) as conn:
        e = A.append(conn, actor="bob", action="note", target="m@1", at=1_800_000_000.0)
    assert e.reason == "" and e.details == {} and e.seq == 1 and e.prev_hash == A.GENESIS
    assert e.hash == A.head(gov.engine)["hash"] == A.entry_hash(A.GENESIS, e.entry())
    assert next(A.entries(gov.engine)) == e


def test_append_recreates_a_missing_head_row(gov) -> None:
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.head_table.delete())
    _fill(gov, ["m@1", "m@2"])
    assert A.head(gov.engine)["seq"] == 2 and A.verify(gov.engine) == (2, None)
    with gov.engine.connect() as conn:
        ids = conn.execute(sa.select(A.head_table.c.id)).scalars().all()
    assert ids == [1]
