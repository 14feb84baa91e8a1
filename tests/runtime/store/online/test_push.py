"""`push`: fresh source rows into the online store, computed with the view's own code.

Pushes go to `bureau_history@1` (a row-level view: `balance / credit_limit`); the current
`bureau_history@2` has a windowed aggregate and must be refused, since pushed rows carry
no history. Runs on both backends where the store matters.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from online_store_helpers import plan_of, us

from specops.compiler.cli.main import main
from specops.runtime.store.online import OnlineValue, open_online_store
from specops.runtime.store.online.push import PushError, push_file, push_rows

V1 = "bureau_history@1"
HEADER = "applicant_id,reported_at,created_at,balance,credit_limit,late_payments,open_accounts"


def _csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_push_rows_computes_the_view_and_keeps_newer(online_store, credit_project: Path
                                                     ) -> None:
    plan = plan_of(credit_project)
    rows = [
        {"applicant_id": 7, "reported_at": "2025-08-01T00:00:00Z",
         "created_at": "2025-08-02T00:00:00Z", "balance": 300.0, "credit_limit": 1000.0},
        {"applicant_id": 7, "reported_at": us(2025, 8, 3), "created_at": us(2025, 8, 3),
         "balance": 1.0, "credit_limit": 3},            # ints in a float column: fine
        {"applicant_id": 8, "reported_at": "2025-08-01", "created_at": None,
         "balance": None, "credit_limit": 10.0},
    ]
    assert push_rows(online_store, plan, V1, rows) == 2
    got = online_store.read_many({V1: [(7,), (8,)]})[V1]
    assert got[0] == OnlineValue({"utilization": 1.0 / 3.0}, us(2025, 8, 3), us(2025, 8, 3))
    assert got[1] == OnlineValue({"utilization": None}, us(2025, 8, 1), None)
    late = [{"applicant_id": 7, "reported_at": "2025-08-02T00:00:00Z",
             "created_at": "2025-09-01T00:00:00Z", "balance": 5.0, "credit_limit": 10.0}]
    assert push_rows(online_store, plan, V1, late) == 0      # older event time: kept out
    assert online_store.read_many({V1: [(7,)]})[V1][0] == got[0]


@pytest.mark.parametrize(("rows", "needle"), [
    ([{"applicant_id": 1, "reported_at": "2025-01-01", "created_at": "2025-01-01",
       "balance": "lots", "credit_limit": 1.0}], "row 0: column balance (float64): 'lots'"),
    ([{"applicant_id": 1, "reported_at": "2025-01-01", "balance": 1.0}],
     "row 0: missing column(s) created_at, credit_limit"),
    ([{"applicant_id": 1, "reported_at": "2025-01-01", "balance": 1.0, "credit_limit": 2.0,
       "colour": "red"}], "row 0: column 'colour' is not in source bureau_reports"),
    ([{"applicant_id": 1, "reported_at": "2025-01-01", "created_at": 0, "balance": 1.0,
       "credit_limit": 2.0},
      {"applicant_id": 1.5, "reported_at": "2025-01-01", "created_at": 0, "balance": 1.0,
       "credit_limit": 2.0}], "row 1: column applicant_id (int64): 1.5"),
    ([{"applicant_id": 1, "reported_at": "1 Jan 2025", "created_at": 0, "balance": 1.0,
       "credit_limit": 2.0}], "row 0: column reported_at (datetime): '1 Jan 2025'"),
    ([], "non-empty list of rows"),
    (["x"], "row 0: expected an object"),
])
def test_push_rows_refuses_bad_rows(rows: list, needle: str, credit_project: Path,
                                    tmp_path: Path) -> None:
    store = open_online_store(None, tmp_path)
    with pytest.raises(PushError) as err:
        push_rows(store, plan_of(credit_project), V1, rows)
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert store.read_many({V1: [(1,)]})[V1] == [None]
    store.close()


@pytest.mark.parametrize(("view", "needle"), [
    ("bureau_history@2", "windowed aggregates (late_12m) need the entity's history"),
    ("application_features@1", "a request view"),
    ("nope@3", "no entity view 'nope@3'"),
])
def test_push_refuses_views_it_cannot_serve(view: str, needle: str, credit_project: Path,
                                            tmp_path: Path) -> None:
    store = open_online_store(None, tmp_path)
    row = {"applicant_id": 1, "reported_at": "2025-01-01", "created_at": "2025-01-01",
           "balance": 1.0, "credit_limit": 2.0, "late_payments": 0, "open_accounts": 1}
    with pytest.raises(PushError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        push_rows(store, plan_of(credit_project), view, [row])
    store.close()


def test_push_file_equals_the_offline_computation(credit_project: Path, tmp_path: Path
                                                  ) -> None:
    plan = plan_of(credit_project)
    f = _csv(tmp_path / "fresh.csv",
             "5,2025-08-01T10:00:00,2025-08-01T11:00:00,250.5,1000,0,3",
             "5,2025-08-01T09:00:00,2025-08-01T12:00:00,999,1000,0,3",
             "6,2025-08-01T22:00:00,2025-08-02T00:00:00,0.1,0.3,1,1")
    store = open_online_store(None, tmp_path)
    assert push_file(store, plan, V1, f, credit_project) == 2
    got = store.read_many({V1: [(5,), (6,)]})[V1]
    assert got[0] == OnlineValue({"utilization": 250.5 / 1000.0},
                                 us(2025, 8, 1) + 10 * 3_600_000_000,
                                 us(2025, 8, 1) + 11 * 3_600_000_000)
    assert got[1] is not None and got[1].values["utilization"] == 0.1 / 0.3
    assert got[1].event_ts_us == us(2025, 8, 1) + 22 * 3_600_000_000   # naive is UTC
    pq = tmp_path / "fresh.parquet"
    pl.read_csv(f, try_parse_dates=True).write_parquet(pq)
    assert push_file(store, plan, V1, pq, credit_project) == 2    # equal pair: rewritten
    store.close()


def test_push_command_and_a_bad_file(credit_project: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'o.sqlite'}"
    good = _csv(tmp_path / "good.csv", "9,2025-08-01,2025-08-01,1,4,0,1")
    assert main(["push", V1, str(good), str(credit_project), "--online-store", url]) == 0
    assert f"{V1}: 1 entities written" in capsys.readouterr().out
    bad = _csv(tmp_path / "bad.csv", "9,2025-08-02,2025-08-02,n/a,4,0,1",
               "10,2025-08-02,2025-08-02,abc,4,0,1")
    assert main(["push", V1, str(bad), str(credit_project), "--online-store", url]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"specops: push refused: {bad}: column balance (float64)")
    assert "'abc'" in lines[0]
    short = tmp_path / "short.csv"
    short.write_text("applicant_id,reported_at\n1,2025-01-01\n", encoding="utf-8")
    assert main(["push", V1, str(short), str(credit_project), "--online-store", url]) == 1
    assert "lacks declared column(s) created_at" in capsys.readouterr().err
    store = open_online_store(url, credit_project)
    v = store.read_many({V1: [(9,), (10,)]})[V1]
    assert v[0] is not None and v[0].values == {"utilization": 0.25} and v[1] is None
    store.close()
