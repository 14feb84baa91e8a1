"""Compile every gate check for every model that uses the gate, in that model's terms:
its task's metrics, its slice columns, its protected attributes.

A gate shared by a classifier and a regressor is checked twice; a metric that fits one
but not the other is reported once per offending model (SPEC411 at the exact column).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from specops.compiler.diagnostics.diagnostic import Severity
from specops.compiler.expr import check_spec_expression, gate_env
from specops.compiler.facts.model_facts import check_categories
from specops.compiler.kinds import GateSpec
from specops.compiler.passes.context import Context

__all__ = ["check_gates"]


def _name_the_model(ctx: Context, start: int, model: str) -> None:
    """A gate shared by several models: say which one a model-specific finding (its task,
    slices, protected attributes) is about, instead of "this model"."""
    for i in range(start, len(ctx.diagnostics)):
        d = ctx.diagnostics[i]
        if "this model" in d.message:
            message = d.message.replace("this model's task", f"the task of model `{model}`")
            ctx.diagnostics[i] = replace(d, message=message.replace("this model",
                                                                    f"model `{model}`"))


def check_gates(ctx: Context) -> None:
    users: dict[str, int] = {}
    for _loaded, m in ctx.models():
        for g in set(m.gates):
            users[g] = users.get(g, 0) + 1
    # A check that compiled cleanly in one environment compiles to the same tree in an
    # identical one: models sharing task, slices and protected attributes reuse it (a
    # 1,000-model project repeats a handful of gates). Failures recompile per model so
    # each message names its model.
    compiled_ok: dict[tuple[Any, ...], dict[str, Any]] = {}
    for loaded, model in ctx.models():
        protected = sorted({c for r in ctx.protected.get(model.name, []) for c in r.columns})
        env = gate_env(model.task, slices=model.slices, protected=protected, champion=True)
        env_key = (model.task, tuple(sorted(model.slices)), tuple(protected))
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
                before = len(ctx.diagnostics)
                key = (gate_name, i, *env_key)
                tree = compiled_ok.get(key)
                if tree is None and not gate_loaded.reported(*path):
                    tree = check_spec_expression(ctx, gate_loaded, text, env, *path)
                    if tree is not None:
                        compiled_ok[key] = tree
                if users.get(gate_name, 0) > 1:
                    _name_the_model(ctx, before, model.name)
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
