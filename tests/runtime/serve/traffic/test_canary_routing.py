"""Canary and shadow routing on the real lean server and the real `asgi.Service`, from a
signed rollout in a real SQLite store (champion credit@1, challenger credit@2 registered
and approved like any version).

- 10,000 requests with distinct ids through the service: 10% +- 3% reach the challenger,
  and the same key gets the same arm every time (ids, and a `--sticky-key` input);
- the real HTTP server routes as the in-process service does;
- shadow never changes a response: byte-equal to champion-only serving (JSON and binary
  outputs), and the challenger's rows are logged with arm `shadow`;
- a rollout row written into the database by someone with access, or a signed one whose
  share was edited, routes nothing (the server's follower refuses it);
- a promotion reaches the running server in its re-check round: the challenger answers
  everything, as the champion.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
import sqlalchemy as sa
from rollout_projects import Signed, signed_project
from serve_helpers import oip_body

from specops.runtime.governance.deploy import promote_rollout, running_rollout, start_rollout
from specops.runtime.governance.governance_tables import rollouts
from specops.runtime.serve.asgi import Service
from specops.runtime.serve.lean import LeanServer, build_service
from specops.runtime.serve.served_model import resolve
from specops.runtime.serve.traffic import build_routed_service, to_challenger


@pytest.fixture
def canary(served_project: dict[str, Any], tmp_path: Path) -> tuple[Signed, int]:
    s, v = signed_project(served_project, tmp_path / "proj")
    assert v is not None
    return s, v


def _service(s: Signed, recheck_s: float = 0) -> Service:
    return build_routed_service(resolve(s.root, None, "credit", "production"), log=True,
                                log_batch_rows=1000, recheck_s=recheck_s)


def _body(frame: pl.DataFrame, rid: str, binary: bool = False) -> bytes:
    doc: dict[str, Any] = {**oip_body(frame), "id": rid}
    if binary:
        doc["parameters"] = {"binary_data_output": True}
    return json.dumps(doc).encode()


async def _send(service: Service, bodies: list[bytes]) -> list[tuple[int, bytes]]:
    out = []
    for b in bodies:
        status, payload, _ = await service.handle("POST", "/v2/models/credit/infer", b)
        out.append((status, payload))
    return out


def _version(payload: bytes) -> str:
    return str(json.loads(payload)["model_version"])


def _log(root: Path) -> pl.DataFrame:
    files = sorted((root / ".specops/predictions/model=credit").rglob("*.parquet"))
    return pl.concat([pl.read_parquet(f, hive_partitioning=False) for f in files],
                     how="diagonal_relaxed")


def test_canary_share_is_10_percent_and_sticky(canary: tuple[Signed, int],
                                               served_project: dict[str, Any]) -> None:
    s, v = canary
    s.act("frank", start_rollout, "credit", v, "production", share=10)
    service = _service(s)
    try:
        assert service.traffic is not None, service.rollout.status   # type: ignore[attr-defined]
        row = served_project["test"].head(1)
        bodies = [_body(row, f"customer-{i}") for i in range(10_000)]
        first = asyncio.run(_send(service, bodies))
        assert all(status == 200 for status, _ in first)
        arms = [_version(p) for _, p in first]
        share = arms.count(str(v)) / len(arms)
        assert 0.07 <= share <= 0.13, share
        assert set(arms) == {"1", str(v)}
        # sticky: every key gets the same arm again, twice, in another order
        again = asyncio.run(_send(service, bodies[::-1] + bodies[:2000]))
        assert [_version(p) for _, p in again] == arms[::-1] + arms[:2000]
        # the arm is the documented hash rule of the key, nothing else
        expected = [str(v) if to_challenger(f"customer-{i}", 10) else "1"
                    for i in range(10_000)]
        assert arms == expected
    finally:
        service.close()
    log = _log(s.root)
    by_arm = dict(log.group_by("arm").len().iter_rows())
    n_challenger = 2 * arms.count(str(v)) + arms[:2000].count(str(v))
    assert by_arm["challenger"] == n_challenger
    assert by_arm["champion"] == 22_000 - n_challenger
    assert set(log.filter(pl.col("arm") == "challenger").get_column("version")) == {v}


def test_sticky_key_routes_on_an_input(canary: tuple[Signed, int],
                                       served_project: dict[str, Any]) -> None:
    s, v = canary
    s.act("frank", start_rollout, "credit", v, "production", share=30, sticky_key="age")
    service = _service(s)
    try:
        rows = served_project["test"].head(200)
        bodies = [_body(rows.slice(i, 1), f"req-{i}-{j}") for j in range(3)
                  for i in range(rows.height)]
        arms = [_version(p) for _, p in asyncio.run(_send(service, bodies))]
        ages = rows.get_column("age").to_list() * 3
        by_age: dict[Any, set[str]] = {}
        for age, arm in zip(ages, arms, strict=True):
            by_age.setdefault(age, set()).add(arm)
        assert all(len(a) == 1 for a in by_age.values())     # same age -> same arm
        assert {a for s_ in by_age.values() for a in s_} == {"1", str(v)}
    finally:
        service.close()


def test_real_http_routes_like_the_service(canary: tuple[Signed, int],
                                           served_project: dict[str, Any]) -> None:
    s, v = canary
    s.act("frank", start_rollout, "credit", v, "production", share=10)
    row = served_project["test"].head(1)
    with LeanServer(_service(s)) as srv, httpx.Client(base_url=srv.url, timeout=30) as c:
        got = [c.post("/v2/models/credit/infer", content=_body(row, f"h{i}")).json()
               ["model_version"] for i in range(600)]
    want = [str(v) if to_challenger(f"h{i}", 10) else "1" for i in range(600)]
    assert got == want
    assert 0.05 < want.count(str(v)) / 600 < 0.15


def test_shadow_never_changes_a_response(canary: tuple[Signed, int],
                                         served_project: dict[str, Any]) -> None:
    s, v = canary
    rows = served_project["test"].head(60)
    bodies = [_body(rows.slice(i, 1 + i % 3), f"s{i}", binary=i % 2 == 1)
              for i in range(rows.height)]
    plain = build_service(resolve(s.root, None, "credit", "production"), log=False,
                          recheck_s=0)
    try:
        expected = asyncio.run(_send(plain, bodies))
    finally:
        plain.close()
    s.act("frank", start_rollout, "credit", v, "production", shadow=True)
    shadow = _service(s)
    try:
        assert shadow.traffic is not None

        async def run() -> list[tuple[int, bytes]]:
            out = await _send(shadow, bodies)
            for _ in range(200):          # let the scheduled shadow scoring finish
                if shadow.traffic.routed["shadow"] == len(bodies):
                    break
                await asyncio.sleep(0.01)
            return out

        got = asyncio.run(run())
        assert shadow.traffic.routed == {"champion": 60, "challenger": 0, "shadow": 60}
    finally:
        shadow.close()
    assert got == expected                     # byte for byte, status included
    log = _log(s.root)
    shadow_rows = log.filter(pl.col("arm") == "shadow")
    assert shadow_rows.get_column("version").unique().to_list() == [v]
    assert shadow_rows.height == sum(rows.slice(i, 1 + i % 3).height for i in range(60))


def test_a_rollout_row_written_around_deploy_routes_nothing(canary: tuple[Signed, int],
                                                            served_project: dict[str, Any]
                                                            ) -> None:
    """The attack: an ordinary user with database access sets a canary share directly."""
    s, v = canary
    digest = s.gov().version("credit", v).model_digest
    with sa.create_engine(f"sqlite:///{s.root / '.specops/store.db'}").begin() as db:
        db.execute(rollouts.insert().values(
            model="credit", environment="production", action="rollout", mode="canary",
            champion=1, challenger=v, challenger_digest=digest, share=90.0, sticky_key="",
            actor="frank", reason="", at=time.time(), audit_seq=None, envelope=None))
    service = _service(s)
    try:
        assert service.traffic is None
        status = service.rollout.status                              # type: ignore[attr-defined]
        assert "no audit entry agrees with the row" in status, status
        row = served_project["test"].head(1)
        arms = [_version(p) for _, p in asyncio.run(
            _send(service, [_body(row, f"x{i}") for i in range(300)]))]
        assert set(arms) == {"1"}
    finally:
        service.close()


def test_an_edited_share_routes_nothing(canary: tuple[Signed, int]) -> None:
    s, v = canary
    r = s.act("frank", start_rollout, "credit", v, "production", share=5)
    with sa.create_engine(f"sqlite:///{s.root / '.specops/store.db'}").begin() as db:
        db.execute(rollouts.update().where(rollouts.c.id == r.id).values(share=95.0))
    service = _service(s)
    try:
        assert service.traffic is None
        assert "no audit entry agrees" in service.rollout.status   # type: ignore[attr-defined]
    finally:
        service.close()


def test_promotion_reaches_the_running_server(canary: tuple[Signed, int],
                                              served_project: dict[str, Any]) -> None:
    s, v = canary
    s.act("frank", start_rollout, "credit", v, "production", share=50)
    service = _service(s, recheck_s=3600)     # the test runs the re-check round itself
    guard = service.rollout.recheck                                   # type: ignore[attr-defined]
    try:
        row = served_project["test"].head(1)
        before = {_version(p) for _, p in asyncio.run(
            _send(service, [_body(row, f"p{i}") for i in range(200)]))}
        assert before == {"1", str(v)}
        gov = s.gov(pipeline=True)
        try:
            promote_rollout(gov, "credit", "production", "test")
            assert running_rollout(gov, "credit", "production") is None
        finally:
            gov.close()
        assert guard.check_once() is None          # promoted: not revoked
        assert service.traffic is None and service.model.version == v
        after = asyncio.run(_send(service, [_body(row, f"p{i}") for i in range(200)]))
        assert {(st, _version(p)) for st, p in after} == {(200, str(v))}
    finally:
        service.close()
