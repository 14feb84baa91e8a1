"""`gate`: checks on evaluation results that must hold before a model is registered."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specops.compiler.kinds.common import Name, SpecModel

__all__ = ["Check", "GateSpec"]


class Check(SpecModel):
    check: str
    id: Name | None = None
    severity: Literal["blocking", "warning"] = "blocking"
    message: str | None = None


class GateSpec(SpecModel):
    kind: Literal["gate"]
    name: Name
    description: str | None = None
    blocking: bool = True
    min_group_size: int = Field(30, ge=1)
    checks: list[str | Check] = Field(min_length=1)
