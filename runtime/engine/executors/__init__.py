"""Executors: where an op call runs. `inline` here; `ray` imported only when asked for."""

from __future__ import annotations

from specops.runtime.engine.executors.base import Executor, ExecutorError, Task, TaskOutcome
from specops.runtime.engine.executors.inline import InlineExecutor

__all__ = ["EXECUTORS", "Executor", "ExecutorError", "InlineExecutor", "Task", "TaskOutcome",
           "make_executor"]

EXECUTORS = ("ray", "inline")


def make_executor(name: str, address: str | None = None) -> Executor:
    """An executor by name; importing Ray only for `ray`."""
    if name == "inline":
        return InlineExecutor()
    if name == "ray":
        try:
            from specops.runtime.engine.executors.ray_executor import RayExecutor
        except ImportError as exc:
            raise ExecutorError(f"the ray executor needs Ray ({exc}); install specops[runtime] "
                                "or use --executor inline") from None

        return RayExecutor(address=address)
    raise ValueError(f"unknown executor {name!r} (choose from {', '.join(EXECUTORS)})")
