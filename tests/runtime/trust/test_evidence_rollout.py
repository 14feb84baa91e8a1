"""Evidence bundles carry canary rollouts, their promote and the self-healing rollback,
and judge them offline as deploys: a real signed SQLite project (m@1 deployed by frank,
m@2 registered for real, approved by bob and carol, canaried by frank, promoted by the
pipeline's registry key). The attacks are an insider's who signs with his own valid key
and writes the store directly, skipping the runtime's checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from evidence_helpers import ORIGIN, SPEC, checkpoint_key, governed_version
from trust_helpers import Project, facts

from specops.runtime.governance.approvals import approve
from specops.runtime.governance.database import transaction
from specops.runtime.governance.deploy import auto_rollback, promote_rollout, start_rollout
from specops.runtime.governance.governance_tables import rollouts
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.ledger.checkpoint import load_signer
from specops.runtime.governance.registration import record_registration
from specops.runtime.registry import Registry
from specops.runtime.trust.evidence_export import export_bundle
from specops.runtime.trust.evidence_format import decode, encode
from specops.runtime.trust.evidence_verify import Result, load_pins, verify_bundle
from specops.runtime.trust.statements import sign_action


@pytest.fixture(autouse=True)
def _no_session_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPECOPS_REGISTRY_KEY", raising=False)
    monkeypatch.delenv("SPECOPS_REGISTRY_PUBKEYS", raising=False)


def _as(p: Project, person: str, fn: Any, *args: Any, **kw: Any) -> Any:
    gov = p.gov(person)
    try:
        return fn(gov, *args, **kw)
    finally:
        gov.close()


def _second_version(p: Project, reg: Registry, approved: bool = True) -> None:
    src = p.root / "in2"
    src.mkdir()
    (src / "model.onnx").write_bytes(b"other onnx bytes " * 50)
    (src / "evaluation.json").write_text('{"roc_auc": 0.82, "gates": {"quality": true}}')
    v = reg.register("m", {"model.onnx": src / "model.onnx",
                           "evaluation.json": src / "evaluation.json"}, {"run_id": "run-2"})
    _as(p, "pipeline", record_registration, actor="pipeline", model="m", version=2,
        model_digest=v.model_digest, spec_hash=SPEC, facts=facts(), run_id="run-2")
    if approved:
        _as(p, "bob", approve, "bob", "m", 2, "model_risk_officer", "validated")
        _as(p, "carol", approve, "carol", "m", 2, "business_owner")


@pytest.fixture
def canaried(sqlite_project: Project) -> Iterator[tuple[Project, Registry]]:
    p = sqlite_project
    reg = governed_version(p)        # m@1: approved, deployed to production by frank
    try:
        _second_version(p, reg)
        _as(p, "frank", start_rollout, "frank", "m", 2, "production", share=10)
        yield p, reg
    finally:
        reg.close()


def _verify(p: Project, reg: Registry, version: int = 2,
            edit: Any = None) -> Result:
    data = export_bundle(reg.engine, reg, "m", version, origin=ORIGIN,
                         signer=load_signer(checkpoint_key(p), ORIGIN))
    if edit is not None:
        doc = decode(data)
        edit(doc)
        data = encode(doc)
    return verify_bundle(data, load_pins([str(p.root / ".keys" / "pipeline.pub")]))


def _actions(doc: dict[str, Any]) -> list[str]:
    return [json.loads(__import__("base64").b64decode(s["payload"]))["predicate"]["action"]
            for s in doc["statements"]]


def test_canary_and_promote_are_in_the_bundle_and_judged(canaried: Any) -> None:
    p, reg = canaried
    _as(p, "pipeline", promote_rollout, "m", "production", "rules held")
    result = _verify(p, reg)
    assert result.ok, result.cause
    text = "\n".join(result.lines)
    assert "canary rollout (10.0%) to production by frank" in text, text
    assert "promote to production at" in text and "by the pipeline, ending the rollout " \
        "of audit entry" in text, text
    assert text.count("satisfied by bob (model_risk_officer), carol (business_owner)") == 2


def test_self_healing_rollback_is_in_the_bundle(canaried: Any) -> None:
    p, reg = canaried
    _as(p, "pipeline", promote_rollout, "m", "production", "rules held")
    _as(p, "pipeline", auto_rollback, "m", "production", "breach", {"signals": ["drift"]})
    result = _verify(p, reg, version=1)   # the rollback targets the version restored
    assert result.ok, result.cause
    assert any(line.startswith("ok") and "auto_rollback at" in line
               and "signed by the pipeline" in line for line in result.lines), result.lines


def test_a_dropped_rollout_statement_is_missed(canaried: Any) -> None:
    p, reg = canaried

    def drop(doc: dict[str, Any]) -> None:
        keep = [i for i, a in enumerate(_actions(doc)) if a != "rollout"]
        assert len(keep) < len(doc["statements"])
        doc["statements"] = [doc["statements"][i] for i in keep]

    cause = _verify(p, reg, edit=drop).cause
    assert cause is not None and "(rollout by frank): its signed statement is missing" \
        in cause, cause


def _forge_rollout(p: Project, reg: Registry) -> None:
    """frank signs a canary of m@2 himself and appends entry and row directly."""
    digest = reg.get("m", 2).model_digest
    at = p.now
    env = sign_action(p.keys["frank"], action="rollout", person="frank", subject="m@2",
                      digest=digest, spec_hash=SPEC, comment="quick canary", at=at,
                      environment="production", mode="canary", share=50.0, champion=1,
                      sticky_key="", request_id=2, approvers=[])
    details = {"environment": "production", "mode": "canary", "share": 50.0,
               "champion": 1, "sticky_key": "", "model_digest": digest, "request_id": 2,
               "approvers": [], "envelope": env}
    with transaction(reg.engine) as conn:
        entry = audit.append(conn, actor="frank", action="rollout", target="m@2",
                             reason="quick canary", details=details, at=at)
        conn.execute(rollouts.insert().values(
            model="m", environment="production", action="rollout", mode="canary",
            champion=1, challenger=2, challenger_digest=digest, share=50.0, sticky_key="",
            start_id=None, actor="frank", reason="quick canary", at=at,
            audit_seq=entry.seq, envelope=json.dumps(env)))


def test_a_forged_canary_without_approvals_is_refused(sqlite_project: Project) -> None:
    p = sqlite_project
    reg = governed_version(p)
    try:
        _second_version(p, reg, approved=False)
        _forge_rollout(p, reg)
        cause = _verify(p, reg).cause
    finally:
        reg.close()
    assert cause is not None and cause.startswith("canary rollout (50.0%) to production by "
                                                  "frank"), cause
    assert "needs 1 valid" in cause, cause


def test_a_promote_signed_by_a_person_is_refused(canaried: Any) -> None:
    """frank skips the rollout rules: he signs a promote with his own key."""
    p, reg = canaried
    digest = reg.get("m", 2).model_digest
    with transaction(reg.engine) as conn:
        start = conn.execute(rollouts.select()).first()
        assert start is not None
        env = sign_action(p.keys["frank"], action="promote", person="frank",
                          subject="m@2", digest=digest, spec_hash=SPEC, comment="", at=p.now,
                          environment="production", previous_version=1,
                          rollout_seq=start.audit_seq, on_behalf_of="frank", request_id=2,
                          approvers=["bob", "carol"])
        audit.append(conn, actor="frank", action="promote", target="m@2", reason="",
                     details={"environment": "production", "previous_version": 1,
                              "model_digest": digest, "rollout_seq": start.audit_seq,
                              "envelope": env}, at=p.now)
    cause = _verify(p, reg).cause
    assert cause is not None and "signed by frank's key; only the pipeline" in cause, cause
