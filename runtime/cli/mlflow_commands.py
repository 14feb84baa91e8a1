"""`specops export mlflow --tracking-uri URI [PROJECT]`: the experiment log and the
registry, sent to an MLflow tracking server (runtime/registry/mlflow_export.py).

Why `extend` and not `register`: `specops export` (the schedule targets: airflow, dagster,
github-actions, cron) belongs to the compiler's command line, which cannot import the
runtime; the runtime adds its `mlflow` target to that parser after every command is
registered, and registers `export` itself only where the compiler's is absent.

Exit codes: 0 everything exported (or already there); 1 a version was not exported (it
does not verify, or its run is gone), each named on stderr; 2 a usage error or a tracking
server that cannot be used (unreachable, refusing a call), one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import fail, project_config, project_setting, store_url

__all__ = ["cmd_export_mlflow", "extend"]


def cmd_export_mlflow(args: argparse.Namespace) -> int:
    from specops.runtime.registry import Registry
    from specops.runtime.registry.mlflow_export import (
        MlflowClient,
        MlflowError,
        export_to_mlflow,
        shown_uri,
    )
    from specops.runtime.store import Store, StoreError

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise fail("give --tracking-uri URI (or set MLFLOW_TRACKING_URI)")
    root = Path(args.project or ".").resolve()
    if not root.is_dir():
        raise fail(f"no such project folder: {args.project}")
    name = project_config(root).get("name")
    url = store_url(args, root)
    try:
        store = Store.from_url(url, root)
    except StoreError as exc:
        raise fail(str(exc)) from None
    registry = Registry.open(root, url, args.artifacts or project_setting(root, "artifacts"))
    try:
        client = MlflowClient(uri)
        try:
            report = export_to_mlflow(client, store, registry,
                                      str(name) if name else root.name,
                                      experiment=args.experiment)
        finally:
            client.close()
    except MlflowError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
        registry.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        print(f"exported to {shown_uri(uri)} (experiment {report.experiment_id}): runs "
              f"{report.runs_created} new, {report.runs_existing} already there; "
              f"{report.params} params, {report.metrics} metrics; model versions "
              f"{report.versions_created} new, {report.versions_existing} already there; "
              f"{report.aliases} aliases", file=sys.stderr)
    for line in report.problems:
        print(f"specops: {line}", file=sys.stderr)
    return 1 if report.problems else 0


def _add_mlflow(targets: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = targets.add_parser("mlflow", help="send runs, parameters, metrics and registered "
                           "versions to an MLflow tracking server")
    p.add_argument("project", nargs="?", help="project folder (default: .)")
    p.add_argument("--tracking-uri", help="the MLflow tracking server, http(s)://HOST:PORT "
                   "(default: MLFLOW_TRACKING_URI)")
    p.add_argument("--experiment", help="MLflow experiment (default: specops/<project>)")
    p.add_argument("--store", help="store URL (default: the project's)")
    p.add_argument("--artifacts", help="artifact directory (default: the project's)")
    p.add_argument("--json", action="store_true", help="the export's counts as JSON")
    add_common(p)
    p.set_defaults(func=cmd_export_mlflow)


def extend(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `mlflow` to `specops export`: as a target of the compiler's `export` when it
    offers one, else under an `export` of our own."""
    export = sub.choices.get("export")
    targets = getattr(export, "export_targets", None) if export is not None else None
    if targets is None:
        if export is not None:   # an `export` without room for more targets: leave it
            return
        p = sub.add_parser("export", help="export to other tools (mlflow)")
        targets = p.add_subparsers(dest="export_target", metavar="{mlflow}", required=True)
    _add_mlflow(targets, add_common)
