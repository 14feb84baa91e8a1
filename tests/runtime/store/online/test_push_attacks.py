"""Attack on the online store's keep-newer rule through `push`: a row stamped in the
future would be kept against every later (true) row until that time, pinning an
entity's features. Such a push is refused, by the rows API (the server's push route) and
by `specops push FILE`, and the store keeps what it held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from online_store_helpers import plan_of, us

from specops.runtime.store.online import OnlineValue
from specops.runtime.store.online.push import PushError, push_file, push_rows

V1 = "bureau_history@1"


def _row(when: str | int, created: str | int | None, balance: float) -> dict:
    return {"applicant_id": 7, "reported_at": when, "created_at": created,
            "balance": balance, "credit_limit": 1000.0}


def test_a_future_row_cannot_pin_a_value(online_store, credit_project: Path) -> None:
    plan = plan_of(credit_project)
    assert push_rows(online_store, plan, V1, [_row("2025-08-01T00:00:00Z", None, 100.0)]) == 1
    held = online_store.read_many({V1: [(7,)]})[V1][0]
    future = (datetime.now(UTC) + timedelta(days=365 * 900)).isoformat()
    for row in (_row(future, None, 999.0), _row("2025-08-02T00:00:00Z", future, 999.0)):
        with pytest.raises(PushError, match="is in the future") as err:
            push_rows(online_store, plan, V1, [_row("2025-08-02T00:00:00Z", None, 1.0), row])
        assert "applicant_id 7" in str(err.value) and "\n" not in str(err.value)
        assert online_store.read_many({V1: [(7,)]})[V1][0] == held   # nothing written
    soon = (datetime.now(UTC) + timedelta(minutes=1)).replace(microsecond=0)  # clock skew
    assert push_rows(online_store, plan, V1, [_row(soon.isoformat(), None, 500.0)]) == 1
    got = online_store.read_many({V1: [(7,)]})[V1][0]
    assert got == OnlineValue({"utilization": 0.5}, int(soon.timestamp()) * 1_000_000, None)
    assert got.event_ts_us > us(2025, 8, 1)


def test_a_future_row_in_a_pushed_file_is_refused(online_store, credit_project: Path,
                                                  tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    f.write_text("applicant_id,reported_at,created_at,balance,credit_limit,late_payments,"
                 "open_accounts\n7,2999-01-01T00:00:00Z,2025-08-01T00:00:00Z,1.0,2.0,0,1\n",
                 encoding="utf-8")
    with pytest.raises(PushError, match="reported_at 2999-01-01"):
        push_file(online_store, plan_of(credit_project), V1, f, credit_project)
    assert online_store.read_many({V1: [(7,)]})[V1] == [None]
