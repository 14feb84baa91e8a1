"""Promotion and rollback: approvals and signatures checked, full serving history."""

from __future__ import annotations

import itertools

import pytest
from gov_helpers import facts, rule

from specops.runtime.governance import GovernanceError, NotFound
from specops.runtime.governance.approvals import approve, open_request
from specops.runtime.governance.ledger import audit as A
from specops.runtime.governance.promotion import (
    PROMOTION_CHECKS,
    current,
    deploy,
    history,
    register_promotion_check,
    require_staging_first,
    rollback,
)


def _approved(gov, registry, version):
    v = registry.add("credit", version)
    open_request(gov, model="credit", version=version, model_digest=v.model_digest,
                 spec_hash="s", facts=facts(rule({"model_risk_officer": 1})), trigger="dan")
    approve(gov, "bob", "credit", version, "model_risk_officer")


def test_deploy_needs_approval_in_production_only(any_gov, registry):
    v = registry.add("credit", 1)
    open_request(any_gov, model="credit", version=1, model_digest=v.model_digest,
                 spec_hash="s", facts=facts(), trigger="dan")
    d = deploy(any_gov, "frank", "credit", 1, "staging", reason="smoke test")
    assert d.changed and current(any_gov, "credit", "staging") == 1
    with pytest.raises(GovernanceError, match="not approved for production \\(open\\): "
                                              "needs 1 more business_owner"):
        deploy(any_gov, "frank", "credit", 1, "production")
    approve(any_gov, "bob", "credit", 1, "model_risk_officer")
    approve(any_gov, "carol", "credit", 1, "business_owner")
    deploy(any_gov, "frank", "credit", 1, "production")
    assert current(any_gov, "credit", "production") == 1
    assert registry.aliases("credit") == {"staging": 1, "production": 1}
    assert registry.alias_history("credit", "production")[-1]["actor"] == "frank"


def test_unreviewed_version_never_reaches_production(gov, registry):
    registry.add("credit", 1)
    with pytest.raises(GovernanceError, match="has no approval request"):
        deploy(gov, "frank", "credit", 1, "production")
    deploy(gov, "frank", "credit", 1, "staging")


def test_signature_and_digest_are_checked(gov, registry):
    _approved(gov, registry, 1)
    registry.tamper("credit", 1)               # a flipped byte in the stored model
    with pytest.raises(GovernanceError, match=r"fails verification: model\.onnx: content"):
        deploy(gov, "frank", "credit", 1, "production")
    registry.restore()
    registry.tamper("credit", 1, "manifest.json")
    with pytest.raises(GovernanceError, match=r"fails verification: .*signature"):
        deploy(gov, "frank", "credit", 1, "production")
    registry.restore()
    # a row rewritten to name other bytes no longer matches the signed manifest
    registry.forge_digest("credit", 1, "sha256:" + "e" * 64)
    with pytest.raises(GovernanceError, match="model digest differs from the signed manifest"):
        deploy(gov, "frank", "credit", 1, "production")
    with pytest.raises(NotFound):
        deploy(gov, "frank", "credit", 7, "production")
    with pytest.raises(NotFound, match="unknown environment"):
        deploy(gov, "frank", "credit", 1, "prod")


def test_spec_hash_binding_at_deploy(gov, registry):
    _approved(gov, registry, 1)
    with pytest.raises(GovernanceError, match="spec hash changed"):
        deploy(gov, "frank", "credit", 1, "production", spec_hash="other")
    deploy(gov, "frank", "credit", 1, "production", spec_hash="s")


def test_rejected_registry_version_cannot_deploy(gov, registry):
    registry.add("credit", 1, status="rejected")
    with pytest.raises(GovernanceError, match="is rejected"):
        deploy(gov, "frank", "credit", 1, "staging")


def test_rollback_and_history(any_gov, registry, clock):
    for v in (1, 2, 3):
        _approved(any_gov, registry, v)
    for v in (1, 2, 3):
        clock.t += 60
        deploy(any_gov, "frank", "credit", v, "production", reason=f"release {v}")
    assert not deploy(any_gov, "frank", "credit", 3, "production").changed   # idempotent
    clock.t += 60
    r = rollback(any_gov, "frank", "credit", "production", reason="latency regression")
    assert (r.version, r.previous_version) == (2, 3)
    clock.t += 60
    assert rollback(any_gov, "frank", "credit", "production").version == 1
    with pytest.raises(GovernanceError, match="nothing to roll back to"):
        rollback(any_gov, "frank", "credit", "production")
    with pytest.raises(NotFound, match="never been deployed to staging"):
        rollback(any_gov, "frank", "credit", "staging")
    h = history(any_gov, "credit", "production")
    assert [(x["action"], x["version"]) for x in h] == [
        ("deploy", 1), ("deploy", 2), ("deploy", 3), ("rollback", 2), ("rollback", 1)]
    assert all(a["until"] == b["at"] for a, b in itertools.pairwise(h))
    assert h[-1]["until"] is None and h[3]["reason"] == "latency regression"
    actions = [e.action for e in A.entries(any_gov.engine) if e.action in
               ("deploy", "rollback")]
    assert actions == ["deploy"] * 3 + ["rollback"] * 2
    assert A.verify(any_gov.engine)[1] is None


def test_promotion_check_extension_point(gov, registry):
    _approved(gov, registry, 1)
    register_promotion_check("production", require_staging_first)
    try:
        with pytest.raises(GovernanceError, match="never served in staging"):
            deploy(gov, "frank", "credit", 1, "production")
        deploy(gov, "frank", "credit", 1, "staging")
        deploy(gov, "frank", "credit", 1, "production")
    finally:
        PROMOTION_CHECKS["production"].remove(require_staging_first)
