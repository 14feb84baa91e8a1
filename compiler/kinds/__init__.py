"""The spec kinds: one pydantic model per kind, the surface users write."""

from __future__ import annotations

from .approval import ApprovalRule, ApprovalSpec
from .feature import FeatureDef, FeatureSpec
from .gate import Check, GateSpec
from .model import ModelSpec
from .policy import PolicyRule, PolicySpec
from .project import Person, ProjectSpec
from .source import Column, SourceSpec

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
