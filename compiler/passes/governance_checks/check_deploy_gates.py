"""Every model that can reach a deployment needs at least one blocking gate before register.

Why at compile time: TFX writes no blessing when an Evaluator has no thresholds and nobody
notices (tfx#5148). Here a model without a blocking check does not compile.

Where: at the field that takes the blocking away. With one gate that is the gate's own
`blocking: false` (or its first check's `severity: warning`), with the model's `gates:` as
related; with several gates, the model's `gates:` list, each gate's cause related; with
an empty `gates: []`, that list. Only a model with no `gates:` key at all is reported at
its `name:`, as there is no field to point at.
"""

from __future__ import annotations

from specops.compiler.diagnostics.diagnostic import Related
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import GateSpec
from specops.compiler.passes.context import Context

__all__ = ["blocking_checks", "check_deploy_gates"]


def blocking_checks(gate: GateSpec) -> int:
    if not gate.blocking:
        return 0
    return sum(1 for c in gate.checks if isinstance(c, str) or c.severity == "blocking")


def _cause(ctx: Context, loaded: LoadedSpec) -> Related:
    """Why this gate blocks nothing: `blocking: false`, or its checks are all warnings."""
    gate: GateSpec = loaded.spec
    if not gate.blocking:
        return ctx.related(f"gate `{gate.name}` is `blocking: false`", loaded, "blocking")
    return ctx.related(f"every check of gate `{gate.name}` is a warning", loaded,
                       "checks", 0, "severity")


def check_deploy_gates(ctx: Context) -> None:
    for loaded, model in ctx.models():
        gates = [ctx.index.gates[g] for g in model.gates if g in ctx.index.gates]
        if any(blocking_checks(g.spec) for g in gates):
            continue
        if len(gates) != len(model.gates):
            continue  # an unknown gate is already reported; don't pile on
        if len(gates) == 1:
            cause = _cause(ctx, gates[0])
            ctx.error("SPEC504", f"model `{model.name}` can be deployed but its only gate "
                      f"`{gates[0].name}` has no blocking check", gates[0],
                      span=cause.span,
                      related=[ctx.related(f"model `{model.name}` is judged by this gate "
                                           "alone", loaded, "gates")],
                      help="set `blocking: true` on the gate, or give a check "
                           "`severity: blocking`")
        elif gates:
            ctx.error("SPEC504", f"model `{model.name}` can be deployed but none of its gates "
                      "has a blocking check", loaded, "gates",
                      related=[_cause(ctx, g) for g in gates],
                      help="set `blocking: true` on a gate, or give a check "
                           "`severity: blocking`")
        else:
            has_key = ("gates",) in loaded.doc.values
            ctx.error("SPEC504", f"model `{model.name}` can be deployed but has no gate",
                      loaded, "gates" if has_key else "name",
                      help="add `gates: [...]` naming at least one blocking gate")
