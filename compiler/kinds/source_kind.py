"""`source`: a table on disk with declared columns and data checks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specops.compiler.kinds.common import ColumnType, Name, Principal, SpecModel

__all__ = ["Column", "SourceChecks", "SourceSpec"]


class Column(SpecModel):
    type: ColumnType
    nullable: bool = True
    unique: bool = False
    min: float | None = None
    max: float | None = None
    in_: list[str | int | float] | None = Field(None, alias="in")
    protected: bool = False
    pii: bool = False
    description: str | None = None


class RowCount(SpecModel):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


class DistributionCheck(SpecModel):
    reference: str = Field(description="path of a reference file, relative to the project")
    method: Literal["psi", "ks"] = "psi"
    max: float = Field(0.25, gt=0)
    columns: list[Name] | None = None


class SourceChecks(SpecModel):
    row_count: RowCount | None = None
    max_null_share: float | None = Field(None, ge=0, le=1)
    distribution: DistributionCheck | None = None


class SourceSpec(SpecModel):
    kind: Literal["source"]
    name: Name
    description: str | None = None
    owner: Principal | None = None
    path: str = Field(description="file or glob relative to the project root")
    format: Literal["parquet", "csv"] | None = None
    entity: Name | None = None
    timestamp: Name | None = None
    created_timestamp: Name | None = None
    columns: dict[Name, Column]
    checks: SourceChecks | None = None
    tags: list[str] = Field(default_factory=list)
