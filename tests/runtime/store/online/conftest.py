"""Fixtures for the online-store tests: both backends, and a small credit-risk project.

Redis is the real server named by SPECOPS_TEST_REDIS_URL (`.ci/run` exports it); without
it the Redis cases skip with that reason. Each Redis test works under its own key prefix
and deletes it afterwards, so concurrent runs on one server never see each other's keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from online_store_helpers import make_credit_project, redis_url_or_skip

from specops.runtime.store.online import open_online_store


@pytest.fixture(params=["sqlite", "redis"])
def online_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty online store of each backend."""
    if request.param == "sqlite":
        store = open_online_store(None, tmp_path)
        yield store
        store.close()
        return
    url = redis_url_or_skip()
    sep = "&" if "?" in url else "?"
    store = open_online_store(f"{url}{sep}prefix=specops-test:{uuid.uuid4().hex}:", tmp_path)
    try:
        yield store
    finally:
        store.clear()
        store.close()


@pytest.fixture(scope="session")
def credit_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The credit-risk example's specs on 3,000 generated applications (read only: tests
    that change data copy it with `make_credit_project`)."""
    return make_credit_project(tmp_path_factory.mktemp("online-credit"))
