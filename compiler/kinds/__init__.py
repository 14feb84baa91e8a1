"""The spec kinds: one pydantic model per kind, the surface users write."""

from __future__ import annotations

from specops.compiler.kinds.approval_kind import ApprovalRule, ApprovalSpec
from specops.compiler.kinds.feature_kind import FeatureDef, FeatureSpec
from specops.compiler.kinds.gate_kind import Check, GateSpec
from specops.compiler.kinds.model_kind import ModelSpec
from specops.compiler.kinds.policy_kind import PolicyRule, PolicySpec
from specops.compiler.kinds.project_kind import Person, ProjectSpec
from specops.compiler.kinds.source_kind import Column, SourceSpec

__all__ = [
    "KINDS",
    "ApprovalRule",
    "ApprovalSpec",
    "Check",
    "Column",
    "FeatureDef",
    "FeatureSpec",
    "GateSpec",
    "ModelSpec",
    "Person",
    "PolicyRule",
    "PolicySpec",
    "ProjectSpec",
    "SourceSpec",
    "Spec",
]

Spec = SourceSpec | FeatureSpec | ModelSpec | GateSpec | ApprovalSpec | PolicySpec

KINDS: dict[str, type[SourceSpec | FeatureSpec | ModelSpec | GateSpec | ApprovalSpec |
                      PolicySpec]] = {
    "source": SourceSpec,
    "feature": FeatureSpec,
    "model": ModelSpec,
    "gate": GateSpec,
    "approval": ApprovalSpec,
    "policy": PolicySpec,
}
