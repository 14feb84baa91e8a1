"""Promotion and rollback between environments, with a complete serving history.

Why the checks run in this order: permission first (cheapest, and says who may act), then
the registry (the version exists, is `registered`, and its signed manifest verifies: the
bytes are the ones that were reviewed), then approvals (approved now, for exactly that
model digest), then the promotion checks of the target environment, then separation of
duties across actions (the deployer is not an approver). In signed mode (runtime/trust/)
the actor is the owner of `gov.signer` and the row carries their signed statement;
`deploy_is_valid` is what serving asks later. The deployment row and
its audit entry are one transaction; the registry alias (`staging`, `production`) is moved
after it commits, so the alias history and `deployments` agree on who served when.

Rollback replays the environment's history as a stack (deploy pushes, rollback pops) and
returns to the version below the top: the one that served before the current one. The
target must still verify; approvals are not re-checked (it served under them before, and
rolling back is the emergency exit), which the audit entry states.

Extension point: `register_promotion_check(environment, check)`. A check receives the
governance context, model, version and the model's deployment history in every
environment (rows of `deployments`, oldest first), and returns None to allow or a
one-line reason to refuse. It runs inside the deploy transaction, so it must not open
its own (on SQLite that would wait for the lock this one holds). `require_staging_first`
is provided, not enabled by default: production only accepts a version that served in
staging. A future staging smoke test or shadow comparison plugs in the same way.

Second extension point: `register_pre_deploy_hook(hook)`. A hook receives the governance
context, model, version and environment after the version verified and *before* the
deploy transaction opens, so it may take time and write its own rows (the serving layer's
staging contract tests start the model, call it and record the result:
runtime/serve/staging.py); a returned string refuses the deploy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from specops.runtime.governance import permissions
from specops.runtime.governance.approvals import require_approved
from specops.runtime.governance.database import transaction
from specops.runtime.governance.errors import GovernanceError, NotFound
from specops.runtime.governance.governance_tables import deployments
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.service import Governance
from specops.runtime.trust.acting import sign

__all__ = ["ENVIRONMENTS", "PRE_DEPLOY_HOOKS", "PROMOTION_CHECKS", "Deployment",
           "PreDeployHook", "PromotionCheck", "current", "current_deployment", "deploy",
           "deploy_is_valid", "history",
           "register_pre_deploy_hook", "register_promotion_check", "require_staging_first",
           "rollback"]

ENVIRONMENTS = ("staging", "production")

PromotionCheck = Callable[[Governance, str, int, list[dict[str, Any]]], str | None]
PROMOTION_CHECKS: dict[str, list[PromotionCheck]] = {env: [] for env in ENVIRONMENTS}


PreDeployHook = Callable[[Governance, str, int, str], str | None]
PRE_DEPLOY_HOOKS: list[PreDeployHook] = []


def register_pre_deploy_hook(hook: PreDeployHook) -> None:
    """Run `hook(gov, model, version, environment)` before every deploy transaction."""
    if hook not in PRE_DEPLOY_HOOKS:
        PRE_DEPLOY_HOOKS.append(hook)


def register_promotion_check(environment: str, check: PromotionCheck) -> None:
    """Run `check` before every deploy into `environment` (e.g. a passed staging check)."""
    PROMOTION_CHECKS.setdefault(environment, []).append(check)


def require_staging_first(gov: Governance, model: str, version: int,
                          past: list[dict[str, Any]]) -> str | None:
    """A promotion check for production: the version must have served in staging."""
    served = [h for h in past if h["environment"] == "staging" and h["version"] == version]
    return None if served else f"{model}@{version} never served in staging"


@dataclass(frozen=True)
class Deployment:
    model: str
    environment: str
    version: int
    action: str
    previous_version: int | None
    actor: str
    at: float
    changed: bool = True

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"


def _rows(conn: sa.Connection, model: str, environment: str | None) -> list[dict[str, Any]]:
    q = sa.select(deployments).where(deployments.c.model == model)
    if environment:
        q = q.where(deployments.c.environment == environment)
    return [dict(r._mapping) for r in conn.execute(q.order_by(deployments.c.id))]


def _stack(rows: list[dict[str, Any]]) -> list[int]:
    stack: list[int] = []
    for r in rows:
        if r["action"] in ("rollback", "auto_rollback"):   # auto: deploy.auto_rollback
            if stack:
                stack.pop()
            if not stack or stack[-1] != r["version"]:
                stack.append(r["version"])
        elif not stack or stack[-1] != r["version"]:
            stack.append(r["version"])
    return stack


def history(gov: Governance, model: str, environment: str | None = None
            ) -> list[dict[str, Any]]:
    """Every deploy and rollback of `model` (in `environment`), oldest first: which
    version served where from when (until the next row of the same environment)."""
    with gov.engine.connect() as conn:
        rows = _rows(conn, model, environment)
    until: dict[str, float] = {}
    for r in reversed(rows):
        r["until"] = until.get(r["environment"])
        until[r["environment"]] = r["at"]
    return rows


def current(gov: Governance, model: str, environment: str) -> int | None:
    with gov.engine.connect() as conn:
        stack = _stack(_rows(conn, model, environment))
    return stack[-1] if stack else None


def current_deployment(gov: Governance, model: str, environment: str
                       ) -> dict[str, Any] | None:
    """The `deployments` row (deploy or rollback) that made the version serving
    `environment` current, None when nothing serves there. Read-only: serving admission
    (runtime/serve/admission.py) compares its digest and approvals with the loaded bytes."""
    with gov.engine.connect() as conn:
        rows = _rows(conn, model, environment)
    stack = _stack(rows)
    if not stack:
        return None
    row: dict[str, Any] = next(r for r in reversed(rows) if r["version"] == stack[-1])
    return row


def _check_env(environment: str) -> None:
    if environment not in ENVIRONMENTS:
        raise NotFound(f"unknown environment {environment!r} (use "
                       f"{' or '.join(ENVIRONMENTS)})")


def _verified(gov: Governance, model: str, version: int) -> Any:
    v = gov.version(model, version)
    if v.status != "registered":
        raise GovernanceError(f"{model}@{version} is {v.status}; only registered versions "
                              "can be deployed")
    assert gov.registry is not None
    problems = list(gov.registry.verify(model, version).get("problems") or [])
    if problems:
        raise GovernanceError(f"{model}@{version} fails verification: {'; '.join(problems)}")
    return v


def entry_checks(gov: Governance, actor: str, model: str, version: int,
                 environment: str) -> tuple[str, Any, str]:
    """(acting person, verified version, ref) for anything that puts a version into an
    environment (deploy, canary, shadow): permission, verification and the pre-deploy
    hooks, checked before a transaction opens. One function, so a rollout can never be
    held to less than a deploy."""
    from specops.runtime.trust.acting import acting_person

    actor = acting_person(gov, actor)
    permissions.require(gov.directory, actor, "deploy")
    v = _verified(gov, model, version)
    ref = f"{model}@{version}"
    for hook in PRE_DEPLOY_HOOKS:
        refusal = hook(gov, model, version, environment)
        if refusal:
            raise GovernanceError(f"{ref} cannot enter {environment}: {refusal}")
    return actor, v, ref


def approved_and_promotable(conn: Any, gov: Governance, model: str, version: int,
                            environment: str, v: Any, spec_hash: str | None
                            ) -> tuple[Any, list[dict[str, Any]]]:
    """(approval state, the model's deploy history) inside the action's transaction: the
    approvals valid now for these bytes, and every promotion check of the environment."""
    st = require_approved(conn, gov, model, version, environment, v.model_digest,
                          spec_hash)
    past = _rows(conn, model, None)
    for check in PROMOTION_CHECKS.get(environment, []):
        refusal = check(gov, model, version, past)
        if refusal:
            raise GovernanceError(f"{model}@{version} cannot enter {environment}: {refusal}")
    return st, past


def deploy(gov: Governance, actor: str, model: str, version: int, environment: str,
           reason: str = "", spec_hash: str | None = None) -> Deployment:
    """Serve model@version in `environment` (refused unless every check passes)."""
    _check_env(environment)
    actor, v, ref = entry_checks(gov, actor, model, version, environment)
    with transaction(gov.engine) as conn:
        st, past = approved_and_promotable(conn, gov, model, version, environment, v,
                                           spec_hash)
        rows = [r for r in past if r["environment"] == environment]
        stack = _stack(rows)
        prev = stack[-1] if stack else None
        now = gov.now()
        if prev == version:
            return Deployment(model, environment, version, "deploy", prev, actor, now, False)
        approvers = _approvers(st)
        if gov.sod.get("deployer_not_approver", True) and actor in approvers:
            raise GovernanceError(f"separation of duties: {actor} approved {ref} and may not "
                                  f"also deploy it to {environment}")
        envelope = sign(gov, action="deploy", person=actor, subject=ref,
                        digest=v.model_digest, spec_hash=st.spec_hash if st else "",
                        comment=reason, at=now, environment=environment,
                        previous_version=prev, request_id=st.request_id if st else None,
                        approvers=approvers)
        details: dict[str, Any] = {"environment": environment, "previous_version": prev,
                                   "model_digest": v.model_digest,
                                   "request_id": st.request_id if st else None,
                                   "approvers": approvers}
        if envelope:
            details["envelope"] = json.loads(envelope)
        entry = audit.append(conn, actor=actor, action="deploy", target=ref, reason=reason,
                             details=details, at=now)
        conn.execute(deployments.insert().values(
            model=model, environment=environment, version=version,
            model_digest=v.model_digest, action="deploy", previous_version=prev, actor=actor,
            reason=reason, request_id=st.request_id if st else None, at=now,
            audit_seq=entry.seq, envelope=envelope))
    assert gov.registry is not None
    gov.registry.set_alias(model, environment, version, actor=actor,
                           reason=reason or f"deploy (audit #{entry.seq})")
    return Deployment(model, environment, version, "deploy", prev, actor, now)


def _approvers(st: Any) -> list[str]:
    return sorted({a for r in (st.roles if st else []) for a in r.approvers})


def deploy_is_valid(gov: Governance, model: str, version: int, environment: str
                    ) -> tuple[bool, str]:
    """Whether model@version may serve `environment` now, with a one-line cause.

    It must be what the environment's deployment history makes current; that deploy (or
    rollback) row must carry a valid statement signed by a person allowed to deploy
    under the trust root in force, naming this environment and the digest the registry
    holds; the version's approvals must be valid now (signed, not voided, not expired,
    for that digest); and, under separation of duties, the deployer is not one of its
    approvers. The bytes themselves are the serving layer's check (manifest + digest)."""
    from specops.runtime.trust.acting import deploy_problem

    ref = f"{model}@{version}"
    try:
        _check_env(environment)
        row = current_deployment(gov, model, environment)
        if row is None:
            return False, f"{model} has no deploy to {environment}"
        if row["version"] != version:
            return False, f"{environment} serves {model}@{row['version']}, not {ref}"
        v = gov.version(model, version)
        if row["model_digest"] != v.model_digest:
            return False, (f"the deploy of {ref} to {environment} was for digest "
                           f"{row['model_digest'][:19]}…, the registry holds "
                           f"{str(v.model_digest)[:19]}…")
        problem = deploy_problem(gov, row)
        if problem:
            return False, problem
        with gov.engine.connect() as conn:
            st = require_approved(conn, gov, model, version, environment, v.model_digest)
        from specops.runtime.governance.deploy import deployer_of  # promote: the starter

        deployer = deployer_of(gov, row)
        if gov.sod.get("deployer_not_approver", True) and deployer in _approvers(st):
            return False, (f"separation of duties: {deployer} both approved and "
                           f"deployed {ref}")
    except (GovernanceError, NotFound) as exc:
        return False, str(exc)
    return True, f"{ref} serves {environment} by a {row['action']} of {row['actor']}" + (
        f", approved by {', '.join(_approvers(st))}" if st else "")


def rollback(gov: Governance, actor: str, model: str, environment: str,
             reason: str = "") -> Deployment:
    """Return `environment` to the version that served before the current one."""
    from specops.runtime.trust.acting import acting_person

    _check_env(environment)
    actor = acting_person(gov, actor)
    permissions.require(gov.directory, actor, "rollback")
    with gov.engine.connect() as conn:
        stack = _stack(_rows(conn, model, environment))
    if not stack:
        raise NotFound(f"{model} has never been deployed to {environment}")
    if len(stack) < 2:
        raise GovernanceError(f"{model}@{stack[-1]} is the first version {environment} ever "
                              "served; there is nothing to roll back to")
    target = stack[-2]
    v = _verified(gov, model, target)
    with transaction(gov.engine) as conn:
        now_stack = _stack(_rows(conn, model, environment))
        if now_stack != stack:
            raise GovernanceError(f"{model} in {environment} changed while rolling back; "
                                  "retry")
        now = gov.now()
        envelope = sign(gov, action="rollback", person=actor, subject=f"{model}@{target}",
                        digest=v.model_digest, comment=reason, at=now,
                        environment=environment, previous_version=stack[-1])
        details: dict[str, Any] = {"environment": environment, "previous_version": stack[-1],
                                   "model_digest": v.model_digest,
                                   "note": "approvals not re-checked on rollback"}
        if envelope:
            details["envelope"] = json.loads(envelope)
        entry = audit.append(conn, actor=actor, action="rollback", target=f"{model}@{target}",
                             reason=reason, details=details, at=now)
        conn.execute(deployments.insert().values(
            model=model, environment=environment, version=target,
            model_digest=v.model_digest, action="rollback", previous_version=stack[-1],
            actor=actor, reason=reason, request_id=None, at=now, audit_seq=entry.seq,
            envelope=envelope))
    assert gov.registry is not None
    gov.registry.set_alias(model, environment, target, actor=actor,
                           reason=reason or f"rollback (audit #{entry.seq})")
    return Deployment(model, environment, target, "rollback", stack[-1], actor, now)
