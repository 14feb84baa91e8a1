"""The run store: SQLite by default, Postgres by URL (see `store.store.Store`)."""

from __future__ import annotations

from specops.runtime.store.schema import SCHEMA_VERSION
from specops.runtime.store.store import Store, StoreError, resolve_url

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "resolve_url"]
