"""`specops export TARGET -o DIR [PROJECT]`: the plan's jobs for an orchestrator.

    specops export airflow -o dags/ examples/credit-risk
    specops export --target github-actions -o .github/workflows examples/credit-risk
    specops export cron -o ops/cron --plan plan.json

Targets: `airflow` (one DAG file), `dagster` (one Definitions file), `github-actions`
(one workflow per job), `cron` (a crontab and one script per job); docs/orchestration.md
says what each artifact does. The jobs come from the compiled plan (the project compiled
now, or `--plan plan.json`), never from the YAML: schedules, the nodes a retrain runs
and each node's retries are what the compiler decided (compiler/render/orchestration.py).

Both spellings work: `specops export airflow ...` and `specops export --target airflow
...` (the issue's); the second is rewritten to the first before parsing.

How another package adds a target (the runtime's `mlflow`, runtime/cli/mlflow_commands.py):
in its command module's `extend(sub, add_common)` (called after every `register`, see
runtime/cli/__init__.py), take the parser with `export = sub.choices.get("export")` and
the targets with `getattr(export, "export_targets", None)`, an argparse sub-parsers
action; `targets.add_parser(NAME, help=...)`, add its options and
`set_defaults(func=...)`. It is then `specops export NAME ...` and `--target NAME`, listed
in `specops export --help`. Only the compiler's public API and this attribute are used:
the runtime imports nothing of this module.

Exit codes: 0 written; 1 the specs do not compile; 2 a usage mistake or a plan that
cannot be exported to the target (one line).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from specops.compiler.cli.helpers import AddCommon, UsageError, existing, parse_vars, report_errors

__all__ = ["cmd_export", "register"]

_TARGET_HELP = {
    "airflow": "Airflow DAGs: one per job, one task per plan node",
    "dagster": "Dagster Definitions: one job per specops job, one op per plan node",
    "github-actions": "GitHub Actions workflows: one per job, UTC crons with a local-time "
                      "guard for other timezones",
    "cron": "a crontab (CRON_TZ per schedule) and one shell script per job",
}


class _ExportParser(argparse.ArgumentParser):
    """`export`'s parser: `--target NAME` (or `--target=NAME`) becomes the sub-command."""

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        items = list(sys.argv[1:] if args is None else args)
        for i, item in enumerate(items):
            if item == "--target" and i + 1 < len(items):
                items = [items[i + 1], *items[:i], *items[i + 2:]]
                break
            if item.startswith("--target="):
                items = [item.split("=", 1)[1], *items[:i], *items[i + 1:]]
                break
        return super().parse_known_args(items, namespace)


def _plan_data(args: argparse.Namespace) -> dict[str, Any] | None:
    """The plan as JSON data: `--plan FILE` (upgraded and validated through the contract
    records) or the project compiled now (None: it did not compile, errors printed)."""
    from specops.contract.plan_records import Plan
    from specops.contract.plan_upgrade import PlanUpgradeError, upgrade

    if args.plan:
        try:
            raw = json.loads(Path(args.plan).read_text(encoding="utf-8"))
            data: dict[str, Any] = Plan.model_validate(upgrade(raw)).to_dict()
        except OSError as exc:
            raise UsageError(f"cannot read {args.plan}: {exc.strerror or exc}") from None
        except (ValueError, PlanUpgradeError) as exc:  # JSON, records (pydantic) or format
            first = str(exc).strip().splitlines()
            raise UsageError(f"{args.plan} is not a plan this specops can export: "
                             f"{' '.join(first[:3])}") from None
        return data
    from specops.compiler.plan.compile import compile_project

    result = compile_project(existing(args.project), parse_vars(getattr(args, "var", None)))
    if report_errors(result, "export"):
        return None
    assert result.plan is not None
    return result.plan.data


def cmd_export(args: argparse.Namespace) -> int:
    from specops.compiler.render.orchestration import ExportError, ExportOptions, render

    target = args.export_target
    data = _plan_data(args)
    if data is None:
        return 1
    out = Path(args.output)
    project_dir = args.project_dir or os.path.normpath(args.project or ".")
    try:
        specops = tuple(shlex.split(args.specops))
    except ValueError as exc:
        raise UsageError(f"--specops: {exc}") from None
    if not specops:
        raise UsageError("--specops is empty")
    opts = ExportOptions(project_dir=project_dir, specops=specops,
                         out_dir=str(out.resolve()))
    try:
        files = render(target, data, opts)
    except ExportError as exc:
        raise UsageError(f"export {target}: {exc}") from None
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in sorted(files.items()):
            path = out / name
            path.write_text(text, encoding="utf-8")
            if name.endswith(".sh"):
                path.chmod(0o755)
    except OSError as exc:
        raise UsageError(f"cannot write into {out}: {exc.strerror or exc}") from None
    jobs = len(data.get("schedules", ()))
    print(f"exported {len(files)} file{'s' * (len(files) != 1)} for {target} into {out} "
          f"({jobs} scheduled job{'s' * (jobs != 1)})", file=sys.stderr)
    return 0


def register(sub: Any, add_common: AddCommon) -> None:
    export = sub.add_parser("export", help="the plan's jobs for an orchestrator (airflow, "
                            "dagster, github-actions, cron) or another tool",
                            description="Write the compiled plan's jobs for an "
                            "orchestrator. `--target NAME` is the same as NAME.")
    export.__class__ = _ExportParser
    targets = export.add_subparsers(dest="export_target", metavar="TARGET", required=True)
    setattr(export, "export_targets", targets)  # noqa: B010 - read by extend() of others
    for name, help_text in _TARGET_HELP.items():
        p = targets.add_parser(name, help=help_text)
        p.add_argument("project", nargs="?", help="project folder (default: .)")
        p.add_argument("-o", "--output", required=True, metavar="DIR",
                       help="folder to write into (created)")
        p.add_argument("--plan", help="export this compiled plan.json instead of compiling")
        p.add_argument("--project-dir", help="the project folder as the orchestrator's "
                       "machine sees it (default: PROJECT as given)")
        p.add_argument("--specops", default="specops", metavar="CMD",
                       help="how the orchestrator runs specops, e.g. \"uv run specops\" "
                            "(default: specops)")
        add_common(p)
        p.set_defaults(func=cmd_export)
