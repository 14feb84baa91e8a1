"""`specops monitor MODEL`: drift, performance, fairness and operations of a served model.

    specops monitor credit_default --current data/next_month.parquet
    specops monitor credit_default --from-log --window 7d --retrain

Why it compiles the project (CLI glue, like `specops run`): the monitoring settings, the
label source and delay, the protected attributes and, for `--retrain` and raw `--current`
rows, the model's pipeline all come from the compiled plan; `--plan plan.json` skips the
compiler. The reference is the registry version in `production` (else the latest
registered one, or `--version`), whose signed `profile/` holds the training distribution.

Exit codes: 0 done (alerts may have fired; `--fail-on-alert` makes that 1); 1 the retrain
run failed; 2 a user mistake (unknown model, no data, no profile).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import (
    NotCompiled,
    fail,
    plan_for,
    project_config,
    requested_actor,
    store_url,
)

__all__ = ["cmd_monitor", "register"]


def _plan(args: argparse.Namespace, root: Path) -> Any:
    plan = None
    try:
        plan = plan_for(root, args, "monitor")
    except NotCompiled:
        raise fail("the project does not compile (see above)") from None
    if plan is None:
        raise fail(f"{root} has no specops.yaml; pass --project DIR or --plan plan.json")
    return plan


def _version(registry: Any, model: str, ref: str | None) -> Any:
    from specops.runtime.registry.registry import RegistryError

    try:
        if ref:
            return registry.resolve(ref if "@" in ref else f"{model}@{ref}")
        if "production" in registry.aliases(model):
            return registry.resolve(f"{model}@production")
        return registry.resolve(model)
    except RegistryError as exc:
        raise fail(str(exc)) from None


def _source_frame(plan: Any, root: Path, name: str | None) -> Any:
    from specops.runtime.data.load_source import resolve_files
    from specops.runtime.monitor.windows import read_table

    src = plan.by_id.get(f"source:{name}") if name else None
    files = resolve_files(root, str(src.params.get("path", ""))) if src else []
    if not files:
        return None
    import polars as pl

    return pl.concat([read_table(f) for f in files], how="diagonal_relaxed")


def _labels(plan: Any, root: Path, model: str, path: str | None,
            protected: list[str]) -> Any:
    """Realised labels (`--labels PATH`, else the spec's label source) and, for rows
    without them (the log), the protected attributes from the spine source by the key."""
    from specops.runtime.monitor.monitor_pass import LabelSource
    from specops.runtime.monitor.windows import read_table

    ts = plan.by_id.get(f"training_set:{model}")
    label = dict((ts.params.get("label") if ts else None) or {})
    column = label.get("column")
    if not column:
        return None
    key = label.get("key")
    if not key:
        return LabelSource(column)                 # the label is a column of the rows
    spine = (ts.params.get("spine") or {}).get("source") if ts else None
    attributes = _source_frame(plan, root, spine) if protected else None
    frame = read_table(path) if path else _source_frame(plan, root, label.get("source"))
    return LabelSource(column, key, frame, attributes)


def _current(args: argparse.Namespace, plan: Any, root: Path, model: str, info: Any,
             store_url: str) -> tuple[Any, dict[str, Any], str | None]:
    """(frame, source description, time column)."""
    from specops.runtime.monitor.windows import read_prediction_log, read_table

    ts = plan.by_id.get(f"training_set:{model}")
    spine_ts = ((ts.params.get("spine") or {}).get("timestamp") if ts else None)
    if args.from_log:
        log_dir = Path(args.log_dir) if args.log_dir else None
        frame = read_prediction_log(root, model, log_dir)
        if frame.height == 0:
            raise fail(f"no prediction log for {model} under "
                        f"{log_dir or root / '.specops/predictions'}; serve the model "
                        "with log_predictions on, or pass --current PATH")
        return frame, {"path": str(log_dir or ".specops/predictions")}, args.time_column
    path = Path(args.current)
    if not path.is_absolute() and not path.exists():
        path = root / path
    try:
        frame = read_table(path)
    except (FileNotFoundError, OSError) as exc:
        raise fail(str(exc)) from None
    missing = [n for n, _ in info.inputs if n not in frame.columns]
    how = "model inputs"
    if missing:
        from specops.runtime.monitor.model_inputs import model_inputs_from_raw

        try:
            frame = model_inputs_from_raw(plan, root, model, path, store_url)
        except (LookupError, RuntimeError) as exc:
            raise fail(f"{path} lacks model input(s) {', '.join(missing)} and "
                        f"they cannot be computed: {exc}") from None
        how = "raw rows; features computed with the training pipeline"
    return frame, {"path": str(path), "as": how}, args.time_column or spine_ts


def cmd_monitor(args: argparse.Namespace) -> int:
    from specops.runtime.governance import resolve_actor
    from specops.runtime.governance.database import open_engine
    from specops.runtime.monitor.alerts import Hygiene, deliver
    from specops.runtime.monitor.monitor_pass import MonitorSettings, load_model_info, run_pass
    from specops.runtime.monitor.windows import parse_duration
    from specops.runtime.registry import Registry
    from specops.runtime.reports.drift_report import write_reports

    root = Path(args.project or ".").resolve()
    plan = _plan(args, root)
    model = args.model
    facts = dict(plan.models.get(model) or {})
    if model not in plan.models and f"train:{model}" not in plan.by_id:
        raise fail(f"no model {model!r} in the project (models: "
                    f"{', '.join(sorted(plan.models)) or 'none'})")
    settings = MonitorSettings.from_plan(facts.get("monitoring"))
    if args.window:
        from dataclasses import replace

        try:
            settings = replace(settings, window_s=parse_duration(args.window))
        except ValueError as exc:
            raise fail(str(exc)) from None
    url = store_url(args, root, plan.project.store)
    registry = Registry.open(root, url, plan.project.artifacts)
    version = _version(registry, model, args.version)
    try:
        info = load_model_info(version)
    except LookupError as exc:
        raise fail(str(exc)) from None
    if args.skew:
        return _skew(args, plan, root, model, info, url)
    frame, source, time_col = _current(args, plan, root, model, info, url)
    ev = plan.by_id.get(f"evaluate:{model}")
    protected = list((ev.params.get("protected") if ev else None) or [])
    min_group = int((ev.params.get("min_group_size") if ev else None) or 30)
    now = (datetime.fromisoformat(args.now).timestamp() if args.now else time.time())
    if args.export_inputs:
        out = Path(args.export_inputs)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(out)
    engine = open_engine(url, root)
    try:
        if args.reset_state:
            from specops.runtime.monitor.alerts import reset_state

            reset_state(engine, model)
        hygiene = Hygiene(engine, model, settings.consecutive_windows, settings.cooldown_s,
                          clock=lambda: now, stream="log" if args.from_log else "current")
        doc, fired = run_pass(info, frame, settings, hygiene=hygiene,
                              labels=_labels(plan, root, model, args.labels, protected),
                              protected=protected, time_column=time_col,
                              max_windows=args.windows, source=source,
                              from_log=bool(args.from_log), now=now,
                              min_group_size=min_group)
    finally:
        engine.dispose()
    out_dir = Path(args.out) if args.out else root / ".specops" / "monitor" / model
    alerts_json = Path(args.alerts_json) if args.alerts_json else out_dir / "alerts.jsonl"
    webhook = None if args.no_webhook else (args.webhook or settings.webhook)
    doc["delivery"] = deliver(fired, quiet=args.json, json_path=alerts_json, webhook=webhook,
                              webhook_timeout_s=args.webhook_timeout,
                              webhook_retries=args.webhook_retries)
    code = 0
    on_breach = (facts.get("monitoring") or {}).get("on_breach")
    if on_breach == "rollback" and doc.get("in_breach"):   # self-healing (docs/rollout.md)
        from specops.runtime.cli.rollout_commands import heal

        doc["self_healing"] = heal(root, model, doc["in_breach"], info.ref, store=url,
                                   artifacts=plan.project.artifacts)
    if args.retrain:
        from specops.runtime.engine.progress import make_progress
        from specops.runtime.monitor.retrain import retrain

        # like `specops run`: --as, else SPECOPS_USER, else the project's run_as account
        actor = resolve_actor(requested_actor(args, project_config(root)))
        try:
            doc["retrain"] = retrain(plan, root, model, doc["in_breach"], fired,
                                     retrain_on=settings.retrain_on,
                                     cooldown_s=settings.cooldown_s, actor=actor,
                                     store_url=url, executor=args.executor,
                                     progress=make_progress("none" if args.json else "quiet"),
                                     reference=info.ref)
        except LookupError as exc:
            raise fail(str(exc)) from None
        if doc["retrain"]["status"] == "failed":
            code = 1
    paths = _write_pass_reports(doc, out_dir, write_reports)
    if args.json:
        print(json.dumps({**doc, "reports": {k: str(v) for k, v in paths.items()}},
                         indent=2, sort_keys=True, default=str))
    else:
        _summary(doc, paths)
    if code == 0 and args.fail_on_alert and fired:
        code = 1
    return code


def _skew(args: argparse.Namespace, plan: Any, root: Path, model: str, info: Any,
          url: str) -> int:
    """`--skew`: served vs offline feature vectors of the online-mode predictions in the
    log (runtime/monitor/skew.py); exit 1 when a feature's mismatch share is above
    `--skew-threshold`."""
    from specops.runtime.monitor.skew import SkewError, skew_report
    from specops.runtime.monitor.windows import read_prediction_log
    from specops.runtime.training.preprocess import Feature

    if not args.from_log:
        raise fail("--skew compares the prediction log: use it with --from-log")
    frame = read_prediction_log(root, model, Path(args.log_dir) if args.log_dir else None)
    features = [Feature(name, role) for name, role in info.inputs]
    try:
        doc = skew_report(plan, root, model, features, frame, args.skew_threshold, url)
    except SkewError as exc:
        raise fail(str(exc)) from None
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        out = sys.stdout
        out.write(f"{info.ref}: online/offline skew over {doc['rows']} logged predictions "
                  f"({doc['from']} .. {doc['to']}), threshold {doc['threshold']}\n")
        for f in doc["features"]:
            diff = "" if f["max_abs_diff"] is None else f"  max abs diff {f['max_abs_diff']:.6g}"
            flag = "  BREACH" if f["feature"] in doc["in_breach"] else ""
            out.write(f"  {f['feature']:<22} mismatch {f['mismatch_share']:.4f} "
                      f"({f['mismatches']}){diff}{flag}\n")
        out.write(f"{len(doc['in_breach'])} feature(s) above the threshold\n")
    return 1 if doc["in_breach"] else 0


def _summary(doc: dict[str, Any], paths: dict[str, Path]) -> None:
    out = sys.stdout
    out.write(f"{doc['version']}: {doc['source']['rows']} rows, "
              f"{len(doc['windows'])} window(s) of {doc['config']['window']}\n")
    for w in doc["windows"][-3:]:
        d = w["drift"]
        sig = ", ".join(f"{s['name']}={s['level']}" for s in w["signals"])
        out.write(f"  {w['label']}: {w['rows']} rows, drift share {d['drift_share']:.2f}, "
                  f"performance {w['performance']['status']}; {sig}\n")
    if doc["windows"]:
        last = doc["windows"][-1]["drift"]["features"]
        worst = sorted((f for f in last if f["value"] is not None),
                       key=lambda f: -float(f["value"]))[:5]
        for f in worst:
            out.write(f"    {f['feature']:<22} {f['method']:<13} {f['value']:.4f}  "
                      f"{f['status']}\n")
    fired = doc.get("alerts") or []
    out.write(f"{len(fired)} alert(s) fired" + (": " + ", ".join(
        f"{a['signal']} ({a['level']})" for a in fired) if fired else "") + "\n")
    heal = doc.get("self_healing")
    if heal:
        out.write(f"self-healing: {heal['status']} — {heal['reason']}\n")
    rt = doc.get("retrain")
    if rt:
        out.write(f"retrain: {rt['status']} — {rt['reason']}\n")
    out.write(f"report: {paths['html']}\n")
    if "index" in paths:
        out.write(f"every pass: {paths['index']}\n")


def _write_pass_reports(doc: dict[str, Any], out_dir: Path,
                        write: Callable[..., dict[str, Path]]) -> dict[str, Path]:
    """Each pass keeps its own report (`monitor-<UTC time>.html/.json`, never overwritten:
    last month's evidence must survive this month's pass); `monitor.html/.json` are copies
    of the latest, for links that should always show the current state; `index.html`
    lists every pass."""
    import shutil

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stem, n = f"monitor-{stamp}", 2
    while (out_dir / f"{stem}.html").exists() or (out_dir / f"{stem}.json").exists():
        stem, n = f"monitor-{stamp}-{n}", n + 1
    paths = write(doc, out_dir, stem)
    for kind, path in paths.items():
        shutil.copyfile(path, out_dir / f"monitor.{kind}")
    from specops.runtime.reports.drift_report import write_index

    return {**paths, "index": write_index(out_dir)}     # every pass, linked


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("monitor", help="drift, performance and fairness of a model against "
                       "its training reference; alerts; drift-triggered retraining")
    p.add_argument("model", help="model name (the reference is its production version)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--current", metavar="PATH", help="parquet/csv file, folder or glob: "
                     "model inputs, or raw rows of the model's spine source")
    src.add_argument("--from-log", action="store_true",
                     help="the serving prediction log (.specops/predictions/model=NAME)")
    p.add_argument("--project", help="project folder (default: .)")
    p.add_argument("--plan", help="compiled plan.json instead of compiling the project")
    p.add_argument("--version", help="reference version: N or alias (default: production, "
                   "else the latest registered)")
    p.add_argument("--window", help="window size, e.g. 7d or 24h (default: the spec's)")
    p.add_argument("--windows", type=int, help="only the newest N windows")
    p.add_argument("--time-column", help="timestamp column of the current rows")
    p.add_argument("--labels", metavar="PATH", help="realised labels (default: the spec's "
                   "label source, joined on its key)")
    p.add_argument("--log-dir", help="prediction log root (default: .specops/predictions)")
    p.add_argument("--out", help="report folder (default: .specops/monitor/MODEL)")
    p.add_argument("--alerts-json", metavar="PATH",
                   help="append fired alerts as JSON lines (default: OUT/alerts.jsonl)")
    p.add_argument("--webhook", help="POST fired alerts here (default: the spec's webhook)")
    p.add_argument("--no-webhook", action="store_true", help="do not call any webhook")
    p.add_argument("--webhook-timeout", type=float, default=5.0, help="seconds per attempt")
    p.add_argument("--webhook-retries", type=int, default=3, help="retries after the first "
                   "attempt (connection errors and 5xx only)")
    p.add_argument("--retrain", action="store_true", help="run the model's pipeline when "
                   "the spec's retrain_on conditions fire and the cooldown has passed")
    p.add_argument("--executor", choices=["inline", "ray"], default="inline",
                   help="executor of the retrain run (default: inline)")
    p.add_argument("--as", dest="actor", help="who triggers (default: SPECOPS_USER)")
    p.add_argument("--now", help="ISO time to evaluate label delay and cooldowns at "
                   "(default: the clock; for backfills and tests)")
    p.add_argument("--reset-state", action="store_true", help="forget the consecutive-window "
                   "counts and alert cooldowns of this model first (not the retrain cooldown, "
                   "which the audit log keeps)")
    p.add_argument("--export-inputs", metavar="PATH", help="also write the monitored rows "
                   "with their model inputs to this parquet file (e.g. to replay as traffic)")
    p.add_argument("--store", help="store URL (default: the project's)")
    p.add_argument("--fail-on-alert", action="store_true", help="exit 1 when an alert fired")
    p.add_argument("--skew", action="store_true", help="with --from-log: online/offline "
                   "skew per feature of the online-mode predictions (served vector vs the "
                   "offline point-in-time recomputation); exit 1 above --skew-threshold")
    p.add_argument("--skew-threshold", type=float, default=0.01, help="largest mismatch "
                   "share a feature may have (default 0.01)")
    p.add_argument("--json", action="store_true", help="print the report document as JSON")
    add_common(p)
    p.set_defaults(func=cmd_monitor)
