"""`monitor`: the manual `monitor:<model>` plan node: one pass over the prediction log.

Why an op as well as the command: `specops run --select monitor:<model>` (a scheduled job
running the plan) gets the same pass as `specops monitor MODEL --from-log`, with the
monitoring settings from the node's params (docs/plan.md) and the alert hygiene state in
the run's store. Retraining is left to `specops monitor --retrain`: starting a run from
inside a run would nest two schedulers over one store.

Reference: the `production` version of the model, else the latest registered one.
Outputs: `monitor.json` and `monitor.html` (runtime/reports/drift_report.py).
"""

from __future__ import annotations

from typing import Any

from specops.runtime.engine.op_interface import OpContext, OpError, OpResult

__all__ = ["monitor"]


def _settings(params: dict[str, Any]) -> Any:
    from specops.runtime.monitor.monitor_pass import MonitorSettings

    return MonitorSettings.from_plan(params)


def monitor(ctx: OpContext) -> OpResult:
    from specops.runtime.governance.database import open_engine
    from specops.runtime.monitor.alerts import Hygiene, deliver
    from specops.runtime.monitor.monitor_pass import load_model_info, run_pass
    from specops.runtime.monitor.windows import read_prediction_log
    from specops.runtime.registry import Registry
    from specops.runtime.registry.registry import RegistryError
    from specops.runtime.reports.drift_report import write_reports

    model = str(ctx.params["model"])   # the plan always names it (MonitorParams)
    settings = _settings(dict(ctx.params))
    registry = Registry.for_context(ctx)
    try:
        ref = f"{model}@production" if "production" in registry.aliases(model) else model
        info = load_model_info(registry.resolve(ref))
    except (RegistryError, LookupError) as exc:
        raise OpError(f"{ctx.node_id}: {exc}") from None
    frame = read_prediction_log(ctx.project_root, model)
    if frame.height == 0:
        raise OpError(f"{ctx.node_id}: no prediction log for {model} yet")
    engine = open_engine(ctx.extra.get("store_url"), ctx.project_root)
    try:
        hygiene = Hygiene(engine, model, settings.consecutive_windows, settings.cooldown_s)
        doc, fired = run_pass(info, frame, settings, hygiene=hygiene, from_log=True,
                              source={"path": ".specops/predictions"})
    finally:
        engine.dispose()
    doc["delivery"] = deliver(fired, quiet=True, webhook=settings.webhook)
    write_reports(doc, ctx.out_dir)
    last = doc["windows"][-1] if doc["windows"] else {}
    share = float((last.get("drift") or {}).get("drift_share") or 0.0)
    return OpResult(metrics={"alerts": float(len(fired)), "drift_share": share,
                             "windows": float(len(doc["windows"]))},
                    report={"alerts": doc["alerts"], "version": info.ref},
                    message=f"{info.ref}: {len(fired)} alert(s), drift share {share:.2f} "
                            "in the latest window")
