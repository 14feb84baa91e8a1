"""The embedded online store: one SQLite file, default `<project>/.specops/online.sqlite`.

Why SQLite: one machine needs no server, the file survives restarts, and WAL mode lets a
`materialize` write while a model server reads. Rows are `(view, key) -> (ev, cr, rec)`
in a WITHOUT ROWID table (the primary key is the lookup); the "keep the newer row" rule
is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE` so it holds under concurrent
writers. Reads for all views are answered by one call under one lock (SQLite is
in-process: there is no network round trip to save, but the method is one call).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from specops.runtime.store.online import OnlineStoreError, OnlineValue
from specops.runtime.store.online.codec import decode_value, encode_key, encode_value

__all__ = ["SqliteOnlineStore"]

_MIN = -(2 ** 63)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_rows (
  view TEXT NOT NULL, key TEXT NOT NULL, ev INTEGER NOT NULL, cr INTEGER, rec TEXT NOT NULL,
  PRIMARY KEY (view, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS online_watermarks (view TEXT PRIMARY KEY, until_us INTEGER NOT NULL);
"""
_UPSERT = f"""
INSERT INTO online_rows (view, key, ev, cr, rec) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (view, key) DO UPDATE SET ev = excluded.ev, cr = excluded.cr, rec = excluded.rec
WHERE excluded.ev > online_rows.ev
   OR (excluded.ev = online_rows.ev
       AND coalesce(excluded.cr, {_MIN}) >= coalesce(online_rows.cr, {_MIN}))
"""
_CHUNK = 500   # keys per IN (...) query, under SQLite's bound-parameter limit


class SqliteOnlineStore:
    """OnlineStore on a SQLite file (see runtime/store/online/__init__.py)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OnlineStoreError(f"online store {self.url}: {exc}") from None
        self._lock = threading.Lock()

    def write(self, view: str, rows: Sequence[tuple[tuple[Any, ...], OnlineValue]]) -> int:
        data = [(view, encode_key(k), v.event_ts_us, v.created_ts_us, encode_value(v))
                for k, v in rows]
        with self._lock:
            try:
                before = self._db.total_changes
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(_UPSERT, data)
                self._db.execute("COMMIT")
                return self._db.total_changes - before
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise OnlineStoreError(f"online store {self.url}: {exc}") from None

    def read_many(self, lookups: Mapping[str, Sequence[tuple[Any, ...]]]
                  ) -> dict[str, list[OnlineValue | None]]:
        out: dict[str, list[OnlineValue | None]] = {}
        with self._lock:
            try:
                for view, keys in lookups.items():
                    texts = [encode_key(k) for k in keys]
                    found: dict[str, str] = {}
                    for i in range(0, len(texts), _CHUNK):
                        part = texts[i:i + _CHUNK]
                        marks = ",".join("?" * len(part))
                        found.update(self._db.execute(
                            f"SELECT key, rec FROM online_rows WHERE view = ? AND key IN ({marks})",
                            (view, *part)).fetchall())
                    out[view] = [decode_value(found[t]) if t in found else None
                                 for t in texts]
            except sqlite3.Error as exc:
                raise OnlineStoreError(f"online store {self.url}: {exc}") from None
        return out

    def watermark(self, view: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT until_us FROM online_watermarks WHERE view = ?",
                                   (view,)).fetchone()
        return int(row[0]) if row else None

    def set_watermark(self, view: str, until_us: int) -> None:
        with self._lock:
            self._db.execute("INSERT INTO online_watermarks (view, until_us) VALUES (?, ?) "
                             "ON CONFLICT (view) DO UPDATE SET until_us = excluded.until_us",
                             (view, int(until_us)))

    def close(self) -> None:
        with self._lock:
            self._db.close()
