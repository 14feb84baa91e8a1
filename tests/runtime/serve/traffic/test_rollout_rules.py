"""Automatic rollout decisions and self-healing on real served versions, signed mode.

A regression injected into a real second version (an ONNX graph that fails at run time,
or one that runs a real chain of matrix products) and real traffic through the service:
`evaluate_rollout` reads the logs, the declared rules fire within the window, and the
pipeline's registry key signs the rollback, which lands in the hash-chained audit log
with a statement that verifies against the trust root. Promotion is signed the same way
and refused when the challenger's approval is no longer valid. `monitoring: {on_breach:
rollback}` (`heal`, what `specops monitor` calls) returns production to the previous
approved version, audited, or refuses and reports when there is none.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rollout_projects import Signed, signed_project
from serve_helpers import oip_body

from specops.runtime.cli.rollout_commands import evaluate_rollout, heal
from specops.runtime.governance import GovernanceError
from specops.runtime.governance.approvals import approve, reject
from specops.runtime.governance.deploy import (
    promote_rollout,
    rollout_problem,
    running_rollout,
    start_rollout,
)
from specops.runtime.governance.governance_tables import deployments
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.ledger.crosscheck import crosscheck
from specops.runtime.governance.promotion import current, deploy, deploy_is_valid
from specops.runtime.serve.admission import check_deployment
from specops.runtime.serve.served_model import resolve
from specops.runtime.serve.traffic import build_routed_service
from specops.runtime.trust.acting import verified
from specops.runtime.trust.ssh_keys import load_private_key

WINDOW = {"min_requests": 40, "min_duration_s": 3600.0, "window_s": 600.0}


def _traffic(s: Signed, frame: Any, n: int) -> list[int]:
    """`n` single-row requests through the routed service; the logs are flushed."""
    service = build_routed_service(resolve(s.root, None, "credit", "production"), log=True,
                                   log_batch_rows=100, recheck_s=0)
    assert service.traffic is not None, service.rollout.status   # type: ignore[attr-defined]

    async def send() -> list[int]:
        out = []
        for i in range(n):
            body = json.dumps({**oip_body(frame.slice(i % frame.height, 1)),
                               "id": f"c{i}"}).encode()
            status, _, _ = await service.handle("POST", "/v2/models/credit/infer", body)
            out.append(status)
        return out

    try:
        return asyncio.run(send())
    finally:
        service.close()


def _pipeline_entry(s: Signed, action: str) -> audit.AuditEntry:
    gov = s.gov()
    try:
        entries = [e for e in audit.entries(gov.engine) if e.action == action]
        assert len(entries) == 1, [e.action for e in audit.entries(gov.engine)]
        e = entries[0]
        act = verified(gov, json.dumps(e.details["envelope"]))
        pipeline_key = load_private_key(os.environ["SPECOPS_REGISTRY_KEY"]).key_id
        assert act.key_id == pipeline_key and act.person == "pipeline" == e.actor
        assert act.action == action and act.subject == e.target
        count, problem = audit.verify(gov.engine)
        assert problem is None and count >= e.seq
        _, mismatches = crosscheck(gov.engine, list(audit.entries(gov.engine)))
        assert not mismatches, mismatches
        return e
    finally:
        gov.close()


@pytest.mark.parametrize("kind, rule", [
    ("failing", {"metric": "error_rate", "above_champion_by": 0.01}),
    ("failing", {"test": "errors", "p_below": 0.01}),
    ("slow", {"metric": "p50_latency_ms", "above_champion_by": 3.0}),
])
def test_regression_rolls_back_automatically(kind: str, rule: dict[str, Any],
                                             served_project: dict[str, Any],
                                             tmp_path: Path) -> None:
    s, v = signed_project(served_project, tmp_path / "proj", challenger=kind)
    assert v is not None
    s.act("frank", start_rollout, "credit", v, "production", share=50)
    statuses = _traffic(s, served_project["test"], 200)
    if kind == "failing":
        assert 500 in statuses and 200 in statuses
    rules = {**WINDOW, "rollback_when": [rule],
             "promote_when": [{"metric": "error_rate", "below": 0.01}]}
    doc = evaluate_rollout(s.root, "credit", "production", rules)
    assert doc["decision"]["decision"] == "rollback", doc["decision"]
    assert doc["action"] == {"done": "rollback", "version": v, "champion": 1}
    arms = doc["arms"]
    assert arms["challenger"]["requests"] >= WINDOW["min_requests"]
    assert arms["champion"]["requests"] + arms["challenger"]["requests"] == 200
    assert doc["age_s"] < WINDOW["window_s"]        # decided inside the declared window
    e = _pipeline_entry(s, "rollout_abort")
    assert e.target == f"credit@{v}" and e.details["decision"]["decision"] == "rollback"
    gov = s.gov()
    try:
        assert running_rollout(gov, "credit", "production") is None
        assert current(gov, "credit", "production") == 1
    finally:
        gov.close()
    service = build_routed_service(resolve(s.root, None, "credit", "production"),
                                   log=False, recheck_s=0)
    try:
        assert service.traffic is None          # the challenger receives nothing now
    finally:
        service.close()


def test_rules_wait_below_min_requests(served_project: dict[str, Any],
                                       tmp_path: Path) -> None:
    s, v = signed_project(served_project, tmp_path / "proj", challenger="failing")
    s.act("frank", start_rollout, "credit", v, "production", share=50)
    _traffic(s, served_project["test"], 20)
    rules = {**WINDOW, "rollback_when": [{"metric": "error_rate", "above": 0.0}]}
    doc = evaluate_rollout(s.root, "credit", "production", rules)
    assert doc["decision"]["decision"] == "wait" and "action" not in doc
    assert "of 40 requests" in doc["decision"]["reason"]


def test_promotion_is_signed_by_the_pipeline(served_project: dict[str, Any],
                                             tmp_path: Path) -> None:
    s, v = signed_project(served_project, tmp_path / "proj", challenger="same")
    assert v is not None
    s.act("frank", start_rollout, "credit", v, "production", share=50)
    _traffic(s, served_project["test"], 200)
    rules = {**WINDOW, "min_duration_s": 0.0,
             "rollback_when": [{"metric": "error_rate", "above_champion_by": 0.01}],
             "promote_when": [{"metric": "error_rate", "below": 0.01},
                              {"test": "ks", "p_above": 0.01}]}
    doc = evaluate_rollout(s.root, "credit", "production", rules)
    assert doc["decision"]["decision"] == "promote", doc["decision"]
    assert doc["tests"]["ks"]["pvalue"] > 0.01      # identical answers, same traffic mix
    e = _pipeline_entry(s, "promote")
    assert e.details["on_behalf_of"] == "frank" and e.details["previous_version"] == 1
    gov = s.gov()
    try:
        ok, why = deploy_is_valid(gov, "credit", v, "production")
        assert ok, why
        state = check_deployment(gov, "credit", v, gov.version("credit", v).model_digest,
                                 "production")
        assert state.deployment["action"] == "promote"
    finally:
        gov.close()


def test_promotion_refused_when_the_approval_is_invalid(served_project: dict[str, Any],
                                                        tmp_path: Path) -> None:
    s, v = signed_project(served_project, tmp_path / "proj", challenger="same")
    assert v is not None
    s.act("frank", start_rollout, "credit", v, "production", share=50)
    s.act("erin", reject, "credit", v, "model_risk_officer", "calibration off")
    gov = s.gov(pipeline=True)
    try:
        r = running_rollout(gov, "credit", "production")
        assert r is not None
        assert "not approved" in str(rollout_problem(gov, r))
        with pytest.raises(GovernanceError, match=r"cannot promote: .*not approved"):
            promote_rollout(gov, "credit", "production", "rules held")
        assert current(gov, "credit", "production") == 1
    finally:
        gov.close()
    rules = {**WINDOW, "min_requests": 1, "min_duration_s": 0.0,
             "promote_when": [{"metric": "requests", "above": -1}]}
    doc = evaluate_rollout(s.root, "credit", "production", rules)
    assert doc["decision"]["decision"] == "rollback"        # it may not route: removed
    assert "may not route" in doc["decision"]["reason"]


def test_a_rollout_follows_the_deploy_rules(served_project: dict[str, Any],
                                            tmp_path: Path) -> None:
    """Never around the approvals: an unapproved challenger, its own approver as the
    deployer, a person who may not deploy, or no champion are each refused."""
    s, _ = signed_project(served_project, tmp_path / "proj", challenger=None)
    v = s.add("same", approved=False)
    s.register(v)
    with pytest.raises(GovernanceError, match="not approved for production"):
        s.act("frank", start_rollout, "credit", v, "production", share=10)
    s.act("ivy", approve, "credit", v, "model_risk_officer", "ok")
    with pytest.raises(GovernanceError, match="separation of duties: ivy approved"):
        s.act("ivy", start_rollout, "credit", v, "production", shadow=True)
    with pytest.raises(GovernanceError, match="bob may not deploy"):
        s.act("bob", start_rollout, "credit", v, "production", share=10)
    with pytest.raises(GovernanceError, match="needs a champion"):
        s.act("frank", start_rollout, "credit", v, "staging", share=10)
    r = s.act("frank", start_rollout, "credit", v, "production", share=10)
    gov = s.gov()
    try:
        act = verified(gov, r.envelope)
        assert (act.person, act.action, act.subject) == ("frank", "rollout", f"credit@{v}")
        assert act.predicate["share"] == 10.0 and act.predicate["champion"] == 1
        assert rollout_problem(gov, r) is None
    finally:
        gov.close()


def test_only_the_pipeline_key_executes_rules(served_project: dict[str, Any],
                                              tmp_path: Path) -> None:
    s, v = signed_project(served_project, tmp_path / "proj", challenger="same")
    s.act("frank", start_rollout, "credit", v, "production", share=10)
    gov = s.gov("frank")
    try:
        with pytest.raises(GovernanceError, match="registry key"):
            promote_rollout(gov, "credit", "production", "frank promotes by hand")
    finally:
        gov.close()


def test_a_forged_promote_row_is_not_a_valid_deploy(served_project: dict[str, Any],
                                                    tmp_path: Path) -> None:
    """frank copies the pipeline's statement shape but signs with his own key."""
    s, v = signed_project(served_project, tmp_path / "proj", challenger="same")
    assert v is not None
    gov = s.gov("frank")
    try:
        from specops.runtime.governance.database import transaction
        from specops.runtime.trust.acting import sign

        digest = gov.version("credit", v).model_digest
        at = gov.now()
        env = sign(gov, action="promote", person="frank", subject=f"credit@{v}",
                   digest=digest, at=at, environment="production", previous_version=1)
        with transaction(gov.engine) as conn:
            e = audit.append(conn, actor="frank", action="promote", target=f"credit@{v}",
                             details={"environment": "production", "model_digest": digest},
                             at=at)
            conn.execute(deployments.insert().values(
                model="credit", environment="production", version=v, model_digest=digest,
                action="promote", previous_version=1, actor="frank", reason="", at=at,
                audit_seq=e.seq, envelope=env))
        ok, why = deploy_is_valid(gov, "credit", v, "production")
        assert not ok and "not by the pipeline's key" in why, why
    finally:
        gov.close()


def test_on_breach_rolls_back_to_the_previous_approved_version(
        served_project: dict[str, Any], tmp_path: Path) -> None:
    s, v = signed_project(served_project, tmp_path / "proj", challenger="same")
    assert v is not None
    s.act("frank", deploy, "credit", v, "production", "full release")
    assert heal(s.root, "credit", ["performance"], "credit@1") == {
        "status": "not_serving", "reason": "credit@1 is not what production serves (@2)"}
    out = heal(s.root, "credit", ["performance"], f"credit@{v}")
    assert out["status"] == "rolled_back" and (out["from"], out["to"]) == (v, 1), out
    e = _pipeline_entry(s, "auto_rollback")
    assert e.target == "credit@1" and e.details["breach"]["signals"] == ["performance"]
    gov = s.gov()
    try:
        assert current(gov, "credit", "production") == 1
        ok, why = deploy_is_valid(gov, "credit", 1, "production")
        assert ok, why
        with gov.engine.connect() as c:
            row = c.execute(sa.select(deployments).order_by(deployments.c.id.desc())).first()
        assert row is not None and row.action == "auto_rollback"
    finally:
        gov.close()


def test_on_breach_without_a_previous_approved_version_is_refused_and_audited(
        served_project: dict[str, Any], tmp_path: Path) -> None:
    s, v = signed_project(served_project, tmp_path / "proj", challenger="same")
    assert v is not None
    out = heal(s.root, "credit", ["data_drift"], "credit@1")     # nothing served before
    assert out["status"] == "refused" and "never served another" in out["reason"]
    s.act("frank", deploy, "credit", v, "production", "full release")
    s.act("erin", reject, "credit", 1, "model_risk_officer", "withdrawn")
    out = heal(s.root, "credit", ["data_drift"], f"credit@{v}")
    assert out["status"] == "refused" and "@1:" in out["reason"], out
    gov = s.gov()
    try:
        refusals = [e for e in audit.entries(gov.engine)
                    if e.action == "auto_rollback_refused"]
        assert [e.target for e in refusals] == ["credit@1", f"credit@{v}"]
        assert current(gov, "credit", "production") == v
    finally:
        gov.close()
