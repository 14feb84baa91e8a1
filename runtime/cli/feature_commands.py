"""`specops materialize` and `specops push`: feed the online store (issue 16).

`materialize PROJECT [--select VIEW] [--until T] [--full] [--online-store URL]` writes each
entity's latest point-in-time-correct values as of T (default now) for every entity view
(runtime/store/online/materialize.py) and prints one line per view: entities written and
seconds. `push VIEW FILE [PROJECT]` computes the view on the rows of FILE (parquet or
csv, read as the view's source) and upserts them (runtime/store/online/push.py).

The online store URL: `--online-store`, else $SPECOPS_ONLINE_STORE, else specops.yaml's
`online_store:`, else `<project>/.specops/online.sqlite`. Exit codes: 0 done; 1 the store
is unreachable, the views could not be computed or the file was refused (one line); 2 a
usage mistake (bad --until, unknown view, specs that do not compile are 1 as in `run`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import NotCompiled, compiled_plan, fail, store_setting

__all__ = ["cmd_materialize", "cmd_push", "parse_until", "register"]


def parse_until(text: str | None) -> int | None:
    """`--until` as UTC microseconds: ISO-8601 date or date-time (naive means UTC), or
    `now`; None when not given."""
    if text is None or text == "now":
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"--until {text!r}: expected an ISO-8601 date or date-time, e.g. "
                   "2025-01-31 or 2025-01-31T12:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _root(path: str | None) -> Path:
    if path and not Path(path).exists():
        raise fail(f"no such file or directory: {path}")
    root = Path(path or ".").resolve()
    root = root.parent if root.is_file() else root
    if not (root / "specops.yaml").is_file():
        raise fail(f"no specops.yaml in {root}")
    return root


def _open(args: argparse.Namespace, root: Path) -> Any:
    from specops.runtime.store.online import (
        OnlineStoreError,
        open_online_store,
        resolve_online_url,
    )

    try:
        return open_online_store(resolve_online_url(args.online_store, root), root)
    except OnlineStoreError as exc:
        print(f"specops: {exc}", file=sys.stderr)
        return None


def cmd_materialize(args: argparse.Namespace) -> int:
    from specops.runtime.store import StoreError
    from specops.runtime.store.online import OnlineStoreError
    from specops.runtime.store.online.materialize import MaterializeError, materialize

    root = _root(args.path)
    until = parse_until(args.until)
    try:
        plan = compiled_plan(root, args, "materialize")
    except NotCompiled:
        return 1
    store = _open(args, root)
    if store is None:
        return 1
    select = [s.strip() for s in (args.select or "").split(",") if s.strip()] or None
    try:
        reports = materialize(plan, root, store, select=select, until_us=until,
                              full=args.full,
                              run_store_url=_run_store(args, root, plan.project.store))
    except MaterializeError as exc:
        if str(exc).startswith("--select"):
            raise fail(str(exc)) from None
        print(f"specops: materialize refused: {exc}", file=sys.stderr)
        return 1
    except (OnlineStoreError, StoreError) as exc:
        print(f"specops: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    if args.json:
        print(json.dumps([{"view": r.view, "written": r.written, "entities": r.entities,
                           "seconds": round(r.seconds, 4), "until_us": r.until_us,
                           "watermark_us": r.watermark_us, "skipped": r.skipped or None}
                          for r in reports], indent=2))
        return 0
    if not reports:
        print("no entity views to materialize (views on a model's spine are computed from "
              "the request at serving time)")
    for r in reports:
        if r.skipped:
            print(f"{r.view}: skipped ({r.skipped})")
        else:
            print(f"{r.view}: {r.written} entities written ({r.entities} with new rows) "
                  f"in {r.seconds:.2f}s")
    return 0


def _run_store(args: argparse.Namespace, root: Path, plan_store: str | None) -> str:
    from specops.runtime.store import resolve_url

    return resolve_url(store_setting(args, root, plan_store), root)


def cmd_push(args: argparse.Namespace) -> int:
    from specops.runtime.store.online import OnlineStoreError
    from specops.runtime.store.online.push import PushError, push_file

    root = _root(args.path)
    try:
        plan = compiled_plan(root, args, "push")
    except NotCompiled:
        return 1
    store = _open(args, root)
    if store is None:
        return 1
    try:
        n = push_file(store, plan, args.view, Path(args.file), root)
    except (PushError, OnlineStoreError) as exc:
        print(f"specops: push refused: {exc}" if isinstance(exc, PushError)
              else f"specops: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"{args.view}: {n} entities written")
    return 0


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    url_help = ("online store URL: sqlite:///PATH or redis://HOST:PORT/DB (default: "
                "$SPECOPS_ONLINE_STORE, else specops.yaml online_store, else "
                ".specops/online.sqlite)")
    p = sub.add_parser("materialize", help="write each entity's latest feature values as "
                       "of a time into the online store")
    p.add_argument("path", nargs="?", help="project folder (default: .)")
    p.add_argument("--select", help="entity views (name@version), comma-separated; "
                   "default all")
    p.add_argument("--until", help="as of this time (ISO-8601, naive is UTC; default now)")
    p.add_argument("--full", action="store_true", help="ignore the watermark: recompute "
                   "every entity, not only those with rows newer than the last run")
    p.add_argument("--online-store", help=url_help)
    p.add_argument("--store", help="run store URL (default: the project's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_common(p)
    p.set_defaults(func=cmd_materialize)

    p = sub.add_parser("push", help="compute a view on fresh source rows from a file and "
                       "write them to the online store")
    p.add_argument("view", help="entity view, name@version")
    p.add_argument("file", help="parquet or csv file with the view's source columns")
    p.add_argument("path", nargs="?", help="project folder (default: .)")
    p.add_argument("--online-store", help=url_help)
    add_common(p)
    p.set_defaults(func=cmd_push)
