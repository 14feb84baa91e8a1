"""Connection limits uvicorn lacks: a header read timeout and a header size cap.

Why: uvicorn's `timeout_keep_alive` only starts after a response, so a client that
connects and then sends its request line and headers a byte at a time (slowloris) holds a
connection, and its memory, forever; and the httptools parser keeps every header it is
sent. This protocol closes a connection whose request headers are not complete within
`HEADER_TIMEOUT_S` of the connection opening or of the first byte of a later request
(idle keep-alive connections are closed by uvicorn's `timeout_keep_alive`), and answers
431 once the headers pass `MAX_HEADER_BYTES`. The body has its own timeout in the app
(`asgi.BODY_TIMEOUT_S`), where the reply can say why.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HEADER_TIMEOUT_S", "MAX_HEADER_BYTES", "LimitedHttpTools"]

HEADER_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 64 * 1024


class LimitedHttpTools(HttpToolsProtocol):
    """`HttpToolsProtocol` with a header deadline and a header size cap."""

    header_timeout_s = HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._too_big = False

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._header_bytes = 0
        if self._deadline is None:
            self._arm()
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_HEADER_BYTES:
            self._too_big = True
            raise ValueError("headers too large")   # stops the parser: uvicorn answers

    def send_400_response(self, msg: str) -> None:
        if not self._too_big:
            super().send_400_response(msg)
            return
        self._disarm()
        body = b'{"error":"request headers exceed %d bytes"}' % MAX_HEADER_BYTES
        self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                             b"content-type: application/json\r\nconnection: close\r\n"
                             b"content-length: %d\r\n\r\n%s" % (len(body), body))
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
