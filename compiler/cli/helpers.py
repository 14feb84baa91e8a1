"""What every `specops` command shares, whichever half defines it: the usage-error class,
`--var` parsing, the version, how compile errors are reported, and how a package of
command modules registers itself.

Why one module, re-exported from the package root (`specops.compiler`): the runtime's
command line may use only the compiler's public API, and these are exactly the pieces it
needs. Why not in `main.py`: under `python -m specops.compiler.cli.main` that module is
`__main__`, so a `UsageError` defined there would be a different class from the one the
command modules raise, and `main` would print their mistakes as crashes.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from specops.compiler.plan.compile import CompileResult

__all__ = ["AddCommon", "UsageError", "existing", "parse_vars", "register_commands",
           "report_errors", "version", "write_output"]

AddCommon = Callable[[argparse.ArgumentParser], None]


class UsageError(Exception):
    """A mistake on the command line: `specops` prints `specops: error: <message>` (one
    line, no traceback) and exits 2. Raise it from any command, in either half."""


def version() -> str:
    """The installed specops version (0.0.0 when running from an uninstalled checkout)."""
    from importlib import metadata

    try:
        return metadata.version("specops")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0.0.0"


def parse_vars(items: Sequence[str] | None) -> dict[str, str]:
    """`--var NAME=VALUE` options as a dict (the last one of a name wins)."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise UsageError(f"--var expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def existing(path: str | None) -> Path:
    """A path the user named (default: the current folder), which must exist."""
    p = Path(path or ".")
    if not p.exists():
        raise UsageError(f"no such file or directory: {p}")
    return p


def write_output(text: str, output: str | None) -> None:
    """Write a command's result to `-o FILE`, else to stdout."""
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)


def report_errors(result: CompileResult, what: str) -> int:
    """Print every warning and error of a compile in the `full` format to stderr, then
    `specops: <what> refused: N errors`; return 1 if any is an error, else 0 (and print
    nothing). `what` names the refused action: compile, run, graph, ..."""
    if not result.errors:
        return 0
    from specops.compiler.diagnostics.diagnostic import Severity
    from specops.compiler.diagnostics.formats import render

    shown = [d for d in result.diagnostics if d.severity >= Severity.WARNING]
    sys.stderr.write(render("full", shown, result.lint.sources(), version()))
    n = len(result.errors)
    print(f"specops: {what} refused: {n} error{'s' * (n != 1)}", file=sys.stderr)
    return 1


def register_commands(package: str, sub: Any, add_common: AddCommon) -> None:
    """Register every command module of `package` (a cli package of either half).

    Each module that defines `register(sub, add_common)` adds its commands; modules are
    visited in name order, and a module whose commands build on another module's (a
    sub-command added to `runs`, a wrapper around `deploy`) does that in an optional
    `extend(sub, add_common)`, called after every module of the package registered.
    Why discovery and not a list: a new command module is picked up by adding the file,
    with no registry to edit (and none to forget). Modules must import nothing heavy at
    module level: the parser is built for every command but `lint` and `rules`.
    """
    pkg = importlib.import_module(package)
    modules = [importlib.import_module(f"{package}.{info.name}")
               for info in pkgutil.iter_modules(pkg.__path__)
               if not info.ispkg and not info.name.startswith("_")]
    for module in modules:
        if callable(reg := getattr(module, "register", None)):
            reg(sub, add_common)
    for module in modules:
        if callable(ext := getattr(module, "extend", None)):
            ext(sub, add_common)
