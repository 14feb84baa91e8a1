"""The execution plan: the one contract between compiler and runtime (docs/plan.md)."""

from __future__ import annotations

from specops.compiler.plan.build import FORMAT_VERSION, Plan, build_plan, fingerprint, spec_hash
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
