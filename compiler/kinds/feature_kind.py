"""`feature`: a versioned feature view computed from one source."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specops.compiler.kinds.common import (
    ColumnType,
    Duration,
    Name,
    Principal,
    Schedule,
    SpecModel,
)

__all__ = ["Deprecation", "FeatureDef", "FeatureSpec"]

Aggregate = Literal["sum", "mean", "min", "max", "count", "last", "std"]


class FeatureDef(SpecModel):
    expr: str
    agg: Aggregate | None = None
    window: Duration | None = None
    type: ColumnType | None = None
    description: str | None = None


class Deprecation(SpecModel):
    message: str | None = None
    use: str | None = Field(None, description="replacement, e.g. bureau_history@3")


class FeatureSpec(SpecModel):
    kind: Literal["feature"]
    name: Name
    version: int = Field(1, ge=1)
    description: str | None = None
    owner: Principal | None = None
    source: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(@[0-9]+)?$",
                        description="a source name, or view@version to derive from another "
                                    "feature view")
    entity: Name | None = None
    timestamp: Name | None = None
    ttl: Duration | None = None
    access: Literal["public", "restricted"] = "public"
    grants: list[Principal] = Field(default_factory=list)
    deprecated: bool | Deprecation = False
    pii: bool = False
    features: dict[Name, str | FeatureDef]
    schedule: Schedule | None = Field(
        None, description="when an orchestrator runs `specops materialize` for this view "
                          "(specops export)")
    tags: list[str] = Field(default_factory=list)
