"""The plan as typed, frozen records: what `specops compile` writes and `specops run` reads.

Why records both halves import: the plan is the only contract between compiler and
runtime, so its shape lives in one place that neither half owns. The compiler builds a
`Plan` and writes `plan.to_json()`; the runtime's reader upgrades an older file
(`plan_upgrade.py`) and validates it through the same records before anything runs;
`schemas/plan.schema.json` is generated from them (`plan_schema.py`), so the schema cannot
drift from what either half does.

A node's `params` is the op's own record (`op_catalog.OPS[op].params`), picked by `op`.
An op outside the catalog (the runtime's test and debug ops, a plugin registered with
`register_op`) keeps plain JSON params: the contract covers what the compiler can write.
The `models` table is governance facts per model, kept as plain JSON here (it is written by
compiler/plan/governance_facts.py and read by the governance services, not by ops).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializeAsAny, ValidationInfo, field_validator

from specops.contract.canonical import canonical_json
from specops.contract.op_catalog import params_record
from specops.contract.op_params import OpParams, Record

__all__ = ["FINGERPRINT_VERSION", "FORMAT_VERSION", "Plan", "PlanNode", "Project", "Resources",
           "Retry", "Schedule", "SpecRef", "parse_params"]

FORMAT_VERSION = 3
"""The plan format this specops writes. Older formats are upgraded on read
(`plan_upgrade.upgrade`); a newer one is refused. docs/plan.md has the history."""

FINGERPRINT_VERSION = 2
"""The `format_version` a node fingerprint covers: the version of what nodes mean (ops,
params), bumped with FORMAT_VERSION only when that changes. Format 3 changed how a plan
file is written (shared structures, contract/plan_pack.py), not any node, so results
cached under format 2 stay valid."""

Fingerprint = str


class Project(Record):
    name: str
    store: str
    artifacts: str
    ray_address: str | None


class Resources(Record):
    num_cpus: int = Field(ge=1)
    memory_mb: int = Field(ge=1)


class Retry(Record):
    max_attempts: int = Field(ge=1)
    backoff_s: float = Field(ge=0)


class SpecRef(Record):
    """Which spec a node came from (kind and name only: no file or line, docs/plan.md)."""

    kind: Literal["source", "feature", "model", "gate", "approval", "policy"]
    name: str


def parse_params(op: str, params: Any) -> OpParams | dict[str, Any]:
    """`params` as the op's record (raises pydantic's ValidationError when it does not fit),
    or unchanged for an op outside the catalog."""
    record = params_record(op)
    if record is None:
        if not isinstance(params, dict):
            raise ValueError("params must be an object")
        return params
    if isinstance(params, record):
        return params
    if isinstance(params, OpParams):   # another op's record: check it against this op's
        params = params.model_dump(mode="json", by_alias=True)
    return record.model_validate(params)


class PlanNode(Record):
    id: str = Field(pattern=r"^[a-z_]+:\S+$")
    op: str
    params: SerializeAsAny[OpParams] | dict[str, Any]
    inputs: tuple[str, ...]
    resources: Resources
    retry: Retry
    manual: bool
    spec: SpecRef
    fingerprint: Fingerprint = Field(pattern=r"^sha256:[0-9a-f]{64}$")

    @field_validator("params", mode="before")
    @classmethod
    def _params_of_op(cls, value: Any, info: ValidationInfo) -> Any:
        op = info.data.get("op")
        if not isinstance(op, str):
            return value            # `op` already failed; pydantic reports that
        return parse_params(op, value)


class Schedule(Record):
    """A job an orchestrator runs on a cron (`specops export`, docs/orchestration.md).

    Why in the plan and not only in the specs: export reads what the compiler decided (a
    macro as its five fields, the nodes a retrain selects), from a plan.json as from a
    project. Not fingerprinted: moving a retrain from 03:00 to 04:00 changes no result.
    Why the patterns: the values are written into generated Python, YAML and shell, so a
    hand-edited plan cannot carry quotes or expressions into them."""

    id: str = Field(pattern=r"^(train|monitor|materialize):[A-Za-z_][A-Za-z0-9_]*(@[0-9]+)?$")
    job: Literal["train", "monitor", "materialize"]
    spec: SpecRef
    cron: str = Field(pattern=r"^[0-9A-Za-z*,/-]+( [0-9A-Za-z*,/-]+){4}$")
    timezone: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")
    select: tuple[str, ...] = Field(description="plan node ids the job runs (train: the "
                                                "model's automatic nodes; materialize: the "
                                                "view's node; monitor: none)")


class Plan(Record):
    format_version: Literal[3]
    specops_version: str
    project: Project
    spec_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    models: dict[str, dict[str, Any]]
    nodes: tuple[PlanNode, ...]
    # added within format 2: a plan written before schedules existed has none
    schedules: tuple[Schedule, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, exactly as docs/plan.md spells it (`class`, `in`: aliases)."""
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        """The on-disk form (canonical JSON, contract/canonical.py)."""
        return canonical_json(self.to_dict())
