"""`specops schema`: write (or with --check, verify) the JSON Schemas for spec files.

Why a command and not only a test: contributors changing a spec model regenerate with one
command, and CI or a pre-commit hook can run `specops schema --check` to catch stale
schemas without running the test suite.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["cmd_schema", "register"]


def cmd_schema(args: argparse.Namespace) -> int:
    # Imported here so that building the parser for `specops lint` stays cheap.
    from specops.compiler.kinds.schema_gen import check_schemas, default_schema_dir, write_schemas

    out = Path(args.out) if args.out else default_schema_dir()
    if args.check:
        stale = check_schemas(out)
        if stale:
            for name in stale:
                print(f"{out / name}: stale or missing", file=sys.stderr)
            print("run `specops schema` to regenerate", file=sys.stderr)
            return 1
        print(f"schemas in {out} are up to date", file=sys.stderr)
        return 0
    written = write_schemas(out)
    for path in written:
        print(path)
    if not written:
        print(f"schemas in {out} are up to date", file=sys.stderr)
    return 0


def register(subparsers: Any,
             add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `schema` to the CLI."""
    p = subparsers.add_parser("schema", help="write the JSON Schemas for spec files",
                              description="Generate JSON Schemas (draft 2020-12) for every "
                              "spec kind, specops.yaml, and all kinds combined.")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if any schema is stale or missing")
    p.add_argument("--out", metavar="DIR",
                   help="folder for the .schema.json files (default: the installed "
                        "specops.schemas package, i.e. schemas/ in a checkout)")
    p.set_defaults(func=cmd_schema)
