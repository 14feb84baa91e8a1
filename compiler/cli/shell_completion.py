"""`specops completion bash|zsh|fish`: print a shell completion script for every command.

    specops completion bash > ~/.local/share/bash-completion/completions/specops
    specops completion zsh > "${fpath[1]}/_specops"
    specops completion fish > ~/.config/fish/completions/specops.fish

Why generated from the parser (with shtab) and not written by hand: the script then knows
every command, sub-command, option and choice of this installation, the runtime's and
any added later included, and cannot drift from them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from specops.compiler.cli.helpers import AddCommon

__all__ = ["SHELLS", "cmd_completion", "completion_script", "register"]

SHELLS = ("bash", "zsh", "fish")

# arguments that name files or folders, by destination (the command modules stay free of
# completion details); everything else completes only its choices
_FILES = frozenset({"path", "paths", "old", "new", "plan", "output", "input", "labels",
                    "current", "alerts_json", "export_inputs"})
_FOLDERS = frozenset({"project", "out", "log_dir"})


def _mark_paths(parser: argparse.ArgumentParser) -> None:
    import shtab

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                _mark_paths(child)
        elif action.dest in _FILES:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif action.dest in _FOLDERS:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]


def completion_script(shell: str) -> str:
    """The completion script for `shell`, covering every command installed here."""
    import shtab

    from specops.compiler.cli.main import build_parser

    parser = build_parser()
    _mark_paths(parser)
    script: str = shtab.complete(parser, shell=shell)
    return script if script.endswith("\n") else script + "\n"


def cmd_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(completion_script(args.shell))
    return 0


def register(sub: Any, add_common: AddCommon) -> None:
    """Add `completion` to the CLI."""
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh, fish)",
                       description="Print a completion script for every specops command. "
                       "bash: `specops completion bash > ~/.local/share/bash-completion/"
                       "completions/specops`; zsh: `specops completion zsh > "
                       "\"${fpath[1]}/_specops\"`; fish: `specops completion fish > "
                       "~/.config/fish/completions/specops.fish`.")
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=cmd_completion)
