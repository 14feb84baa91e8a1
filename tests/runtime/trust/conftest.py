"""Fixtures: a signed-mode project on SQLite, and on PostgreSQL when configured."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from postgres_helpers import require_postgres
from trust_helpers import Project, drop_schema, make_project, pg_project


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    if request.param == "sqlite":
        yield make_project(tmp_path)
        return
    require_postgres()
    proj = pg_project(tmp_path)
    try:
        yield proj
    finally:
        assert proj.schema
        drop_schema(proj.schema)


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    return make_project(tmp_path)
