"""Attacks on registry signing, as a user with write access to the project and its store.

Each test forges what an insider can forge (a swapped model re-signed with a key of
their own, a public key dropped beside the artifacts, a deleted registry key) and checks
that verification or registration refuses with a one-line cause.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from specops.runtime.registry import Registry, RegistryError
from specops.runtime.registry import registry_tables as T
from specops.runtime.registry.manifest import canonical, content_digest, hash_artifacts
from specops.runtime.registry.signing import sign_manifest
from specops.runtime.trust.ssh_keys import SshPrivateKey, create_keypair


@pytest.fixture(autouse=True)
def _no_session_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests pin keys themselves; the suite-wide test key must not vouch."""
    monkeypatch.delenv("SPECOPS_REGISTRY_KEY", raising=False)
    monkeypatch.delenv("SPECOPS_REGISTRY_PUBKEYS", raising=False)


def _files(tmp: Path, content: bytes) -> dict[str, Path]:
    d = tmp / f"files-{hashlib.sha256(content).hexdigest()[:8]}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "model.onnx").write_bytes(content)
    (d / "evaluation.json").write_text('{"auc": 0.8}')
    return {"model.onnx": d / "model.onnx", "evaluation.json": d / "evaluation.json"}


def _open(tmp: Path, signer: SshPrivateKey | None, pins: list[SshPrivateKey],
          engine: sa.Engine | None = None) -> Registry:
    proj = tmp / "proj"
    proj.mkdir(exist_ok=True)
    ring = {k.key_id: k.public for k in pins}
    return Registry(engine or sa.create_engine(f"sqlite:///{tmp / 'store.db'}"),
                    proj / ".specops" / "artifacts" / "registry", project_root=proj,
                    signer=signer, keyring=ring)


def _writable(path: Path) -> None:
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def _resign(reg: Registry, model: str, version: int, attacker: SshPrivateKey,
            new_model: bytes) -> None:
    """Swap model.onnx, rewrite the manifest to match and sign it with `attacker`; also
    update the registry row the way a user with database access can."""
    v = reg.get(model, version)
    onnx = v.path / "model.onnx"
    _writable(onnx)
    onnx.write_bytes(new_model)
    manifest = v.manifest()
    manifest["artifacts"].update(hash_artifacts({"model.onnx": onnx}))
    manifest["model_digest"] = manifest["artifacts"]["model.onnx"]["sha256"]
    manifest["content_digest"] = content_digest(manifest["artifacts"])
    manifest["signing"]["key_id"] = attacker.key_id
    body = canonical(manifest)
    for name in ("manifest.json", "manifest.sig"):
        _writable(v.path / name)
    (v.path / "manifest.json").write_bytes(body)
    sig = sign_manifest(attacker, body)
    sig["public_key"] = attacker.public_line()
    (v.path / "manifest.sig").write_text(json.dumps(sig))
    with reg.engine.begin() as c:
        c.execute(T.versions.update().where(T.versions.c.model == model,
                                            T.versions.c.version == version)
                  .values(key_id=attacker.key_id, model_digest=manifest["model_digest"],
                          content_digest=manifest["content_digest"],
                          manifest_sha256="sha256:" + hashlib.sha256(body).hexdigest()))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        yield sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
        return
    from postgres_helpers import require_postgres

    from specops.runtime.store import Store

    url = require_postgres()
    schema = f"specops_regkeys_{uuid.uuid4().hex[:12]}"
    store = Store.from_url(url, schema=schema)
    try:
        yield store.engine
    finally:
        store.close()
        eng = sa.create_engine(url)
        with eng.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()


def test_swap_and_resign_with_an_unpinned_key_is_refused(tmp_path: Path,
                                                         engine: sa.Engine) -> None:
    pipeline = create_keypair(tmp_path / "keys", "pipeline")
    attacker = create_keypair(tmp_path / "evil", "mallory")
    reg = _open(tmp_path, pipeline, [pipeline], engine)
    reg.register("m", _files(tmp_path, b"good model"), {"run_id": "r1"})
    assert reg.verify("m", 1)["ok"]
    _resign(reg, "m", 1, attacker, b"backdoored model")
    problems = reg.verify("m", 1)["problems"]
    assert problems == [f"manifest signed by key {attacker.key_id}, which is not a pinned "
                        "registry key"]
    with pytest.raises(RegistryError, match="not a pinned registry key"):
        reg.set_alias("m", "production", 1)
        reg.champion("m")


def test_public_key_beside_the_artifacts_is_not_trusted(tmp_path: Path) -> None:
    """The old layout trusted `.specops/keys/signing.pub`; replacing it (and the key id in
    manifest.sig) must change nothing."""
    pipeline = create_keypair(tmp_path / "keys", "pipeline")
    reg = _open(tmp_path, pipeline, [pipeline])
    reg.register("m", _files(tmp_path, b"good model"), {"run_id": "r1"})
    attacker = create_keypair(reg.project_root / ".specops" / "keys", "signing")
    (reg.project_root / ".specops" / "keys" / "signing.pub").rename(
        reg.project_root / ".specops" / "keys" / "signing.pub.bak")
    (reg.project_root / ".specops" / "keys" / "signing.pub").write_text(
        attacker.public_line() + "\n")
    _resign(reg, "m", 1, attacker, b"other model")
    assert not reg.verify("m", 1)["ok"]
    assert "not a pinned registry key" in reg.verify("m", 1)["problems"][0]


def test_forged_signature_by_the_pinned_key_id_fails(tmp_path: Path) -> None:
    """Claiming the pinned key id with a signature made by another key is caught too."""
    pipeline = create_keypair(tmp_path / "keys", "pipeline")
    attacker = create_keypair(tmp_path / "evil", "mallory")
    reg = _open(tmp_path, pipeline, [pipeline])
    reg.register("m", _files(tmp_path, b"good model"), {"run_id": "r1"})
    _resign(reg, "m", 1, attacker, b"bad model")
    sig_path = reg.get("m", 1).path / "manifest.sig"
    sig = json.loads(sig_path.read_text())
    sig["key_id"] = pipeline.key_id
    sig_path.write_text(json.dumps(sig))
    with reg.engine.begin() as c:
        c.execute(T.versions.update().values(key_id=pipeline.key_id))
    assert reg.verify("m", 1)["problems"] == ["manifest signature is invalid"]


def test_lost_registry_key_is_a_clear_error_and_no_key_is_created(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "specops.yaml").write_text("name: p\nregistry: {key: keys/pipeline}\n")
    reg = Registry.open(proj)
    with pytest.raises(RegistryError) as info:
        reg.register("m", _files(tmp_path, b"model"), {"run_id": "r1"})
    assert "registry signing key" in str(info.value) and "missing" in str(info.value)
    assert "\n" not in str(info.value)
    assert not (proj / "keys").exists() and not (proj / ".specops" / "keys").exists()
    assert reg.versions("m") == []

    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(RegistryError, match="no registry signing key"):
        Registry.open(bare).register("m", _files(tmp_path, b"model"), {"run_id": "r1"})
    assert not (bare / ".specops" / "keys").exists()


def test_rotation_keeps_older_versions_verifiable(tmp_path: Path) -> None:
    old = create_keypair(tmp_path / "keys", "pipeline-2025")
    new = create_keypair(tmp_path / "keys", "pipeline-2026")
    reg = _open(tmp_path, old, [old])
    reg.register("m", _files(tmp_path, b"first"), {"run_id": "r1"})
    rotated = _open(tmp_path, new, [old, new])
    rotated.register("m", _files(tmp_path, b"second"), {"run_id": "r2"})
    assert rotated.verify("m", 1)["ok"] and rotated.verify("m", 2)["ok"]
    assert rotated.get("m", 2).manifest()["signing"]["key_id"] == new.key_id
    dropped = _open(tmp_path, new, [new])       # the old key was un-pinned
    assert "not a pinned registry key" in dropped.verify("m", 1)["problems"][0]
    assert dropped.verify("m", 2)["ok"]


def test_nothing_pinned_verifies_nothing(tmp_path: Path) -> None:
    pipeline = create_keypair(tmp_path / "keys", "pipeline")
    reg = _open(tmp_path, pipeline, [pipeline])
    reg.register("m", _files(tmp_path, b"model"), {"run_id": "r1"})
    unpinned = Registry(reg.engine, reg.root, project_root=reg.project_root)
    problems: list[Any] = unpinned.verify("m", 1)["problems"]
    assert len(problems) == 1 and problems[0].startswith("no pinned registry key")


def test_registry_row_digest_edited_in_the_database_is_detected(tmp_path: Path) -> None:
    """Approvals and deploys bind to the row's model digest: editing it to another digest
    (to match other bytes) must not go unnoticed next to a valid manifest."""
    pipeline = create_keypair(tmp_path / "keys", "pipeline")
    reg = _open(tmp_path, pipeline, [pipeline])
    reg.register("m", _files(tmp_path, b"good model"), {"run_id": "r1"})
    with reg.engine.begin() as c:
        c.execute(T.versions.update().values(model_digest="sha256:" + "0" * 64))
    assert reg.verify("m", 1)["problems"] == [
        "the registered model digest differs from the signed manifest's"]
