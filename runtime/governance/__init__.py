"""Governance: identity and permissions, approvals, promotion and rollback, the audit log
and model documentation (docs/governance.md).

Service functions take a `Governance` context and enforce permissions themselves, so every
caller (CLI, ops inside a run, notebooks) gets the same rules. Submodules are imported on
use; this package imports only the light ones.
"""

from specops.runtime.governance.errors import GovernanceError, NotFound
from specops.runtime.governance.identity import Directory, load_directory, resolve_actor
from specops.runtime.governance.permissions import PermissionDenied
from specops.runtime.governance.service import Governance, RegistryLike

__all__ = ["Directory", "Governance", "GovernanceError", "NotFound", "PermissionDenied",
           "RegistryLike", "load_directory", "resolve_actor"]
