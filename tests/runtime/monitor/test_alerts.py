"""Alert hygiene (consecutive windows, cooldown, state in the store) and the sinks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from specops.runtime.monitor.alerts import (
    Alert,
    Hygiene,
    Signal,
    deliver,
    json_file_sink,
    post_webhook,
    reset_state,
)

DAY = 86400.0


def _engine(tmp_path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")


def _drift(level: str) -> list[Signal]:
    return [Signal("data_drift", level, f"drift {level}")]


def _feed(h: Hygiene, levels: list[str], start: float = 0.0, step: float = 7 * DAY
          ) -> list[int]:
    """Window indexes at which an alert fired."""
    fired = []
    for i, level in enumerate(levels):
        if h.observe(_drift(level), f"w{i}", start + (i + 1) * step):
            fired.append(i)
    return fired


def test_consecutive_windows_needed_before_an_alert(tmp_path: Path) -> None:
    h = Hygiene(_engine(tmp_path), "m", consecutive_windows=3, cooldown_s=0)
    # a breach, a recovery (resets the run), then three in a row
    assert _feed(h, ["alert", "ok", "alert", "warn", "alert", "alert"]) == [4, 5]
    assert h.state("data_drift").consecutive == 4


def test_insufficient_data_neither_breaks_nor_extends_a_run(tmp_path: Path) -> None:
    h = Hygiene(_engine(tmp_path), "m", consecutive_windows=2)
    assert _feed(h, ["alert", "insufficient_data", "alert"]) == [2]


def test_cooldown_in_data_time(tmp_path: Path) -> None:
    h = Hygiene(_engine(tmp_path), "m", consecutive_windows=1, cooldown_s=14 * DAY)
    # daily windows, all breaching: fires at day 1, then not again before day 15
    fired = _feed(h, ["alert"] * 30, step=DAY)
    assert fired == [0, 14, 28]


def test_state_persists_and_a_window_is_counted_once(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    first = Hygiene(engine, "m", consecutive_windows=2, cooldown_s=0)
    assert first.observe(_drift("alert"), "w0", 7 * DAY) == []
    # another process (new object) re-reads the same window, then the next one
    again = Hygiene(engine, "m", consecutive_windows=2, cooldown_s=0)
    assert again.observe(_drift("alert"), "w0", 7 * DAY) == []      # already counted
    fired = again.observe(_drift("alert"), "w1", 14 * DAY)
    assert [a.signal for a in fired] == ["data_drift"] and fired[0].consecutive == 2
    assert len(again.history()) == 1
    other = Hygiene(engine, "other", consecutive_windows=2)         # per model
    assert other.state("data_drift").consecutive == 0
    reset_state(engine, "m")
    assert again.state("data_drift").consecutive == 0
    assert len(again.history()) == 1                                 # history is kept


def _alert(level: str = "alert") -> Alert:
    return Alert("m", "data_drift", level, "dataset drift", "w0", 1.0, 2, "m@1",
                 {"drift_share": 0.6})


def test_json_file_sink_appends_lines(tmp_path: Path) -> None:
    path = tmp_path / "out" / "alerts.jsonl"
    assert json_file_sink([_alert()], path) == 1
    assert json_file_sink([_alert("warn"), _alert()], path) == 2
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["level"] for r in rows] == ["alert", "warn", "alert"]
    assert rows[0]["details"] == {"drift_share": 0.6} and rows[0]["version"] == "m@1"


class _Server:
    """A local webhook receiver answering with a scripted list of status codes."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = list(codes)
        self.bodies: list[Any] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length", 0))
                outer.bodies.append(json.loads(self.rfile.read(n)))
                code = outer.codes.pop(0) if outer.codes else 200
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Any]:
    made: list[_Server] = []

    def make(codes: list[int]) -> _Server:
        s = _Server(codes)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def test_webhook_delivers_json(server: Any) -> None:
    s = server([200])
    out = deliver([_alert()], quiet=True, webhook=s.url)
    assert out["webhook"]["ok"] and out["webhook"]["attempts"] == 1
    assert s.bodies[0]["kind"] == "monitor_alerts"
    assert s.bodies[0]["alerts"][0]["signal"] == "data_drift"


def test_webhook_retries_server_errors_then_succeeds(server: Any) -> None:
    s = server([503, 500, 200])
    waits: list[float] = []
    out = post_webhook(s.url, {"x": 1}, retries=3, backoff_s=0.1, sleep=waits.append)
    assert out == {"ok": True, "status": 200, "attempts": 3, "error": ""}
    assert waits == [0.1, 0.2] and len(s.bodies) == 3


def test_webhook_does_not_retry_a_client_error(server: Any) -> None:
    s = server([400, 200])
    out = post_webhook(s.url, {"x": 1}, retries=3, sleep=lambda _s: None)
    assert not out["ok"] and out["status"] == 400 and out["attempts"] == 1


def test_webhook_gives_up_after_bounded_retries(server: Any) -> None:
    s = server([500] * 10)
    out = post_webhook(s.url, {"x": 1}, retries=2, sleep=lambda _s: None)
    assert not out["ok"] and out["attempts"] == 3 and len(s.bodies) == 3
    s.close()
    # nothing listening: connection errors are retried too, and never raise
    down = post_webhook(s.url, {"x": 1}, retries=1, timeout_s=0.5, sleep=lambda _s: None)
    assert not down["ok"] and down["attempts"] == 2 and down["status"] is None


def test_active_signals_outlive_the_alert_cooldown(tmp_path: Path) -> None:
    """Retraining reads the breach, not whether the pager fired this time."""
    h = Hygiene(_engine(tmp_path), "m", consecutive_windows=2, cooldown_s=30 * DAY)
    assert _feed(h, ["alert", "alert", "alert"]) == [1]
    assert h.active() == ["data_drift"]
    h.observe(_drift("ok"), "w9", 100 * DAY)
    assert h.active() == []
