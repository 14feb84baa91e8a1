"""Compile every gate check for every model that uses the gate, in that model's terms:
its task's metrics, its slice columns, its protected attributes.

A gate shared by a classifier and a regressor is checked twice; a metric that fits one
but not the other is reported once per offending model (SPEC411 at the exact column).
"""

from __future__ import annotations

from typing import Any

from ..context import Context
from ..diagnostics import Severity
from ..expr import check_spec_expression, gate_env
from ..kinds import GateSpec
from ..model_facts import check_categories

__all__ = ["check_gates"]


def check_gates(ctx: Context) -> None:
    for loaded, model in ctx.models():
        protected = sorted({c for r in ctx.protected.get(model.name, []) for c in r.columns})
        env = gate_env(model.task, slices=model.slices, protected=protected, champion=True)
        categories: set[str] = set()
        broken = False   # a check that failed to compile may be the fairness check
        for gate_name in model.gates:
            gate_loaded = ctx.index.gates.get(gate_name)
            if gate_loaded is None:
                continue
            gate: GateSpec = gate_loaded.spec
            compiled: list[dict[str, Any]] = []
            for i, check in enumerate(gate.checks):
                path: tuple[str | int, ...]
                if isinstance(check, str):
                    text, path, cid, severity, message = check, ("checks", i), None, \
                        "blocking", None
                else:
                    text, path = check.check, ("checks", i, "check")
                    cid, severity, message = check.id, check.severity, check.message
                tree = check_spec_expression(ctx, gate_loaded, text, env, *path)
                if tree is None:
                    broken = True
                    continue
                categories |= check_categories(tree)
                compiled.append({
                    "id": cid or f"{gate_name}.{i + 1}",
                    "text": text,
                    "expr": tree,
                    "severity": severity if gate.blocking else "warning",
                    "message": message,
                })
            ctx.gate_trees[(model.name, gate_name)] = compiled
        if protected and "fairness" not in categories and not broken and \
                all(g in ctx.index.gates for g in model.gates):
            ctx.error("SPEC507", f"model `{model.name}` declares protected attributes "
                      f"({', '.join(protected)}) but no gate checks fairness", loaded,
                      "training", "protected", key=True, severity=Severity.WARNING,
                      help=f"add a check such as `disparate_impact({protected[0]}) >= 0.8` to a "
                           "gate")
