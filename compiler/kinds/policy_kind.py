"""`policy`: rules over the spec graph, decided at compile time."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specops.compiler.kinds.common import SpecModel

__all__ = ["PolicyRule", "PolicySpec"]


class PolicyRule(SpecModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    when: str = "true"
    require: str
    message: str
    severity: Literal["error", "warning"] = "error"
    applies_to: Literal["model", "feature", "source"] = "model"


class PolicySpec(SpecModel):
    kind: Literal["policy"]
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str | None = None
    rules: list[PolicyRule] = Field(min_length=1)
