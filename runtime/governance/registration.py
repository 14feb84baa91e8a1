"""Registration as a governed action: permission, audit entry, approval request.

Why here and not inside the registry: the registry stores signed, immutable versions and
knows nothing about people; governance decides who may register and what a registration
sets in motion. `record_registration` is what the `request_approval` op calls after the
`register` op (and what a future `register` op should call itself, see the integration
notes in docs/governance.md): the actor must be allowed to `register`, the first sighting
of a version is written to the audit log, then the approval request is opened. In signed
mode (runtime/trust/acting.py) the actor is the owner of `gov.signer` (in a run, the
pipeline's registry key) and the entry carries its signed `register` statement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from specops.runtime.governance import permissions
from specops.runtime.governance.approvals import ApprovalStatus, open_request_in
from specops.runtime.governance.database import transaction
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.service import Governance

__all__ = ["record_registration"]


def record_registration(gov: Governance, *, actor: str, model: str, version: int,
                        model_digest: str, spec_hash: str, facts: Mapping[str, Any],
                        run_id: str = "", gates_passed: bool = True,
                        content_digest: str = "") -> ApprovalStatus | None:
    """Check `actor` may register, audit the registration once per version and digest,
    and open the version's approval request (None when the model needs no approval), in
    one transaction: a registration is never recorded without its request."""
    from specops.runtime.trust.acting import acting_person, sign

    actor = acting_person(gov, actor)
    permissions.require(gov.directory, actor, "register")
    ref = f"{model}@{version}"
    with transaction(gov.engine) as conn:
        seen = conn.execute(sa.select(audit.log.c.details).where(
            audit.log.c.target == ref, audit.log.c.action == "register")).all()
        if not any(f'"model_digest":"{model_digest}"' in row.details for row in seen):
            now = gov.now()
            details: dict[str, Any] = {"model_digest": model_digest, "spec_hash": spec_hash,
                                       "content_digest": content_digest, "run_id": run_id,
                                       "gates_passed": gates_passed,
                                       "risk_tier": facts.get("risk_tier")}
            envelope = sign(gov, action="register", person=actor, subject=ref,
                            digest=model_digest, spec_hash=spec_hash, at=now, run_id=run_id,
                            content_digest=content_digest, gates_passed=gates_passed)
            if envelope:
                details["envelope"] = json.loads(envelope)
            audit.append(conn, actor=actor, action="register", target=ref,
                         reason=f"run {run_id}" if run_id else "", details=details, at=now)
        return open_request_in(conn, gov, model=model, version=version,
                               model_digest=model_digest, spec_hash=spec_hash, facts=facts,
                               trigger=actor, run_id=run_id, gates_passed=gates_passed)
