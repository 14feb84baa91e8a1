"""Fixtures: a signed-mode project on SQLite, and on PostgreSQL when configured."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trust_helpers import Project, make_project, project_for


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    yield from project_for(request.param, tmp_path)


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    return make_project(tmp_path)
