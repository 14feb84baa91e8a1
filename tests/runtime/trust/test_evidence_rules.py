"""Deploys that `specops deploy` would have refused, forged by an insider who signs with
her own (valid) key and writes the store directly: the bundle's rule check finds them."""

from __future__ import annotations

import pytest
from evidence_helpers import export, forge_deploy, governed_version
from trust_helpers import Project

from specops.runtime.registry import Registry
from specops.runtime.trust.evidence_verify import load_pins, verify_bundle


@pytest.fixture(autouse=True)
def _no_session_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPECOPS_REGISTRY_KEY", raising=False)
    monkeypatch.delenv("SPECOPS_REGISTRY_PUBKEYS", raising=False)


def _verify(p: Project) -> str | None:
    """Export m@1 from the store as it now is and verify it against the pinned key."""
    reg = Registry.open(p.root, p.url)
    try:
        data = export(p, reg)
    finally:
        reg.close()
    result = verify_bundle(data, load_pins([str(p.root / ".keys" / "pipeline.pub")]))
    return result.cause


def test_deployer_who_approved_is_refused(sqlite_project: Project) -> None:
    p = sqlite_project
    governed_version(p, owner="ivy", deployer=None).close()   # ivy approves ...
    forge_deploy(p, "ivy", p.now, ["bob", "ivy"])              # ... and deploys herself
    cause = _verify(p)
    assert cause is not None and "separation of duties: the deployer approved it" in cause


def test_deploy_after_the_approvals_expired_is_refused(sqlite_project: Project) -> None:
    p = sqlite_project
    governed_version(p, deployer=None).close()
    forge_deploy(p, "frank", p.now + 2 * 86400, ["bob", "carol"])   # rule: 1 day
    cause = _verify(p)
    assert cause is not None and "needs 1 valid business_owner approval(s)" in cause


def test_deploy_by_someone_not_allowed_to_deploy_is_refused(sqlite_project: Project
                                                             ) -> None:
    p = sqlite_project
    governed_version(p, deployer=None).close()
    forge_deploy(p, "alice", p.now, ["bob", "carol"])
    cause = _verify(p)
    assert cause is not None and "alice may not deploy" in cause


def test_the_genuine_deploy_passes(sqlite_project: Project) -> None:
    p = sqlite_project
    governed_version(p).close()
    assert _verify(p) is None


def test_auto_approved_version_verifies(sqlite_project: Project) -> None:
    """An auto-approval's statement sits on its vote row (its audit entry, by `specops`,
    carries none): the bundle still binds it to that entry."""
    p = sqlite_project
    governed_version(p, auto=True).close()
    reg = Registry.open(p.root, p.url)
    try:
        data = export(p, reg)
    finally:
        reg.close()
    result = verify_bundle(data, load_pins([str(p.root / ".keys" / "pipeline.pub")]))
    assert result.ok, result.cause
    assert any("satisfied by pipeline (auto)" in line for line in result.lines)
