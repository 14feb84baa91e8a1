"""The serving re-check fails closed (red-team finding 4): only a genuine connectivity
failure is "store unreachable, retry"; any other exception while re-checking revokes the
service with a one-line cause, so a hostile row cannot keep a rejected model serving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from governed import approve_and_deploy, governed

from specops.runtime.governance.governance_tables import requests
from specops.runtime.serve.lean import build_service
from specops.runtime.serve.recheck import Recheck
from specops.runtime.serve.served_model import open_governance, resolve


@pytest.fixture
def root(served_project: dict[str, Any], tmp_path: Path) -> Path:
    return governed(served_project, tmp_path / "proj")


def _raising(exc: BaseException) -> Any:
    def opener() -> Any:
        raise exc
    return opener


def test_connectivity_errors_retry_without_revoking(root: Path) -> None:
    approve_and_deploy(root)
    service = build_service(resolve(root, None, "credit", "production"), log=False,
                            recheck_s=0)
    try:
        for exc in (sa.exc.OperationalError("connect", {}, Exception("refused")),
                    sa.exc.InterfaceError("connect", {}, Exception("closed")),
                    ConnectionRefusedError("no route")):
            assert Recheck(service, _raising(exc), interval_s=0).check_once() is None
            assert service.revoked is None
    finally:
        service.close()


@pytest.mark.parametrize("exc", [ValueError("Expecting value"), TypeError("int()"),
                                 KeyError("require"), RuntimeError("bug\nsecond line")])
def test_any_other_error_revokes_with_one_line(root: Path, exc: Exception) -> None:
    approve_and_deploy(root)
    service = build_service(resolve(root, None, "credit", "production"), log=False,
                            recheck_s=0)
    try:
        cause = Recheck(service, _raising(exc), interval_s=0).check_once()
        assert cause is not None and "\n" not in cause
        assert type(exc).__name__ in cause
        assert service.revoked == cause
    finally:
        service.close()


def test_hostile_request_row_on_the_real_store_revokes(root: Path) -> None:
    """The attack: a copy of the request with plan '{' inserted into the SQLite store while
    the server runs; the next round must revoke, never retry forever."""
    approve_and_deploy(root)
    source = resolve(root, None, "credit", "production")
    service = build_service(source, log=False, recheck_s=0)
    guard = Recheck(service, lambda: open_governance(source), interval_s=0)
    try:
        assert guard.check_once() is None
        eng = sa.create_engine(f"sqlite:///{root / '.specops' / 'store.db'}")
        with eng.begin() as conn:
            row = conn.execute(sa.select(requests).order_by(requests.c.id.desc())).first()
            assert row is not None
            values = {k: v for k, v in row._mapping.items() if k not in ("id", "plan")}
            rid = conn.execute(requests.insert().values(plan={}, **values)).inserted_primary_key
            conn.execute(sa.text("UPDATE approval_requests SET plan='{' WHERE id=:i"),
                         {"i": rid[0]})
        eng.dispose()
        cause = guard.check_once()
        assert cause is not None and "\n" not in cause
        assert service.revoked == cause
    finally:
        service.close()
