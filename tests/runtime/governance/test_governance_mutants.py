"""Governance decisions against the real signed registry, with files actually tampered.

Why the real registry: `FakeRegistry.verify` fails only for versions put in its `broken`
set, so a deploy or rollback that forgot to verify would still look refused there. Here
each version is registered by `specops.runtime.registry.Registry` (signed manifest, read-only
files, the session key of tests/runtime/conftest.py), and an attack flips bytes in the
version's folder as a user with write access to the artifact store would.

Also the surviving mutants of issue 14 in governance, each test named for the behaviour it
protects and checked to fail with the bug planted by hand: separation of duties ignoring an
owner given as `person:x` or authors given as `team:x`, an expired or rejected approval
accepted at deploy, a rollback target not verified, and the audit head row (missing, or a
hash that differs) not checked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from gov_helpers import Clock, facts, make_gov, rule, sqlite_url

from specops.runtime.governance import Governance, GovernanceError
from specops.runtime.governance.approvals import approve, open_request, reject, status
from specops.runtime.governance.database import transaction
from specops.runtime.governance.ledger import audit as A
from specops.runtime.governance.ledger.guards import TRIGGER_NAMES
from specops.runtime.governance.promotion import current, deploy, history, rollback
from specops.runtime.registry import Registry

HOUR = 3600


@pytest.fixture
def real(tmp_path: Path) -> Iterator[tuple[Governance, Registry, Clock]]:
    url = sqlite_url(tmp_path)
    reg = Registry.open(tmp_path, url)
    clock = Clock()
    gov = make_gov(url, tmp_path, registry=reg, clock=clock)
    yield gov, reg, clock
    gov.close()
    reg.close()


def _register(reg: Registry, tmp_path: Path, version: int) -> Any:
    src = tmp_path / f"src{version}"
    src.mkdir()
    (src / "model.onnx").write_bytes(b"onnx-bytes-of-version-%d" % version * 64)
    v = reg.register("credit", {"model.onnx": src / "model.onnx"}, {"run_id": f"r{version}"})
    assert v.version == version and reg.verify("credit", version)["ok"]
    return v


def _request(gov: Governance, v: Any, approval: dict[str, Any] | None = None,
             **over: Any) -> None:
    open_request(gov, model="credit", version=v.version, model_digest=v.model_digest,
                 spec_hash="s", facts=facts(approval or rule({"model_risk_officer": 1},
                                                             expires_s=HOUR), **over),
                 trigger="dan")


def _approved(gov: Governance, reg: Registry, tmp_path: Path, version: int) -> Any:
    v = _register(reg, tmp_path, version)
    _request(gov, v)
    approve(gov, "bob", "credit", version, "model_risk_officer")
    return v


def _flip(path: Path) -> None:
    """What anyone with write access to the artifact folder can do to a read-only file."""
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# -- tampered files, real registry ----------------------------------------------------------
def test_tampered_model_file_refuses_deploy(real, tmp_path: Path) -> None:
    gov, reg, _ = real
    v = _approved(gov, reg, tmp_path, 1)
    _flip(v.path / "model.onnx")
    with pytest.raises(GovernanceError, match=r"fails verification: .*model.onnx"):
        deploy(gov, "frank", "credit", 1, "production")
    assert current(gov, "credit", "production") is None
    assert reg.aliases("credit") == {}


def test_tampered_manifest_refuses_deploy(real, tmp_path: Path) -> None:
    gov, reg, _ = real
    v = _approved(gov, reg, tmp_path, 1)
    _flip(v.path / "manifest.json")
    with pytest.raises(GovernanceError, match=r"fails verification: .*manifest"):
        deploy(gov, "frank", "credit", 1, "staging")
    assert history(gov, "credit") == []


def test_intact_version_deploys_and_moves_the_registry_alias(real, tmp_path: Path) -> None:
    gov, reg, _ = real
    _approved(gov, reg, tmp_path, 1)
    d = deploy(gov, "frank", "credit", 1, "production", reason="first")
    assert d.changed and current(gov, "credit", "production") == 1
    assert reg.aliases("credit") == {"production": 1}


def test_unverifiable_rollback_target_is_refused(real, tmp_path: Path) -> None:
    gov, reg, clock = real
    v1 = _approved(gov, reg, tmp_path, 1)
    _approved(gov, reg, tmp_path, 2)
    deploy(gov, "frank", "credit", 1, "production")
    clock.t += 60
    deploy(gov, "frank", "credit", 2, "production")
    _flip(v1.path / "model.onnx")
    clock.t += 60
    with pytest.raises(GovernanceError, match=r"credit@1 fails verification"):
        rollback(gov, "frank", "credit", "production", reason="regression")
    assert current(gov, "credit", "production") == 2
    assert reg.aliases("credit") == {"production": 2}
    assert [e.action for e in A.entries(gov.engine)].count("rollback") == 0


def test_verifiable_rollback_target_is_served(real, tmp_path: Path) -> None:
    gov, reg, clock = real
    for n in (1, 2):
        _approved(gov, reg, tmp_path, n)
        clock.t += 60
        deploy(gov, "frank", "credit", n, "production")
    r = rollback(gov, "frank", "credit", "production")
    assert (r.version, r.previous_version) == (1, 2)
    assert reg.aliases("credit") == {"production": 1}


# -- expired and rejected approvals at deploy -----------------------------------------------
def test_expired_approval_refused_at_deploy(real, tmp_path: Path) -> None:
    gov, reg, clock = real
    _approved(gov, reg, tmp_path, 1)
    clock.t += HOUR            # exactly the expiry: no longer valid
    with pytest.raises(GovernanceError, match=r"not approved for production \(expired\)"):
        deploy(gov, "frank", "credit", 1, "production")
    assert current(gov, "credit", "production") is None


def test_approval_just_before_expiry_deploys(real, tmp_path: Path) -> None:
    gov, reg, clock = real
    _approved(gov, reg, tmp_path, 1)
    clock.t += HOUR - 1
    assert status(gov, "credit", 1).state == "approved"
    deploy(gov, "frank", "credit", 1, "production")
    assert current(gov, "credit", "production") == 1


def test_rejected_approval_refused_at_deploy(real, tmp_path: Path) -> None:
    gov, reg, _ = real
    v = _register(reg, tmp_path, 1)
    _request(gov, v, rule({"model_risk_officer": 1}))
    assert approve(gov, "bob", "credit", 1, "model_risk_officer").state == "approved"
    reject(gov, "erin", "credit", 1, comment="calibration is off")
    with pytest.raises(GovernanceError, match=r"not approved for production \(rejected\): "
                                              r"rejected by erin"):
        deploy(gov, "frank", "credit", 1, "production")
    assert current(gov, "credit", "production") is None


# -- separation of duties: principal forms --------------------------------------------------
@pytest.mark.parametrize("owner", ["person:carol", "carol"])
def test_principal_forms_owner_person_cannot_approve(real, tmp_path: Path, owner: str) -> None:
    gov, reg, _ = real
    v = _register(reg, tmp_path, 1)
    _request(gov, v, rule({"business_owner": 1}), owner=owner)
    with pytest.raises(GovernanceError, match=r"separation of duties: carol is the model's "
                                              r"owner"):
        approve(gov, "carol", "credit", 1, "business_owner")
    approve(gov, "hank", "credit", 1, "business_owner")
    assert status(gov, "credit", 1).state == "approved"


def test_principal_forms_owner_team_cannot_approve(real, tmp_path: Path) -> None:
    gov, reg, _ = real
    v = _register(reg, tmp_path, 1)
    _request(gov, v, owner="team:credit_risk")
    with pytest.raises(GovernanceError, match="gina is in the owner team credit_risk"):
        approve(gov, "gina", "credit", 1, "model_risk_officer")


def test_principal_forms_author_team_cannot_approve(real, tmp_path: Path) -> None:
    gov, reg, _ = real
    v = _register(reg, tmp_path, 1)
    _request(gov, v, owner="person:carol", authors=["team:model_validation"])
    for person in ("bob", "erin"):
        with pytest.raises(GovernanceError, match=rf"separation of duties: {person} is an "
                                                  r"author of the model \(team:model_valid"):
            approve(gov, person, "credit", 1, "model_risk_officer")
    approve(gov, "gina", "credit", 1, "model_risk_officer")   # not in the author team
    assert status(gov, "credit", 1).state == "approved"


def test_principal_forms_author_person_cannot_approve(real, tmp_path: Path) -> None:
    gov, reg, _ = real
    v = _register(reg, tmp_path, 1)
    _request(gov, v, owner="person:carol", authors=["person:bob"])
    with pytest.raises(GovernanceError, match=r"bob is an author of the model"):
        approve(gov, "bob", "credit", 1, "model_risk_officer")


def test_trigger_of_the_run_cannot_approve(real, tmp_path: Path) -> None:
    gov, reg, _ = real
    v = _register(reg, tmp_path, 1)
    open_request(gov, model="credit", version=1, model_digest=v.model_digest, spec_hash="s",
                 facts=facts(rule({"model_risk_officer": 1}), owner="person:carol"),
                 trigger="bob")
    with pytest.raises(GovernanceError, match="bob triggered the run"):
        approve(gov, "bob", "credit", 1, "model_risk_officer")


# -- audit head row -------------------------------------------------------------------------
def _fill(gov: Governance, n: int = 4) -> None:
    for i in range(n):
        with transaction(gov.engine) as conn:
            A.append(conn, actor="bob", action="note", target="credit", reason=str(i),
                     at=gov.now() + i)


def _drop_triggers(conn: sa.Connection) -> None:
    """What the owner of the SQLite file can always do."""
    for name in TRIGGER_NAMES:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def test_head_row_missing_is_detected(real) -> None:
    gov, _, _ = real
    _fill(gov)
    assert A.verify(gov.engine) == (4, None)
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.head_table.delete())
    _, problem = A.verify(gov.engine)
    assert problem == A.Problem(1, "edited", "the chain head row is missing")


def test_head_row_hash_differs_is_detected(real) -> None:
    gov, _, _ = real
    _fill(gov)
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.head_table.update().values(hash="f" * 64))
    _, problem = A.verify(gov.engine)
    assert problem == A.Problem(4, "edited",
                                "the chain head's hash differs from this entry's hash")


def test_head_row_seq_behind_or_ahead_is_detected(real) -> None:
    gov, _, _ = real
    _fill(gov)
    head = A.head(gov.engine)
    with gov.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(A.head_table.update().values(seq=3))
    problem = A.verify(gov.engine)[1]
    assert problem == A.Problem(4, "appended", "inserted: not recorded in the chain head "
                                "(head at 3); written outside specops")
    with gov.engine.begin() as conn:
        conn.execute(A.head_table.update().values(seq=6, hash=head["hash"]))
    problem = A.verify(gov.engine)[1]
    assert problem == A.Problem(5, "truncated", "missing: the head records 6 entries but "
                                "the log ends at 4; the tail was deleted")


def test_empty_log_without_head_row_verifies(real) -> None:
    gov, _, _ = real
    assert A.verify(gov.engine) == (0, None)
