"""A signed SQLite project with one version registered for real, approved and deployed,
for the evidence bundle tests: the registry signs with the pinned pipeline key, bob and
carol approve and frank deploys with their own SSH keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trust_helpers import Project, facts

from specops.runtime.governance.approvals import approve
from specops.runtime.governance.promotion import deploy
from specops.runtime.governance.registration import record_registration
from specops.runtime.registry import Registry

__all__ = ["ORIGIN", "SPEC", "checkpoint_key", "export", "forge_deploy", "governed_version",
           "open_registry"]

SPEC = "sha256:" + "a" * 64


def governed_version(p: Project, owner: str = "carol", deployer: str | None = "frank",
                     auto: bool = False) -> Registry:
    """m@1: registered (model + evaluation evidence), approved by bob and `owner` (as
    business owner), deployed to production by `deployer` (None: not deployed). Returns
    the real registry (the caller closes it). `auto`: the rule auto-approves once the
    gates pass (no human approval)."""
    p.config["registry"]["key"] = ".keys/pipeline"
    p.config["store"] = p.url
    p.write()
    reg = open_registry(p)
    p.registry = reg   # type: ignore[assignment]
    p.accept("bob")
    src = p.root / "in"
    src.mkdir()
    (src / "model.onnx").write_bytes(b"onnx bytes " * 50)
    (src / "evaluation.json").write_text('{"roc_auc": 0.81, "gates": {"quality": true}}')
    v = reg.register("m", {"model.onnx": src / "model.onnx",
                           "evaluation.json": src / "evaluation.json"}, {"run_id": "run-1"})
    model_facts = facts()
    model_facts["approval"]["rules"][0]["auto_approve"] = auto
    steps: list[tuple[str, Any, tuple[Any, ...]]] = [("pipeline", None, ())]
    if not auto:
        steps += [("bob", approve, ("m", 1, "model_risk_officer", "validated")),
                  (owner, approve, ("m", 1, "business_owner"))]
    if deployer:
        steps.append((deployer, deploy, ("m", 1, "production", "release")))
    for person, fn, args in steps:
        gov = p.gov(person)
        try:
            if fn is None:
                record_registration(gov, actor="pipeline", model="m", version=1,
                                    model_digest=v.model_digest, spec_hash=SPEC,
                                    facts=model_facts, run_id="run-1")
            else:
                fn(gov, person, *args)
        finally:
            gov.close()
    return reg


def checkpoint_key(p: Project) -> Path:
    """The checkpoint is signed with the pipeline's key (pinned in the trust root)."""
    return p.root / ".keys" / "pipeline"


ORIGIN = "specops/p/audit"


def export(p: Project, reg: Registry, **kw: object) -> bytes:
    from specops.runtime.governance.ledger.checkpoint import load_signer
    from specops.runtime.trust.evidence_export import export_bundle

    if "note" not in kw:
        kw["signer"] = load_signer(checkpoint_key(p), ORIGIN)
    return export_bundle(reg.engine, reg, "m", 1, origin=ORIGIN, **kw)  # type: ignore[arg-type]


def open_registry(p: Project) -> Registry:
    """The project's real registry on its store (in its own schema on PostgreSQL)."""
    from specops.runtime.governance.database import open_engine

    engine = open_engine(p.url, p.root, schema=p.schema)
    reg = Registry(engine, p.root / ".specops/artifacts/registry", project_root=p.root)
    reg.owns_engine = True
    return reg


def forge_deploy(p: Project, person: str, at: float, approvers: list[str]) -> None:
    """An insider with her own key and write access to the store skips `deploy`'s checks:
    she signs a deploy statement herself and appends it (and the row) directly."""
    import json

    from specops.runtime.governance.database import transaction
    from specops.runtime.governance.governance_tables import deployments
    from specops.runtime.governance.ledger import audit
    from specops.runtime.trust.statements import sign_action

    reg = open_registry(p)
    try:
        digest = reg.get("m", 1).model_digest
        env = sign_action(p.keys[person], action="deploy", person=person, subject="m@1",
                          digest=digest, spec_hash=SPEC, comment="hotfix", at=at,
                          environment="production", previous_version=None, request_id=1,
                          approvers=approvers)
        with transaction(reg.engine) as conn:
            entry = audit.append(conn, actor=person, action="deploy", target="m@1",
                                 reason="hotfix", details={
                                     "environment": "production", "previous_version": None,
                                     "model_digest": digest, "request_id": 1,
                                     "approvers": approvers, "envelope": env}, at=at)
            conn.execute(deployments.insert().values(
                model="m", environment="production", version=1, model_digest=digest,
                action="deploy", previous_version=None, actor=person, reason="hotfix",
                request_id=1, at=at, audit_seq=entry.seq, envelope=json.dumps(env)))
    finally:
        reg.close()
