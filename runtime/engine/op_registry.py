"""The op registry: plan op name -> the function that runs it.

Why strings, resolved lazily: the plan names ops, and a worker only needs to import the
module of the op it runs (`train` pulls scikit-learn, `load_source` pulls polars). Importing
nothing up front keeps `specops run --help` and the scheduler tests fast.

Why a fixed table plus a convention, so nobody has to edit a shared file:
- `OPS` below names every op in docs/plan.md as `"module:function"`, taken from the op
  catalog (`contract/op_catalog.py`, the `runtime` of each row), so a new plan op is
  registered where it is declared; each op lives in the folder of its domain (`data/`,
  `training/`, `evaluation/`, `registry/`, ...).
- An op missing from the table is unknown: the plan is refused before anything runs.
- `register_op(name, fn)` adds one at run time (tests, plugins). It only lives in the
  current process: ops that must run on Ray workers belong in an importable module.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable

from specops.contract.op_catalog import OPS as CATALOG
from specops.runtime.engine.op_interface import Op, OpContext, OpError, OpResult

__all__ = ["OPS", "Op", "OpContext", "OpError", "OpResult", "UnknownOpError", "check_ops",
           "op_target", "register_op", "resolve_op"]

_RT = "specops.runtime"

OPS: dict[str, str] = {
    **{op: info.runtime for op, info in CATALOG.items()},
    # Built in: the no-op and the ops the runtime's own tests and debugging use.
    "noop": f"{_RT}.engine.debug_ops:noop",
    "test.write": f"{_RT}.engine.debug_ops:write",
    "test.sleep": f"{_RT}.engine.debug_ops:sleep",
    "test.fail": f"{_RT}.engine.debug_ops:fail",
    "test.crash": f"{_RT}.engine.debug_ops:crash",
    "test.read_file": f"{_RT}.engine.debug_ops:read_file",
    "test.fanout": f"{_RT}.engine.debug_ops:fanout",
}

_RUNTIME_OPS: dict[str, Op] = {}


class UnknownOpError(LookupError):
    """The plan names an op this runtime cannot find (a plan newer than the runtime, or a
    missing runtime module)."""


def register_op(name: str, fn: Op) -> None:
    """Register `fn` under `name` in this process (overrides the table)."""
    _RUNTIME_OPS[name] = fn


def op_target(name: str) -> str:
    """`"module:function"` for `name`: the table entry, or the naming convention."""
    if name in OPS:
        return OPS[name]
    raise UnknownOpError(f"unknown op {name!r}")


def resolve_op(name: str) -> Op:
    """The callable for `name`, importing its module on first use."""
    if name in _RUNTIME_OPS:
        return _RUNTIME_OPS[name]
    module_name, _, attr = op_target(name).partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise UnknownOpError(f"unknown op {name!r}: module {module_name} does not "
                                 "exist in this runtime") from None
        raise
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise UnknownOpError(f"unknown op {name!r}: {module_name} has no function {attr}")
    return fn  # type: ignore[no-any-return,unused-ignore]


def check_ops(names: Iterable[str]) -> dict[str, str]:
    """Ops among `names` that cannot be found, with why, without importing any module
    (so a plan is checked before anything runs, and cheaply)."""
    problems: dict[str, str] = {}
    for name in sorted(set(names)):
        if name in _RUNTIME_OPS:
            continue
        try:
            module_name = op_target(name).partition(":")[0]
            if importlib.util.find_spec(module_name) is None:
                problems[name] = f"module {module_name} does not exist in this runtime"
        except UnknownOpError as exc:
            problems[name] = str(exc)
        except ModuleNotFoundError as exc:
            problems[name] = f"module {exc.name} does not exist in this runtime"
    return problems
