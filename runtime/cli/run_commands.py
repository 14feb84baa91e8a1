"""`specops run` and `specops runs list|show`: the runtime's commands.

With a project PATH, `run` compiles before it runs, through the compiler's public API
(`support.compiled_plan`, lazily, inside the command); the runtime proper (plan reader,
scheduler, executors, store) never imports `specops.compiler` and runs any `plan.json`.

Exit codes: 0 the run succeeded; 1 a node failed (its id and cause are printed) or the
specs do not compile; 2 a user mistake (bad plan, unknown selection, unreachable store).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import (
    NotCompiled,
    compiled_plan,
    fail,
    plan_for,
    project_config,
    requested_actor,
    store_url,
    when,
)

__all__ = ["cmd_run", "cmd_runs_list", "cmd_runs_show", "gate_warnings", "headline_metrics",
           "register"]


def cmd_run(args: argparse.Namespace) -> int:
    from specops.runtime.engine.executors import ExecutorError
    from specops.runtime.engine.plan_reader import PlanError
    from specops.runtime.engine.progress import make_progress
    from specops.runtime.engine.run_loop import execute_plan
    from specops.runtime.store import StoreError

    if args.path and not Path(args.path).exists():
        raise fail(f"no such file or directory: {args.path}")
    root = Path(args.path or ".").resolve()
    if root.is_file():
        root = root.parent
    config = project_config(root)   # read once: run_as here, prepare steps below
    actor = requested_actor(args, config)
    if actor:
        os.environ["SPECOPS_USER"] = actor   # read by run.py into every op's context
    try:
        try:
            plan = (compiled_plan(root, args, "run") if args.path and not args.plan
                    else plan_for(root, args, "run"))
        except NotCompiled:
            return 1
        if plan is None:
            raise fail("nothing to run: give a project folder or --plan plan.json")
        from specops.runtime.engine.prepare import PrepareError, run_prepare

        try:
            run_prepare(root, config,
                        notice=lambda m: print(m, file=sys.stderr))
        except PrepareError as exc:
            print(f"specops: {exc}", file=sys.stderr)
            return 1
        mode = "json" if args.json else "quiet" if args.quiet else "rich"
        from specops.runtime.engine.lineage_events import lineage_progress

        lineage = args.lineage or config.get("lineage")   # docs/runtime.md, "Lineage"
        with lineage_progress(make_progress(mode), plan, root, lineage,
                              from_config=not args.lineage) as progress:
            result = execute_plan(
                plan, root, executor=args.executor, address=args.address,
                select=args.select, store_url=store_url(args, root, plan.project.store),
                progress=progress)
    except (PlanError, StoreError, ExecutorError, ValueError) as exc:
        raise fail(str(exc)) from None
    if not args.json:
        for line in gate_warnings(result):
            print(f"specops: warning: {line}", file=sys.stderr)
        if not args.quiet:
            for line in headline_metrics(result):
                print(line, file=sys.stderr)
    if not result.ok:
        if not args.json:
            for o in result.failed:
                print(f"specops: node {o.node_id} failed: {o.cause}", file=sys.stderr)
        return 1
    return 0


_HEADLINE = ("roc_auc", "pr_auc", "accuracy", "f1", "log_loss", "rmse", "mae", "r2")


def headline_metrics(result: Any) -> list[str]:
    """One line per evaluated model: the selected candidate's test metrics, so nobody digs
    in `.specops/artifacts` for the AUC (cache hits replay theirs)."""
    lines = []
    for o in result.nodes.values():
        if o.op != "evaluate" or o.status != "done":
            continue
        shown = [f"{k} {o.metrics[k]:.4f}" for k in _HEADLINE if k in o.metrics]
        fair = [f"{k} {v:.3f}" for k, v in sorted(o.metrics.items())
                if k.startswith("disparate_impact:")]
        if shown or fair:
            model = o.node_id.split(":", 1)[-1]
            lines.append(f"{model}: test {', '.join([*shown, *fair])}")
    return lines


def gate_warnings(result: Any) -> list[str]:
    """Warning-severity checks that failed: the run succeeds, but it must say so."""
    lines = []
    for o in result.nodes.values():
        if o.op != "gate" or o.status != "done" or o.path is None:
            continue
        path = Path(o.path) / "gate_report.json"
        if not path.is_file():
            continue
        report = json.loads(path.read_text(encoding="utf-8"))
        for c in report.get("checks", []):
            if c.get("severity") == "warning" and c.get("status") in ("fail", "error"):
                lines.append(f"gate {report.get('gate')} on {report.get('model')}: "
                             f"{c.get('text') or c.get('id')} failed ({c.get('detail')})")
    return lines


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}s"


def _open_store(args: argparse.Namespace) -> Any:
    from specops.runtime.store import Store, StoreError

    root = Path(args.project or ".").resolve()
    try:
        return Store.from_url(store_url(args, root), root)
    except StoreError as exc:
        raise fail(str(exc)) from None


def cmd_runs_list(args: argparse.Namespace) -> int:
    store = _open_store(args)
    rows = store.list_runs(args.limit)
    store.close()
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True, default=str))
        return 0
    if not rows:
        print("no runs yet", file=sys.stderr)
        return 0
    print(f"{'RUN':<24} {'STATUS':<12} {'STARTED':<20} {'DURATION':>9}  NODES")
    for r in rows:
        s = r["summary"] or {}
        nodes = ", ".join(f"{s[k]} {k}" for k in ("done", "cached", "failed", "skipped")
                          if s.get(k))
        dur = s.get("duration_s")
        print(f"{r['run_id']:<24} {r['status']:<12} {when(r['started_at']):<20} "
              f"{_secs(dur):>9}  {nodes}")
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    store = _open_store(args)
    run = store.get_run(args.run)
    if run is None:
        store.close()
        raise fail(f"no run {args.run!r} (or the prefix is ambiguous); see `specops runs list`")
    nodes = store.node_runs(run["run_id"])
    metrics = store.metrics(run["run_id"])
    store.close()
    if args.json:
        print(json.dumps({"run": run, "nodes": nodes, "metrics": metrics}, indent=2,
                         sort_keys=True, default=str))
        return 0
    print(f"run {run['run_id']}  {run['status']}  project {run['project'] or '-'}  "
          f"executor {run['executor']}")
    print(f"started {when(run['started_at'])}  finished {when(run['finished_at'])}")
    print(f"\n{'NODE':<40} {'STATUS':<12} {'TIME':>8} {'TRIES':>5}  DIGEST")
    for n in nodes:
        status = "cached" if n["cache_hit"] else n["status"]
        print(f"{n['node_id']:<40} {status:<12} {_secs(n['duration_s']):>8} "
              f"{n['attempts'] or '-':>5}  {(n['digest'] or '-')[:19]}")
        for name, value in sorted(metrics.get(n["node_id"], {}).items()):
            print(f"{'':<4}{name} = {value:.6g}")
        if n["cause"]:
            print(f"{'':<4}cause: {n['cause']}")
    return 0


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("run", help="run a project (compiling it first) or a plan.json")
    p.add_argument("path", nargs="?", help="project folder (default: .)")
    p.add_argument("--plan", help="run this compiled plan instead of compiling")
    p.add_argument("--select", help="node ids or globs, comma-separated; `id+` adds "
                   "descendants (ancestors always run, mostly from cache)")
    p.add_argument("--executor", choices=["ray", "inline"], default="ray",
                   help="where ops run (default: ray; inline runs them in this process)")
    p.add_argument("--address", help="join this Ray cluster (host:port or ray://host:10001) "
                   "instead of starting a local one")
    p.add_argument("--store", help="store URL (default: the project's, else "
                   "sqlite:///.specops/store.db)")
    p.add_argument("--as", dest="actor", help="who triggers the run (default: SPECOPS_USER, "
                   "else the OS user); recorded with registrations and approvals")
    p.add_argument("--lineage", metavar="file:PATH|URL",
                   help="send OpenLineage run events to a JSON-lines file or an HTTP "
                   "endpoint (default: `lineage:` in specops.yaml)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--quiet", "-q", action="store_true",
                     help="print only failures and the summary")
    out.add_argument("--json", action="store_true", help="one JSON event per line on stdout")
    add_common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("runs", help="list past runs or show one")
    rs = p.add_subparsers(dest="runs_command", metavar="{list,show}", required=True)
    for name, fn, hlp in (("list", cmd_runs_list, "recent runs, newest first"),
                          ("show", cmd_runs_show, "one run: nodes, status, durations, cache "
                           "hits, metrics, failure causes")):
        q = rs.add_parser(name, help=hlp)
        if name == "show":
            q.add_argument("run", help="run id, a unique prefix of one, or `latest`")
        else:
            q.add_argument("--limit", type=int, default=20)
        q.add_argument("--project", help="project folder (default: .)")
        q.add_argument("--store", help="store URL (default: the project's)")
        q.add_argument("--json", action="store_true", help="machine-readable output")
        q.set_defaults(func=fn)
