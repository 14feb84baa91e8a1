"""One online-store round trip for every request the event loop has in hand.

Why: each request needs one `read_many` (all its views in one round trip). Under load,
several requests are parsed in the same event-loop pass; they are merged into one
`read_many` scheduled with `call_soon`, so N concurrent requests cost one round trip (one
Redis MGET) instead of N. A lone request waits for nothing: the flush runs right after the
callbacks already queued.

Why the read never blocks the loop: a round trip is tens of microseconds on an idle
machine, but on a loaded one the store's process can wait for a core for milliseconds, and
a blocking read on the loop would stall every connection meanwhile (bench/online_serve.py
measured p99 316 ms that way at 32 clients). Redis is read on the loop itself, without
blocking: the MGET is written on a non-blocking socket and its reply parsed when it
arrives (`RedisOnlineStore.read_many_soon`, store/online/redis_async.py), so a read costs
no thread hand-off at all; reads of later passes pipeline on the same connection. Other
stores (SQLite, Redis over TLS) are read in one worker thread: the loop keeps parsing and
requests that arrive during a read merge into the next one, so the hop is paid once per
batch. A hung store delays only the requests of its reads, for at most the Redis socket
timeout; then every waiting request answers 503 (`StoreDown`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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
        # one reader thread: the loop keeps parsing while a read is in flight (requests
        # arriving meanwhile merge into the next read), and the store sees one thread
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="online-store")
        # Redis: the read is written and parsed on the loop (no thread, see above)
        self._soon = store.read_many_soon \
            if getattr(store, "async_reader", None) is not None else None
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
            merged: Lookups = batch[0][0]
            spans: list[dict[str, tuple[int, int]]] | None = None
        else:
            merged, spans = _merge(batch)
        loop = asyncio.get_running_loop()
        if self._soon is not None:
            self.round_trips += 1
            try:
                done = self._soon(merged)
            except Exception as exc:
                done = loop.create_future()
                done.set_exception(StoreDown(_reason(exc)))
        else:
            done = loop.run_in_executor(self._pool, self.read_now, merged)
        done.add_done_callback(lambda f: _deliver(batch, spans, f))

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _merge(batch: list[tuple[Lookups, Any]]
           ) -> tuple[dict[str, list[tuple[Any, ...]]], list[dict[str, tuple[int, int]]]]:
    merged: dict[str, list[tuple[Any, ...]]] = {}
    spans: list[dict[str, tuple[int, int]]] = []
    for lookups, _ in batch:
        span = {}
        for view, keys in lookups.items():
            dest = merged.setdefault(view, [])
            span[view] = (len(dest), len(dest) + len(keys))
            dest.extend(keys)
        spans.append(span)
    return merged, spans


def _deliver(batch: list[tuple[Lookups, asyncio.Future[dict[str, list[Any]]]]],
             spans: list[dict[str, tuple[int, int]]] | None,
             done: asyncio.Future[dict[str, list[Any]]]) -> None:
    exc = done.exception()
    if exc is not None:
        for _, fut in batch:
            if not fut.done():
                fut.set_exception(StoreDown(str(exc)) if isinstance(exc, StoreDown)
                                  else StoreDown(_reason(exc)))
        return
    result = done.result()
    if spans is None:
        if not batch[0][1].done():
            batch[0][1].set_result(result)
        return
    for (_, fut), span in zip(batch, spans, strict=True):
        if not fut.done():
            fut.set_result({v: result[v][a:b] for v, (a, b) in span.items()})


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first[:300]
