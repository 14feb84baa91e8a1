"""The store on SQLite (always) and PostgreSQL (tests/runtime/postgres_helpers.py says when).

Each Postgres test works in its own schema, dropped afterwards, so concurrent CI runs on
the same server never see each other's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from postgres_helpers import require_postgres

from specops.runtime.engine.datahash import HashMemo
from specops.runtime.store import SCHEMA_VERSION, Store, StoreError, resolve_url
from specops.runtime.store import schema as S


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store.from_url("sqlite:///store.db", tmp_path)
        yield s
        s.close()
        return
    url = require_postgres()
    schema = f"specops_test_{uuid.uuid4().hex[:12]}"
    s = Store.from_url(url, schema=schema)
    try:
        yield s
    finally:
        s.close()
        eng = sa.create_engine(url)
        with eng.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()


def test_migrations_create_every_table(store):
    assert store.schema_version() == SCHEMA_VERSION
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"schema_version", "runs", "node_runs", "metrics", "artifacts", "lineage",
            "cache_entries", "file_hashes"} <= names
    assert store.migrate() == SCHEMA_VERSION          # idempotent
    assert store.schema_version() == SCHEMA_VERSION


def test_newer_schema_is_refused(store):
    with store.engine.begin() as conn:
        conn.execute(sa.insert(S.schema_version).values(version=SCHEMA_VERSION + 1,
                                                        applied_at=0.0))
    with pytest.raises(StoreError, match="newer than this specops"):
        store.migrate()


def test_run_lifecycle(store):
    store.begin_run("r1", project="p", spec_hash="sha256:x", executor="inline",
                    selection=["a", "b"])
    store.node_started("r1", "a", "test.write", "fa")
    store.node_finished("r1", "a", "test.write", "fa", status="done", attempts=1,
                        duration_s=0.5, digest="sha256:d", metrics={"auc": 0.8, "n": 3})
    store.node_finished("r1", "b", "test.fail", "fb", status="failed", cause="bad data",
                        failure_kind="user", report={"rows": 3})
    store.finish_run("r1", "failed", {"done": 1, "failed": 1})
    run = store.get_run("r")
    assert run is not None and run["status"] == "failed" and run["selection"] == ["a", "b"]
    assert store.get_run("latest")["run_id"] == "r1"
    rows = store.node_runs("r1")
    assert [(r["node_id"], r["status"]) for r in rows] == [("a", "done"), ("b", "failed")]
    assert rows[1]["cause"] == "bad data" and rows[1]["report"] == {"rows": 3}
    assert store.metrics("r1") == {"a": {"auc": 0.8, "n": 3.0}}
    assert [r["run_id"] for r in store.list_runs()] == ["r1"]
    store.begin_run("r12")
    assert store.get_run("latest")["run_id"] == "r12"
    assert store.get_run("r1")["run_id"] == "r1"          # exact id beats prefix
    assert store.get_run("r") is None                     # ambiguous prefix


def test_interrupted_runs_are_marked(store):
    store.begin_run("dead")
    store.node_started("dead", "a", "noop", "f")
    with store.engine.begin() as conn:
        conn.execute(sa.update(S.runs).values(pid=2**22 + 12345))   # no such process
    assert store.mark_interrupted() == ["dead"]
    assert store.get_run("dead")["status"] == "interrupted"
    assert store.node_runs("dead")[0]["status"] == "interrupted"
    store.begin_run("alive")                                       # this process: alive
    assert store.mark_interrupted() == []


def test_cache_entries_lineage_and_forget(store):
    store.begin_run("r1")
    store.record_output(run_id="r1", node_id="a", fingerprint="fa", cache_key="k",
                        digest="sha256:d1", size_bytes=10,
                        manifest={"files": {"out.txt": {"sha256": "x", "size": 10}}},
                        data_hashes={"data.csv": "sha256:h"}, result={"metrics": {"m": 1}},
                        lineage=[("artifact", "src", "sha256:d0"),
                                 ("file", "data.csv", "sha256:h")])
    store.record_output(run_id="r1", node_id="a", fingerprint="fa", cache_key="k",
                        digest="sha256:d2", size_bytes=10, manifest={"files": {}},
                        data_hashes={}, result={}, lineage=[])
    assert [c["digest"] for c in store.cache_candidates("k")] == ["sha256:d2", "sha256:d1"]
    assert store.cache_candidates("k")[1]["data_hashes"] == {"data.csv": "sha256:h"}
    assert [(e["source_kind"], e["source"]) for e in store.lineage("sha256:d1")] == [
        ("artifact", "src"), ("file", "data.csv")]
    store.forget_digest("sha256:d2")
    assert [c["digest"] for c in store.cache_candidates("k")] == ["sha256:d1"]


def test_file_hash_memo_round_trip(store):
    memo = HashMemo()
    memo.put("/data/x.parquet", 10, 123, "sha256:aa")
    store.save_memo(memo)
    assert not memo.dirty
    memo.put("/data/x.parquet", 11, 124, "sha256:bb")
    store.save_memo(memo)
    loaded = HashMemo()
    store.load_memo(loaded)
    assert loaded.get("/data/x.parquet", 11, 124) == "sha256:bb"
    assert loaded.get("/data/x.parquet", 10, 123) is None and not loaded.dirty


def test_sqlite_is_in_wal_mode(tmp_path):
    s = Store.from_url(None, tmp_path)
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    assert (tmp_path / ".specops" / "store.db").is_file()


def test_urls_and_errors(tmp_path):
    assert resolve_url("sqlite:///x/s.db", tmp_path) == f"sqlite:///{tmp_path}/x/s.db"
    assert resolve_url("sqlite:////abs/s.db", tmp_path) == "sqlite:////abs/s.db"
    assert resolve_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(StoreError, match="not a database URL"):
        Store.from_url("nonsense", tmp_path)
    with pytest.raises(StoreError, match="cannot reach store"):
        Store.from_url("postgresql+psycopg://nobody@127.0.0.1:1/none")


@pytest.mark.postgres
def test_a_whole_run_on_postgres(tmp_path):
    pg_url = require_postgres()
    from plan_helpers import node, plan_dict

    from specops.runtime.engine.plan_reader import parse_plan
    from specops.runtime.engine.run_loop import execute_plan

    schema = f"specops_test_{uuid.uuid4().hex[:12]}"
    eng = sa.create_engine(pg_url)
    with eng.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{pg_url}?options=-csearch_path%3D{schema}"
    try:
        plan = parse_plan(plan_dict(node("a", metrics={"m": 1}), node("b", inputs=["a"])))
        first = execute_plan(plan, tmp_path, store_url=url)
        second = execute_plan(plan, tmp_path, store_url=url)
        assert first.ok and all(o.cache_hit for o in second.nodes.values())
        assert not (tmp_path / ".specops" / "store.db").exists()
        s = Store.from_url(url)
        assert [r["status"] for r in s.list_runs()] == ["succeeded", "succeeded"]
        assert s.metrics(second.run_id) == {"a": {"m": 1.0}}
        s.close()
    finally:
        with eng.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()



def test_concurrent_writers_on_sqlite_wait_instead_of_failing(tmp_path):
    """Read-then-write transactions from several connections (two drivers on one project)
    must queue on the lock, not fail with "database is locked"."""
    import threading

    Store.from_url(None, tmp_path).close()
    errors: list[BaseException] = []

    def work(i: int) -> None:
        s = Store.from_url(None, tmp_path)
        try:
            for j in range(15):
                s.begin_run(f"r{i}-{j}")
                s.mark_interrupted()
                s.record_output(run_id=f"r{i}-{j}", node_id="a", fingerprint="f",
                                cache_key="k", digest=f"sha256:{i}-{j}", size_bytes=1,
                                manifest={"files": {}}, data_hashes={}, result={},
                                lineage=[("artifact", "x", "sha256:y")])
        except BaseException as exc:
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    s = Store.from_url(None, tmp_path)
    assert len(s.cache_candidates("k")) == 60


def test_an_old_store_is_upgraded_in_place(store, monkeypatch):
    """Migrations run in order from the recorded version; data written before survives."""
    store.begin_run("before")

    def v2(conn: sa.Connection) -> None:
        conn.execute(sa.text("ALTER TABLE runs ADD COLUMN note VARCHAR(100)"))

    monkeypatch.setattr(S, "MIGRATIONS", [*S.MIGRATIONS, v2])
    monkeypatch.setattr(S, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    assert store.migrate() == SCHEMA_VERSION + 1
    assert store.schema_version() == SCHEMA_VERSION + 1
    cols = {c["name"] for c in sa.inspect(store.engine).get_columns("runs")}
    assert "note" in cols and store.get_run("before") is not None
    assert store.migrate() == SCHEMA_VERSION + 1          # nothing left to apply
