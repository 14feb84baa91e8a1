"""Alerts: per-window signals, alert hygiene kept in the store, and the sinks.

Why hygiene: a drift statistic crosses its threshold on noise now and then, and an ongoing
shift would otherwise page every window. Two rules from the spec, per model and signal:
- `consecutive_windows: N`: a signal fires only after N windows in a row breach it (the
  M-of-N flapping fix, with M = N);
- `cooldown`: after firing, the same signal stays quiet for the cooldown, measured in
  *data time* (window ends), so a backfill over eight weeks behaves like eight weekly
  runs, and re-running the monitor on the same log never double-counts a window: each
  signal remembers the end of the last window it counted.

State lives in the project's store database (table `monitor_state`), and every alert that
fires is kept in `monitor_alerts`, so a crashed or repeated monitor run resumes correctly.
The state is kept per *stream*: the serving log (`--from-log`, the plan's monitor node) and
batches of current rows (`--current`) are different data on different clocks, so a run of
breaching `--current` windows must not lengthen the log's run (it did: "5 in a row" for a
log pass of one window). The log's rows keep the plain signal name; another stream's rows
are stored as `signal@stream`.

Sinks: the terminal, a JSON-lines file, and an HTTP webhook (POST JSON with a timeout and
a bounded number of retries with backoff on connection errors and 5xx; a 4xx is not
retried: the receiver refused the payload and will refuse it again).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

__all__ = ["SIGNALS", "Alert", "AlertState", "Hygiene", "Signal", "deliver", "ensure_schema",
           "json_file_sink", "metadata", "post_webhook", "reset_state", "terminal_sink"]

SIGNALS = ("data_drift", "prediction_drift", "performance", "fairness", "operational")
_LEVEL = {"ok": 0, "insufficient_data": 0, "warn": 1, "alert": 2}

metadata = sa.MetaData()

state_table = sa.Table(
    "monitor_state", metadata,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("signal", sa.String(50), primary_key=True),
    sa.Column("consecutive", sa.Integer, nullable=False, default=0),
    sa.Column("last_window_end", sa.Float, nullable=True),
    sa.Column("last_fired_at", sa.Float, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
)

alerts_table = sa.Table(
    "monitor_alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False, index=True),
    sa.Column("signal", sa.String(50), nullable=False),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("window_end", sa.Float, nullable=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
)


def ensure_schema(engine: sa.Engine) -> None:
    """Create the monitor tables if missing (safe on every open)."""
    metadata.create_all(engine, checkfirst=True)


def reset_state(engine: sa.Engine, model: str) -> None:
    """Forget `model`'s consecutive counts, seen windows and cooldowns (fired alerts stay)."""
    ensure_schema(engine)
    with engine.begin() as c:
        c.execute(state_table.delete().where(state_table.c.model == model))


@dataclass(frozen=True)
class Signal:
    """One signal's verdict for one window, before hygiene."""
    name: str                   # one of SIGNALS
    level: str                  # ok | warn | alert | insufficient_data
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Alert:
    """A signal that fired after hygiene (what the sinks receive)."""
    model: str
    signal: str
    level: str
    reason: str
    window: str
    window_end: float | None
    consecutive: int
    version: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AlertState:
    consecutive: int = 0
    last_window_end: float | None = None
    last_fired_at: float | None = None


class Hygiene:
    """Applies `consecutive_windows` and `cooldown` to a model's signals, window by window."""

    def __init__(self, engine: sa.Engine, model: str, consecutive_windows: int = 1,
                 cooldown_s: float = 0.0, clock: Callable[[], float] = time.time,
                 stream: str = "log") -> None:
        self.engine, self.model = engine, model
        self.stream = stream
        self.n = max(1, int(consecutive_windows))
        self.cooldown_s = float(cooldown_s or 0.0)
        self.clock = clock
        ensure_schema(engine)

    def _key(self, signal: str) -> str:
        """The state row's signal column: the plain name for the log stream."""
        return signal if self.stream == "log" else f"{signal}@{self.stream}"

    def state(self, signal: str) -> AlertState:
        with self.engine.connect() as c:
            return self._state(c, signal)

    def _state(self, conn: sa.Connection, signal: str) -> AlertState:
        row = conn.execute(sa.select(state_table).where(
            state_table.c.model == self.model,
            state_table.c.signal == self._key(signal))).first()
        if row is None:
            return AlertState()
        return AlertState(int(row.consecutive), row.last_window_end, row.last_fired_at)

    def _save(self, conn: sa.Connection, signal: str, st: AlertState) -> None:
        key = (state_table.c.model == self.model) & (state_table.c.signal == self._key(signal))
        values = {"consecutive": st.consecutive, "last_window_end": st.last_window_end,
                  "last_fired_at": st.last_fired_at, "updated_at": self.clock()}
        if conn.execute(sa.select(state_table.c.model).where(key)).first() is None:
            conn.execute(state_table.insert().values(model=self.model,
                                                     signal=self._key(signal), **values))
        else:
            conn.execute(state_table.update().where(key).values(**values))

    def observe(self, signals: Iterable[Signal], window: str, window_end: float | None,
                version: str = "") -> list[Alert]:
        """Count one window's signals; return the alerts that fire now.

        `warn` and `alert` both count as a breach for the consecutive rule; the fired
        alert carries the level of the window that completed the run. A window that ends
        at or before the last one counted for a signal is ignored (already seen)."""
        end = window_end if window_end is not None else self.clock()
        fired: list[Alert] = []
        with self.engine.begin() as conn:
            for sig in signals:
                st = self._state(conn, sig.name)
                if st.last_window_end is not None and end <= st.last_window_end:
                    continue
                st.last_window_end = end
                if sig.level == "insufficient_data":
                    self._save(conn, sig.name, st)      # neither breach nor recovery
                    continue
                if _LEVEL.get(sig.level, 0) == 0:
                    st.consecutive = 0
                    self._save(conn, sig.name, st)
                    continue
                st.consecutive += 1
                cooling = (st.last_fired_at is not None
                           and end - st.last_fired_at < self.cooldown_s)
                if st.consecutive >= self.n and not cooling:
                    st.last_fired_at = end
                    alert = Alert(self.model, sig.name, sig.level, sig.reason, window, end,
                                  st.consecutive, version, dict(sig.details))
                    conn.execute(alerts_table.insert().values(
                        model=self.model, signal=sig.name, level=sig.level, window_end=end,
                        at=self.clock(), details=json.loads(json.dumps(
                            alert.to_json(), default=str))))
                    fired.append(alert)
                self._save(conn, sig.name, st)
        return fired

    def active(self) -> list[str]:
        """Signals in breach now: their current run of breaching windows is at least
        `consecutive_windows` long (whether or not the alert cooldown let one fire)."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(state_table.c.signal, state_table.c.consecutive)
                             .where(state_table.c.model == self.model)).all()
        mine = {self._key(s): s for s in SIGNALS}       # this stream's rows only
        return sorted(mine[r.signal] for r in rows
                      if r.signal in mine and int(r.consecutive) >= self.n)

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(alerts_table).where(alerts_table.c.model == self.model)
                             .order_by(alerts_table.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]


# -- sinks -----------------------------------------------------------------------------------
_COLOR = {"alert": "\033[31m", "warn": "\033[33m"}


def terminal_sink(alerts: Iterable[Alert], out: IO[str] | None = None) -> None:
    """One line per alert; red/yellow when the stream is a terminal."""
    stream = out or sys.stderr
    tty = hasattr(stream, "isatty") and stream.isatty()
    for a in alerts:
        tag = a.level.upper()
        if tty:
            tag = f"{_COLOR.get(a.level, '')}{tag}\033[0m"
        stream.write(f"{tag} {a.model} {a.signal}: {a.reason} (window {a.window}, "
                     f"{a.consecutive} in a row)\n")


def json_file_sink(alerts: Iterable[Alert], path: Path) -> int:
    """Append alerts as JSON lines (one object per alert); returns how many."""
    items = [a.to_json() for a in alerts]
    if not items:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, sort_keys=True, default=str) + "\n")
    return len(items)


def post_webhook(url: str, payload: Mapping[str, Any], *, timeout_s: float = 5.0,
                 retries: int = 3, backoff_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """POST `payload` as JSON; retry connection errors and 5xx up to `retries` times.

    Returns {ok, status, attempts, error}; never raises (an unreachable webhook must not
    stop the monitor from writing its report)."""
    import httpx

    body = json.dumps(payload, sort_keys=True, default=str)
    last: dict[str, Any] = {"ok": False, "status": None, "attempts": 0, "error": ""}
    for attempt in range(1, retries + 2):
        last["attempts"] = attempt
        try:
            r = httpx.post(url, content=body, timeout=timeout_s,
                           headers={"content-type": "application/json",
                                    "user-agent": "specops-monitor"})
            last["status"] = r.status_code
            if r.status_code < 400:
                last.update(ok=True, error="")
                return last
            last["error"] = f"HTTP {r.status_code}"
            if r.status_code < 500:
                return last
        except httpx.HTTPError as exc:
            last["error"] = f"{type(exc).__name__}: {exc}"
        if attempt <= retries:
            sleep(backoff_s * 2 ** (attempt - 1))
    return last


def deliver(alerts: list[Alert], *, terminal: IO[str] | None = None, quiet: bool = False,
            json_path: Path | None = None, webhook: str | None = None,
            webhook_timeout_s: float = 5.0, webhook_retries: int = 3) -> dict[str, Any]:
    """Send fired alerts to every configured sink; returns what each sink did."""
    out: dict[str, Any] = {"alerts": len(alerts)}
    if not alerts:
        return out
    if not quiet:
        terminal_sink(alerts, terminal)
        out["terminal"] = len(alerts)
    if json_path is not None:
        out["json_file"] = {"path": str(json_path), "written": json_file_sink(alerts, json_path)}
    if webhook:
        payload = {"source": "specops", "kind": "monitor_alerts",
                   "alerts": [a.to_json() for a in alerts]}
        out["webhook"] = post_webhook(webhook, payload, timeout_s=webhook_timeout_s,
                                      retries=webhook_retries)
    return out
