"""The ordered semantic passes. Each pass is one file with one function of the same name,
reading the shared Context and appending diagnostics; none stops the others."""

from __future__ import annotations

from collections.abc import Callable

from specops.compiler.passes.context import Context
from specops.compiler.passes.data_checks.check_features import check_features
from specops.compiler.passes.data_checks.check_inputs import check_inputs
from specops.compiler.passes.data_checks.check_leakage import check_leakage
from specops.compiler.passes.data_checks.check_thresholds import check_thresholds
from specops.compiler.passes.data_checks.check_time import check_time
from specops.compiler.passes.governance_checks.check_approvals import check_approvals
from specops.compiler.passes.governance_checks.check_deploy_gates import check_deploy_gates
from specops.compiler.passes.governance_checks.check_names import check_names
from specops.compiler.passes.governance_checks.check_policies import check_policies
from specops.compiler.passes.governance_checks.check_trust import check_trust
from specops.compiler.passes.model_checks.check_estimator import check_estimator
from specops.compiler.passes.model_checks.check_gates import check_gates
from specops.compiler.passes.operations_checks.check_rollout import check_rollout
from specops.compiler.passes.operations_checks.check_schedules import check_schedules
from specops.compiler.passes.references.check_cycles import check_cycles
from specops.compiler.passes.references.index_specs import index_specs
from specops.compiler.passes.references.resolve_refs import resolve_refs

__all__ = ["LINT_PASSES", "Pass", "run_passes"]

Pass = Callable[[Context], None]

LINT_PASSES: tuple[Pass, ...] = (
    index_specs,
    resolve_refs,
    check_cycles,
    check_features,
    check_inputs,
    check_leakage,
    check_time,
    check_thresholds,
    check_estimator,
    check_gates,
    check_deploy_gates,
    check_names,
    check_approvals,
    check_policies,
    check_trust,
    check_schedules,
    check_rollout,
)


def run_passes(ctx: Context, passes: tuple[Pass, ...] = LINT_PASSES) -> Context:
    for p in passes:
        p(ctx)
    return ctx
