"""Policy and configuration changes as governed, audited actions.

Why: approval rules, the permission matrix and who holds which role decide who can put a
model into production; changing them is itself a change of policy. The governance
configuration (every model's resolved approval rules from the plan, the effective
permission matrix, and each person's roles and teams) is fingerprinted. The first one
seen is recorded as the baseline; a later, different fingerprint is recorded as a
`config_change` entry only when the actor may `change_policy`, and refused otherwise, so
an engineer cannot loosen their own approval rule and push a model through on the same run.
In signed mode the change is a statement signed by the actor's key (runtime/trust/).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from specops.runtime.governance import permissions
from specops.runtime.governance.database import transaction
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.service import Governance
from specops.runtime.trust.acting import acting_person, sign

__all__ = ["config_fingerprint", "governance_config", "record_config"]

_TARGET = "governance-config"


def governance_config(gov: Governance, models: Mapping[str, Any]) -> dict[str, Any]:
    """What counts as policy: approval rules per model, permissions, roles and teams."""
    rules = {}
    for name, facts in sorted(models.items()):
        approval = (facts or {}).get("approval")
        if approval:
            rules[name] = {"name": approval.get("name"),
                           "environments": approval.get("environments"),
                           "rules": [{k: r.get(k) for k in ("index", "when", "require",
                                                            "separation_of_duties",
                                                            "auto_approve", "expires_s")}
                                     for r in approval.get("rules", [])]}
    people = {n: {"roles": sorted(p.roles), "teams": sorted(p.teams)}
              for n, p in sorted(gov.directory.people.items())}
    return {"approval_rules": rules, "permissions": permissions.matrix(gov.directory),
            "people": people}


def config_fingerprint(config: Mapping[str, Any]) -> str:
    body = json.dumps(config, sort_keys=True, separators=(",", ":"), default=list)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def record_config(gov: Governance, actor: str, models: Mapping[str, Any],
                  reason: str = "") -> bool:
    """Record the governance configuration in force; True when it changed.

    Raises `PermissionDenied` when it changed and `actor` may not change policy."""
    config = governance_config(gov, models)
    fp = config_fingerprint(config)
    with transaction(gov.engine) as conn:
        last = conn.execute(sa.select(audit.log.c.details).where(
            audit.log.c.target == _TARGET).order_by(audit.log.c.seq.desc()).limit(1)).first()
        previous = json.loads(last.details).get("fingerprint") if last else None
        if previous == fp:
            return False
        if gov.signed:
            actor = acting_person(gov, actor)
        if previous is not None:
            permissions.require(gov.directory, actor, "change_policy")
        now = gov.now()
        details: dict[str, Any] = {"fingerprint": fp, "previous": previous, "config": config}
        envelope = sign(gov, action="config_change", person=actor, subject=_TARGET,
                        digest=fp, at=now, previous=previous or "")
        if envelope:
            details["envelope"] = json.loads(envelope)
        audit.append(conn, actor=actor, action="config_change", target=_TARGET,
                     reason=reason or ("initial governance configuration" if previous is None
                                       else "approval rules, permissions or people changed"),
                     details=details, at=now)
    return True
