"""The registry state a node's result depends on, for the run cache.

Why: a gate compares with the version in production, and register/approval act on what
is already registered. Their plan fingerprint and inputs can be unchanged while the
champion moved or the registry was reset; serving such a node from the cache would pass a
challenger against a champion that is no longer there. The runtime folds this token into
those nodes' cache keys: unchanged registry, cache hit; anything moved, recompute.
"""

from __future__ import annotations

import hashlib
import json

from specops.runtime.registry.registry import Registry

__all__ = ["STATEFUL_OPS", "registry_state"]

STATEFUL_OPS = frozenset({"gate", "register", "request_approval"})


def registry_state(registry: Registry, model: str) -> str:
    versions = [(v.version, v.status, v.content_digest) for v in registry.versions(model)]
    body = json.dumps({"versions": versions, "aliases": sorted(registry.aliases(model).items())})
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()
