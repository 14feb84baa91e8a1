"""The runtime's command line: `run`, `runs`, `models`, `reproduce`, governance, `serve`,
`predict`, `monitor`, and whatever command modules are added here.

How a command gets onto `specops`: this package's `register` is the `runtime` entry point
of the `specops.commands` group (pyproject.toml), and registers every module of this
package that defines `register(sub, add_common)`, found by listing the package (no list to
edit: adding `foo_commands.py` with a `register` is enough). Modules are visited in name
order; a module that builds on another's commands (`runs compare` under `runs`, the
staging check around `deploy`) does that in `extend(sub, add_common)`, called after every
`register`. Command modules import nothing heavy at module level (the parser is built for
every command) and use the compiler only through its public API (`specops.compiler`).

Why importing this package checks the runtime's dependencies: without the runtime extra
(`pip install specops`, no `[runtime]`) the commands would be listed and then crash
inside with an ImportError; failing here with ModuleNotFoundError makes `specops` skip
them and say in one line that they need `specops[runtime]`.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable
from typing import Any

from specops.compiler import register_commands

__all__ = ["register"]

# one import name per heavy dependency the commands cannot work without (pyproject's
# `runtime` extra); find_spec locates them without importing them
_NEEDS = ("sqlalchemy", "polars", "numpy", "sklearn", "cryptography", "ray")

for _name in _NEEDS:
    if importlib.util.find_spec(_name) is None:
        raise ModuleNotFoundError(f"No module named {_name!r} (the runtime commands need "
                                  "specops[runtime])", name=_name)


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Entry point `specops.commands: runtime`: add every runtime command module."""
    register_commands(__name__, sub, add_common)
