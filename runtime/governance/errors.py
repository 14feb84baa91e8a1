"""Governance errors, split by who must act: the user's input, or a refused action.

Why two kinds: the CLI maps `NotFound` (unknown model, version or environment: fix the
command) to exit 2 and `GovernanceError` (the action is refused: permission, separation of
duties, missing approvals, failed signature) to exit 1. Both carry one line that says why.
"""

from __future__ import annotations

__all__ = ["GovernanceError", "NotFound"]


class GovernanceError(Exception):
    """A governed action was refused; the message says why in one line."""


class NotFound(LookupError):
    """The command names something that does not exist (model, version, request)."""
