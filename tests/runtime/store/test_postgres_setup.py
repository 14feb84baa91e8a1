"""PostgreSQL tests run when a server answers, skip on a plain run without one, and fail
under CI (or an explicit URL) without one: never a silent skip in CI."""

from __future__ import annotations

import postgres_helpers as P
import pytest
from _pytest.outcomes import Failed, Skipped

DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/none"   # port 1: nothing listens


def test_default_url_is_used_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(P.ENV_VAR, raising=False)
    assert P.postgres_url() == P.DEFAULT_URL == "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_down_server_skips_on_a_plain_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(P.ENV_VAR, raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(P, "DEFAULT_URL", DOWN)
    with pytest.raises(Skipped, match="does not answer at the default URL"):
        P.require_postgres()


@pytest.mark.parametrize("env", [{"CI": "true"}, {P.ENV_VAR: DOWN}])
def test_down_server_fails_in_ci_or_when_configured(monkeypatch: pytest.MonkeyPatch,
                                                    env: dict[str, str]) -> None:
    monkeypatch.delenv(P.ENV_VAR, raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(P, "DEFAULT_URL", DOWN)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(Failed, match=r"127\.0\.0\.1:1/none"):
        P.require_postgres()
