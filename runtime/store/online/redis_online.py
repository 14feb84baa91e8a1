"""The online store on Redis (redis-py): the real component for more than one machine.

Layout: one string per (view, entity) at `<prefix><view>|<key json>` holding the codec's
record `[ev, cr, {...}]`; the watermark of a view at `<prefix>__watermark__|<view>`. The
prefix defaults to `specops:online:` and can be set with `?prefix=...` on the URL (tests
use one per test). Reads are ONE `MGET` for every view and key of a request. Writes go
through a Lua script so "keep the newer (event, created)" is atomic per key even with
several writers (materialize and push at once): the script reads the stored record's
leading `[ev,cr,` and compares, 500 keys per call, calls pipelined.

The model server reads through `read_many_soon`: the same MGET and the same records,
written and parsed on its event loop by `redis_async.AsyncMget` (no thread hop per read);
`read_many` (redis-py, blocking) serves everything else.

Errors: an unreachable server or a failed command is an OnlineStoreError with one line
naming the URL (password hidden), never a redis-py traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from specops.runtime.store.online import OnlineStoreError, OnlineValue
from specops.runtime.store.online.codec import decode_value, encode_key, encode_value
from specops.runtime.store.online.redis_async import AsyncMget

__all__ = ["RedisOnlineStore", "split_prefix"]

DEFAULT_PREFIX = "specops:online:"
_BATCH = 500
_UPSERT_LUA = """
local n = 0
for i = 1, #KEYS do
  local ev = tonumber(ARGV[3 * i - 2])
  local cr = tonumber(ARGV[3 * i - 1]) or -math.huge
  local old = redis.call('GET', KEYS[i])
  local write = true
  if old then
    local oev, ocr = string.match(old, '^%[(%-?%d+),([^,]+),')
    oev = tonumber(oev)
    if oev then
      ocr = tonumber(ocr) or -math.huge
      if ev < oev or (ev == oev and cr < ocr) then write = false end
    end
  end
  if write then
    redis.call('SET', KEYS[i], ARGV[3 * i])
    n = n + 1
  end
end
return n
"""


def split_prefix(url: str) -> tuple[str, str]:
    """(the URL without `prefix=`, the key prefix)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), DEFAULT_PREFIX)
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


def _shown(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    return url


class RedisOnlineStore:
    """OnlineStore on Redis (see runtime/store/online/__init__.py)."""

    def __init__(self, url: str, prefix: str | None = None) -> None:
        import redis

        self._redis_mod = redis
        clean, url_prefix = split_prefix(url)
        self.url = _shown(url)
        self.prefix = prefix if prefix is not None else url_prefix
        try:
            self._r = redis.Redis.from_url(clean, socket_connect_timeout=2,
                                           socket_timeout=10)
            self._r.ping()
            self._upsert = self._r.register_script(_UPSERT_LUA)
        except (redis.RedisError, ValueError, OSError) as exc:
            raise self._error(exc) from None
        self.async_reader: AsyncMget | None = None
        pool = self._r.connection_pool
        if not issubclass(pool.connection_class, redis.SSLConnection):
            kw = pool.connection_kwargs
            self.async_reader = AsyncMget(
                {k: kw.get(k) for k in ("host", "port", "path", "db", "username",
                                        "password")},
                timeout_s=float(kw.get("socket_timeout") or 10.0),
                connect_timeout_s=float(kw.get("socket_connect_timeout") or 2.0))

    def _error(self, exc: BaseException) -> OnlineStoreError:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return OnlineStoreError(f"online store {self.url} unavailable: {first}")

    def _key(self, view: str, key: tuple[Any, ...]) -> str:
        return f"{self.prefix}{view}|{encode_key(key)}"

    def write(self, view: str, rows: Sequence[tuple[tuple[Any, ...], OnlineValue]]) -> int:
        try:
            pipe = self._r.pipeline(transaction=False)
            for i in range(0, len(rows), _BATCH):
                keys: list[str] = []
                args: list[Any] = []
                for k, v in rows[i:i + _BATCH]:
                    keys.append(self._key(view, k))
                    args.extend((v.event_ts_us,
                                 "" if v.created_ts_us is None else v.created_ts_us,
                                 encode_value(v)))
                self._upsert(keys=keys, args=args, client=pipe)
            return sum(int(n) for n in pipe.execute()) if rows else 0
        except self._redis_mod.RedisError as exc:
            raise self._error(exc) from None

    def read_many(self, lookups: Mapping[str, Sequence[tuple[Any, ...]]]
                  ) -> dict[str, list[OnlineValue | None]]:
        names = [self._key(view, k) for view, keys in lookups.items() for k in keys]
        try:
            raw = self._r.mget(names) if names else []
        except self._redis_mod.RedisError as exc:
            raise self._error(exc) from None
        return _split(lookups, raw)

    def read_many_soon(self, lookups: Mapping[str, Sequence[tuple[Any, ...]]]
                       ) -> asyncio.Future[dict[str, list[OnlineValue | None]]]:
        """`read_many` on the running event loop: a future of the same answer (an
        OnlineStoreError when Redis cannot answer). Needs `async_reader`."""
        assert self.async_reader is not None
        names = [self._key(view, k).encode() for view, keys in lookups.items()
                 for k in keys]
        out: asyncio.Future[dict[str, list[OnlineValue | None]]] = \
            asyncio.get_running_loop().create_future()
        if not names:
            out.set_result(_split(lookups, []))
            return out

        def done(raw: asyncio.Future[Any]) -> None:
            if out.done():
                return
            exc = raw.exception()
            if exc is not None:
                out.set_exception(self._error(exc))
                return
            try:
                out.set_result(_split(lookups, raw.result()))
            except Exception as bad:    # a record that does not decode
                out.set_exception(self._error(bad))

        self.async_reader.mget(names).add_done_callback(done)
        return out

    def watermark(self, view: str) -> int | None:
        try:
            raw = self._r.get(f"{self.prefix}__watermark__|{view}")
        except self._redis_mod.RedisError as exc:
            raise self._error(exc) from None
        return None if raw is None else int(raw)

    def set_watermark(self, view: str, until_us: int) -> None:
        try:
            self._r.set(f"{self.prefix}__watermark__|{view}", int(until_us))
        except self._redis_mod.RedisError as exc:
            raise self._error(exc) from None

    def clear(self) -> int:
        """Delete every key under this store's prefix (tests; `--full` rebuilds)."""
        n = 0
        try:
            batch: list[Any] = []
            for key in self._r.scan_iter(match=f"{self.prefix}*", count=1000):
                batch.append(key)
                if len(batch) == 500:
                    n += int(self._r.delete(*batch))
                    batch.clear()
            if batch:
                n += int(self._r.delete(*batch))
        except self._redis_mod.RedisError as exc:
            raise self._error(exc) from None
        return n

    def close(self) -> None:
        if self.async_reader is not None:
            self.async_reader.close()
        self._r.close()


def _split(lookups: Mapping[str, Sequence[tuple[Any, ...]]], raw: Sequence[Any]
           ) -> dict[str, list[OnlineValue | None]]:
    out: dict[str, list[OnlineValue | None]] = {}
    i = 0
    for view, keys in lookups.items():
        n = len(keys)
        out[view] = [None if b is None else decode_value(b) for b in raw[i:i + n]]
        i += n
    return out
