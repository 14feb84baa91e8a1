"""The online store: each entity's latest feature values, read at request time.

Why a separate store from the run store: serving reads a handful of entity keys per request
and must answer in well under a millisecond, so values live in a key-value layout (SQLite
table keyed by (view, key) on one machine, Redis across machines), written by
`materialize` (the offline view as of a time T, runtime/store/online/materialize.py) and
`push` (fresh source rows, runtime/store/online/push.py) from the same compiled view code
the offline point-in-time join uses.

The contract every backend keeps (tests/runtime/store/online/test_online_contract.py):
- `write(view, rows)` upserts per entity key and keeps the newer `(event_ts, created_ts)`
  (event time first, created time breaks ties, a null created time loses; an equal pair
  overwrites, so re-writing the same row is idempotent); returns how many keys changed;
- `read_many({view: [key, ...]})` answers every view and key in ONE round trip (SQLite:
  one query per view inside one connection call; Redis: one MGET), in the order asked,
  None for an absent key;
- values round-trip exactly (runtime/store/online/codec.py): ints stay ints, floats are
  bit-for-bit float64, None stays None;
- staleness is NOT applied here: the store keeps event and created times and the reader
  nulls a value older than the view's TTL relative to the request time, exactly as the
  offline PIT join does relative to the spine time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = ["DEFAULT_ONLINE_PATH", "OnlineStore", "OnlineStoreError", "OnlineValue",
           "open_online_store", "resolve_online_url"]

DEFAULT_ONLINE_PATH = ".specops/online.sqlite"
ENV_VAR = "SPECOPS_ONLINE_STORE"


class OnlineStoreError(RuntimeError):
    """The online store cannot be used (unreachable, bad URL); a one-line message."""


@dataclass(frozen=True)
class OnlineValue:
    """One entity's stored row of a view."""

    values: dict[str, Any]        # feature name -> value (None allowed)
    event_ts_us: int              # the row's event time, UTC microseconds
    created_ts_us: int | None     # created/ingested time if the view has one


class OnlineStore(Protocol):
    """What materialize, push and the model server use; see the module docstring."""

    def write(self, view: str, rows: Sequence[tuple[tuple[Any, ...], OnlineValue]]) -> int:
        """Upsert rows of `view` ("name@version"); keeps the newer (event, created)."""
        ...

    def read_many(self, lookups: Mapping[str, Sequence[tuple[Any, ...]]]
                  ) -> dict[str, list[OnlineValue | None]]:
        """Every view's keys in one round trip, order preserved, None when absent."""
        ...

    def watermark(self, view: str) -> int | None:
        """The `until` (UTC microseconds) of the view's last materialize, or None."""
        ...

    def set_watermark(self, view: str, until_us: int) -> None:
        """Record a materialize of `view` up to `until_us` (materialize.py calls it)."""
        ...

    def close(self) -> None:
        ...


def open_online_store(url: str | None, project_root: Path) -> OnlineStore:
    """The store at `url`: None -> embedded SQLite at <project>/.specops/online.sqlite;
    `sqlite:///path` (relative paths are under the project root); `redis://host:port/db`
    (also `rediss://`, `unix://`). Raises OnlineStoreError with one line naming the URL."""
    if url is None or url == "":
        from specops.runtime.store.online.sqlite_online import SqliteOnlineStore

        return SqliteOnlineStore(Path(project_root) / DEFAULT_ONLINE_PATH)
    if url.startswith("sqlite:///"):
        from specops.runtime.store.online.sqlite_online import SqliteOnlineStore

        raw = url[len("sqlite:///"):]
        path = Path(raw)
        return SqliteOnlineStore(path if path.is_absolute() else Path(project_root) / path)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from specops.runtime.store.online.redis_online import RedisOnlineStore

        return RedisOnlineStore(url)
    raise OnlineStoreError(f"online store URL {url!r}: expected sqlite:///PATH or "
                           "redis://HOST:PORT/DB")


def resolve_online_url(cli_value: str | None, project: Any) -> str | None:
    """The online store URL: `--online-store` > $SPECOPS_ONLINE_STORE > specops.yaml's
    `online_store:` > None (the embedded SQLite default). `project` is the project root
    (a path: specops.yaml is read), specops.yaml as a dict, or an object with an
    `online_store` attribute (a ProjectSpec)."""
    if cli_value:
        return cli_value
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    value: Any = None
    root: Path | None = None
    if isinstance(project, (str, Path)):
        from specops.runtime.cli.support import project_setting

        root = Path(project)
        value = project_setting(root, "online_store")
    elif isinstance(project, Mapping):
        value = project.get("online_store")
    elif project is not None:
        value = getattr(project, "online_store", None)
    if not (isinstance(value, str) and value):
        return None
    _confined(value, root)
    return value


def _confined(url: str, root: Path | None) -> None:
    """A SQLite path named by specops.yaml stays inside the project root.

    Why only there: the project's own file travels with a clone, so a hostile one could
    point materialize (which writes) at any file the user can write; `--online-store` and
    $SPECOPS_ONLINE_STORE are the operator's own choice and may name any path."""
    if not url.startswith("sqlite:///"):
        return
    raw = Path(url[len("sqlite:///"):])
    escapes = raw.is_absolute() or ".." in raw.parts
    if not escapes and root is not None:
        top = root.resolve()
        escapes = not (top / raw).resolve().is_relative_to(top)
    if escapes:
        raise OnlineStoreError(
            f"specops.yaml online_store {url!r}: a path from the project's own file must "
            "stay inside the project root (name another path with --online-store or "
            f"${ENV_VAR})")
