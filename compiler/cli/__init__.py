"""The compiler's command line: `lint` and `rules` (in `main`, the `specops` entry point),
`compile`, `graph`, `explain`, `diff`, `schema` and `completion`.

How commands get onto `specops`: `main` builds an argparse parser and calls the `register`
of every entry point in the `specops.commands` group (pyproject.toml), in name order:
`compiler` is this package's `register`, `runtime` is `specops.runtime.cli.register`. A
package's `register` adds every module of it that defines `register(sub, add_common)`
(`specops.compiler.register_commands`), so a new command module needs no edit elsewhere.
`lint` and `rules` skip all of this: a pre-commit hook must not pay for loading the
runtime.

Why argparse and not click or typer: every command module of both halves (and those other
teams add) registers into argparse sub-parsers, the tests and the pre-commit hook check
commands with the real parser, and `specops completion bash|zsh|fish` generates shell
completion from that same parser (shtab for bash and zsh), so a move would buy per-command
help and completion we already have, at the cost of rewriting every command at once.
"""

from __future__ import annotations

from typing import Any

from specops.compiler.cli.helpers import AddCommon, register_commands

__all__ = ["register"]


def register(sub: Any, add_common: AddCommon) -> None:
    """Entry point `specops.commands: compiler`: add this package's extension commands."""
    register_commands(__name__, sub, add_common)
