"""`approval`: who must sign off a model version, chosen by conditions on the model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specops.compiler.kinds.common import Duration, Name, SpecModel

__all__ = ["ApprovalRule", "ApprovalSpec"]


Environment = Literal["staging", "production"]


def _production() -> list[Environment]:
    return ["production"]


class ApprovalRule(SpecModel):
    when: str = Field("true", description="condition over the model, e.g. risk_tier == 'high'")
    require: dict[Name, int] = Field(default_factory=dict,
                                     description="role -> number of distinct approvers")
    separation_of_duties: bool = True
    auto_approve: bool = False
    expires: Duration | None = None


class ApprovalSpec(SpecModel):
    kind: Literal["approval"]
    name: Name
    description: str | None = None
    rules: list[ApprovalRule] = Field(min_length=1)
    environments: list[Environment] = Field(default_factory=lambda: _production())
