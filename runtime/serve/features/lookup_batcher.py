"""One online-store round trip for every request the event loop has in hand.

Why: each request needs one `read_many` (all its views in one round trip). Under load,
several requests are parsed in the same event-loop pass; they are merged into one
`read_many` scheduled with `call_soon`, so N concurrent requests cost one round trip (one
Redis MGET) instead of N. A lone request waits for nothing: the flush runs right after the
callbacks already queued.

Why the read runs on the loop thread: it is one round trip (tens of microseconds on a local
Redis or SQLite); a worker-thread hop costs as much and adds GIL hand-offs. The Redis
client has a socket timeout, so a hung store stalls the loop for at most that long and
every waiting request answers 503 (`StoreDown`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["LookupBatcher", "StoreDown"]

Lookups = Mapping[str, Sequence[tuple[Any, ...]]]


class StoreDown(Exception):
    """The online store did not answer (the server replies 503 with this reason)."""


class LookupBatcher:
    def __init__(self, store: Any) -> None:
        self.store = store
        self._pending: list[tuple[Lookups, asyncio.Future[dict[str, list[Any]]]]] = []
        self._scheduled = False
        self.round_trips = 0        # for tests and the bench: batching actually happens

    def read_now(self, lookups: Lookups) -> dict[str, list[Any]]:
        """One synchronous `read_many` (no event loop: gRPC threads, tests)."""
        try:
            self.round_trips += 1
            out: dict[str, list[Any]] = self.store.read_many(lookups)
            return out
        except Exception as exc:
            raise StoreDown(_reason(exc)) from None

    async def read(self, lookups: Lookups) -> dict[str, list[Any]]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[dict[str, list[Any]]] = loop.create_future()
        self._pending.append((lookups, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        batch, self._pending, self._scheduled = self._pending, [], False
        if len(batch) == 1:
            lookups, fut = batch[0]
            try:
                result = self.read_now(lookups)
            except StoreDown as exc:
                if not fut.done():
                    fut.set_exception(exc)
                return
            if not fut.done():
                fut.set_result(result)
            return
        merged: dict[str, list[tuple[Any, ...]]] = {}
        spans: list[dict[str, tuple[int, int]]] = []
        for lookups, _ in batch:
            span = {}
            for view, keys in lookups.items():
                dest = merged.setdefault(view, [])
                span[view] = (len(dest), len(dest) + len(keys))
                dest.extend(keys)
            spans.append(span)
        try:
            result = self.read_now(merged)
        except StoreDown as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(StoreDown(str(exc)))
            return
        for (_, fut), span in zip(batch, spans, strict=True):
            if not fut.done():
                fut.set_result({v: result[v][a:b] for v, (a, b) in span.items()})


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first[:300]
