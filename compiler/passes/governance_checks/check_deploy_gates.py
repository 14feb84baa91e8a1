"""Every model that can reach a deployment needs at least one blocking gate before register.

Why at compile time: TFX writes no blessing when an Evaluator has no thresholds and nobody
notices (tfx#5148). Here a model without a blocking check does not compile.
"""

from __future__ import annotations

from specops.compiler.kinds import GateSpec
from specops.compiler.passes.context import Context

__all__ = ["blocking_checks", "check_deploy_gates"]


def blocking_checks(gate: GateSpec) -> int:
    if not gate.blocking:
        return 0
    return sum(1 for c in gate.checks if isinstance(c, str) or c.severity == "blocking")


def check_deploy_gates(ctx: Context) -> None:
    for loaded, model in ctx.models():
        gates = [ctx.index.gates[g].spec for g in model.gates if g in ctx.index.gates]
        if any(blocking_checks(g) for g in gates):
            continue
        if len(gates) != len(model.gates):
            continue  # an unknown gate is already reported; don't pile on
        if model.gates:
            ctx.error("SPEC504", f"model `{model.name}` can be deployed but none of its gates "
                      "has a blocking check", loaded, "gates", key=True,
                      help="set `blocking: true` on a gate, or give a check "
                           "`severity: blocking`")
        else:
            ctx.error("SPEC504", f"model `{model.name}` can be deployed but has no gate",
                      loaded, "name",
                      help="add `gates: [...]` naming at least one blocking gate")


