"""The trust root under change control: edits of specops.yaml take effect only after a
signed `specops policy accept`; the acceptance chain in the store cannot be forged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_signed_actions import _act, _register
from trust_helpers import Project

from specops.compiler.cli.main import main
from specops.runtime.governance import GovernanceError
from specops.runtime.governance.approvals import approve
from specops.runtime.governance.database import transaction
from specops.runtime.trust.ssh_keys import create_keypair
from specops.runtime.trust.trust_root import TrustError, load_working_root
from specops.runtime.trust.trust_store import roots


def test_person_added_without_policy_accept_cannot_approve(project: Project) -> None:
    project.accept("bob")
    _register(project)
    project.add_person("mallory", ["business_owner"])
    with pytest.raises(GovernanceError, match="belongs to nobody in the trust root in force"):
        _act(project, "mallory", approve, "m", 1, "business_owner")
    project.accept("erin")          # a policy holder reviews and accepts the change
    st = _act(project, "mallory", approve, "m", 1, "business_owner")
    assert [r.approvers for r in st.roles if r.role == "business_owner"] == [["mallory"]]


def test_role_granted_in_the_working_copy_is_not_in_force(sqlite_project: Project) -> None:
    p = sqlite_project
    p.accept("bob")
    _register(p)
    p.config["people"]["frank"]["roles"].append("business_owner")
    p.write()
    with pytest.raises(GovernanceError, match="does not hold role 'business_owner'"):
        _act(p, "frank", approve, "m", 1, "business_owner")


def test_only_policy_holders_accept_and_two_person_rule(sqlite_project: Project) -> None:
    p = sqlite_project
    with pytest.raises(TrustError, match="alice may not change policy"):
        p.accept("alice")
    p.config["policy"]["accept_requires"] = 2
    p.write()
    first = p.accept("bob")
    assert not first.in_force and first.signed_by == ["bob"] and first.needed == 2
    assert p.accept("bob").signed_by == ["bob"]          # the same person twice is one
    gov = p.gov()
    assert gov.trust is None
    gov.close()
    done = p.accept("erin")
    assert done.in_force and done.signed_by == ["bob", "erin"]
    # lowering the quorum is itself a change that needs the quorum in force
    p.config["policy"]["accept_requires"] = 1
    p.write()
    assert not p.accept("bob").in_force
    assert p.accept("erin").in_force


def test_forged_trust_root_row_breaks_every_action(project: Project) -> None:
    project.accept("bob")
    _register(project)
    mallory = create_keypair(project.root / "evil", "mallory")
    forged = dict(load_working_root(project.root).document)
    forged["people"] = {**forged["people"], "mallory": {
        "roles": ["business_owner"], "teams": [], "keys": [mallory.public_line()]}}
    from specops.runtime.trust.trust_root import TrustRoot

    doc = TrustRoot(forged)
    gov = project.gov()
    try:
        with transaction(gov.engine) as c:
            c.execute(roots.insert().values(seq=2, digest=doc.digest,
                                            previous=load_working_root(project.root).digest,
                                            document=json.dumps(forged), accepted_at=1.0))
    finally:
        gov.close()
    gov = project.gov("bob")
    try:
        assert gov.trust_problem and "lacks valid acceptances" in gov.trust_problem
        with pytest.raises(GovernanceError, match="trust root is broken"):
            approve(gov, "bob", "m", 1, "model_risk_officer")
    finally:
        gov.close()


def test_edited_trust_root_document_is_detected(sqlite_project: Project) -> None:
    p = sqlite_project
    p.accept("bob")
    gov = p.gov()
    try:
        with transaction(gov.engine) as c:
            row = c.execute(sa.select(roots)).one()
            doc = json.loads(row.document)
            doc["people"]["alice"]["roles"].append("business_owner")
            c.execute(roots.update().values(document=json.dumps(doc)))
    finally:
        gov.close()
    gov = p.gov()
    assert gov.trust_problem and "edited in the store" in gov.trust_problem
    gov.close()


def _cli(argv: list[str], capsys: Any) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_policy_accept_status_and_keys(sqlite_project: Project, capsys: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    p = sqlite_project
    monkeypatch.delenv("SPECOPS_USER", raising=False)
    common = ["--project", str(p.root), "--store", p.url]
    rc, out, _ = _cli(["policy", "status", *common], capsys)
    assert rc == 0 and "(none accepted)" in out and "not in force" in out
    rc, _, err = _cli(["policy", "accept", *common], capsys)
    assert rc == 1 and "pass --key" in err and "\n" not in err.strip()
    rc, out, _ = _cli(["policy", "accept", "--key", str(p.keys["bob"].path), *common], capsys)
    assert rc == 0 and "is in force (accepted by bob)" in out
    p.add_person("mallory", ["business_owner"])
    rc, out, _ = _cli(["policy", "status", *common], capsys)
    assert "+ mallory (business_owner)" in out and "not in force" in out
    rc, _, err = _cli(["policy", "accept", "--key", str(p.keys["mallory"].path), *common],
                      capsys)
    assert rc == 1 and "belongs to nobody in the trust root in force" in err
    rc, _, err = _cli(["approve", "m@1", "--role", "business_owner", "--key",
                       str(p.keys["alice"].path), "--as", "bob", *common], capsys)
    assert rc == 1 and "you claim to be bob" in err
    rc, _, err = _cli(["approve", "m@1", "--role", "x", "--key", str(p.root / "nokey"),
                       *common], capsys)
    assert rc == 2 and "no key file" in err
    rc, out, _ = _cli(["keys", "show", str(p.keys["bob"].path)], capsys)
    assert p.keys["bob"].key_id in out


def test_key_file_missing_from_trust_config_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "specops.yaml").write_text(
        "name: p\npeople:\n  bob: {roles: [model_risk_officer], keys: [keys/bob.pub]}\n")
    with pytest.raises(TrustError, match=r"people\.bob\.keys: key file keys/bob\.pub is missing"):
        load_working_root(tmp_path)


def test_deleting_the_trust_roots_and_the_keys_does_not_downgrade(sqlite_project: Project
                                                                   ) -> None:
    """With database and repository access: delete every accepted root and the `keys` from
    specops.yaml, hoping for the old claimed identity. The audit log still records that a
    root was in force, so every action stays refused."""
    p = sqlite_project
    p.accept("bob")
    _register(p)
    gov = p.gov()
    try:
        with transaction(gov.engine) as c:
            c.execute(roots.delete())
    finally:
        gov.close()
    for person in p.config["people"].values():
        person.pop("keys")
    p.config["registry"]["pinned"] = []
    p.write()
    gov = p.gov()
    try:
        assert gov.signed and gov.trust is None
        with pytest.raises(GovernanceError, match="trust roots do not match the audit log"):
            approve(gov, "bob", "m", 1, "model_risk_officer")
    finally:
        gov.close()
