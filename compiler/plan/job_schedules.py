"""The plan's `schedules`: what an orchestrator runs when (docs/orchestration.md).

Why decided here and not by the exporters: the plan is what `specops export` reads, from a
project or a plan.json, so the five cron fields (a macro expanded) and the nodes a
scheduled retrain selects are written once, by the compiler, next to the nodes' retries.
Lint has already refused every schedule this could not write (SPEC701, SPEC702).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from specops.compiler.facts.cron_syntax import normalise
from specops.compiler.kinds.common import CronSchedule
from specops.compiler.passes.context import Context

__all__ = ["NOT_IN_SPEC_HASH", "plan_schedules"]

# Fields left out of the plan's `spec_hash` (pydantic `exclude` per kind). Why: approvals
# bind to the spec hash, and when an orchestrator runs a job is not what was approved;
# moving a retrain from 03:00 to 04:00 must not void them, nor must upgrading to a
# specops that knows `schedule:` (a spec without one hashes as it did before).
NOT_IN_SPEC_HASH: dict[str, dict[str, Any]] = {
    "model": {"schedule": True, "monitoring": {"schedule": True}},
    "feature": {"schedule": True},
}


def _when(schedule: str | CronSchedule) -> dict[str, str]:
    if isinstance(schedule, CronSchedule):
        return {"cron": normalise(schedule.cron), "timezone": schedule.timezone}
    return {"cron": normalise(schedule), "timezone": "UTC"}


def plan_schedules(ctx: Context, model_nodes: Mapping[str, Sequence[str]],
                   nodes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per `schedule:` in the specs, sorted by id. A retrain selects the model's
    automatic nodes (deploy and monitor are manual: they stay a person's decision); a
    materialization its view's node; a monitor none (it runs `specops monitor`)."""
    manual = {str(n["id"]) for n in nodes if n.get("manual")}
    ids = {str(n["id"]) for n in nodes}
    out: list[dict[str, Any]] = []
    for name, loaded in ctx.index.models.items():
        model = loaded.spec
        if model.schedule is not None:
            select = sorted(i for i in model_nodes.get(name, ()) if i not in manual)
            out.append({"id": f"train:{name}", "job": "train",
                        "spec": {"kind": "model", "name": name}, **_when(model.schedule),
                        "select": select})
        mon = model.monitoring
        if mon is not None and mon.schedule is not None:
            out.append({"id": f"monitor:{name}", "job": "monitor",
                        "spec": {"kind": "model", "name": name}, **_when(mon.schedule),
                        "select": []})
    for name, versions in ctx.index.features.items():
        for version, loaded in versions.items():
            view = loaded.spec
            if view.schedule is not None:
                node = f"features:{name}@{version}"
                out.append({"id": f"materialize:{name}@{version}", "job": "materialize",
                            "spec": {"kind": "feature", "name": name}, **_when(view.schedule),
                            "select": [node] if node in ids else []})
    return sorted(out, key=lambda s: str(s["id"]))
