"""The model registry: immutable signed versions, aliases with history (see registry.py)."""

from specops.runtime.registry.manifest import CONTENT_FILES, content_digest, hash_artifacts
from specops.runtime.registry.registry import Registry, RegistryError, Version, parse_ref

__all__ = ["CONTENT_FILES", "Registry", "RegistryError", "Version", "content_digest",
           "hash_artifacts", "parse_ref"]
