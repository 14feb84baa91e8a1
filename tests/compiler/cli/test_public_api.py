"""The compiler's public API (`specops.compiler`): exactly these names, each the real
object, resolved lazily so that importing the package (every `specops lint`) stays cheap.

Why pinned: the runtime's command line and outside tools import only these names
(tests/test_boundaries.py); adding or dropping one is an API change and must show up here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import specops.compiler
from specops.compiler.cli import helpers
from specops.compiler.diagnostics import diagnostic
from specops.compiler.plan import compile as compile_module

PUBLIC = sorted([
    "CompileResult",
    "Diagnostic",
    "Severity",
    "UsageError",
    "compile_project",
    "parse_vars",
    "register_commands",
    "report_errors",
    "version",
])


def test_all_is_exactly_the_public_names_sorted() -> None:
    assert specops.compiler.__all__ == PUBLIC


def test_each_name_is_the_object_from_its_home() -> None:
    homes = {"CompileResult": compile_module, "compile_project": compile_module,
             "Diagnostic": diagnostic, "Severity": diagnostic}
    for name in PUBLIC:
        home = homes.get(name, helpers)
        assert getattr(specops.compiler, name) is getattr(home, name), name


def test_star_import_gives_the_public_names() -> None:
    scope: dict[str, object] = {}
    exec("from specops.compiler import *", scope)  # a fixed literal, not user input
    assert sorted(k for k in scope if not k.startswith("__")) == PUBLIC


def test_unknown_and_private_names_are_not_exported() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = specops.compiler.no_such_name  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        exec("from specops.compiler import lint_paths", {})
    assert set(PUBLIC) <= set(dir(specops.compiler))


def test_importing_the_package_loads_nothing_heavy_until_used() -> None:
    code = ("import sys, specops.compiler as c\n"
            "before = sorted(m for m in ('networkx', 'specops.compiler.plan.compile', "
            "'specops.runtime') if m in sys.modules)\n"
            "c.compile_project\n"
            "print(before, 'specops.compiler.plan.compile' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[] True"


def test_usage_error_is_one_class_under_python_m(tmp_path: object) -> None:
    """Under `python -m specops.compiler.cli.main` the entry module is `__main__`; a usage
    mistake raised by a command module must still be one line and exit 2."""
    proc = subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", "compile",
                           "/no/such/project"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "specops: error: no such file or directory: /no/such/project"


def test_parse_vars_and_version() -> None:
    assert specops.compiler.parse_vars(["a=1", "b = x=y", "a=2"]) == {"a": "2", "b": " x=y"}
    with pytest.raises(specops.compiler.UsageError, match="NAME=VALUE"):
        specops.compiler.parse_vars(["nope"])
    assert specops.compiler.version().count(".") >= 2
