"""Helpers every runtime command module shares: usage errors and refusals, the plan to act
on (a plan.json, or the project compiled now), the store URL, the acting user, reading
specops.yaml without the compiler, and timestamps for tables.

Why here: each command module (run, models, governance, serve, monitor, ...) needs the
same things, and they must behave identically: exit 2 with one line for a usage mistake,
exit 1 with one line for a refusal, never a traceback for a malformed specops.yaml (lint
reports that properly), and the same precedence for `--store` and `--as` everywhere. The
compiler is used only through its public API (`specops.compiler`), and lazily: a command
given `--plan plan.json` never imports it.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specops.compiler import UsageError

__all__ = ["NotCompiled", "compiled_plan", "fail", "plan_for", "project_config",
           "project_setting", "refused", "requested_actor", "store_setting", "store_url",
           "usage_error", "when"]


def fail(message: str) -> UsageError:
    """A usage mistake: `raise fail(...)`; `specops` prints it as one line and exits 2."""
    return UsageError(message)


usage_error = fail   # the earlier name, kept for command modules written against it


def refused(message: str) -> int:
    """A refusal (a check said no, not a mistake): one line on stderr, exit code 1."""
    print(f"specops: refused: {message}", file=sys.stderr)
    return 1


class NotCompiled(Exception):
    """The project's specs have errors; they were printed already (unless quiet)."""


def compiled_plan(root: Path, args: argparse.Namespace, what: str, *,
                  report: bool = True) -> Any:
    """The project at `root` compiled now (with its `--var`s), as a runtime plan.

    Every warning and error is printed to stderr with `specops: <what> refused` when the
    specs do not compile (only when `report`); then NotCompiled is raised.
    """
    try:
        from specops.compiler import compile_project, parse_vars, report_errors
    except ImportError:
        raise fail("this installation cannot compile; pass --plan plan.json") from None
    from specops.runtime.engine.plan_reader import PlanError, parse_plan

    result = compile_project(root, parse_vars(getattr(args, "var", None)))
    if (report_errors(result, what) if report else result.errors) or result.plan is None:
        raise NotCompiled(what)
    try:
        return parse_plan(result.plan.data)
    except PlanError as exc:   # pragma: no cover - the compiler wrote a plan we cannot read
        raise fail(str(exc)) from None


def plan_for(root: Path, args: argparse.Namespace, what: str, *,
             report: bool = True) -> Any | None:
    """The plan a command acts on: `--plan plan.json` when given, else the project at
    `root` compiled now, else None (no specops.yaml there). Raises NotCompiled as
    `compiled_plan` does, and a usage error for an unreadable plan file."""
    from specops.runtime.engine.plan_reader import PlanError, load_plan

    if getattr(args, "plan", None):
        try:
            return load_plan(args.plan)
        except PlanError as exc:
            raise fail(str(exc)) from None
    if not (root / "specops.yaml").is_file():
        return None
    return compiled_plan(root, args, what, report=report)


def store_setting(args: argparse.Namespace, root: Path,
                  plan_store: str | None = None) -> str | None:
    """The store URL as configured, unresolved: `--store`, else $SPECOPS_STORE_URL, else
    the plan's, else specops.yaml's `store` (None: the default)."""
    return (getattr(args, "store", None) or os.environ.get("SPECOPS_STORE_URL")
            or plan_store or project_setting(root, "store"))


def store_url(args: argparse.Namespace, root: Path, plan_store: str | None = None) -> str:
    """`store_setting` resolved against the project (default `.specops/store.db`)."""
    from specops.runtime.store import resolve_url

    return resolve_url(store_setting(args, root, plan_store), root)


def requested_actor(args: argparse.Namespace, config: dict[str, Any]) -> str | None:
    """Who acts, as asked: `--as` (dest `actor`), else $SPECOPS_USER, else specops.yaml's
    `run_as` account (None: the OS user, decided by the governance identity)."""
    run_as = config.get("run_as")
    return (getattr(args, "actor", None) or os.environ.get("SPECOPS_USER")
            or (run_as if isinstance(run_as, str) and run_as else None))


def project_config(root: Path) -> dict[str, Any]:
    """specops.yaml as plain data ({} when absent or unreadable: lint reports why)."""
    cfg = root / "specops.yaml"
    if not cfg.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def project_setting(root: Path, key: str) -> str | None:
    """One string setting of specops.yaml (`store`, `artifacts`, `run_as`, ...)."""
    value = project_config(root).get(key)
    return value if isinstance(value, str) and value else None


def when(ts: float | None) -> str:
    """A stored timestamp for tables, in UTC."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ts else "-"
