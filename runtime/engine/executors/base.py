"""The executor interface: init / submit / wait / finalize (Hamilton's TaskExecutor).

Why this small: the run loop (`run.py`) owns scheduling, caching, artifacts and the store;
an executor only runs one op call somewhere and reports how it went. Retrying belongs to
the executor, because only it can tell a worker that died (retry, with backoff) from an op
that failed (`OpError`: the user's problem, never retried).

`execute_task` is what runs on the worker: it resolves the op by name, gives it a clean
output directory and turns every exception into a `TaskOutcome`, so nothing but plain
data crosses the process boundary.
"""

from __future__ import annotations

import abc
import shutil
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Literal

from specops.runtime.engine.op_interface import OpContext, OpError, OpResult
from specops.runtime.engine.op_registry import resolve_op

__all__ = ["Executor", "ExecutorError", "FailureKind", "Task", "TaskOutcome", "backoff_delay",
           "execute_task"]

FailureKind = Literal["user", "internal", "system"]


class ExecutorError(RuntimeError):
    """The executor could not start (no cluster at that address, Ray not installed)."""


@dataclass(frozen=True)
class Task:
    """One node to run: the op's context plus how to run it."""

    ctx: OpContext
    max_attempts: int = 1
    backoff_s: float = 1.0

    @property
    def node_id(self) -> str:
        return self.ctx.node_id


@dataclass
class TaskOutcome:
    node_id: str
    ok: bool
    result: OpResult | None = None
    error: str = ""                       # one line: the cause shown to the user
    kind: FailureKind | None = None       # why it failed: user (OpError), internal, system
    traceback: str = ""                   # internal/system errors only
    attempts: int = 1
    duration_s: float = 0.0
    report: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)   # causes of earlier attempts


def backoff_delay(backoff_s: float, attempt: int) -> float:
    """Exponential: backoff_s, 2x, 4x, ... after attempts 1, 2, 3 (capped at 60 s)."""
    return min(60.0, float(backoff_s) * 2.0 ** max(0, attempt - 1))


def execute_task(ctx: OpContext) -> TaskOutcome:
    """Run one attempt of an op (on whatever process the executor chose)."""
    started = time.perf_counter()
    try:
        if ctx.out_dir.exists():          # a retry starts from an empty directory
            shutil.rmtree(ctx.out_dir)
        ctx.out_dir.mkdir(parents=True)
        result = resolve_op(ctx.op)(ctx)
        if not isinstance(result, OpResult):
            raise TypeError(f"op {ctx.op} returned {type(result).__name__}, not OpResult")
        return TaskOutcome(ctx.node_id, True, result=result,
                           duration_s=time.perf_counter() - started)
    except OpError as exc:
        return TaskOutcome(ctx.node_id, False, error=str(exc) or type(exc).__name__,
                           kind="user", report=exc.report,
                           duration_s=time.perf_counter() - started)
    except Exception as exc:
        return TaskOutcome(ctx.node_id, False, error=f"{type(exc).__name__}: {exc}",
                           kind="internal", traceback=traceback.format_exc(),
                           duration_s=time.perf_counter() - started)


class Executor(abc.ABC):
    """Runs tasks; the run loop calls init, then submit/wait until done, then finalize."""

    name: str = "executor"

    def init(self) -> None:  # noqa: B027 - optional hook
        """Acquire resources (start or join a cluster)."""

    @abc.abstractmethod
    def submit(self, task: Task) -> None:
        """Start `task` (may return before it runs)."""

    @abc.abstractmethod
    def wait(self) -> list[TaskOutcome]:
        """Block until at least one submitted task has a final outcome (retries already
        spent) and return every outcome available; `[]` when nothing is in flight."""

    @abc.abstractmethod
    def pending(self) -> int:
        """Tasks submitted whose final outcome has not been returned by `wait` yet."""

    def finalize(self) -> None:  # noqa: B027 - optional hook
        """Release what `init` acquired."""

    def describe(self) -> str:
        return self.name
