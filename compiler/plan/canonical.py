"""Canonical JSON: the one way a plan (and everything hashed inside it) is serialised.

Why one writer: byte-identical plans and stable fingerprints both depend on it. Keys are
sorted, floats use Python's shortest round-trip repr, NaN and infinities are refused (JSON
has no spelling for them), and text stays UTF-8 rather than \\u escapes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "compact_json", "sha256_of"]


def canonical_json(value: Any) -> str:
    """The on-disk form: sorted keys, two-space indent, trailing newline."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def compact_json(value: Any) -> str:
    """The hashed form: sorted keys, no whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def sha256_of(value: Any) -> str:
    """`sha256:<hex>` of the compact canonical JSON of `value`."""
    return "sha256:" + hashlib.sha256(compact_json(value).encode("utf-8")).hexdigest()
