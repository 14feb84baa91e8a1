"""The compiler's public API: the names below are what code outside the compiler (the
runtime's command line, tools, notebooks) may import, and only from here
(`from specops.compiler import compile_project`). Every other module under
`specops.compiler` is internal and may change without notice; tests/test_boundaries.py
holds the runtime to this, and tests/compiler/cli/test_public_api.py pins the list.

Why the names resolve lazily (PEP 562): `specops lint` runs in pre-commit hooks and
imports this package first; `compile_project` pulls in networkx and the plan builder, which
a lint never needs. Type checkers see the plain imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if __name__ != "specops.compiler":  # pragma: no cover - `compiler/` imported as a top-level package
    raise ImportError(f"import specops.compiler, not the folder compiler/ as {__name__!r}")

if TYPE_CHECKING:
    from specops.compiler.cli.helpers import (
        UsageError,
        parse_vars,
        register_commands,
        report_errors,
        version,
    )
    from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity
    from specops.compiler.plan.compile import CompileResult, compile_project

__all__ = [
    "CompileResult",
    "Diagnostic",
    "Severity",
    "UsageError",
    "compile_project",
    "parse_vars",
    "register_commands",
    "report_errors",
    "version",
]

_HOMES = {
    "CompileResult": "specops.compiler.plan.compile",
    "Diagnostic": "specops.compiler.diagnostics.diagnostic",
    "Severity": "specops.compiler.diagnostics.diagnostic",
    "UsageError": "specops.compiler.cli.helpers",
    "compile_project": "specops.compiler.plan.compile",
    "parse_vars": "specops.compiler.cli.helpers",
    "register_commands": "specops.compiler.cli.helpers",
    "report_errors": "specops.compiler.cli.helpers",
    "version": "specops.compiler.cli.helpers",
}

if not TYPE_CHECKING:
    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'specops.compiler' has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value   # resolve once
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
