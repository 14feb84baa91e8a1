"""`rollout:` rules (automatic promotion and rollback of a canary or shadow): each rule
says one thing the runtime can evaluate, on a metric it measures, and the rules have the
prediction log to read.

Why lint: `specops rollout evaluate` runs unattended (from a schedule or the monitor); a
rule it cannot read would either never fire (a typo in a metric silently keeps a bad
challenger) or fail at 3 a.m. Each finding is located at the rule field that must change.
"""

from __future__ import annotations

from specops.compiler.diagnostics.diagnostic import Severity
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds.model_kind import ModelSpec, RolloutCondition
from specops.compiler.passes.context import Context

__all__ = ["OPERATIONAL_METRICS", "REALISED_METRICS", "check_rollout"]

# What runtime/monitor/rollout_compare.py measures per arm (docs/rollout.md).
OPERATIONAL_METRICS = frozenset({"requests", "error_rate", "p50_latency_ms",
                                 "p99_latency_ms", "mean_score"})
REALISED_METRICS = frozenset({"roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1",
                              "brier", "log_loss", "ece", "rmse", "mae", "r2"})
_BOUNDS = ("above", "below", "above_champion_by", "below_champion_by")
_PVALUES = ("p_below", "p_above")


def _set(c: RolloutCondition, names: tuple[str, ...]) -> list[str]:
    return [n for n in names if getattr(c, n) is not None]


def _check_rule(ctx: Context, loaded: LoadedSpec, c: RolloutCondition, *path: str | int
                ) -> None:
    if loaded.reported(*path):
        return
    bounds, pvalues = _set(c, _BOUNDS), _set(c, _PVALUES)
    if (c.metric is None) == (c.test is None):
        ctx.error("SPEC711", "a rollout rule names exactly one of `metric` or `test`",
                  loaded, *path, help="e.g. {metric: p99_latency_ms, above: 50} or "
                  "{test: ks, p_below: 0.01}")
        return
    if c.metric is not None:
        if c.metric not in OPERATIONAL_METRICS | REALISED_METRICS:
            ctx.error("SPEC712", f"unknown rollout metric `{c.metric}`", loaded, *path,
                      "metric", help="one of " + ", ".join(sorted(OPERATIONAL_METRICS))
                      + ", or a realised metric (" + ", ".join(sorted(REALISED_METRICS))
                      + ")")
        if len(bounds) != 1 or pvalues:
            ctx.error("SPEC711", f"a `metric` rule takes exactly one of {', '.join(_BOUNDS)}"
                      + (f" (it has {', '.join(bounds + pvalues)})" if bounds or pvalues
                         else ""), loaded, *path,
                      help="split it into one rule per bound")
        return
    if len(pvalues) != 1 or bounds:
        ctx.error("SPEC711", "a `test` rule takes exactly one of p_below, p_above"
                  + (f" (it has {', '.join(bounds + pvalues)})" if bounds or pvalues
                     else ""), loaded, *path,
                  help="p_below: the arms differ significantly; p_above: no significant "
                       "difference")


def _reads_no_log(ctx: Context, loaded: LoadedSpec, model: ModelSpec) -> None:
    serving = model.serving
    if serving is None or serving.log_predictions:
        return
    ctx.error("SPEC714", f"`{model.name}` has rollout rules but `serving.log_predictions` "
              "is false: the rules compare the arms from the prediction log", loaded,
              "rollout", key=True, related=[ctx.related("the prediction log is turned off here",
                                              loaded, "serving", "log_predictions")],
              help="turn the prediction log on, or drop `rollout:` and promote by hand")


def check_rollout(ctx: Context) -> None:
    for loaded, model in ctx.models():
        r = model.rollout
        if r is None or loaded.reported("rollout"):
            continue
        for field in ("promote_when", "rollback_when"):
            for i, c in enumerate(getattr(r, field)):
                _check_rule(ctx, loaded, c, "rollout", field, i)
        if not r.promote_when and not r.rollback_when:
            ctx.error("SPEC713", f"`{model.name}`'s rollout has no promote_when or "
                      "rollback_when rules: `specops rollout evaluate` can never decide",
                      loaded, "rollout", key=True, severity=Severity.WARNING,
                      help="add e.g. rollback_when: [{metric: error_rate, "
                           "above_champion_by: 0.01}]")
        _reads_no_log(ctx, loaded, model)
