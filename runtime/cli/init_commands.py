"""`specops init --from FILE --label COL [--protected a,b] [-o DIR]`: a governed project
from a data file, in one command.

Why a runtime command: the file is sniffed with polars and the runtime's own CSV reader
(runtime/data/sniff.py), so the types written are the types `load_source` will read, and
the compiler half imports no polars.

What it writes (runtime/data/init_specs.py says why each choice): specops.yaml with
placeholder people and the registry key, a source with the guessed reading options and
column types, a baseline model, a quality gate, a fairness gate for categorical protected
attributes, an approval rule, and `.gitignore`. The data file is copied to `data/`
unless it already lies inside the project (a source's path is relative to the project,
and lint refuses paths that leave it). With keys (the default) it makes an SSH ed25519
key per placeholder person in `.keys/` (private keys 0600, gitignored) and has the
placeholder reviewer accept the first trust root, so `specops run` registers, and
`approve` and `deploy` sign, at once; `--no-keys` leaves keys and acceptance to the user.

Safety: it reads only FILE (no glob, no neighbour), refuses to write into a folder that
already holds a project (specops.yaml or specs/), and writes nothing when any check fails.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import fail

__all__ = ["cmd_init", "register"]

_TASKS = ("binary_classification", "multiclass_classification", "regression")


def _target(args: argparse.Namespace, src: Path) -> Path:
    from specops.runtime.data.sniff import identifier

    out = Path(args.output) if args.output else Path.cwd() / identifier(src.stem)
    for existing in ("specops.yaml", "specs", *((".keys",) if args.keys else ())):
        if (out / existing).exists():
            raise fail(f"{out / existing} exists: init never overwrites a project (choose "
                       "another folder with -o)")
    if out.exists() and not out.is_dir():
        raise fail(f"{out} exists and is not a folder")
    return out


def _data_path(src: Path, out: Path) -> tuple[str, Path | None]:
    """(the source's path relative to the project, the copy to make or None)."""
    resolved, root = src.resolve(), out.resolve()
    if resolved.is_relative_to(root):
        return resolved.relative_to(root).as_posix(), None
    dest = out / "data" / src.name
    if dest.exists():
        raise fail(f"{dest} exists: init never overwrites data (choose another folder "
                   "with -o)")
    return f"data/{src.name}", dest


def _make_keys(out: Path) -> None:
    from specops.runtime.data.init_specs import PEOPLE
    from specops.runtime.trust.ssh_keys import create_keypair

    for name in PEOPLE:
        create_keypair(out / ".keys", name, f"{name}@{out.resolve().name}")


def _accept(out: Path) -> int:
    """The placeholder reviewer (a model risk officer, allowed to change policy) accepts
    the first trust root, as `specops policy accept` would."""
    from specops.runtime.cli.governance_commands import cmd_policy_accept

    return cmd_policy_accept(argparse.Namespace(
        plan=None, reason="first trust root, written by specops init", as_user="reviewer",
        key=str(out / ".keys" / "reviewer"), project=str(out), store=None, artifacts=None))


def cmd_init(args: argparse.Namespace) -> int:
    from specops.runtime.data.init_specs import InitError, choose, render_project
    from specops.runtime.data.sniff import SniffError, identifier, sniff_table

    src = Path(args.source)
    if not src.is_file():
        raise fail(f"--from {src}: no such file")
    if any(mark in src.name for mark in ("{{", "{%", "{#")):
        raise fail(f"--from {src.name}: rename the file: spec strings are templates, and "
                   "its name would be read as one")
    out = _target(args, src)
    rel, copy_to = _data_path(src, out)
    try:
        given = [n.strip() for n in args.columns.split(",")] if args.columns else None
        guess = sniff_table(src, given)
        protected = [p.strip() for p in (args.protected or "").split(",") if p.strip()]
        choices = choose(guess, args.label, protected, rel,
                         args.name or identifier(src.stem), args.task, args.timestamp)
        files = render_project(choices, guess, src.name, keys=args.keys)
    except (SniffError, InitError) as exc:
        raise fail(f"{src.name}: {exc}") from None
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name == ".gitignore" and path.exists():     # the user's: add what is missing
            have = set(path.read_text(encoding="utf-8").splitlines())
            extra = [ln for ln in text.splitlines() if ln and ln not in have]
            with path.open("a", encoding="utf-8") as f:
                f.write("".join(f"{ln}\n" for ln in ["", *extra] if extra))
            continue
        path.write_text(text, encoding="utf-8")
    if copy_to is not None:
        copy_to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, copy_to)
    print(f"wrote {out}: {choices.task} of {choices.label.name} from "
          f"{len(choices.features)} features ({guess.rows} rows)")
    for column, why in choices.skipped.items():
        print(f"  not a feature: {column} ({why})")
    if args.keys:
        _make_keys(out)
        if _accept(out) != 0:
            print("specops: init: the trust root was not accepted; run `specops policy "
                  "accept` in the project", file=sys.stderr)
            return 1
    print(f"next: specops lint {out} && specops run {out}")
    return 0


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("init", help="write a governed project from a data file (csv or "
                                    "parquet): types, model, gates, approval")
    p.add_argument("--from", dest="source", required=True, metavar="FILE",
                   help="the data file: csv-like text (delimiter, header, null markers and "
                        "encoding are sniffed) or .parquet")
    p.add_argument("--label", required=True, metavar="COL",
                   help="the column to predict (a name, or a 1-based position for a "
                        "headerless file)")
    p.add_argument("--protected", metavar="A,B",
                   help="protected attributes: never inputs, checked for fairness")
    p.add_argument("--timestamp", metavar="COL",
                   help="the event-time column (date or datetime): the source's `timestamp` "
                        "and a time split (default: none, a stratified split)")
    p.add_argument("--columns", metavar="A,B,...",
                   help="the file's column names in order (a headerless file's, or to "
                        "replace its header's)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="project folder (default: ./<file name>); never overwritten")
    p.add_argument("--name", help="project name (default: from the file name)")
    p.add_argument("--task", choices=_TASKS, help="override the guessed task")
    p.add_argument("--no-keys", dest="keys", action="store_false",
                   help="make no placeholder keys and accept no trust root")
    p.set_defaults(func=cmd_init)
