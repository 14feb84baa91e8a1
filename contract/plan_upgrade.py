"""Upgrade a plan written in an older format to the current one, step by step.

Why upgrade instead of refusing: a plan is an artifact people keep (CI output, a release's
plan.json) and run later with a newer specops. As in dbt's manifest and Dagster's
snapshots, each format bump comes with one pure function from the previous format, and
the reader chains them, so the runtime only ever sees the current records. A plan newer
than this specops is refused by the reader: nothing can downgrade it.

Each step fills in exactly what the older runtime used to decide on its own, with the
value it decided, so an upgraded plan runs as it did before. Fingerprints are kept as
written: they name the cached results of that plan, and recomputing them would miss the
cache for no change in behaviour.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from specops.contract.plan_pack import PlanPackError, unpack
from specops.contract.plan_records import FORMAT_VERSION

__all__ = ["UPGRADES", "PlanUpgradeError", "upgrade"]

Step = Callable[[dict[str, Any]], dict[str, Any]]


class PlanUpgradeError(ValueError):
    """The plan's format_version is missing, unknown or newer than this specops reads."""


def _v1_to_v2(plan: dict[str, Any]) -> dict[str, Any]:
    """Format 2 carries the values format-1 runtimes chose themselves: the ONNX parity
    tolerance (1e-4), the rows kept for the parity check (100), whether a gate fails
    without a champion (false) and the bins of a validation distribution check (10)."""
    for node in plan.get("nodes") or ():
        if not isinstance(node, dict) or not isinstance(node.get("params"), dict):
            continue
        op, params = node.get("op"), node["params"]
        if op == "export_onnx":
            params.setdefault("tolerance", 1e-4)
        elif op == "benchmark":
            params.setdefault("test_rows", 100)
        elif op == "gate":
            params.setdefault("require_champion", False)
        elif op == "validate_data" and isinstance(params.get("distribution"), dict):
            params["distribution"].setdefault("bins", 10)
    plan["format_version"] = 2
    return plan


def _v2_to_v3(plan: dict[str, Any]) -> dict[str, Any]:
    """Format 3 may store repeated structures once (`shared`, contract/plan_pack.py); a
    format-2 plan is a format-3 plan that shares nothing, so only the number changes."""
    plan["format_version"] = 3
    return plan


UPGRADES: dict[int, Step] = {1: _v1_to_v2, 2: _v2_to_v3}
"""format_version N -> the step that turns an N plan into an N+1 plan."""


def _version(plan: Any) -> int:
    if not isinstance(plan, dict):
        raise PlanUpgradeError("plan is not a JSON object")
    if "format_version" not in plan:
        raise PlanUpgradeError("plan has no format_version; it was not written by "
                               "`specops compile` (regenerate it)")
    fv = plan["format_version"]
    if not isinstance(fv, int) or isinstance(fv, bool) or fv < 1:
        raise PlanUpgradeError(f"plan format_version {fv!r} is not a known version "
                               f"(expected an integer 1..{FORMAT_VERSION})")
    if fv > FORMAT_VERSION:
        raise PlanUpgradeError(
            f"plan format_version {fv} is newer than this runtime reads ({FORMAT_VERSION}); "
            "upgrade specops on this machine or compile with the specops version that "
            "runs it")
    return fv


def upgrade(plan: Any) -> dict[str, Any]:
    """`plan` in the current format with its shared structures resolved: the same object
    when it already is, else an upgraded or unpacked copy (the input is never modified)."""
    fv = _version(plan)
    if fv == FORMAT_VERSION:
        try:
            return unpack(plan)
        except PlanPackError as exc:
            raise PlanUpgradeError(str(exc)) from None
    out: dict[str, Any] = copy.deepcopy(plan)
    while fv < FORMAT_VERSION:
        out = UPGRADES[fv](out)
        fv = out["format_version"]
    return out
