"""The admission attacks on PostgreSQL: the registry, approvals and deploys in a real
server (one throwaway schema per test), the files on disk, the attacker with ordinary
database access."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from governed import approve_and_deploy, facts, forge_onnx, governed, version_dir
from postgres_helpers import require_postgres

from specops.runtime.governance import Governance
from specops.runtime.governance.approvals import open_request
from specops.runtime.registry import Registry
from specops.runtime.serve.admission import ModelRefused
from specops.runtime.serve.served_model import load_model, resolve

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(served_project: dict[str, Any], tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A governed project whose store is a fresh PostgreSQL schema, credit@1 registered
    there from the genuine files (the SQLite copy's version directory is an orphan for
    this store, which the registry replaces)."""
    base = require_postgres()
    schema = f"specops_serve_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}?options=-csearch_path%3D{schema}"
    root = governed(served_project, tmp_path / "proj")
    try:
        register_from(root, url, version_dir(root), forged=False)
        yield root, url
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def register_from(root: Path, url: str, vdir: Path, forged: bool) -> None:
    manifest = json.loads((vdir / "manifest.json").read_bytes())
    stash = root.parent / ("forged" if forged else "genuine")
    files: dict[str, Path] = {}
    for name in manifest["artifacts"]:
        dest = stash / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = (vdir / name).read_bytes()
        dest.write_bytes(forge_onnx(data) if forged and name == "model.onnx" else data)
        files[name] = dest
    reg = Registry.open(root, url)
    try:
        assert reg.register("credit", files, manifest.get("lineage") or {}).version == 1
    finally:
        reg.close()


def test_postgres_voided_approvals_and_forged_reregistration_are_refused(
        pg: tuple[Path, str]) -> None:
    root, url = pg
    approve_and_deploy(root, store_url=url)
    assert load_model(resolve(root, url, "credit", "production")).version == 1
    gov = Governance.open(root, url)
    try:
        digest = gov.version("credit", 1).model_digest
        open_request(gov, model="credit", version=1, model_digest=digest, spec_hash="s2",
                     facts=facts(), trigger="alice")
    finally:
        gov.close()
    with pytest.raises(ModelRefused, match="not approved for production") as info:
        load_model(resolve(root, url, "credit", "production"))
    assert info.value.check == "approval"
    # the forgery: drop the registry row with plain SQL, re-register other bytes as @1
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text("DELETE FROM registry_versions WHERE model='credit' AND version=1"))
    eng.dispose()
    register_from(root, url, version_dir(root), forged=True)
    with pytest.raises(ModelRefused, match="not the ones deployed there") as info:
        load_model(resolve(root, url, "credit", "production"))
    assert info.value.check == "deployed_digest"
