"""Red-team findings 1 and 3, replayed as an insider with write access to the store.

1. After a signed rejection, copy the request row (with its signed envelope) to a new id
   and copy earlier approve votes (with envelopes) into it: the copy must not count as a
   new request, the votes count only for the request their statement names, and the
   rejection holds for model@version and digest whatever request rows exist.
3. A pinned registry key that belongs to no person signs approvals "as erin" and "as
   carol": such a key signs only the pipeline's own actions.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from trust_helpers import Project, facts

from specops.runtime.governance.approvals import approve, reject, require_approved, status
from specops.runtime.governance.database import transaction
from specops.runtime.governance.errors import GovernanceError
from specops.runtime.governance.governance_tables import requests, votes
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.registration import record_registration
from specops.runtime.trust.dsse import EnvelopeError
from specops.runtime.trust.ssh_keys import create_keypair
from specops.runtime.trust.statements import sign_action, verify_action
from specops.runtime.trust.trust_root import load_working_root

SPEC = "sha256:" + "a" * 64


def _register(p: Project, spec: str = SPEC) -> None:
    v = p.registry.get("m", 1) if spec != SPEC else p.registry.add("m", 1)
    gov = p.gov("pipeline")
    try:
        record_registration(gov, actor="pipeline", model="m", version=1,
                            model_digest=v.model_digest, spec_hash=spec, facts=facts(),
                            run_id="run-1")
    finally:
        gov.close()


def _act(p: Project, person: str, fn: Any, *args: Any) -> Any:
    gov = p.gov(person)
    try:
        return fn(gov, person, *args)
    finally:
        gov.close()


def _approved_then_rejected(p: Project) -> None:
    p.accept("bob")
    _register(p)
    _act(p, "erin", approve, "m", 1, "model_risk_officer")
    assert _act(p, "carol", approve, "m", 1, "business_owner").state == "approved"
    _act(p, "bob", reject, "m", 1, "model_risk_officer", "calibration off")


def _replay(c: sa.Connection, old_id: int, new_id: int) -> None:
    """/tmp/attack1.py: copy the request and its approve votes, with their envelopes,
    and append matching audit entries with the library's own audit.append."""
    req = c.execute(sa.select(requests).where(requests.c.id == old_id)).one()
    c.execute(requests.insert().values(
        id=new_id, model=req.model, version=req.version, model_digest=req.model_digest,
        spec_hash=req.spec_hash, status="open", plan=req.plan, trigger=req.trigger,
        run_id=req.run_id, opened_at=req.opened_at, note="", envelope=req.envelope))
    audit.append(c, actor="pipeline", action="request_approval", target="m@1",
                 details={"request_id": new_id, "model_digest": req.model_digest,
                          "spec_hash": req.spec_hash}, at=req.opened_at + 5)
    for v in c.execute(sa.select(votes).where(votes.c.request_id == old_id,
                                              votes.c.decision == "approve")).all():
        e = audit.append(c, actor=v.actor, action="approve", target="m@1", reason="",
                         details={"role": v.role, "model_digest": v.model_digest,
                                  "request_id": new_id}, at=req.opened_at + 6)
        c.execute(votes.insert().values(
            request_id=new_id, actor=v.actor, role=v.role, decision="approve",
            comment=v.comment, model_digest=v.model_digest, spec_hash=v.spec_hash,
            at=v.at, audit_seq=e.seq, envelope=v.envelope))


def test_replayed_request_and_votes_do_not_undo_a_rejection(project: Project) -> None:
    _approved_then_rejected(project)
    gov = project.gov()
    try:
        with transaction(gov.engine) as c:
            _replay(c, 1, 2)
        st = status(gov, "m", 1)
        assert st is not None and st.request_id == 2 and st.state == "voided"
        assert st.reason == ("request 2 replays the signed statement of request 1: a "
                             "signed request counts once")
        with transaction(gov.engine) as c, pytest.raises(GovernanceError, match="replays"):
            require_approved(c, gov, "m", 1, "production", st.model_digest)
    finally:
        gov.close()


def test_replay_after_deleting_the_original_rows_stays_rejected(project: Project) -> None:
    """With request 1 and its votes deleted the copy is the first row carrying the
    statement, but the copied votes are signed for request 1 and bob's rejection is in
    the append-only audit log."""
    _approved_then_rejected(project)
    gov = project.gov()
    try:
        with transaction(gov.engine) as c:
            _replay(c, 1, 2)
            c.execute(votes.delete().where(votes.c.request_id == 1))
            c.execute(requests.delete().where(requests.c.id == 1))
        st = status(gov, "m", 1)
        assert st is not None and st.request_id == 2 and st.state == "rejected", st.reason
        assert st.reason.startswith("rejected by bob (model_risk_officer): calibration off")
        assert "signed for request 1, not request 2 (replayed)" in st.reason
        assert not any(v["counts"] for v in st.votes)
    finally:
        gov.close()


def test_a_new_request_for_the_same_bytes_keeps_the_rejection(project: Project) -> None:
    """A re-run with another spec hash opens a new, validly signed request for the same
    model digest: the rejection of m@1 for those bytes still holds."""
    _approved_then_rejected(project)
    _register(project, "sha256:" + "b" * 64)
    gov = project.gov()
    try:
        st = status(gov, "m", 1)
        assert st is not None and st.request_id == 2 and st.state == "rejected", st.reason
        assert "rejected by bob" in st.reason
    finally:
        gov.close()


def _pin_ci(p: Project) -> Any:
    ci = create_keypair(p.root / ".keys", "ci")
    p.config["registry"]["pinned"] = [".keys/pipeline.pub", ".keys/ci.pub"]
    p.write()
    p.accept("bob")
    return ci


def test_registry_key_of_no_person_cannot_approve_as_a_person(project: Project) -> None:
    ci = _pin_ci(project)
    _register(project)
    gov = project.gov()
    try:
        with transaction(gov.engine) as c:   # /tmp/attack2.py
            rid, md = c.execute(sa.select(requests.c.id, requests.c.model_digest)).one()
            for person, role in [("erin", "model_risk_officer"), ("carol", "business_owner")]:
                at = project.now + 1
                env = sign_action(ci, action="approve", person=person, subject="m@1",
                                  digest=md, spec_hash=SPEC, role=role, comment="forged",
                                  at=at, request_id=rid)
                e = audit.append(c, actor=person, action="approve", target="m@1",
                                 reason="forged", details={"role": role, "model_digest": md,
                                                           "request_id": rid,
                                                           "envelope": env}, at=at)
                c.execute(votes.insert().values(
                    request_id=rid, actor=person, role=role, decision="approve",
                    comment="forged", model_digest=md, spec_hash=SPEC, at=at,
                    audit_seq=e.seq, envelope=json.dumps(env, sort_keys=True)))
        st = status(gov, "m", 1)
        assert st is not None and st.state == "open", st.reason
        assert f"key {ci.key_id} is a pinned registry key of no person: it signs only " \
               "the pipeline's own actions, not approve as 'erin'" in st.reason
    finally:
        gov.close()


@pytest.mark.parametrize("action,role", [("approve", "business_owner"), ("reject", None),
                                         ("deploy", None), ("rollback", None),
                                         ("policy_accept", None), ("config_change", None)])
def test_registry_key_of_no_person_signs_no_persons_action(sqlite_project: Project,
                                                          action: str, role: str | None
                                                          ) -> None:
    ci = _pin_ci(sqlite_project)
    root = load_working_root(sqlite_project.root)
    env = sign_action(ci, action=action, person="carol", subject="m@1",
                      digest="sha256:" + "c" * 64, role=role, at=1.0)
    with pytest.raises(EnvelopeError, match=f"not {action} as 'carol'"):
        verify_action(env, root, extra_keys=root.registry_keys())


@pytest.mark.parametrize("action,role", [("register", None), ("request_approval", None),
                                         ("retrain", None), ("approve", "auto")])
def test_registry_key_of_no_person_still_signs_the_pipelines_actions(
        sqlite_project: Project, action: str, role: str | None) -> None:
    ci = _pin_ci(sqlite_project)
    root = load_working_root(sqlite_project.root)
    env = sign_action(ci, action=action, person="pipeline", subject="m@1",
                      digest="sha256:" + "c" * 64, role=role, at=1.0)
    act = verify_action(env, root, extra_keys=root.registry_keys())
    assert act.action == action and act.key_id == ci.key_id
