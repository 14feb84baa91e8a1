"""Attacks on rollouts and pipeline-executed deploys by an insider with write access to
the governance database (SQLite file or PostgreSQL), in signed mode: copying rows and
their signed statements (replays) and planting history for self-healing to return to.
Each attack writes the rows exactly as a person with the database open would, appending
well-formed audit entries through the ledger's own `append` (the hash chain then holds,
so only the checks at use can notice), and shows the server-side answer refuses it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trust"))
from trust_helpers import Project, facts, project_for

from specops.runtime.governance import GovernanceError
from specops.runtime.governance.approvals import approve
from specops.runtime.governance.database import transaction
from specops.runtime.governance.deploy import (
    abort_rollout,
    auto_rollback,
    promote_rollout,
    rollout_problem,
    running_rollout,
    start_rollout,
)
from specops.runtime.governance.governance_tables import deployments, rollouts
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.promotion import current, deploy, deploy_is_valid
from specops.runtime.governance.registration import record_registration


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    yield from project_for(request.param, tmp_path)


def _registered(p: Project, version: int) -> None:
    v = p.registry.add("m", version)
    gov = p.gov("pipeline")
    try:
        record_registration(gov, actor="pipeline", model="m", version=version,
                            model_digest=v.model_digest, spec_hash="sha256:" + "a" * 64,
                            facts=facts(), run_id=f"run-{version}")
    finally:
        gov.close()


def _approved(p: Project, version: int) -> None:
    _registered(p, version)
    for person, role in (("bob", "model_risk_officer"), ("carol", "business_owner")):
        gov = p.gov(person)
        try:
            approve(gov, person, "m", version, role)
        finally:
            gov.close()


def _as(p: Project, person: str | None, fn, *args, **kw):  # type: ignore[no-untyped-def]
    gov = p.gov(person)
    try:
        return fn(gov, *args, **kw)
    finally:
        gov.close()


def _copy_row(p: Project, table: sa.Table, row_id: int, with_entry: bool = True) -> None:
    """The insider's replay: the row again (new id), with a copy of its audit entry
    appended to the chain (so the row has an entry of its own that agrees with it)."""
    gov = p.gov()
    try:
        with transaction(gov.engine) as conn:
            row: dict[str, Any] = dict(conn.execute(
                sa.select(table).where(table.c.id == row_id)).one()._mapping)
            row.pop("id")
            if with_entry:
                old = next(e for e in audit.entries(conn) if e.seq == row["audit_seq"])
                entry = audit.append(conn, actor=old.actor, action=old.action,
                                     target=old.target, reason=old.reason,
                                     details=old.details, at=float(row["at"]))
                row["audit_seq"] = entry.seq
            conn.execute(table.insert().values(**row))
    finally:
        gov.close()


def _last_id(p: Project, table: sa.Table, **where: Any) -> int:
    gov = p.gov()
    try:
        with gov.engine.connect() as conn:
            q = sa.select(sa.func.max(table.c.id))
            for k, v in where.items():
                q = q.where(table.c[k] == v)
            return int(conn.execute(q).scalar_one())
    finally:
        gov.close()


def test_replayed_rollout_statement_does_not_revive_an_aborted_canary(
        project: Project) -> None:
    project.accept("bob")
    _approved(project, 1)
    _as(project, "frank", deploy, "frank", "m", 1, "production")
    _approved(project, 2)
    r = _as(project, "frank", start_rollout, "frank", "m", 2, "production", share=30)
    _as(project, "pipeline", abort_rollout, "m", "production", "errors")
    _copy_row(project, rollouts, r.id)          # the start row and its entry, again
    gov = project.gov()
    try:
        again = running_rollout(gov, "m", "production")
        assert again is not None and again.id != r.id   # the table says it runs
        problem = rollout_problem(gov, again)
        assert problem is not None and "replays" in problem, problem
    finally:
        gov.close()
    with pytest.raises(GovernanceError, match="replays"):
        _as(project, "pipeline", promote_rollout, "m", "production", "rules held")
    gov = project.gov()      # the original rows deleted too: its audit entry still tells
    try:
        with transaction(gov.engine) as conn:
            conn.execute(rollouts.delete().where(rollouts.c.id < again.id))
        problem = rollout_problem(gov, again)
        assert problem is not None and "replays" in problem and "audit entry" in problem
    finally:
        gov.close()


def test_replayed_promote_row_does_not_bring_back_an_older_version(
        project: Project) -> None:
    project.accept("bob")
    _approved(project, 1)
    _as(project, "frank", deploy, "frank", "m", 1, "production")
    _approved(project, 2)
    _as(project, "frank", start_rollout, "frank", "m", 2, "production", share=10)
    _as(project, "pipeline", promote_rollout, "m", "production", "rules held")
    _approved(project, 3)
    _as(project, "frank", deploy, "frank", "m", 3, "production")
    _copy_row(project, deployments, _last_id(project, deployments, action="promote"))
    gov = project.gov()
    try:
        assert current(gov, "m", "production") == 2        # the history now says @2
        ok, why = deploy_is_valid(gov, "m", 2, "production")
        assert not ok and "replays" in why, why
    finally:
        gov.close()


def test_replayed_deploy_row_is_not_a_deploy(project: Project) -> None:
    project.accept("bob")
    _approved(project, 1)
    _as(project, "frank", deploy, "frank", "m", 1, "production")
    first = _last_id(project, deployments)
    _approved(project, 2)
    _as(project, "frank", deploy, "frank", "m", 2, "production")
    _copy_row(project, deployments, first, with_entry=False)
    gov = project.gov()
    try:
        assert current(gov, "m", "production") == 1
        ok, why = deploy_is_valid(gov, "m", 1, "production")
        assert not ok and "replays" in why, why
    finally:
        gov.close()


def test_self_healing_never_returns_to_a_version_nobody_deployed(
        project: Project) -> None:
    """@3 is approved but nobody deployed it; a row planted in the history between @1
    and @2 must not make the pipeline's rollback put it into production."""
    project.accept("bob")
    _approved(project, 1)
    _as(project, "frank", deploy, "frank", "m", 1, "production")
    _approved(project, 3)
    gov = project.gov()
    try:
        with transaction(gov.engine) as conn:
            conn.execute(deployments.insert().values(
                model="m", environment="production", version=3,
                model_digest=gov.version("m", 3).model_digest, action="deploy",
                previous_version=1, actor="frank", reason="", request_id=None,
                at=gov.now(), audit_seq=None, envelope=None))
    finally:
        gov.close()
    _approved(project, 2)
    _as(project, "frank", deploy, "frank", "m", 2, "production")
    d = _as(project, "pipeline", auto_rollback, "m", "production", "breach")
    assert d.version == 1, d
    gov = project.gov()
    try:
        assert current(gov, "m", "production") == 1
        ok, why = deploy_is_valid(gov, "m", 1, "production")
        assert ok, why
    finally:
        gov.close()


def test_the_pipeline_key_alone_cannot_put_a_never_deployed_version_in_production(
        project: Project) -> None:
    """Whoever holds the pipeline's registry key (a CI secret) writes an `auto_rollback`
    row to @3, approved but never deployed by a person: it is not a valid deploy, since
    self-healing only returns to a version a valid row deployed before."""
    from specops.runtime.trust.acting import sign

    project.accept("bob")
    _approved(project, 1)
    _as(project, "frank", deploy, "frank", "m", 1, "production")
    _approved(project, 3)
    gov = project.gov("pipeline")
    try:
        v = gov.version("m", 3)
        now = gov.now()
        envelope = sign(gov, action="auto_rollback", person="pipeline", subject="m@3",
                        digest=v.model_digest, comment="", at=now,
                        environment="production", previous_version=1, breach={})
        assert envelope
        with transaction(gov.engine) as conn:
            conn.execute(deployments.insert().values(
                model="m", environment="production", version=3,
                model_digest=v.model_digest, action="auto_rollback", previous_version=1,
                actor="pipeline", reason="", request_id=None, at=now, audit_seq=None,
                envelope=envelope))
        assert current(gov, "m", "production") == 3
        ok, why = deploy_is_valid(gov, "m", 3, "production")
        assert not ok and "no valid earlier deploy" in why, why
    finally:
        gov.close()
