"""Approvals: separation of duties, quorum per role with distinct people, binding to the
model digest and spec hash, expiry, auto-approval, rejection."""

from __future__ import annotations

import pytest
from gov_helpers import facts, rule

from specops.runtime.governance import GovernanceError, NotFound
from specops.runtime.governance.approvals import (
    approval_plan,
    approve,
    list_status,
    open_request,
    reject,
    status,
)
from specops.runtime.governance.ledger import audit as A
from specops.runtime.governance.registration import record_registration


def _open(gov, registry, *, version=1, approval=None, trigger="dan", spec="sha256:spec1",
          gates_passed=True):
    v = registry.add("credit", version)      # registers it, or returns the one there
    return open_request(gov, model="credit", version=version, model_digest=v.model_digest,
                        spec_hash=spec, facts=facts(approval), trigger=trigger,
                        gates_passed=gates_passed)


def test_four_eyes_needs_both_roles(any_gov, registry):
    st = _open(any_gov, registry)
    assert st.state == "open" and "1 more business_owner, 1 more model_risk_officer" in st.reason
    st = approve(any_gov, "bob", "credit", 1, "model_risk_officer", "looks sound")
    assert st.state == "open"
    st = approve(any_gov, "carol", "credit", 1, "business_owner", "business ok")
    assert st.state == "approved" and st.expires_at is not None
    assert [v["comment"] for v in st.votes] == ["looks sound", "business ok"]
    actions = [e.action for e in A.entries(any_gov.engine)]
    assert actions == ["request_approval", "approve", "approve"]


@pytest.mark.parametrize("who,why", [
    ("gina", "is in the owner team credit_risk"),
    ("alice", None),   # an author, but also lacks an approving role
    ("dan", "triggered the run"),
])
def test_separation_of_duties(gov, registry, who, why):
    # give alice and dan an approving role too, so SoD (not the matrix) is what refuses
    from gov_helpers import CONFIG

    from specops.runtime.governance import Directory

    cfg = {"people": {**CONFIG["people"],
                      "alice": {"roles": ["model_risk_officer"], "teams": ["x"]},
                      "dan": {"roles": ["model_risk_officer"], "teams": ["risk_data"]}}}
    gov.directory = Directory.from_config(cfg)
    _open(gov, registry, trigger="dan")
    with pytest.raises(GovernanceError, match="separation of duties") as exc:
        approve(gov, who, "credit", 1, "model_risk_officer")
    assert why is None or why in str(exc.value)
    if who == "alice":
        assert "is an author of the model" in str(exc.value)


def test_sod_off_allows_the_owner_team(gov, registry):
    _open(gov, registry, approval=rule({"model_risk_officer": 1}, sod=False))
    assert approve(gov, "gina", "credit", 1, "model_risk_officer").state == "approved"


def test_quorum_needs_distinct_people(gov, registry):
    _open(gov, registry, approval=rule({"model_risk_officer": 2, "business_owner": 1}))
    approve(gov, "hank", "credit", 1, "model_risk_officer")
    with pytest.raises(GovernanceError, match="already approved credit@1 as "
                                              "model_risk_officer; each required approval "
                                              "needs a distinct person"):
        approve(gov, "hank", "credit", 1, "business_owner")
    with pytest.raises(GovernanceError, match="distinct person"):
        approve(gov, "hank", "credit", 1, "model_risk_officer")
    st = approve(gov, "bob", "credit", 1, "model_risk_officer")
    assert st.state == "open" and st.roles[1].approvers == ["bob", "hank"]
    with pytest.raises(GovernanceError, match="already has its 2 model_risk_officer"):
        approve(gov, "erin", "credit", 1, "model_risk_officer")
    assert approve(gov, "carol", "credit", 1, "business_owner").state == "approved"
    with pytest.raises(GovernanceError, match="is approved"):
        approve(gov, "erin", "credit", 1, "model_risk_officer")


def test_role_not_required_is_refused(gov, registry):
    _open(gov, registry, approval=rule({"model_risk_officer": 1}))
    with pytest.raises(GovernanceError, match="role 'business_owner' is not required"):
        approve(gov, "carol", "credit", 1, "business_owner")


def test_changed_digest_voids_the_approval(any_gov, registry):
    _open(any_gov, registry)
    approve(any_gov, "bob", "credit", 1, "model_risk_officer")
    approve(any_gov, "carol", "credit", 1, "business_owner")
    assert status(any_gov, "credit", 1).state == "approved"
    registry.forge_digest("credit", 1, "sha256:" + "f" * 64)   # the row names other bytes
    st = status(any_gov, "credit", 1)
    assert st.state == "voided" and "model digest changed" in st.reason
    assert [s.state for s in list_status(any_gov)] == ["voided"]
    with pytest.raises(GovernanceError, match="voided"):
        approve(any_gov, "erin", "credit", 1, "model_risk_officer")
    assert [e.action for e in A.entries(any_gov.engine)][-1] == "void"
    # re-opening for the new digest starts from zero
    st = open_request(any_gov, model="credit", version=1, model_digest="sha256:" + "f" * 64,
                      spec_hash="sha256:spec1", facts=facts(), trigger="dan")
    assert st.state == "open" and all(not r.approvers for r in st.roles)


def test_changed_spec_hash_voids_and_reopens(gov, registry):
    _open(gov, registry)
    approve(gov, "bob", "credit", 1, "model_risk_officer")
    approve(gov, "carol", "credit", 1, "business_owner")
    assert status(gov, "credit", 1, current_spec="sha256:spec2").state == "voided"
    same = _open(gov, registry)                      # the same binding: idempotent
    assert same.state == "approved"
    st = _open(gov, registry, spec="sha256:spec2")   # specs changed: new request
    assert st.state == "open" and st.spec_hash == "sha256:spec2"
    void = [e for e in A.entries(gov.engine) if e.action == "void"]
    assert len(void) == 1 and "spec hash changed" in void[0].reason


def test_expiry(gov, registry, clock):
    _open(gov, registry, approval=rule({"model_risk_officer": 1}, expires_s=3600))
    assert approve(gov, "bob", "credit", 1, "model_risk_officer").state == "approved"
    clock.t += 3599
    assert status(gov, "credit", 1).state == "approved"
    clock.t += 2
    st = status(gov, "credit", 1)
    assert st.state == "expired" and "expired after 3600s" in st.reason
    # a fresh signature (by someone else, or the same person again) restores it
    assert approve(gov, "bob", "credit", 1, "model_risk_officer").state == "approved"


def test_auto_approval_after_gates(gov, registry):
    low = rule({}, auto=True)
    st = _open(gov, registry, approval=low)
    assert st.state == "approved" and st.votes[0]["actor"] == "specops"
    st = _open(gov, registry, version=2, approval=low, gates_passed=False)
    assert st.state == "approved"   # no approver required at all: nothing to wait for
    needs = rule({"model_risk_officer": 1}, auto=True)
    assert _open(gov, registry, version=3, approval=needs).state == "approved"
    assert _open(gov, registry, version=4, approval=needs, gates_passed=False).state == "open"


def test_reject_closes_the_request(gov, registry):
    _open(gov, registry)
    approve(gov, "bob", "credit", 1, "model_risk_officer")
    st = reject(gov, "erin", "credit", 1, comment="calibration is off in the south")
    assert st.state == "rejected" and "erin" in st.reason and "south" in st.reason
    with pytest.raises(GovernanceError, match="rejected"):
        approve(gov, "carol", "credit", 1, "business_owner")
    with pytest.raises(GovernanceError, match="rejected"):
        reject(gov, "carol", "credit", 1)
    assert [s.state for s in list_status(gov)] == ["rejected"]


def test_unknown_request_and_no_rule(gov, registry):
    with pytest.raises(NotFound):
        approve(gov, "bob", "credit", 9, "model_risk_officer")
    never = {"name": "a", "environments": ["production"],
             "rules": [{"index": 0, "applies": False, "require": {"x": 1}}]}
    assert approval_plan("m", facts(never))["rule"] is None
    assert approval_plan("m", facts(approval={}))  is None


def test_undecided_condition_is_evaluated_at_run_time():
    cond = {"op": "compare", "fn": "eq", "left": {"op": "col", "name": "risk_tier"},
            "right": {"op": "lit", "value": "high"}}
    appr = {"name": "a", "rules": [
        {"index": 0, "applies": None, "when": cond, "require": {"model_risk_officer": 2}},
        {"index": 1, "applies": True, "require": {"model_risk_officer": 1}}]}
    assert approval_plan("m", facts(appr))["require"] == {"model_risk_officer": 2}
    assert approval_plan("m", facts(appr, risk_tier="low"))["require"] == \
        {"model_risk_officer": 1}


def test_registration_audits_once_and_opens(gov, registry):
    v = registry.add("credit", 1)
    for _ in range(2):
        record_registration(gov, actor="dan", model="credit", version=1,
                            model_digest=v.model_digest, spec_hash="s", facts=facts(),
                            run_id="r1")
    assert [e.action for e in A.entries(gov.engine)] == ["register", "request_approval"]
