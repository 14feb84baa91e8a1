"""Governed copies of the serving project: people, an approval rule, approved deploys,
and the attacker's moves on real files and a real SQLite store."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from serve_helpers import copy_project

from specops.runtime.governance import Governance
from specops.runtime.governance.approvals import approve, open_request
from specops.runtime.governance.promotion import deploy
from specops.runtime.registry import Registry

__all__ = [
    "PROJECT_YAML",
    "RacingRegistry",
    "approve_and_deploy",
    "facts",
    "forge_onnx",
    "governed",
    "reregister_forged",
    "version_dir",
    "writable",
]

PROJECT_YAML = """name: serve_test
people:
  alice: {roles: [ml_engineer], teams: [credit_risk]}
  bob: {roles: [model_risk_officer], teams: [model_validation]}
  frank: {roles: [platform_engineer], teams: [platform]}
permissions:
  deploy: [platform_engineer]
  approve: [model_risk_officer]
"""


def facts(expires_s: float | None = None) -> dict[str, Any]:
    return {"owner": "team:credit_risk", "authors": ["alice"], "risk_tier": "high",
            "task": "binary_classification",
            "approval": {"name": "risk", "environments": ["production"], "rules": [
                {"index": 0, "applies": True, "when": {"op": "lit", "value": True},
                 "require": {"model_risk_officer": 1}, "separation_of_duties": True,
                 "auto_approve": False, "expires_s": expires_s}]}}


def governed(project: dict[str, Any], dest: Path) -> Path:
    root = copy_project(project, dest)
    (root / "specops.yaml").write_text(PROJECT_YAML)
    return root


def approve_and_deploy(root: Path, version: int = 1, env: str = "production",
                       expires_s: float | None = None, at: float | None = None,
                       spec_hash: str = "s", store_url: str | None = None) -> None:
    """Open a request, approve it as bob and deploy as frank (at time `at`)."""
    gov = Governance.open(root, store_url)
    if at is not None:
        gov.clock = lambda: at
    try:
        digest = gov.version("credit", version).model_digest
        open_request(gov, model="credit", version=version, model_digest=digest,
                     spec_hash=spec_hash, facts=facts(expires_s), trigger="alice")
        approve(gov, "bob", "credit", version, "model_risk_officer")
        deploy(gov, "frank", "credit", version, env)
    finally:
        gov.close()


def version_dir(root: Path, version: int = 1) -> Path:
    return root / ".specops/artifacts/registry/credit" / str(version)


def writable(path: Path) -> Path:
    """What the file's owner (the attacker runs as the same OS user) can always do."""
    os.chmod(path.parent, stat.S_IRWXU)
    if path.exists():
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return path


def forge_onnx(data: bytes) -> bytes:
    """A different but loadable ONNX model (same graph, another doc string)."""
    import onnx

    model = onnx.load_from_string(data)
    model.doc_string = f"forged {time.time()}"
    return bytes(model.SerializeToString())


def reregister_forged(root: Path) -> None:
    """The attack of issue 12: drop credit@1's registry row with plain SQL, then register
    forged bytes through the registry itself, which mints number 1 again, signed with the
    pipeline key (the attacker runs the pipeline's code) over the orphaned directory."""
    vdir = version_dir(root)
    manifest = json.loads((vdir / "manifest.json").read_bytes())
    stash = root.parent / "forged"
    stash.mkdir(exist_ok=True)
    files: dict[str, Path] = {}
    for name in manifest["artifacts"]:
        dest = stash / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = (vdir / name).read_bytes()
        dest.write_bytes(forge_onnx(data) if name == "model.onnx" else data)
        files[name] = dest
    with sqlite3.connect(root / ".specops/store.db") as db:
        db.execute("DELETE FROM registry_versions WHERE model='credit' AND version=1")
    reg = Registry.open(root)
    try:
        v = reg.register("credit", files, manifest.get("lineage") or {})
    finally:
        reg.close()
    assert v.version == 1 and v.created


class RacingRegistry:
    """A race with the verifier: the genuine files are on disk exactly while `verify`
    runs, the forged ones (`forged`) before it, after it, or both. Everything else is
    the real registry's."""

    def __init__(self, registry: Registry, genuine: dict[str, bytes],
                 forged: dict[str, bytes]) -> None:
        self.registry, self.genuine, self.forged = registry, genuine, forged

    def __getattr__(self, name: str) -> Any:
        return getattr(self.registry, name)

    def verify(self, model: str, version: int) -> dict[str, Any]:
        vdir = self.registry.root / model / str(version)
        for name, data in self.genuine.items():
            writable(vdir / name).write_bytes(data)
        report = self.registry.verify(model, version)
        for name, data in self.forged.items():
            writable(vdir / name).write_bytes(data)
        return report
