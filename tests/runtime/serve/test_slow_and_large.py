"""Hostile traffic against the lean server on 127.0.0.1, as any client could send it:
oversized bodies refused before they are read, slow senders cut off, oversized headers,
and large bodies parsed off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from serve_helpers import copy_project, oip_body

import specops.runtime.serve.asgi as asgi
from specops.runtime.serve.lean import LeanServer, build_service
from specops.runtime.serve.served_model import resolve
from specops.runtime.serve.wire.http_limits import (
    BODY_TIMEOUT_S,
    HEADER_TIMEOUT_S,
    LimitedHttpTools,
)


@pytest.fixture(scope="module")
def small_server(served_project: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[LeanServer]:
    root = copy_project(served_project, tmp_path_factory.mktemp("hard") / "proj")
    service = build_service(resolve(root, None, "credit", None), log=False)
    service.max_body = 100_000
    LimitedHttpTools.header_timeout_s = LimitedHttpTools.body_timeout_s = 1.0
    try:
        with LeanServer(service) as s:
            yield s
    finally:
        LimitedHttpTools.header_timeout_s = HEADER_TIMEOUT_S
        LimitedHttpTools.body_timeout_s = BODY_TIMEOUT_S


def _connect(server: LeanServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_declared_oversized_body_is_refused_before_it_is_sent(small_server: LeanServer
                                                              ) -> None:
    with _connect(small_server) as sock:
        sock.sendall(b"POST /v2/models/credit/infer HTTP/1.1\r\nhost: x\r\n"
                     b"content-length: 57000000\r\ncontent-type: application/json\r\n\r\n")
        head = b""
        while b"}" not in head:     # answered without a byte of the body
            data = sock.recv(65536)
            assert data, head
            head += data
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"exceeds 100000" in head


def test_chunked_body_past_the_limit_is_refused_while_reading(small_server: LeanServer
                                                              ) -> None:
    with _connect(small_server) as sock:
        sock.sendall(b"POST /v2/models/credit/infer HTTP/1.1\r\nhost: x\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        chunk = b"[" + b" " * 30_000
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(5):      # 150 kB declared nowhere; the server may hang up early
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]


def test_slow_body_gets_408_and_slow_headers_lose_the_connection(small_server: LeanServer
                                                                 ) -> None:
    with _connect(small_server) as sock:
        sock.sendall(b"POST /v2/models/credit/infer HTTP/1.1\r\nhost: x\r\n"
                     b"content-length: 500\r\n\r\n{\"inputs\":")
        t0 = time.monotonic()
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b"not received within 1 s" in reply and time.monotonic() - t0 < 8
    with _connect(small_server) as sock:
        sock.sendall(b"POST /v2/models/credit/infer HTTP/1.1\r\nhost: x\r\n")
        t0 = time.monotonic()
        reply = _read_all(sock)      # never finishes its headers: the server hangs up
    assert reply == b"" and time.monotonic() - t0 < 8
    with _connect(small_server) as sock:   # an idle connection is closed as well
        t0 = time.monotonic()
        assert _read_all(sock) == b"" and time.monotonic() - t0 < 8


def test_oversized_headers_get_431(small_server: LeanServer) -> None:
    with _connect(small_server) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for i in range(100):
                sock.sendall(b"x-pad-%d: %s\r\n" % (i, b"a" * 1000))
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]


def test_large_bodies_parse_in_a_worker_thread(small_server: LeanServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    service = small_server.service
    seen: list[str] = []
    real = asgi.parse_infer

    def spy(*args: Any) -> Any:
        seen.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(asgi, "parse_infer", spy)
    monkeypatch.setattr(service, "max_body", 10_000_000)
    import polars as pl
    frame = pl.DataFrame({"income": [1.5] * 20_000, "age": [30] * 20_000,
                          "region": ["north"] * 20_000})
    big = json.dumps(oip_body(frame)).encode()
    small = json.dumps(oip_body(frame.head(1))).encode()
    assert len(big) > asgi.THREAD_PARSE_BYTES > len(small)

    async def both() -> list[int]:
        out = []
        for body in (small, big):
            status, *_ = await service.call("POST", "/v2/models/credit/infer", body, {})
            out.append(status)
        return out

    loop_thread: list[str] = []

    async def run() -> list[int]:
        loop_thread.append(threading.current_thread().name)
        return await both()

    assert asyncio.run(run()) == [200, 200]
    assert seen[0] == loop_thread[0]          # small: inline
    assert seen[1] != loop_thread[0]          # large: a worker thread, the loop stays free


def test_server_still_answers_after_hostile_traffic(small_server: LeanServer) -> None:
    import httpx
    import polars as pl

    body = oip_body(pl.DataFrame({"income": [2.0], "age": [40], "region": ["south"]}))
    with httpx.Client(base_url=small_server.url) as c:
        r = c.post("/v2/models/credit/infer", json=body)
    assert r.status_code == 200 and r.json()["outputs"][1]["shape"] == [1, 2]
