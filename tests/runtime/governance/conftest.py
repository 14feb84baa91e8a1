"""Fixtures: a governance context on SQLite, and on PostgreSQL when configured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gov_helpers import (
    Clock,
    SignedRegistry,
    drop_pg_schema,
    make_gov,
    pg_schema,
    sqlite_url,
)
from postgres_helpers import require_postgres

from specops.runtime.governance import Governance


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(tmp_path) -> Iterator[SignedRegistry]:
    """The real signed registry, files and all (see SignedRegistry)."""
    reg = SignedRegistry(tmp_path / "registry")
    yield reg
    reg.close()


@pytest.fixture
def gov(tmp_path, registry, clock) -> Iterator[Governance]:
    g = make_gov(sqlite_url(tmp_path), tmp_path, registry=registry, clock=clock)
    yield g
    g.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_gov(request, tmp_path, registry, clock) -> Iterator[Governance]:
    """The same tests on both databases."""
    if request.param == "sqlite":
        g = make_gov(sqlite_url(tmp_path), tmp_path, registry=registry, clock=clock)
        yield g
        g.close()
        return
    url = require_postgres()
    schema = pg_schema()
    g = make_gov(url, tmp_path, registry=registry, clock=clock, schema=schema)
    try:
        yield g
    finally:
        g.close()
        drop_pg_schema(schema)
