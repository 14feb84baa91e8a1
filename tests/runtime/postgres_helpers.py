"""The one place the tests learn where PostgreSQL is, and whether to skip without it.

Why one place: each suite used to read SPECOPS_TEST_POSTGRES_URL itself and skip when it
was unset, so a plain `uv run pytest` skipped every PostgreSQL test even with a server
running, and a CI machine whose server was down passed with those tests silently skipped.

- The URL is SPECOPS_TEST_POSTGRES_URL, else the default local server (`DEFAULT_URL`).
- It is probed once per test process (one `SELECT 1`, 3 s connect timeout).
- When it does not answer, the tests skip with the cause, unless `CI` is set or the URL
  was given explicitly: then they fail, because a configured database that is down is a
  broken environment, not an optional one.
"""

from __future__ import annotations

import functools
import os

import pytest
import sqlalchemy as sa

__all__ = ["DEFAULT_URL", "ENV_VAR", "postgres_problem", "postgres_url", "require_postgres"]

ENV_VAR = "SPECOPS_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    """The URL the PostgreSQL tests use (whether or not anything answers there)."""
    return os.environ.get(ENV_VAR) or DEFAULT_URL


@functools.cache
def _probe(url: str) -> str | None:
    """None when `url` answers `SELECT 1`, else the one-line cause."""
    try:
        eng = sa.create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with eng.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        finally:
            eng.dispose()
    except Exception as e:  # any failure to reach it is the same answer: not available
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"{type(e).__name__}: {first}"
    return None


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used by the tests, or None when it can."""
    return _probe(postgres_url())


def require_postgres() -> str:
    """The URL of a PostgreSQL that answers; otherwise skip (plain run) or fail (CI, or an
    explicitly configured URL). Call it at the top of every PostgreSQL test or fixture."""
    url = postgres_url()
    problem = _probe(url)
    if problem is None:
        return url
    where = f"{ENV_VAR}={url}" if os.environ.get(ENV_VAR) else f"the default URL {url}"
    msg = f"PostgreSQL does not answer at {where} ({problem})"
    if os.environ.get("CI") or os.environ.get(ENV_VAR):
        pytest.fail(msg + "; CI or an explicit URL requires it", pytrace=False)
    pytest.skip(msg + "; set CI=1 to make this a failure")
