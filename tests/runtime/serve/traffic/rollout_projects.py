"""A copy of the served project in signed mode with a champion in production and a
challenger approved for it: real registry (signed manifests), real SQLite store, people
with SSH keys, the trust root accepted, the pipeline signing with the registry key."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from challenger_models import add_challenger
from serve_helpers import copy_project

from specops.runtime.governance import Governance
from specops.runtime.governance.approvals import approve
from specops.runtime.governance.database import transaction
from specops.runtime.governance.promotion import deploy
from specops.runtime.governance.registration import record_registration
from specops.runtime.trust.ssh_keys import SshPrivateKey, create_keypair, load_private_key
from specops.runtime.trust.trust_root import load_working_root
from specops.runtime.trust.trust_store import accept

__all__ = ["Signed", "signed_project"]

ROLES = {"alice": ["ml_engineer"], "bob": ["model_risk_officer"],
         "erin": ["model_risk_officer"], "frank": ["platform_engineer"],
         "ivy": ["model_risk_officer", "platform_engineer"]}   # may approve and deploy


def facts(expires_s: float | None = None) -> dict[str, Any]:
    return {"owner": "team:credit_risk", "authors": ["alice"], "risk_tier": "high",
            "task": "binary_classification",
            "approval": {"name": "risk", "environments": ["production"], "rules": [
                {"index": 0, "applies": True, "when": {"op": "lit", "value": True},
                 "require": {"model_risk_officer": 1}, "separation_of_duties": True,
                 "auto_approve": False, "expires_s": expires_s}]}}


@dataclass
class Signed:
    root: Path
    keys: dict[str, SshPrivateKey]

    def gov(self, person: str | None = None, pipeline: bool = False) -> Governance:
        gov = Governance.open(self.root)
        if pipeline:
            gov.signer = load_private_key(os.environ["SPECOPS_REGISTRY_KEY"])
        elif person:
            gov.signer = self.keys[person]
        return gov

    def act(self, person: str, fn: Any, *args: Any, **kw: Any) -> Any:
        gov = self.gov(person)
        try:
            return fn(gov, person, *args, **kw)
        finally:
            gov.close()

    def register(self, version: int, expires_s: float | None = None) -> None:
        """The pipeline's signed registration and approval request of `version`."""
        gov = self.gov(pipeline=True)
        try:
            digest = gov.version("credit", version).model_digest
            record_registration(gov, actor="", model="credit", version=version,
                                model_digest=digest, spec_hash="sha256:" + "5" * 64,
                                facts=facts(expires_s), run_id=f"run-{version}")
        finally:
            gov.close()

    def approved(self, version: int, expires_s: float | None = None) -> None:
        self.register(version, expires_s)
        st = self.act("bob", approve, "credit", version, "model_risk_officer", "ok")
        assert st.state == "approved", st.reason

    def add(self, kind: str, approved: bool = True) -> int:
        version = add_challenger(self.root, kind)
        if approved:
            self.approved(version)
        return version


def signed_project(project: dict[str, Any], dest: Path, challenger: str | None = "same"
                   ) -> tuple[Signed, int | None]:
    """credit@1 deployed to production by frank (approved by bob); with `challenger`, a
    second version of that kind registered and approved (its number is returned)."""
    root = copy_project(project, dest)
    keys = {name: create_keypair(root / ".keys", name) for name in ROLES}
    shutil.copyfile(os.environ["SPECOPS_REGISTRY_PUBKEYS"], root / ".keys" / "pipeline.pub")
    people: dict[str, Any] = {name: {"roles": roles, "teams": ["t"],
                                     "keys": [f".keys/{name}.pub"]}
                              for name, roles in ROLES.items()}
    people["pipeline"] = {"roles": ["ml_engineer"], "teams": ["ml_platform"],
                          "keys": [".keys/pipeline.pub"]}
    config = {"name": "serve_test", "people": people,
              "permissions": {"deploy": ["platform_engineer"],
                              "rollback": ["platform_engineer"],
                              "approve": ["model_risk_officer"],
                              "change_policy": ["model_risk_officer"]},
              "registry": {"pinned": [".keys/pipeline.pub"]}}
    (root / "specops.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    s = Signed(root, keys)
    gov = s.gov("bob")
    try:
        with transaction(gov.engine) as conn:
            accept(conn, load_working_root(root), keys["bob"], at=time.time())
    finally:
        gov.close()
    s.approved(1)
    s.act("frank", deploy, "credit", 1, "production", "first release")
    version = s.add(challenger) if challenger else None
    return s, version
