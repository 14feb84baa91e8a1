"""Executors: where an op call runs. `inline` here; `ray` imported only when asked for."""

from __future__ import annotations

from specops.runtime.engine.executors.base import Executor, ExecutorError, Task, TaskOutcome
from specops.runtime.engine.executors.inline import InlineExecutor

__all__ = ["EXECUTORS", "Executor", "ExecutorError", "InlineExecutor", "LazyRay", "Task",
           "TaskOutcome", "make_executor"]

EXECUTORS = ("ray", "inline")


def _ray_executor(address: str | None) -> Executor:
    try:
        from specops.runtime.engine.executors.ray_executor import RayExecutor
    except ImportError as exc:
        raise ExecutorError(f"the ray executor needs Ray ({exc}); install specops[runtime] "
                            "or use --executor inline") from None
    return RayExecutor(address=address)


class LazyRay(Executor):
    """The Ray executor, imported on first use. Why: importing Ray costs seconds, and a
    run that is all cache hits (the second `specops run` of an unchanged project) needs
    neither Ray's start nor its import. Joining a cluster (`--address`) imports it at
    `init`, as the user asked for that cluster."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.real: Executor | None = None

    def _load(self) -> Executor:
        if self.real is None:
            real = _ray_executor(self.address)
            real.init()   # joins a given cluster; a local Ray starts on its first task
            self.real = real
        return self.real

    def init(self) -> None:
        if self.address:
            self._load()

    def submit(self, task: Task) -> None:
        self._load().submit(task)

    def wait(self) -> list[TaskOutcome]:
        return self.real.wait() if self.real is not None else []

    def pending(self) -> int:
        return self.real.pending() if self.real is not None else 0

    def finalize(self) -> None:
        if self.real is not None:
            self.real.finalize()

    def describe(self) -> str:
        if self.real is not None:
            return self.real.describe()
        return f"ray ({self.address or 'local'}, not started: nothing to compute)"


def make_executor(name: str, address: str | None = None) -> Executor:
    """An executor by name; importing Ray only for `ray`, and only once it is needed."""
    if name == "inline":
        return InlineExecutor()
    if name == "ray":
        return LazyRay(address)
    raise ValueError(f"unknown executor {name!r} (choose from {', '.join(EXECUTORS)})")
