"""Admission attacks on a real SQLite store and real registry files (issue 12, part 3):
each forgery is refused with a one-line cause naming the rule that refused it."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from governed import (
    RacingRegistry,
    approve_and_deploy,
    facts,
    forge_onnx,
    governed,
    reregister_forged,
    version_dir,
    writable,
)

from specops.runtime.governance import Governance
from specops.runtime.governance.approvals import list_status, open_request
from specops.runtime.registry import Registry
from specops.runtime.serve.admission import (
    DEPLOY_VALIDATORS,
    ModelRefused,
    admit,
    register_deploy_validator,
)
from specops.runtime.serve.served_model import ModelSource, load_model, resolve


@pytest.fixture
def root(served_project: dict[str, Any], tmp_path: Path) -> Path:
    return governed(served_project, tmp_path / "proj")


def refused(root: Path, ref: str = "credit", env: str | None = "production") -> ModelRefused:
    with pytest.raises(ModelRefused) as info:
        load_model(resolve(root, None, ref, env))
    assert "\n" not in str(info.value)
    return info.value


def test_a_valid_deploy_serves_and_says_what_it_relied_on(root: Path) -> None:
    approve_and_deploy(root)
    source = resolve(root, None, "credit", "production")
    assert source.environment == "production" and source.version == 1
    model = load_model(source)
    assert model.deploy is not None and model.deploy.environment == "production"
    assert model.deploy.approval_state == "approved"
    assert model.deploy.deployment["model_digest"] == model.model_digest
    assert model.deploy.deployment["actor"] == "frank"


def test_a_registry_alias_alone_is_not_a_deploy(root: Path) -> None:
    reg = Registry.open(root)
    reg.set_alias("credit", "production", 1, actor="mallory")   # plain database access
    reg.close()
    exc = refused(root)
    assert exc.check == "not_deployed" and "not deployed to production" in str(exc)


def test_onnx_swapped_after_deploy_is_refused_with_and_without_env(root: Path) -> None:
    approve_and_deploy(root)
    onnx = writable(version_dir(root) / "model.onnx")
    onnx.write_bytes(forge_onnx(onnx.read_bytes()))
    for env in ("production", None):
        exc = refused(root, "credit@1", env)
        assert exc.check in ("signature", "bytes") and "model.onnx" in str(exc)


def test_forged_version_reregistered_under_the_deployed_number_is_refused(root: Path) -> None:
    approve_and_deploy(root)
    reregister_forged(root)
    reg = Registry.open(root)
    assert reg.verify("credit", 1)["ok"]   # the forgery is validly signed and intact
    reg.close()
    exc = refused(root)
    assert exc.check == "deployed_digest" and "not the ones deployed there" in str(exc)
    gov = Governance.open(root)
    try:
        assert [s.state for s in list_status(gov, "credit")] == ["voided"]
    finally:
        gov.close()
    # without an environment the signature and bytes are all there is to check: it loads
    assert load_model(resolve(root, None, "credit@1", None)).version == 1


def test_voided_approval_request_is_refused_for_production(root: Path) -> None:
    approve_and_deploy(root)
    gov = Governance.open(root)
    try:   # the spec changed: the request the deploy relied on is voided, a new one opens
        digest = gov.version("credit", 1).model_digest
        open_request(gov, model="credit", version=1, model_digest=digest, spec_hash="s2",
                     facts=facts(), trigger="alice")
    finally:
        gov.close()
    exc = refused(root)
    assert exc.check == "approval" and "not approved for production" in str(exc)


def test_expired_approval_is_refused(root: Path) -> None:
    approve_and_deploy(root, expires_s=3600, at=time.time() - 7200)   # valid back then
    exc = refused(root)
    assert exc.check == "approval" and "expired" in str(exc)
    approve_and_deploy(root, version=1, expires_s=3600, spec_hash="s-fresh")
    assert load_model(resolve(root, None, "credit", "production")).version == 1


def test_a_deploy_validator_refuses(root: Path) -> None:
    approve_and_deploy(root)

    def unsigned(gov: Any, row: dict[str, Any]) -> str | None:
        return f"deploy #{row['id']} has no valid signature"

    register_deploy_validator(unsigned)
    try:
        exc = refused(root)
    finally:
        DEPLOY_VALIDATORS.remove(unsigned)
    assert exc.check == "deploy" and "has no valid signature" in str(exc)


@pytest.mark.parametrize(("when", "cause"), [
    ("after", "model.onnx refused: the bytes to load"),
    ("before and after", "manifest.json changed during verification")])
def test_files_swapped_around_verification_are_refused(root: Path, when: str,
                                                       cause: str) -> None:
    vdir = version_dir(root)
    genuine = {n: (vdir / n).read_bytes() for n in ("manifest.json", "model.onnx")}
    onnx = forge_onnx(genuine["model.onnx"])
    forged = {"model.onnx": onnx}
    if when == "before and after":   # a manifest naming the forged bytes, read first
        doc = json.loads(genuine["manifest.json"])
        info = {"sha256": "sha256:" + hashlib.sha256(onnx).hexdigest(), "size": len(onnx)}
        doc["artifacts"]["model.onnx"] = info
        doc["model_digest"] = info["sha256"]
        forged["manifest.json"] = json.dumps(doc, sort_keys=True,
                                             separators=(",", ":")).encode()
        for name, data in forged.items():
            writable(vdir / name).write_bytes(data)
    reg = Registry.open(root)
    racing = RacingRegistry(reg, genuine, forged)
    try:
        with pytest.raises(ModelRefused, match=cause):
            admit(racing, None, "credit", 1, None)
    finally:
        reg.close()


def test_environment_without_governance_and_unknown_versions_are_refused(root: Path) -> None:
    reg = Registry.open(root)
    try:
        with pytest.raises(ModelRefused, match="needs the governance store"):
            admit(reg, None, "credit", 1, "production")
        with pytest.raises(ModelRefused, match="does not exist") as info:
            admit(reg, None, "credit", 9, None)
        assert info.value.check == "unknown"
        assert admit(reg, None, "credit", None, None).onnx[:1]   # latest: the bytes
    finally:
        reg.close()
    source = ModelSource(str(root), None, "credit", 1, environment="staging")
    with pytest.raises(ModelRefused, match="not deployed to staging"):
        load_model(source)


def test_a_rollback_serves_the_earlier_version_while_its_approvals_hold(root: Path) -> None:
    from specops.runtime.governance.promotion import rollback

    vdir = version_dir(root)
    manifest = json.loads((vdir / "manifest.json").read_bytes())
    files: dict[str, Path] = {}
    for name in manifest["artifacts"]:   # a second, genuinely registered version
        dest = root.parent / "v2" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = (vdir / name).read_bytes()
        dest.write_bytes(forge_onnx(data) if name == "model.onnx" else data)
        files[name] = dest
    reg = Registry.open(root)
    try:
        assert reg.register("credit", files, manifest.get("lineage") or {}).version == 2
    finally:
        reg.close()
    approve_and_deploy(root, version=1)
    approve_and_deploy(root, version=2)
    assert load_model(resolve(root, None, "credit", "production")).version == 2
    gov = Governance.open(root)
    try:
        rollback(gov, "frank", "credit", "production", reason="incident")
    finally:
        gov.close()
    with pytest.raises(ModelRefused, match="not the version deployed"):
        resolve(root, None, "credit@2", "production")
    model = load_model(resolve(root, None, "credit", "production"))
    assert model.version == 1 and model.deploy is not None
    assert model.deploy.deployment["action"] == "rollback"
    void_v1 = Governance.open(root)
    try:
        digest = void_v1.version("credit", 1).model_digest
        open_request(void_v1, model="credit", version=1, model_digest=digest,
                     spec_hash="s2", facts=facts(), trigger="alice")
    finally:
        void_v1.close()
    assert refused(root).check == "approval"   # a rollback needs approvals valid today
