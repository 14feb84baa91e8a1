"""The inline executor: runs each task in the driver process, one at a time.

Why: tests and debugging (a breakpoint in an op just works), and a reference the Ray
executor must agree with — same `execute_task`, same retry rule, so the same plan gives
the same outputs. Internal errors are retried with backoff like on Ray; `OpError` is not.
"""

from __future__ import annotations

import time
from collections import deque

from specops.runtime.engine.executors.base import (
    Executor,
    Task,
    TaskOutcome,
    backoff_delay,
    execute_task,
)

__all__ = ["InlineExecutor"]


class InlineExecutor(Executor):
    name = "inline"

    def __init__(self, sleep: bool = True) -> None:
        self._queue: deque[Task] = deque()
        self._sleep = sleep

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    def pending(self) -> int:
        return len(self._queue)

    def wait(self) -> list[TaskOutcome]:
        if not self._queue:
            return []
        task = self._queue.popleft()
        history: list[str] = []
        total = 0.0
        attempt = 1
        while True:
            outcome = execute_task(task.ctx)
            total += outcome.duration_s
            if outcome.ok or outcome.kind == "user" or attempt >= task.max_attempts:
                break
            history.append(outcome.error)
            if self._sleep:
                time.sleep(backoff_delay(task.backoff_s, attempt))
            attempt += 1
        outcome.attempts, outcome.history, outcome.duration_s = attempt, history, total
        return [outcome]
