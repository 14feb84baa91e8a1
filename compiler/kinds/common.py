"""Shared field types for the spec kinds.

Why strict models: pydantic's lax mode would accept "yes" for a boolean and "5" for a
number, hiding exactly the mistakes lint exists to catch. Enumerations are `Literal`s
because strict mode refuses strings for Enum fields.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "ColumnType",
    "CronSchedule",
    "Delay",
    "Duration",
    "Name",
    "Principal",
    "Schedule",
    "SpecModel",
    "duration_seconds",
]

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
DURATION_PATTERN = r"^[0-9]+(s|m|h|d|w)$"

Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=128,
                            description="identifier: letters, digits and _")]


def _not_zero(text: str) -> str:
    """`0d` matches the pattern but is never meant: a zero window holds no rows, a zero
    cadence or cooldown fires all the time. Refused where it is written (SPEC204)."""
    if text[:-1].strip("0") == "":
        raise PydanticCustomError("zero_duration", f"a duration of `{text}` is empty; write "
                                  "a positive amount such as 1d")
    return text


Duration = Annotated[str, Field(pattern=DURATION_PATTERN,
                                description="a duration such as 90d, 12h, 30m, 2w"),
                     AfterValidator(_not_zero)]
# A wait that may be zero (`label_delay: 0d`: labels arrive with the predictions).
Delay = Annotated[str, Field(pattern=DURATION_PATTERN,
                             description="a duration such as 90d, 12h, 30m, 2w")]
Principal = Annotated[str, Field(pattern=r"^(team:|person:|role:)?[A-Za-z0-9_.@-]+$",
                                 description="a person, team:NAME or role:NAME")]
ColumnType = Literal["int64", "int32", "float64", "float32", "bool", "string", "category",
                     "date", "datetime"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> int:
    return int(text[:-1]) * _UNITS[text[-1]]


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True,
                              populate_by_name=True)


class CronSchedule(SpecModel):
    """When an orchestrator runs a job (`specops export`, docs/orchestration.md).

    Why the cron is a plain string here: lint checks it (SPEC701-SPEC705) with a located
    diagnostic per problem, which a pydantic pattern could only report as SPEC204."""

    cron: str = Field(min_length=1, description="five-field cron read in `timezone`: minute "
                                                "hour day-of-month month day-of-week, e.g. "
                                                "\"0 3 * * *\" (03:00 every day)")
    timezone: str = Field("UTC", description="IANA timezone the cron is read in, e.g. "
                                             "Europe/Berlin (default UTC)")


# `schedule: "0 3 * * *"` is the cron alone, read in UTC (as GitHub Actions and Kubernetes
# CronJobs read theirs); the mapping form names a timezone.
Schedule = Annotated[str | CronSchedule, Field(
    description="a cron string (read in UTC) or {cron: \"0 3 * * *\", timezone: "
                "Europe/Berlin}")]
