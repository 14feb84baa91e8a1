"""A signed SQLite project with one version registered for real, approved and deployed,
for the evidence bundle tests: the registry signs with the pinned pipeline key, bob and
carol approve and frank deploys with their own SSH keys."""

from __future__ import annotations

from pathlib import Path

from trust_helpers import Project, facts

from specops.runtime.governance.approvals import approve
from specops.runtime.governance.promotion import deploy
from specops.runtime.governance.registration import record_registration
from specops.runtime.registry import Registry

__all__ = ["ORIGIN", "SPEC", "checkpoint_key", "export", "governed_version"]

SPEC = "sha256:" + "a" * 64


def governed_version(p: Project) -> Registry:
    """m@1: registered (model + evaluation evidence), approved by bob and carol, deployed
    to production by frank. Returns the real registry (the caller closes it)."""
    p.config["registry"]["key"] = ".keys/pipeline"
    p.config["store"] = p.url
    p.write()
    reg = Registry.open(p.root, p.url)
    p.registry = reg   # type: ignore[assignment]
    p.accept("bob")
    src = p.root / "in"
    src.mkdir()
    (src / "model.onnx").write_bytes(b"onnx bytes " * 50)
    (src / "evaluation.json").write_text('{"roc_auc": 0.81, "gates": {"quality": true}}')
    v = reg.register("m", {"model.onnx": src / "model.onnx",
                           "evaluation.json": src / "evaluation.json"}, {"run_id": "run-1"})
    for person, fn, args in (
            ("pipeline", None, ()),
            ("bob", approve, ("m", 1, "model_risk_officer", "validated")),
            ("carol", approve, ("m", 1, "business_owner")),
            ("frank", deploy, ("m", 1, "production", "release"))):
        gov = p.gov(person)
        try:
            if fn is None:
                record_registration(gov, actor="pipeline", model="m", version=1,
                                    model_digest=v.model_digest, spec_hash=SPEC,
                                    facts=facts(), run_id="run-1")
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
