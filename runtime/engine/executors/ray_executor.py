"""The Ray executor: each node runs as one Ray task, placed by the plan's resources.

Why this is the only module that imports `ray`: the compiler, the scheduler tests and the
inline executor must work without starting (or even importing) Ray, which costs ~15 s here.

- No address: start a private local Ray (`address="local"`, so a `ray start` cluster that
  happens to run on the same machine is never joined by accident). `--address host:port`
  or `ray://host:10001` joins an existing cluster (a shared filesystem holds the project
  and its artifacts). If Ray is already initialised in this process (tests), it is reused.
- Resources: `num_cpus`, `num_gpus` and `memory_mb` from the node become Ray task options,
  capped at what the largest live node offers, so a plan written for a big cluster still
  runs on a laptop instead of waiting forever for an infeasible placement.
- Retries: Ray's own retries are off (`max_retries=0`) because they have no backoff.
  A worker that died or a lost node (a `RayError`) and an internal op error are retried
  after `backoff_s * 2**(attempt-1)` seconds up to `max_attempts`; an `OpError` is the
  user's failure and is reported at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

# Under `uv run`, Ray 2.60 otherwise starts every worker through `uv run` in a zipped copy
# of the working directory (the project's data included) with a freshly built venv. The
# driver's environment is already the one the workers need.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

import ray
from ray import exceptions as ray_exceptions

from specops.runtime.engine.executors.base import (
    Executor,
    ExecutorError,
    Task,
    TaskOutcome,
    backoff_delay,
    execute_task,
)
from specops.runtime.engine.op_interface import OpContext

__all__ = ["RayExecutor", "ray_map"]


def _run(ctx: OpContext) -> TaskOutcome:
    return execute_task(ctx)


def ray_map(fn: Callable[[Any], Any], items: list[Any], num_cpus: int = 1) -> list[Any]:
    """Fan `fn` out over `items` as Ray tasks from inside an op (`ctx.extra["map"]`)."""
    remote = ray.remote(num_cpus=num_cpus, max_retries=3)(fn)
    return list(ray.get([remote.remote(item) for item in items]))


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, not minutes, when nothing listens at a `host:port` address (Ray
    itself keeps retrying for several minutes)."""
    if "://" in address or address in ("auto", "local"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorError(f"bad Ray address {address!r} (expected host:port or "
                            "ray://host:10001)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ExecutorError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); "
                            "start one with `ray start --head` or leave out --address "
                            "to run on a local Ray") from None


def _use_token_if_available() -> None:
    """Send this machine's Ray token when joining a cluster by address.

    Ray turns token auth on for clusters started where a token exists (~/.ray/auth_token or
    RAY_AUTH_TOKEN) but, given an explicit address, a driver only sends one when
    RAY_AUTH_MODE=token. Unless the user chose a mode, do what `ray start` does: use the
    token if there is one. (A cluster without auth ignores it.)
    """
    if os.environ.get("RAY_AUTH_MODE") is not None:
        return
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # another Ray version: leave it to Ray
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


@dataclasses.dataclass
class _Flight:
    task: Task
    attempt: int
    history: list[str]
    duration_s: float


_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
START_ATTEMPTS = 2      # a loaded machine sometimes misses Ray's start-up deadlines once


def _init_with_retry(kwargs: dict[str, Any]) -> None:
    """`ray.init`, tried again once after a failed start; a start that still fails is an
    `ExecutorError` ("could not start Ray: CAUSE"), which `specops run` prints as one line
    (exit 2) and records as a failed run, never as a bug in specops.

    Ray's notice that token authentication is on (printed by every local start when
    RAY_AUTH_MODE is unset) is silenced: the behaviour stays Ray's default (a private
    local cluster with a token), and docs/runtime.md says how to choose otherwise."""
    last: Exception | None = None
    for attempt in range(START_ATTEMPTS):
        try:
            ray.init(**kwargs)
            return
        except Exception as exc:   # Ray raises many kinds (RuntimeError, ConnectionError)
            last = exc
            with contextlib.suppress(Exception):
                ray.shutdown()
            if attempt + 1 < START_ATTEMPTS:
                time.sleep(2.0)
    first = (str(last).strip().splitlines() or [type(last).__name__])[0]
    raise ExecutorError(f"could not start Ray: {first}") from last


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 **init_kwargs: Any) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.init_kwargs = init_kwargs
        self._owned = False
        self._remote: Any = None
        self._inflight: dict[Any, _Flight] = {}
        self._delayed: list[tuple[float, int, _Flight]] = []
        self._seq = itertools.count()
        self._max_cpu = 0.0
        self._max_mem = 0.0
        self._nodes = 0

    def init(self) -> None:
        """Join a given cluster now (fast, and the user asked for it); a *local* Ray starts
        on the first submitted task instead, so a run that is all cache hits never pays
        Ray's start-up (about 15 s on a 2-core machine)."""
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if self.address:
            _check_reachable(self.address)
            self._start()

    def _start(self) -> None:
        if self._remote is not None:
            return
        if not ray.is_initialized():
            logging.getLogger(_AUTH_LOGGER).setLevel(logging.ERROR)   # see _init_with_retry
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "configure_logging": False,
                                      **self.init_kwargs}
            if not self.address:
                kwargs["address"] = "local"
                if self.num_cpus is not None:
                    kwargs["num_cpus"] = self.num_cpus
            else:
                kwargs["address"] = self.address
                _use_token_if_available()
            _init_with_retry(kwargs)
            self._owned = True
        self._remote = ray.remote(max_retries=0)(_run)
        alive = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
        self._nodes = len(alive)
        self._max_cpu = max((n["Resources"].get("CPU", 0.0) for n in alive), default=1.0)
        self._max_mem = max((n["Resources"].get("memory", 0.0) for n in alive), default=0.0)

    def describe(self) -> str:
        where = self.address or "local"
        if self._remote is None:
            return f"ray ({where}, not started: nothing to compute)"
        return f"ray ({where}, {self._nodes} node{'s' * (self._nodes != 1)})"

    def _options(self, resources: dict[str, Any]) -> dict[str, Any]:
        cpus = float(resources.get("num_cpus", 1) or 0)
        opts: dict[str, Any] = {"num_cpus": min(cpus, self._max_cpu) if self._max_cpu else cpus}
        mem_mb = resources.get("memory_mb")
        if mem_mb and self._max_mem:
            opts["memory"] = int(min(float(mem_mb) * 1024 * 1024, self._max_mem * 0.9))
        if resources.get("num_gpus"):
            opts["num_gpus"] = float(resources["num_gpus"])
        return opts

    def _launch(self, flight: _Flight) -> None:
        ctx = flight.task.ctx
        ctx = dataclasses.replace(ctx, extra={**ctx.extra, "map": ray_map})
        ref = self._remote.options(**self._options(dict(ctx.resources))).remote(ctx)
        self._inflight[ref] = flight

    def submit(self, task: Task) -> None:
        self._start()
        self._launch(_Flight(task, 1, [], 0.0))

    def pending(self) -> int:
        return len(self._inflight) + len(self._delayed)

    def _collect(self, ref: Any, flight: _Flight) -> TaskOutcome | None:
        try:
            out: TaskOutcome = ray.get(ref)
        except ray_exceptions.RayError as exc:       # worker died, node lost, ...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            out = TaskOutcome(flight.task.node_id, False, kind="system",
                              error=f"{type(exc).__name__}: {first}"[:500],
                              traceback=str(exc))
        flight.duration_s += out.duration_s
        task = flight.task
        if not out.ok and out.kind != "user" and flight.attempt < task.max_attempts:
            flight.history.append(out.error)
            due = time.monotonic() + backoff_delay(task.backoff_s, flight.attempt)
            flight.attempt += 1
            heapq.heappush(self._delayed, (due, next(self._seq), flight))
            return None
        out.attempts, out.history, out.duration_s = (flight.attempt, flight.history,
                                                     flight.duration_s)
        return out

    def wait(self) -> list[TaskOutcome]:
        outcomes: list[TaskOutcome] = []
        while not outcomes and (self._inflight or self._delayed):
            now = time.monotonic()
            while self._delayed and self._delayed[0][0] <= now:
                self._launch(heapq.heappop(self._delayed)[2])
            timeout = (max(0.0, self._delayed[0][0] - now) if self._delayed else None)
            if not self._inflight:
                time.sleep(timeout or 0.0)
                continue
            ready, _ = ray.wait(list(self._inflight), num_returns=1, timeout=timeout)
            if ready:  # take everything else that is already finished too
                ready, _ = ray.wait(list(self._inflight), num_returns=len(self._inflight),
                                    timeout=0)
            for ref in ready:
                out = self._collect(ref, self._inflight.pop(ref))
                if out is not None:
                    outcomes.append(out)
        return outcomes

    def finalize(self) -> None:
        for ref in list(self._inflight):
            ray.cancel(ref, force=True)
        self._inflight.clear()
        self._delayed.clear()
        if self._owned and ray.is_initialized():
            ray.shutdown()
        self._owned = False
