"""The execution plan: the one contract between compiler and runtime (docs/plan.md).

The names below are loaded on first use (PEP 562): importing a module of this package
(`compile_cache` for a replayed `specops compile`) does not import the plan builder and
networkx, which were most of the start-up time of a compile that replays its plan.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from specops.compiler.plan.build import (
        FORMAT_VERSION,
        Plan,
        build_plan,
        fingerprint,
        spec_hash,
    )
    from specops.compiler.plan.params import Dep
    from specops.contract.canonical import canonical_json, compact_json, sha256_of

__all__ = [
    "FORMAT_VERSION",
    "Dep",
    "Plan",
    "build_plan",
    "canonical_json",
    "compact_json",
    "fingerprint",
    "sha256_of",
    "spec_hash",
]

_WHERE = {
    "FORMAT_VERSION": "specops.compiler.plan.build",
    "Plan": "specops.compiler.plan.build",
    "build_plan": "specops.compiler.plan.build",
    "fingerprint": "specops.compiler.plan.build",
    "spec_hash": "specops.compiler.plan.build",
    "Dep": "specops.compiler.plan.params",
    "canonical_json": "specops.contract.canonical",
    "compact_json": "specops.contract.canonical",
    "sha256_of": "specops.contract.canonical",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
