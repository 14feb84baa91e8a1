"""The registry state a node's result depends on, for the run cache.

Why: a gate compares with the version in production, and register/approval act on what
is already registered. Their plan fingerprint and inputs can be unchanged while the
champion moved or the registry was reset; serving such a node from the cache would pass a
challenger against a champion that is no longer there.

Why per op, and not one token of the whole registry: the run's own registration, an
approval, a rejection recorded elsewhere, or a deploy to staging must not turn the next
unchanged run into a recompute that starts Ray (issue 13 point 8). So

- `gate` keys on its champion only: which version (and content) `production` points at;
- `register` and `request_approval` key on nothing of the registry (their inputs decide
  what they register), and a cached result is reused only while the version it names
  still exists with the same content (`still_registered`): a reset registry recomputes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from specops.runtime.registry.registry import Registry, RegistryError

__all__ = ["STATEFUL_OPS", "registry_state", "still_registered"]

STATEFUL_OPS = frozenset({"gate", "register", "request_approval"})


def registry_state(registry: Registry, model: str, op: str = "gate") -> str | None:
    """The token folded into the cache key of `op` on `model`; None: nothing to fold."""
    if op != "gate":
        return None
    version = registry.aliases(model).get("production")
    champion = None
    if version is not None:
        try:
            champion = [version, registry.get(model, version).content_digest]
        except RegistryError:
            champion = [version, None]
    body = json.dumps({"champion": champion})
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def still_registered(registry: Registry, op: str, report: dict[str, Any] | None) -> bool:
    """Whether a cached `register`/`request_approval` result still describes the registry:
    the version it names exists, with the content it recorded (when it recorded one)."""
    if op not in ("register", "request_approval") or not report:
        return True
    model, version = report.get("model"), report.get("version")
    if (model is None or version is None) and isinstance(report.get("ref"), str):
        model, _, number = str(report["ref"]).partition("@")
        version = int(number) if number.isdigit() else None
    if model is None or version is None:
        return True    # nothing registered (approval not required): nothing to check
    try:
        v = registry.get(str(model), int(version))
    except RegistryError:
        return False
    digest = report.get("content_digest")
    return digest is None or digest == v.content_digest
