"""Drift thresholds that contradict a default: `warn` above the `alert` left unset.

Why a pass and not the kind's validator: pydantic does not validate defaults, so
`drift: {warn: 0.3}` passes `Drift` even though the default `alert` (0.25) is below it and
the monitor would page before it ever warned. The kind refuses the order when both are
written; this pass covers the default, at `warn` (the field that must change), SPEC204 as
for the written case.
"""

from __future__ import annotations

from specops.compiler.passes.context import Context

__all__ = ["check_thresholds"]


def check_thresholds(ctx: Context) -> None:
    for loaded, model in ctx.models():
        mon = model.monitoring
        if mon is None or "drift" not in mon.model_fields_set:
            continue
        drift = mon.drift
        if "alert" in drift.model_fields_set or "warn" not in drift.model_fields_set:
            continue
        if loaded.was_pruned("monitoring", "drift", "alert"):
            continue
        if drift.warn > drift.alert:
            ctx.error("SPEC204", f"`warn` ({drift.warn:g}) is above the default `alert` "
                      f"({drift.alert:g}); a drift must warn before it alerts", loaded,
                      "monitoring", "drift", "warn",
                      help=f"lower `warn`, or set `alert` above {drift.warn:g}")
