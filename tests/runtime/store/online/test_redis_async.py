"""The model server's Redis read on the event loop (store/online/redis_async.py).

Each case would fail on a plausible bug: a reply parsed from a partial buffer (TCP splits
replies anywhere), replies matched to the wrong read when reads are pipelined, an answer
that differs from the blocking `read_many`, a dropped connection that is never re-made
(the server would answer 503 forever), a failure without the store's URL in it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from online_store_helpers import redis_url_or_skip

from specops.runtime.store.online import OnlineStoreError, OnlineValue, open_online_store
from specops.runtime.store.online.redis_async import RedisReplyError, parse_reply

V = "bureau_history@2"
REPLY = (b"*4\r\n$3\r\nabc\r\n$-1\r\n$0\r\n\r\n$7\r\n[1,\r\n2]\r\n"
         b"+OK\r\n:42\r\n-ERR wrong\r\n")


def test_parse_reply_reads_each_kind_and_waits_for_a_complete_reply() -> None:
    value, pos = parse_reply(REPLY, 0) or (None, 0)
    assert value == [b"abc", None, b"", b"[1,\r\n2]"]    # CRLF inside a bulk string
    ok, pos = parse_reply(REPLY, pos) or (None, 0)
    n, pos = parse_reply(REPLY, pos) or (None, 0)
    err, pos = parse_reply(REPLY, pos) or (None, 0)
    assert (ok, n, pos) == (b"OK", 42, len(REPLY))
    assert isinstance(err, RedisReplyError) and str(err) == "ERR wrong"
    first = REPLY.index(b"+OK")
    for cut in range(first):     # every split of the array reply: incomplete, not wrong
        assert parse_reply(REPLY[:cut], 0) is None, cut


def _store(tmp_path: Path, url: str | None = None) -> Any:
    url = url or redis_url_or_skip()
    sep = "&" if "?" in url else "?"
    return open_online_store(f"{url}{sep}prefix=specops-test-async:{tmp_path.name}:",
                             tmp_path)


def test_read_on_the_loop_equals_read_many_and_pipelines(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        assert store.async_reader is not None
        store.write(V, [((k,), OnlineValue({"x": k * 0.1, "n": k}, k, None))
                        for k in range(50)])
        store.write("other@1", [(("a", 1), OnlineValue({"y": "s"}, 3, 4))])
        asks = [{V: [(k,), (k + 100,), (k // 2,)], "other@1": [("a", 1), ("a", 2)]}
                for k in range(40)]

        async def reads() -> list[object]:
            futs = [store.read_many_soon(a) for a in asks]    # all written before any reply
            return list(await asyncio.gather(*futs))

        got = asyncio.run(reads())
        assert got == [store.read_many(a) for a in asks]
        assert got[7][V][0] == OnlineValue({"x": 7 * 0.1, "n": 7}, 7, None)
        assert got[7]["other@1"][1] is None
    finally:
        store.clear()
        store.close()


def test_lost_connection_fails_the_read_then_reconnects(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        store.write(V, [((1,), OnlineValue({"x": 1}, 1, None))])

        async def scenario() -> tuple[object, object]:
            first = await store.read_many_soon({V: [(1,)]})
            proto = store.async_reader._proto
            assert proto is not None and proto.transport is not None
            proto.transport.abort()       # as if Redis restarted
            await asyncio.sleep(0.05)
            again = await asyncio.wait_for(store.read_many_soon({V: [(1,)]}), 5)
            return first, again

        first, again = asyncio.run(scenario())
        assert first == again == {V: [OnlineValue({"x": 1}, 1, None)]}
    finally:
        store.clear()
        store.close()


def test_unreachable_redis_fails_with_the_url(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        assert store.async_reader is not None
        store.async_reader.kwargs = {**store.async_reader.kwargs, "port": _closed_port()}

        async def read() -> object:
            return await store.read_many_soon({V: [(1,)]})

        with pytest.raises(OnlineStoreError) as err:
            asyncio.run(read())
        assert str(err.value).startswith(f"online store {store.url} unavailable: ")
    finally:
        store.close()


def _closed_port() -> int:
    from specops.runtime.serve.lean import free_port

    return free_port()


def test_a_second_db_is_selected(tmp_path: Path) -> None:
    """SELECT runs before the first read: keys written through redis-py in db 2 are found."""
    base = redis_url_or_skip().split("?")[0].rsplit("/", 1)[0]
    store = _store(tmp_path, f"{base}/2")
    try:
        store.write(V, [((5,), OnlineValue({"x": 5}, 5, None))])

        async def read() -> object:
            return await store.read_many_soon({V: [(5,)]})

        assert asyncio.run(read()) == {V: [OnlineValue({"x": 5}, 5, None)]}
    finally:
        store.clear()
        store.close()
