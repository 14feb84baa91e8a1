"""The permission matrix: which roles may perform which governed action.

Why enforced in the service functions (approvals.py, deploy.py, policy.py) rather than the
CLI: the CLI is one caller among several (ops inside `specops run`, notebooks, a future
server). Every entry point goes through `require()`, so there is no path around it.

Defaults apply per action when specops.yaml's `permissions:` does not name that action
(an action it names replaces the default list entirely). They follow the usual split of a
model risk function: engineers build and register, independent risk roles approve,
platform owns the live environments.
"""

from __future__ import annotations

from collections.abc import Mapping

from specops.runtime.governance.errors import GovernanceError
from specops.runtime.governance.identity import Directory

__all__ = ["ACTIONS", "DEFAULT_PERMISSIONS", "PermissionDenied", "allowed", "matrix",
           "require"]

ACTIONS = ("register", "approve", "reject", "deploy", "rollback", "change_policy")

DEFAULT_PERMISSIONS: Mapping[str, tuple[str, ...]] = {
    "register": ("ml_engineer", "platform_engineer"),
    "approve": ("model_risk_officer", "validator", "business_owner"),
    "reject": ("model_risk_officer", "validator", "business_owner"),
    "deploy": ("platform_engineer", "ml_engineer"),
    "rollback": ("platform_engineer", "ml_engineer"),
    "change_policy": ("model_risk_officer", "admin"),
}


class PermissionDenied(GovernanceError):
    """A governed action the actor may not perform; the message is one line saying why."""

    def __init__(self, actor: str, action: str, reason: str) -> None:
        super().__init__(f"{actor} may not {action.replace('_', ' ')}: {reason}")
        self.actor = actor
        self.action = action
        self.reason = reason


def matrix(directory: Directory) -> dict[str, tuple[str, ...]]:
    """Action -> roles allowed, after the project's overrides."""
    return {a: tuple(directory.permissions.get(a, DEFAULT_PERMISSIONS[a])) for a in ACTIONS}


def allowed(directory: Directory, actor: str, action: str, role: str | None = None) -> bool:
    try:
        require(directory, actor, action, role)
    except PermissionDenied:
        return False
    return True


def require(directory: Directory, actor: str, action: str, role: str | None = None) -> str:
    """Refuse unless `actor` holds a role allowed to do `action`; return that role.

    With `role`, the actor acts in exactly that role (approvals are signed per role), so
    it must both be held and be allowed."""
    if action not in ACTIONS:
        raise ValueError(f"unknown governed action {action!r}")
    person = directory.person(actor)
    if person is None:
        raise PermissionDenied(actor, action, "not listed under `people` in specops.yaml")
    permitted = matrix(directory)[action]
    if role is not None:
        if role not in person.roles:
            raise PermissionDenied(actor, action, f"does not hold role {role!r} (holds "
                                   f"{', '.join(sorted(person.roles)) or 'no roles'})")
        if role not in permitted:
            raise PermissionDenied(actor, action, f"role {role!r} is not allowed to "
                                   f"{action} (allowed: {', '.join(permitted) or 'nobody'})")
        return role
    for r in sorted(person.roles):
        if r in permitted:
            return r
    raise PermissionDenied(actor, action, f"roles {', '.join(sorted(person.roles)) or '(none)'}"
                           f" are not among {', '.join(permitted) or 'nobody'}")
