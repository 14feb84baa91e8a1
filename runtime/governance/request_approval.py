"""`request_approval`: record the registration as a governed action and open the version's
approval request (runtime/governance/approvals.py).

Why an op: the plan puts `approval:<model>` right after `register:<model>`, so every
registered version gets its request in the same run, bound to the version's model digest
and the run's spec hash, with the run's trigger excluded from approving. Before that, the
governance configuration (approval rules, permissions, roles) is compared with the last
one recorded: a change is audited, and refused unless the trigger may `change_policy`.

Reads `registration.json` from the register node; `ctx.extra` may carry `actor` (who
triggered the run; default SPECOPS_USER or the OS user), `spec_hash`, `plan_models`, and
the store/registry settings. Output: `approval.json` (the request's status).
"""

from __future__ import annotations

import json
from typing import Any

from specops.runtime.engine.op_inputs import find_input_file, read_json
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult

__all__ = ["request_approval"]


def _facts(ctx: OpContext, model: str) -> dict[str, Any]:
    models = ctx.extra.get("plan_models") or {}
    if model in models:
        return dict(models[model])
    # A plan without a `models` table: the node's params still carry the resolved rules.
    return {"approval": {"name": ctx.params["approval"], "environments": ["production"],
                         "rules": list(ctx.params["rules"])}}


def request_approval(ctx: OpContext) -> OpResult:
    from specops.runtime.governance import Governance, GovernanceError, resolve_actor
    from specops.runtime.governance.identity import IdentityError
    from specops.runtime.governance.policy_changes import record_config
    from specops.runtime.governance.registration import record_registration
    from specops.runtime.registry import Registry, RegistryError

    reg = read_json(find_input_file(ctx, "registration.json"))
    model, version = str(reg["model"]), int(reg["version"])
    registry = Registry.for_context(ctx)
    try:
        v = registry.get(model, version)
        lineage = (v.manifest().get("lineage") or {})
        spec_hash = str(ctx.extra.get("spec_hash") or lineage.get("spec_hash") or "")
        actor = resolve_actor(ctx.extra.get("actor"))
        gov = Governance.open(ctx.project_root, ctx.extra.get("store_url"),
                              registry=registry)
        try:
            if gov.signed:   # the pipeline signs with the key that signed the manifest:
                # the run is the pipeline's action, whoever started it (a claimed name is
                # not an identity; runtime/trust/acting.py)
                from specops.runtime.trust.acting import acting_person

                gov.signer = registry.signer
                actor = acting_person(gov, None)
            record_config(gov, actor, ctx.extra.get("plan_models") or
                          {model: _facts(ctx, model)})
            st = record_registration(gov, actor=actor, model=model, version=version,
                                     model_digest=v.model_digest, spec_hash=spec_hash,
                                     facts=_facts(ctx, model), run_id=ctx.run_id,
                                     gates_passed=v.status == "registered",
                                     content_digest=v.content_digest)
        finally:
            gov.close()
    except (GovernanceError, IdentityError, RegistryError) as exc:
        raise OpError(f"{model}@{version}: {exc}") from None
    finally:
        getattr(registry, "close", lambda: None)()
    doc = st.as_json() if st else {"ref": f"{model}@{version}", "state": "not_required"}
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    (ctx.out_dir / "approval.json").write_text(json.dumps(doc, indent=2, sort_keys=True,
                                                          default=str) + "\n")
    state = doc["state"]
    how = (f"{model}@{version} approval {state}" + (f": {st.reason}" if st else ""))
    return OpResult(metrics={"approved": 1.0 if state in ("approved", "not_required")
                             else 0.0}, report=doc, message=how)
