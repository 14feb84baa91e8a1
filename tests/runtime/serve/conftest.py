"""Fixtures for the serving tests: one real registered model per session."""

from __future__ import annotations

from typing import Any

import pytest
from serve_helpers import build_project


@pytest.fixture(scope="session")
def served_project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One registered model shared by the serving tests (training takes seconds)."""
    return build_project(tmp_path_factory.mktemp("serve"))
