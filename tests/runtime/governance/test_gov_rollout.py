"""Rollouts as governed actions on SQLite and PostgreSQL (signed mode, the trust tests'
project: people with SSH keys, the pipeline's key pinned as the registry key): a canary
started by a deployer after the approvals, promoted by the pipeline with the deployer's
statement embedded, a row inserted around `deploy` refused at use, a self-healing
rollback signed by the pipeline; the audit chain and its cross-check hold throughout."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trust"))
from trust_helpers import Project, facts, project_for

from specops.runtime.governance import GovernanceError
from specops.runtime.governance.approvals import approve
from specops.runtime.governance.database import transaction
from specops.runtime.governance.deploy import (
    auto_rollback,
    promote_rollout,
    rollout_problem,
    running_rollout,
    start_rollout,
)
from specops.runtime.governance.governance_tables import rollouts
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.ledger.crosscheck import crosscheck
from specops.runtime.governance.promotion import current, deploy, deploy_is_valid
from specops.runtime.governance.registration import record_registration


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    yield from project_for(request.param, tmp_path)


def _approved(p: Project, version: int) -> None:
    v = p.registry.add("m", version)
    gov = p.gov("pipeline")
    try:
        record_registration(gov, actor="pipeline", model="m", version=version,
                            model_digest=v.model_digest, spec_hash="sha256:" + "a" * 64,
                            facts=facts(), run_id=f"run-{version}")
    finally:
        gov.close()
    for person, role in (("bob", "model_risk_officer"), ("carol", "business_owner")):
        gov = p.gov(person)
        try:
            approve(gov, person, "m", version, role)
        finally:
            gov.close()


def _as(p: Project, person: str, fn, *args, **kw):  # type: ignore[no-untyped-def]
    gov = p.gov(person)
    try:
        return fn(gov, *args, **kw)
    finally:
        gov.close()


def _log_holds(p: Project) -> None:
    gov = p.gov()
    try:
        count, problem = audit.verify(gov.engine)
        assert problem is None and count > 0, problem
        _, mismatches = crosscheck(gov.engine, list(audit.entries(gov.engine)))
        assert not mismatches, mismatches
    finally:
        gov.close()


def test_canary_promoted_by_the_pipeline(project: Project) -> None:
    project.accept("bob")
    _approved(project, 1)
    _as(project, "frank", deploy, "frank", "m", 1, "production")
    _approved(project, 2)
    r = _as(project, "frank", start_rollout, "frank", "m", 2, "production", share=10)
    assert (r.champion, r.challenger, r.mode, r.share) == (1, 2, "canary", 10.0)
    assert _as(project, None, rollout_problem, r) is None
    with pytest.raises(GovernanceError, match="registry key"):
        _as(project, "frank", promote_rollout, "m", "production", "by hand")
    d = _as(project, "pipeline", promote_rollout, "m", "production", "rules held")
    assert (d.version, d.action, d.actor, d.previous_version) == (2, "promote", "pipeline", 1)
    gov = project.gov()
    try:
        ok, why = deploy_is_valid(gov, "m", 2, "production")
        assert ok and "by a promote of pipeline" in why, why
        assert running_rollout(gov, "m", "production") is None
        assert "ended by audit entry" in str(rollout_problem(gov, r))
    finally:
        gov.close()
    _log_holds(project)


def test_inserted_rollout_row_is_refused_at_use(project: Project) -> None:
    project.accept("bob")
    _approved(project, 1)
    _as(project, "frank", deploy, "frank", "m", 1, "production")
    _approved(project, 2)
    gov = project.gov()
    try:
        with transaction(gov.engine) as conn:
            conn.execute(rollouts.insert().values(
                model="m", environment="production", action="rollout", mode="canary",
                champion=1, challenger=2, challenger_digest=gov.version("m", 2).model_digest,
                share=50.0, sticky_key="", actor="frank", reason="", at=gov.now(),
                audit_seq=None, envelope=None))
        r = running_rollout(gov, "m", "production")
        assert r is not None and "no audit entry agrees" in str(rollout_problem(gov, r))
    finally:
        gov.close()


def test_self_healing_rollback_is_signed_by_the_pipeline(project: Project) -> None:
    project.accept("bob")
    _approved(project, 1)
    _as(project, "frank", deploy, "frank", "m", 1, "production")
    _approved(project, 2)
    _as(project, "frank", deploy, "frank", "m", 2, "production")
    d = _as(project, "pipeline", auto_rollback, "m", "production", "breach",
            {"signals": ["performance"]})
    assert (d.version, d.previous_version, d.action) == (1, 2, "auto_rollback")
    gov = project.gov()
    try:
        assert current(gov, "m", "production") == 1
        ok, why = deploy_is_valid(gov, "m", 1, "production")
        assert ok, why
        with gov.engine.connect() as c:
            kinds = [r.action for r in c.execute(sa.select(audit.log.c.action))]
        assert kinds[-1] == "auto_rollback"
    finally:
        gov.close()
    _log_holds(project)


def _mismatches(p: Project) -> list[str]:
    gov = p.gov()
    try:
        _, found = crosscheck(gov.engine, list(audit.entries(gov.engine)))
        return [str(m) for m in found]
    finally:
        gov.close()


def _running_canary(p: Project) -> None:
    p.accept("bob")
    _approved(p, 1)
    _as(p, "frank", deploy, "frank", "m", 1, "production")
    _approved(p, 2)
    _as(p, "frank", start_rollout, "frank", "m", 2, "production", share=10)


def test_audit_verify_finds_an_inserted_rollout_row(project: Project) -> None:
    """The attack: an INSERT into `rollouts` with database access, no entry, no signature."""
    _running_canary(project)
    assert _mismatches(project) == []
    gov = project.gov()
    try:
        with transaction(gov.engine) as conn:
            conn.execute(rollouts.insert().values(
                model="m", environment="production", action="abort", mode="canary",
                champion=1, challenger=2, challenger_digest=gov.version("m", 2).model_digest,
                share=10.0, sticky_key="", start_id=1, actor="frank", reason="",
                at=gov.now(), audit_seq=None, envelope=None))
    finally:
        gov.close()
    found = _mismatches(project)
    assert len(found) == 1 and "rollouts row 2 (abort canary m@2" in found[0], found
    assert "has no" in found[0] and "entry in the audit log" in found[0], found


@pytest.mark.parametrize("column, value, said", [
    ("share", 90.0, "share 90.0 in the table, 10.0 in the log"),
    ("champion", 2, "champion 2 in the table, 1 in the log"),
    ("sticky_key", "customer_id", "sticky key 'customer_id' in the table, '' in the log"),
    ("mode", "shadow", "mode 'shadow' in the table, 'canary' in the log"),
])
def test_audit_verify_finds_an_edited_rollout_row(project: Project, column: str,
                                                  value: object, said: str) -> None:
    """The attack: an UPDATE of the started rollout's routing fields."""
    _running_canary(project)
    gov = project.gov()
    try:
        with transaction(gov.engine) as conn:
            conn.execute(rollouts.update().values({column: value}))
    finally:
        gov.close()
    found = _mismatches(project)
    assert len(found) == 1 and "rewritten" in found[0] and said in found[0], found


def test_audit_verify_finds_a_deleted_rollout_end(project: Project) -> None:
    """The attack: deleting the promote's rollouts row (to revive the canary's row)."""
    _running_canary(project)
    _as(project, "pipeline", promote_rollout, "m", "production", "rules held")
    assert _mismatches(project) == []
    gov = project.gov()
    try:
        with transaction(gov.engine) as conn:
            conn.execute(rollouts.delete().where(rollouts.c.action == "promote"))
    finally:
        gov.close()
    found = _mismatches(project)
    assert len(found) == 1 and "(promote m@2 by pipeline) has no rollout event in table " \
        "rollouts" in found[0], found
