"""`deploy` (a manual plan node): promote the latest approved version through governance.

Why a thin op: promotion rules live in runtime/governance/promotion.py (permission, signature,
approvals bound to the digest, promotion checks, history, alias); the op only chooses the
version (`params.version`, else the one its `approval:`/`register:` input recorded) and
the actor (`ctx.extra["actor"]`, SPECOPS_USER or the OS user). Serving itself (starting
replicas) is the serving layer's job and can hook in after this returns. In signed mode
(runtime/trust/acting.py) the deploy is signed with the key in $SPECOPS_KEY and the actor
is that key's person.
"""

from __future__ import annotations

import json

from specops.runtime.engine.op_inputs import optional_input_file, read_json
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult

__all__ = ["deploy"]


def deploy(ctx: OpContext) -> OpResult:
    from specops.runtime.governance import Governance, GovernanceError, NotFound, resolve_actor
    from specops.runtime.governance.promotion import deploy as promote
    from specops.runtime.registry import Registry

    env = str(ctx.params.get("environment") or ctx.node_id.rsplit(":", 1)[-1])
    model = str(ctx.params.get("model") or ctx.node_id.split(":")[1])
    version = ctx.params.get("version")
    if version is None:
        for name in ("registration.json", "approval.json"):
            path = optional_input_file(ctx, name)
            if path is not None:
                doc = read_json(path)
                version = doc.get("version") or str(doc.get("ref", "@")).split("@")[1]
                break
    if not version:
        raise OpError(f"{ctx.node_id}: no version to deploy (no registration among inputs)")
    registry = Registry.for_context(ctx)
    try:
        gov = Governance.open(ctx.project_root, ctx.extra.get("store_url"), registry=registry)
        try:
            claimed = ctx.extra.get("actor")
            if gov.signed:   # the operator's key ($SPECOPS_KEY) signs the deploy
                from specops.runtime.trust.signer import person_signer

                gov.signer = person_signer(None)
            actor = claimed or ("" if gov.signed else resolve_actor(None))
            d = promote(gov, actor, model, int(version), env,
                        reason=f"run {ctx.run_id}", spec_hash=ctx.extra.get("spec_hash"))
        finally:
            gov.close()
    except (GovernanceError, NotFound, ValueError) as exc:   # KeyProblem is a ValueError
        raise OpError(f"{model}@{version} -> {env}: {exc}") from None
    finally:
        getattr(registry, "close", lambda: None)()
    doc = {"model": model, "version": d.version, "environment": env, "changed": d.changed,
           "previous_version": d.previous_version, "actor": d.actor, "at": d.at}
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    (ctx.out_dir / "deployment.json").write_text(json.dumps(doc, indent=2, sort_keys=True)
                                                 + "\n")
    return OpResult(report=doc, message=f"{d.ref} serves {env}"
                    + ("" if d.changed else " (already)"))
