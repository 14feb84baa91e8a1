"""Evidence bundles exported from a real signed SQLite project and verified offline: what
passes with the right pins, and what an insider's edits of the bundle run into."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evidence_helpers import ORIGIN, export, governed_version
from trust_helpers import Project

from specops.runtime.governance.ledger.checkpoint import load_signer
from specops.runtime.registry import Registry
from specops.runtime.trust.evidence_format import BundleError, decode, encode
from specops.runtime.trust.evidence_verify import Pins, load_pins, verify_bundle
from specops.runtime.trust.ssh_keys import create_keypair


@pytest.fixture(autouse=True)
def _no_session_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPECOPS_REGISTRY_KEY", raising=False)
    monkeypatch.delenv("SPECOPS_REGISTRY_PUBKEYS", raising=False)


@pytest.fixture
def governed(sqlite_project: Project) -> Iterator[tuple[Project, Registry]]:
    reg = governed_version(sqlite_project)
    try:
        yield sqlite_project, reg
    finally:
        reg.close()


def _pins(p: Project) -> Pins:
    return load_pins([str(p.root / ".keys" / "pipeline.pub")])


def _edit(data: bytes, change: Any) -> bytes:
    doc = decode(data)
    change(doc)
    return encode(doc)


def test_exported_bundle_verifies_against_the_pinned_key(governed: Any) -> None:
    p, reg = governed
    result = verify_bundle(export(p, reg), _pins(p))
    assert result.ok, result.cause
    text = "\n".join(result.lines)
    assert "bob (model_risk_officer), carol (business_owner)" in text
    assert "deploy to production by frank" in text
    assert "pinned key" in text and not result.unpinned


def test_pinning_the_accepted_trust_root(governed: Any, tmp_path: Path) -> None:
    p, reg = governed
    from specops.runtime.trust.trust_store import lock_document

    with reg.engine.connect() as conn:
        lock = lock_document(conn)
    (tmp_path / "trust.lock.json").write_text(json.dumps(lock))
    result = verify_bundle(export(p, reg), load_pins([str(tmp_path / "trust.lock.json")]))
    assert result.ok, result.cause
    assert "(pinned)" in result.lines[1]


def test_a_different_pinned_key_fails(governed: Any, tmp_path: Path) -> None:
    p, reg = governed
    other = create_keypair(tmp_path / "k", "auditor-pinned-wrong")
    result = verify_bundle(export(p, reg), load_pins([str(other.path) + ".pub"]))
    assert not result.ok
    assert "checkpoint: no valid signature by a pinned key" in str(result.cause)


def test_unpinned_proves_internal_consistency_only(governed: Any) -> None:
    p, reg = governed
    result = verify_bundle(export(p, reg), Pins())
    assert result.ok and result.unpinned


def test_removed_approval_statement_fails(governed: Any) -> None:
    p, reg = governed
    data = export(p, reg)

    def drop_carol(doc: dict[str, Any]) -> None:
        doc["statements"] = [s for s in doc["statements"]
                             if _payload(s)["predicate"]["person"] != "carol"]

    result = verify_bundle(_edit(data, drop_carol), _pins(p))
    assert not result.ok
    assert "its signed statement is missing from the bundle" in str(result.cause)

    def drop_carol_and_entry(doc: dict[str, Any]) -> None:
        drop_carol(doc)
        doc["audit"]["entries"] = [e for e in doc["audit"]["entries"]
                                   if e["entry"]["actor"] != "carol"]

    result = verify_bundle(_edit(data, drop_carol_and_entry), _pins(p))
    assert not result.ok
    assert "needs 1 valid business_owner approval(s)" in str(result.cause)


def _payload(env: dict[str, Any]) -> dict[str, Any]:
    import base64

    out: dict[str, Any] = json.loads(base64.b64decode(env["payload"]))
    return out


def test_forged_bundle_with_the_attackers_keys_fails_against_the_pin(governed: Any,
                                                                     tmp_path: Path) -> None:
    """The insider exports, then replaces the checkpoint with one signed by a key of her
    own (e.g. to drop the trust root entries): the pinned key does not vouch for it."""
    p, reg = governed
    mallory = create_keypair(tmp_path / "m", "mallory")
    data = export(p, reg)
    from specops.runtime.governance.ledger.checkpoint import Verifier as V
    from specops.runtime.governance.ledger.checkpoint import format_body, open_note, sign_note

    doc = decode(data)
    cp, _ = open_note(doc["audit"]["checkpoint"],
                      [V(load_signer(p.root / ".keys" / "pipeline", ORIGIN).public)])
    doc["audit"]["checkpoint"] = sign_note(format_body(cp), [load_signer(mallory.path,
                                                                         ORIGIN)])
    result = verify_bundle(encode(doc), _pins(p))
    assert not result.ok and "no valid signature by a pinned key" in str(result.cause)
    # without pins, the same forged checkpoint is refused too (mallory is not in the root)
    assert not verify_bundle(encode(doc), Pins()).ok


def test_export_with_an_earlier_checkpoint_and_one_too_old(governed: Any) -> None:
    from specops.runtime.governance.ledger import audit
    from specops.runtime.governance.ledger.checkpoint import Checkpoint, format_body, sign_note

    p, reg = governed
    signer = load_signer(p.root / ".keys" / "pipeline", ORIGIN)
    state = audit.read_log(reg.engine)
    tree = state.tree()
    full = sign_note(format_body(Checkpoint(ORIGIN, tree.size, tree.root())), [signer])
    result = verify_bundle(export(p, reg, note=full), _pins(p))
    assert result.ok, result.cause
    old = sign_note(format_body(Checkpoint(ORIGIN, 2, tree.root(2))), [signer])
    with pytest.raises(BundleError, match="predates audit entry"):
        export(p, reg, note=old)
    wrong = sign_note(format_body(Checkpoint(ORIGIN, 2, tree.root(3))), [signer])
    with pytest.raises(BundleError, match="not an extension of the checkpoint"):
        export(p, reg, note=wrong)


def test_tampered_version_is_not_exported(governed: Any) -> None:
    p, reg = governed
    path = reg.get("m", 1).path / "evaluation.json"
    path.chmod(0o644)
    path.write_text('{"roc_auc": 0.99}')
    with pytest.raises(BundleError, match="fails registry verification"):
        export(p, reg)


def test_non_canonical_bundle_is_refused(governed: Any) -> None:
    p, reg = governed
    data = export(p, reg)
    pretty = json.dumps(json.loads(data), indent=1).encode()
    result = verify_bundle(pretty, _pins(p))
    assert not result.ok and "canonical" in str(result.cause)
    dup = data[:-1] + b',"format":"specops.evidence/v1"}'
    assert "duplicate key" in str(verify_bundle(dup, _pins(p)).cause)


def test_a_trust_root_pinned_but_not_in_the_bundle_fails(governed: Any,
                                                         tmp_path: Path) -> None:
    """The auditor pinned the root she reviewed; a bundle whose chain does not contain it
    (another project's, or one rebuilt around a root of the insider's) is refused."""
    p, reg = governed
    other = decode(export(p, reg))["trust"][0]["document"]
    other["people"]["mallory"] = {"keys": [], "roles": ["business_owner"], "teams": []}
    (tmp_path / "root.json").write_text(json.dumps(other))
    result = verify_bundle(export(p, reg), load_pins([str(tmp_path / "root.json")]))
    assert not result.ok
    assert "do not include the pinned one" in str(result.cause)


def test_export_and_verify_on_each_store(project: Project) -> None:
    """The same bundle checks from SQLite and PostgreSQL stores; removing an approval from
    the audit entries and the statements breaks the rule check on both."""
    reg = governed_version(project)
    try:
        data = export(project, reg)
    finally:
        reg.close()
    assert verify_bundle(data, _pins(project)).ok

    def drop_bob(doc: dict[str, Any]) -> None:
        doc["statements"] = [s for s in doc["statements"]
                             if _payload(s)["predicate"]["person"] != "bob"]
        doc["audit"]["entries"] = [e for e in doc["audit"]["entries"]
                                   if e["entry"]["actor"] != "bob"
                                   or e["entry"]["action"] != "approve"]

    cause = str(verify_bundle(_edit(data, drop_bob), _pins(project)).cause)
    assert "needs 1 valid model_risk_officer approval(s)" in cause
