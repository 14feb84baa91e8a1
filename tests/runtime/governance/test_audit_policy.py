"""The cross-check binds trust-root acceptances to the audit log: a `policy accept` whose
entry was cut out of a recomputed log (so the chain verifies) is named, and an acceptance
entry with no signature row behind it too. Uses the signed-mode project of the trust tests
(real SSH ed25519 keys, a real SQLite store)."""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trust"))
from trust_helpers import make_project

from specops.runtime.governance.ledger import audit as A
from specops.runtime.governance.ledger.guards import GENESIS, TRIGGER_NAMES
from specops.runtime.governance.ledger.log_check import check_log


def _rechain_without(engine: sa.Engine, action: str) -> None:
    """As the store file's owner: drop the triggers, drop every `action` entry, renumber
    and recompute the whole chain and the head."""
    with engine.begin() as conn:
        for name in TRIGGER_NAMES:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        rows = [A._row_entry(r) for r in conn.execute(sa.select(A.log).order_by(A.log.c.seq))]
        conn.execute(A.log.delete())
        prev, seq = GENESIS, 0
        for r in rows:
            if r.action == action:
                continue
            seq += 1
            e = {**r.entry(), "seq": seq}
            digest = A.entry_hash(prev, e)
            conn.execute(A.log.insert().values(**{**e, "details": A.canonical(e["details"])
                                                  .decode()}, prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(A.head_table.update().values(seq=seq, hash=prev))


def test_policy_acceptance_cut_from_a_recomputed_log_is_named(tmp_path) -> None:
    p = make_project(tmp_path)
    p.accept("bob")
    gov = p.gov()
    try:
        report = check_log(gov.engine)
        assert report.ok, report.problems
        assert report.counts["policy acceptance"] == 1
        assert report.counts["trust root in force"] == 1
        _rechain_without(gov.engine, "policy_accept")
        assert A.verify(gov.engine)[1] is None            # the chain alone is fooled
        problems = check_log(gov.engine).problems
        assert len(problems) == 1
        assert problems[0].startswith("cross-check: trust_signatures row 1 (bob accepted "
                                      "trust root sha256:")
        assert problems[0].endswith("has no policy_accept entry in the audit log")
    finally:
        gov.close()


def test_acceptance_entry_without_its_signature_row_is_named(tmp_path) -> None:
    p = make_project(tmp_path)
    p.accept("bob")
    gov = p.gov()
    try:
        with gov.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM trust_signatures")
        problems = check_log(gov.engine).problems
        assert len(problems) == 1
        assert problems[0].startswith("cross-check: entry ")
        assert "(policy_accept trust-root by bob) has no policy acceptance in table " \
               "trust_signatures" in problems[0]
    finally:
        gov.close()
