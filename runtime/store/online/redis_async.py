"""MGET on the model server's event loop: one persistent Redis connection, no thread hop.

Why: the model server reads the online store once per event-loop pass (lookup_batcher.py
merges the requests in hand). Through redis-py that read is a blocking call, so it ran in
a worker thread, and every batch paid a thread hand-off both ways (a queue put, a futex
wake, the GIL passed to the worker and back, `call_soon_threadsafe`) on top of redis-py's
own per-command work (pool checkout, command packing, its reply parser). Here the command
is written on a non-blocking socket owned by the loop and the reply is parsed when it
arrives, in `data_received`: the loop never waits on Redis (a slow or busy Redis delays
only the requests of that read, which is what the thread bought before), and a read costs
one `write` and the parse of one reply.

Replies arrive in the order commands were written (Redis answers a connection's commands
in order), so reads in flight are a FIFO of futures: several batches can be pipelined on
the one connection. RESP2, the replies MGET, AUTH and SELECT can give: arrays, bulk
strings (nil included), simple strings, integers and errors.

Failures: a connection that cannot be made, is lost, or no reply at all for the timeout
(the store's socket timeout, 10 s) while reads are in flight fails every read in flight
with the reason (the server answers 503) and drops the connection; the next read connects
again, so the server answers again once Redis is back. TLS (`rediss://`) is not spoken
here: such a store keeps the threaded redis-py read (`RedisOnlineStore.async_reader` is
None).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

__all__ = ["AsyncMget", "RedisReplyError", "parse_reply"]


class RedisReplyError(Exception):
    """An error reply (`-ERR ...`) of Redis."""


def _bulk(parts: list[bytes]) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n" % len(p))
        out.append(p)
        out.append(b"\r\n")
    return b"".join(out)


def parse_reply(buf: bytes | bytearray, pos: int) -> tuple[Any, int] | None:
    """One RESP2 reply at `pos`: (value, position after it), None when incomplete. Bulk
    strings are bytes (nil is None), arrays lists, errors `RedisReplyError` values."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None
    kind = buf[pos]
    if kind == 36:      # $ bulk string
        n = int(buf[pos + 1:end])
        if n < 0:
            return None, end + 2
        stop = end + 2 + n
        if len(buf) < stop + 2:
            return None
        return bytes(buf[end + 2:stop]), stop + 2
    if kind == 42:      # * array
        n = int(buf[pos + 1:end])
        if n < 0:
            return None, end + 2
        items: list[Any] = []
        p = end + 2
        for _ in range(n):
            got = parse_reply(buf, p)
            if got is None:
                return None
            items.append(got[0])
            p = got[1]
        return items, p
    if kind == 43:      # + simple string
        return bytes(buf[pos + 1:end]), end + 2
    if kind == 58:      # : integer
        return int(buf[pos + 1:end]), end + 2
    if kind == 45:      # - error
        return RedisReplyError(bytes(buf[pos + 1:end]).decode("utf-8", "replace")), end + 2
    raise RedisReplyError(f"unexpected reply type {chr(kind)!r} from Redis")


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: AsyncMget) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]   # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        waiting = self.owner.waiting
        pos = 0
        try:
            while waiting:
                got = parse_reply(buf, pos)
                if got is None:
                    break
                value, pos = got
                self.owner.answered += 1
                fut = waiting.popleft()
                if fut.done():
                    continue
                if isinstance(value, RedisReplyError):
                    fut.set_exception(value)
                else:
                    fut.set_result(value)
        except (ValueError, IndexError, RedisReplyError) as exc:   # not Redis talking
            self.owner.fail(exc)
            return
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.lost(self, exc)


class AsyncMget:
    """Pipelined MGETs on one connection of the running loop (`kwargs`: host, port or
    path, db, username, password, as redis-py's connection pool holds them)."""

    def __init__(self, kwargs: dict[str, Any], timeout_s: float = 10.0,
                 connect_timeout_s: float = 2.0) -> None:
        self.kwargs = kwargs
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._queued: list[tuple[bytes, asyncio.Future[Any]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.answered = 0       # replies parsed so far (the timeout's progress check)

    def mget(self, keys: list[bytes]) -> asyncio.Future[Any]:
        """A future of the values of `keys` (bytes, None for an absent key)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:      # first use, or a new loop (tests): start afresh
            self._drop(None)
            self._loop = loop
        fut: asyncio.Future[Any] = loop.create_future()
        cmd = _bulk([b"MGET", *keys])
        proto = self._proto
        if proto is not None:
            self._send(proto, cmd, fut)
        else:
            self._queued.append((cmd, fut))
            if self._connecting is None:
                self._connecting = loop.create_task(self._connect())
        return fut

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reads in flight and no reply at all for `timeout_s`: fail them (replies come
        in order, so the oldest read then waited at least that long; at most twice it)."""
        if self._timer is None:
            self._timer = loop.call_later(self.timeout_s, self._check, self.answered)

    def _check(self, answered_then: int) -> None:
        self._timer = None
        if not self.waiting:
            return
        if self.answered == answered_then:
            self.fail(TimeoutError(f"no reply from Redis within {self.timeout_s:g} s"))
            return
        assert self._loop is not None
        self._arm(self._loop)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        kw = self.kwargs
        try:
            if kw.get("path"):
                make = loop.create_unix_connection(lambda: _Protocol(self), kw["path"])
            else:
                make = loop.create_connection(lambda: _Protocol(self),
                                              kw.get("host") or "localhost",
                                              int(kw.get("port") or 6379))
            _, proto = await asyncio.wait_for(make, self.connect_timeout_s)
            if proto.transport is None or proto.transport.is_closing():
                raise ConnectionError("Redis closed the connection")
            # in order on the connection: AUTH and SELECT run before any read after them
            self._proto = proto
            setup: list[asyncio.Future[Any]] = []
            if kw.get("password"):
                auth = [b"AUTH", *([kw["username"].encode()] if kw.get("username") else []),
                        str(kw["password"]).encode()]
                setup.append(self._send(proto, _bulk(auth)))
            if int(kw.get("db") or 0):
                setup.append(self._send(proto, _bulk([b"SELECT", str(kw["db"]).encode()])))
            queued, self._queued = self._queued, []
            self._connecting = None
            for cmd, fut in queued:
                if not fut.done():
                    self._send(proto, cmd, fut)
            if setup:
                await asyncio.gather(*setup)
        except Exception as exc:    # every read waiting learns why
            self._connecting = None
            self.fail(exc)

    def _send(self, proto: _Protocol, cmd: bytes, fut: asyncio.Future[Any] | None = None
              ) -> asyncio.Future[Any]:
        assert self._loop is not None and proto.transport is not None
        if fut is None:
            fut = self._loop.create_future()
        self.waiting.append(fut)
        proto.transport.write(cmd)
        self._arm(self._loop)
        return fut

    def fail(self, exc: BaseException) -> None:
        """Fail every read in flight or queued and drop the connection."""
        self._drop(exc)

    def lost(self, proto: _Protocol, exc: Exception | None) -> None:
        if proto is self._proto:
            self._drop(exc or ConnectionError("Redis closed the connection"))

    def _drop(self, exc: BaseException | None) -> None:
        proto, self._proto = self._proto, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending = list(self.waiting) + [f for _, f in self._queued]
        self.waiting.clear()
        self._queued = []
        reason = exc or ConnectionError("connection reset")
        for fut in pending:
            if not fut.done():
                fut.set_exception(reason)
        if proto is not None and proto.transport is not None:
            with contextlib.suppress(RuntimeError):     # its loop already closed
                proto.transport.abort()

    def close(self) -> None:
        """Drop the connection (from any thread: on the loop's own when it still runs)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._drop(ConnectionError("online store closed"))
        else:
            with contextlib.suppress(RuntimeError):     # the loop closed meanwhile
                loop.call_soon_threadsafe(self._drop, ConnectionError("online store closed"))
