"""The registry keyring comes from the trust root in force: a key pinned in specops.yaml
verifies only once accepted, and `models verify` (the CLI) refuses a re-signed model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from trust_helpers import Project

from specops.compiler.cli.main import main
from specops.runtime.registry import Registry
from specops.runtime.registry.manifest import canonical, content_digest, hash_artifacts
from specops.runtime.registry.signing import sign_manifest
from specops.runtime.trust.ssh_keys import create_keypair


@pytest.fixture(autouse=True)
def _no_session_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPECOPS_REGISTRY_KEY", raising=False)
    monkeypatch.delenv("SPECOPS_REGISTRY_PUBKEYS", raising=False)


def _files(tmp: Path, content: bytes) -> dict[str, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "model.onnx").write_bytes(content)
    return {"model.onnx": tmp / "model.onnx"}


def _registry(p: Project) -> Registry:
    p.config["registry"]["key"] = ".keys/pipeline"
    p.config["store"] = p.url
    p.write()
    return Registry.open(p.root, p.url)


def test_pins_take_effect_only_when_accepted(sqlite_project: Project) -> None:
    p = sqlite_project
    reg = _registry(p)
    reg.register("m", _files(p.root / "in", b"model"), {"run_id": "r"})
    assert reg.verify("m", 1)["problems"][0].startswith("no pinned registry key")
    p.accept("bob")                          # pins .keys/pipeline.pub
    assert reg.verify("m", 1)["ok"]
    attacker = create_keypair(p.root / "evil", "pipeline2")
    p.config["registry"]["pinned"] = [attacker.public_line()]   # swap the pin: unaccepted
    p.write()
    assert reg.verify("m", 1)["ok"]          # the working copy changes nothing


def test_models_verify_cli_refuses_a_resigned_model(sqlite_project: Project,
                                                    capsys: Any) -> None:
    p = sqlite_project
    reg = _registry(p)
    p.accept("bob")
    reg.register("m", _files(p.root / "in", b"model"), {"run_id": "r"})
    common = ["--project", str(p.root), "--store", p.url]
    assert main(["models", "verify", "m@1", *common]) == 0
    v = reg.get("m", 1)
    attacker = create_keypair(p.root / "evil", "mallory")
    for f in v.path.iterdir():
        f.chmod(0o644)
    (v.path / "model.onnx").write_bytes(b"backdoor")
    manifest = v.manifest()
    manifest["artifacts"] = hash_artifacts({"model.onnx": v.path / "model.onnx"})
    manifest["content_digest"] = content_digest(manifest["artifacts"])
    body = canonical(manifest)
    (v.path / "manifest.json").write_bytes(body)
    (v.path / "manifest.sig").write_text(json.dumps(sign_manifest(attacker, body)))
    capsys.readouterr()
    assert main(["models", "verify", "m@1", *common]) == 1
    err = capsys.readouterr().err
    assert "VERIFICATION FAILED" in err and "which is not a pinned registry key" in err
