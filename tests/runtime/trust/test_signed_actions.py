"""Signed governed actions, attacked by a user with write access to the store and the repo.

The flow: the pipeline registers (signed with its key), bob (model risk) and carol
(business owner) approve with their own SSH keys, frank (platform) deploys. Each attack
forges what an insider can forge without someone else's private key, and must be refused
or ignored with a one-line cause.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from trust_helpers import Project, facts

from specops.runtime.governance import GovernanceError
from specops.runtime.governance.approvals import approve, status
from specops.runtime.governance.database import transaction
from specops.runtime.governance.governance_tables import deployments, votes
from specops.runtime.governance.promotion import deploy, deploy_is_valid, rollback
from specops.runtime.governance.registration import record_registration
from specops.runtime.trust.ssh_keys import create_keypair


def _register(p: Project, version: int = 1) -> None:
    v = p.registry.add("m", version)
    gov = p.gov("pipeline")
    try:
        record_registration(gov, actor="pipeline", model="m", version=version,
                            model_digest=v.model_digest, spec_hash="sha256:" + "a" * 64,
                            facts=facts(), run_id="run-1")
    finally:
        gov.close()


def _act(p: Project, person: str, fn: Any, *args: Any, **kw: Any) -> Any:
    gov = p.gov(person)
    try:
        return fn(gov, person, *args, **kw)
    finally:
        gov.close()


def _approved(p: Project, version: int = 1) -> None:
    p.accept("bob")
    _register(p, version)
    _act(p, "bob", approve, "m", version, "model_risk_officer", "validated")
    st = _act(p, "carol", approve, "m", version, "business_owner")
    assert st.state == "approved", st.reason


def test_signed_flow_and_deploy_is_valid(project: Project) -> None:
    _approved(project)
    d = _act(project, "frank", deploy, "m", 1, "production", "release")
    assert d.changed
    gov = project.gov()
    try:
        ok, cause = deploy_is_valid(gov, "m", 1, "production")
        assert ok, cause
        assert "frank" in cause and "bob" in cause and "carol" in cause
        with gov.engine.connect() as c:
            row = c.execute(sa.select(deployments)).one()
            vote_rows = c.execute(sa.select(votes)).all()
        env = json.loads(row.envelope)
        assert env["payloadType"] == "application/vnd.in-toto+json"
        assert env["signatures"][0]["keyid"] == project.keys["frank"].key_id
        assert all(json.loads(v.envelope)["signatures"][0]["keyid"] ==
                   project.keys[v.actor].key_id for v in vote_rows)
        assert not deploy_is_valid(gov, "m", 1, "staging")[0]
        assert not deploy_is_valid(gov, "m", 2, "production")[0]
    finally:
        gov.close()


def test_inserted_approval_row_without_signature_does_not_count(project: Project) -> None:
    project.accept("bob")
    _register(project)
    _act(project, "bob", approve, "m", 1, "model_risk_officer")
    gov = project.gov()
    try:
        with transaction(gov.engine) as c:   # the attacker writes carol's approval
            first = c.execute(sa.select(votes)).one()
            c.execute(votes.insert().values(
                request_id=first.request_id, actor="carol", role="business_owner",
                decision="approve", comment="", model_digest=first.model_digest,
                spec_hash=first.spec_hash, at=first.at, audit_seq=None, envelope=None))
        st = status(gov, "m", 1)
        assert st is not None and st.state == "open"
        assert "ignored 1 vote(s)" in st.reason and "no signed statement" in st.reason
    finally:
        gov.close()
    with pytest.raises(GovernanceError, match="not approved for production") as info:
        _act(project, "frank", deploy, "m", 1, "production")
    assert "\n" not in str(info.value)


def test_copied_envelope_or_attacker_key_does_not_count(project: Project) -> None:
    project.accept("bob")
    _register(project)
    _act(project, "bob", approve, "m", 1, "model_risk_officer")
    mallory = create_keypair(project.root / "evil", "mallory")
    gov = project.gov()
    try:
        with transaction(gov.engine) as c:
            bob = c.execute(sa.select(votes)).one()
            # bob's valid statement re-labelled as carol's business-owner approval
            c.execute(votes.insert().values(
                request_id=bob.request_id, actor="carol", role="business_owner",
                decision="approve", comment="", model_digest=bob.model_digest,
                spec_hash=bob.spec_hash, at=bob.at, envelope=bob.envelope))
        st = status(gov, "m", 1)
        assert st is not None and st.state == "open", st.reason
        gov.signer = mallory     # a key of one's own, claiming to be carol
        with pytest.raises(GovernanceError, match="belongs to nobody"):
            approve(gov, "carol", "m", 1, "business_owner")
    finally:
        gov.close()


def test_claimed_name_must_match_the_key(project: Project) -> None:
    project.accept("bob")
    _register(project)
    gov = project.gov("alice")
    try:
        with pytest.raises(GovernanceError, match="you claim to be bob but the key"):
            approve(gov, "bob", "m", 1, "model_risk_officer")
        gov.signer = None
        with pytest.raises(GovernanceError, match="pass --key PATH"):
            approve(gov, "bob", "m", 1, "model_risk_officer")
    finally:
        gov.close()


def test_deployer_who_approved_is_refused(project: Project) -> None:
    project.accept("bob")
    _register(project)
    _act(project, "bob", approve, "m", 1, "model_risk_officer")
    assert _act(project, "ivy", approve, "m", 1, "business_owner").state == "approved"
    with pytest.raises(GovernanceError, match="separation of duties: ivy approved m@1"):
        _act(project, "ivy", deploy, "m", 1, "production")


def test_forged_deployment_row_is_not_valid(project: Project) -> None:
    _approved(project)
    _act(project, "frank", deploy, "m", 1, "production")
    project.registry.add("m", 2)
    gov = project.gov()
    try:
        with transaction(gov.engine) as c:   # "deploy" v2 (never approved) by a row
            c.execute(deployments.insert().values(
                model="m", environment="production", version=2,
                model_digest=project.registry.get("m", 2).model_digest, action="deploy",
                previous_version=1, actor="frank", reason="", at=project.now + 1))
        ok, cause = deploy_is_valid(gov, "m", 2, "production")
        assert not ok and "no signed statement" in cause
    finally:
        gov.close()


def test_bytes_differing_from_the_deployed_digest_are_not_valid(project: Project) -> None:
    _approved(project)
    _act(project, "frank", deploy, "m", 1, "production")
    project.registry.add("m", 1, "sha256:" + "f" * 64)    # the registry now holds other bytes
    gov = project.gov()
    try:
        ok, cause = deploy_is_valid(gov, "m", 1, "production")
        assert not ok and "was for digest" in cause
    finally:
        gov.close()


def test_rollback_is_signed(sqlite_project: Project) -> None:
    p = sqlite_project
    _approved(p, 1)
    _act(p, "frank", deploy, "m", 1, "production")
    _register(p, 2)
    _act(p, "erin", approve, "m", 2, "model_risk_officer")
    _act(p, "carol", approve, "m", 2, "business_owner")
    _act(p, "frank", deploy, "m", 2, "production")
    d = _act(p, "frank", rollback, "m", "production")
    assert d.version == 1
    gov = p.gov()
    try:
        ok, cause = deploy_is_valid(gov, "m", 1, "production")
        assert ok, cause
        assert "rollback" in cause
    finally:
        gov.close()


def test_author_may_not_approve_even_when_the_rule_turns_sod_off(sqlite_project: Project
                                                                  ) -> None:
    """`approver_not_author` is a rule across actions in the trust root: a rule that turns
    separation of duties off still does not let an author approve their own model."""
    p = sqlite_project
    p.config["people"]["alice"]["roles"].append("business_owner")
    p.write()
    p.accept("bob")
    v = p.registry.add("m", 1)
    no_sod = facts()
    no_sod["approval"]["rules"][0]["separation_of_duties"] = False
    gov = p.gov("pipeline")
    record_registration(gov, actor="pipeline", model="m", version=1,
                        model_digest=v.model_digest, spec_hash="", facts=no_sod)
    gov.close()
    with pytest.raises(GovernanceError, match="separation of duties: alice is an author"):
        _act(p, "alice", approve, "m", 1, "business_owner")
    p.config["separation_of_duties"] = {"approver_not_author": False}
    p.write()
    p.accept("bob")
    assert _act(p, "alice", approve, "m", 1, "business_owner").roles


def test_approval_rule_change_is_signed_by_a_policy_holder(sqlite_project: Project) -> None:
    from specops.runtime.governance.ledger import audit
    from specops.runtime.governance.policy_changes import record_config

    p = sqlite_project
    p.accept("bob")
    assert _act(p, "pipeline", record_config, {"m": facts()}) is True   # the baseline
    looser = facts()
    looser["approval"]["rules"][0]["require"] = {"model_risk_officer": 1}
    with pytest.raises(GovernanceError, match="pipeline may not change policy"):
        _act(p, "pipeline", record_config, {"m": looser})
    gov = p.gov("alice")
    try:
        with pytest.raises(GovernanceError, match="you claim to be bob"):
            record_config(gov, "bob", {"m": looser})
    finally:
        gov.close()
    assert _act(p, "bob", record_config, {"m": looser}) is True
    gov = p.gov()
    try:
        last = [e for e in audit.entries(gov.engine) if e.action == "config_change"][-1]
    finally:
        gov.close()
    assert last.actor == "bob"
    assert last.details["envelope"]["signatures"][0]["keyid"] == p.keys["bob"].key_id


def test_deleting_a_rejection_row_does_not_make_the_version_deployable(project: Project
                                                                       ) -> None:
    """The vote table can be edited; the audit log keeps the signed rejection."""
    from specops.runtime.governance.approvals import reject

    project.accept("bob")
    _register(project)
    _act(project, "bob", approve, "m", 1, "model_risk_officer")
    _act(project, "erin", reject, "m", 1, "model_risk_officer", "calibration off")
    gov = project.gov()
    try:
        with transaction(gov.engine) as c:
            c.execute(votes.delete().where(votes.c.decision == "reject"))
            from specops.runtime.governance.governance_tables import requests

            c.execute(requests.update().values(status="open"))
        with transaction(gov.engine) as c:   # and carol approves through a direct row too
            bob = c.execute(sa.select(votes)).one()
        st = status(gov, "m", 1)
        assert st is not None and st.state == "rejected", st.reason
        assert "rejected by erin (model_risk_officer): calibration off" in st.reason
        assert bob.actor == "bob"
    finally:
        gov.close()
    with pytest.raises(GovernanceError, match="is rejected"):
        _act(project, "carol", approve, "m", 1, "business_owner")
