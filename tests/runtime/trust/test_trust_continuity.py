"""Trust-root continuity (red-team finding 2), attacked on a real SQLite store.

The attack: with database and repository access, delete the accepted roots and their
signatures, point bob's and carol's keys in specops.yaml at the attacker's, and accept
the edited file as a "first root" again. The audit log still records the root that was in
force, so the store's table disagrees with it: acceptance, approvals and deploy checks
are refused with a one-line cause, and a new root can only follow the logged one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_signed_actions import _act, _approved, _register
from trust_helpers import Project

from specops.runtime.governance import GovernanceError
from specops.runtime.governance.approvals import approve, status
from specops.runtime.governance.database import transaction
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.promotion import deploy, deploy_is_valid
from specops.runtime.serve.admission import ModelRefused, check_deployment
from specops.runtime.trust.ssh_keys import create_keypair
from specops.runtime.trust.statements import sign_action
from specops.runtime.trust.trust_root import TrustError, load_working_root
from specops.runtime.trust.trust_store import accept, in_force, roots, signatures

MISMATCH = "trust roots do not match the audit log"


def _wipe_and_swap_keys(p: Project, tmp: Path) -> None:
    with sa.create_engine(p.url).begin() as conn:
        conn.execute(sa.text("DELETE FROM trust_roots"))
        conn.execute(sa.text("DELETE FROM trust_signatures"))
    for person in ("bob", "carol"):
        key = create_keypair(tmp / "attacker", person)
        p.keys[person] = key
        p.config["people"][person]["keys"] = [str(tmp / "attacker" / f"{person}.pub")]
    p.write()


def test_a_second_first_root_is_refused_and_nothing_governed_runs(
        sqlite_project: Project, tmp_path: Path) -> None:
    p = sqlite_project
    p.accept("bob")
    _register(p)
    _wipe_and_swap_keys(p, tmp_path)
    with pytest.raises(TrustError, match=MISMATCH) as info:
        p.accept("bob")                       # `policy accept --key /tmp/m_bob`
    assert "\n" not in str(info.value)
    gov = p.gov("bob")
    try:
        assert gov.trust is None and gov.trust_problem and MISMATCH in gov.trust_problem
        with pytest.raises(GovernanceError, match=MISMATCH):
            approve(gov, "bob", "m", 1, "model_risk_officer")
    finally:
        gov.close()


def test_a_forged_root_row_replacing_the_logged_one_is_refused(
        sqlite_project: Project, tmp_path: Path) -> None:
    """Deploy first; then swap the table's root for one the attacker self-accepted (with
    a forged `trust_root_in_force` entry appended through the library): the deploy and
    its approvals no longer count."""
    p = sqlite_project
    _approved(p)
    assert _act(p, "frank", deploy, "m", 1, "production", "release").changed
    _wipe_and_swap_keys(p, tmp_path)
    gov = p.gov()
    try:
        with transaction(gov.engine) as conn:
            forged = load_working_root(p.root)
            # what `accept` would write for a first root, done by hand around the check
            env = sign_action(p.keys["bob"], action="policy_accept", person="bob",
                              subject="trust-root", digest=forged.digest, at=p.now,
                              previous="")
            conn.execute(signatures.insert().values(digest=forged.digest, previous="",
                                                    person="bob", envelope=json.dumps(env),
                                                    at=p.now))
            conn.execute(roots.insert().values(
                seq=1, digest=forged.digest, previous="",
                document=json.dumps(dict(forged.document), sort_keys=True),
                accepted_at=p.now))
            audit.append(conn, actor="bob", action="trust_root_in_force",
                         target="trust-root", reason="accepted by bob",
                         details={"digest": forged.digest, "previous": "",
                                  "signed_by": ["bob"]}, at=p.now)
            with pytest.raises(TrustError, match=MISMATCH):
                in_force(conn)
    finally:
        gov.close()
    gov = p.gov()
    try:
        ok, why = deploy_is_valid(gov, "m", 1, "production")
        assert not ok and MISMATCH in why and "\n" not in why
        st = status(gov, "m", 1)
        assert st is not None and st.state != "approved", st.reason
        assert MISMATCH in st.reason
        with pytest.raises(ModelRefused, match=MISMATCH):
            check_deployment(gov, "m", 1, gov.version("m", 1).model_digest, "production")
    finally:
        gov.close()


def test_a_new_root_follows_the_logged_one_with_its_policy_holders(
        sqlite_project: Project, tmp_path: Path) -> None:
    """The legitimate path still works: a change accepted by a policy holder of the root
    in force (bob, real key) comes into force on top of it; an attacker key is refused."""
    p = sqlite_project
    p.accept("bob")
    p.add_person("gina", ["business_owner"])
    intruder = create_keypair(tmp_path / "attacker", "bob")
    gov = p.gov()
    try:
        with (transaction(gov.engine) as conn,
              pytest.raises(TrustError, match="belongs to nobody in the trust root in force")):
            accept(conn, load_working_root(p.root), intruder, at=p.now)
    finally:
        gov.close()
    assert p.accept("bob").in_force
    gov = p.gov()
    try:
        assert gov.trust is not None and "gina" in gov.trust.directory().people
    finally:
        gov.close()
