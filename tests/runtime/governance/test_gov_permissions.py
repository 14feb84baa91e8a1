"""The permission matrix: every (role, action) pair allowed or refused as documented,
with the defaults and with a project's `permissions:` overrides, enforced by the service
functions themselves (not the CLI)."""

from __future__ import annotations

import pytest
from gov_helpers import facts, rule

from specops.runtime.governance import Directory, PermissionDenied
from specops.runtime.governance.approvals import approve, open_request, reject
from specops.runtime.governance.identity import load_directory, resolve_actor
from specops.runtime.governance.permissions import (
    ACTIONS,
    DEFAULT_PERMISSIONS,
    allowed,
    matrix,
    require,
)
from specops.runtime.governance.policy_changes import record_config
from specops.runtime.governance.promotion import deploy, rollback
from specops.runtime.governance.registration import record_registration

ROLES = ("ml_engineer", "model_risk_officer", "business_owner", "platform_engineer",
         "validator", "admin", "guest")

# The documented default matrix (docs/governance.md), spelled out independently.
DOCUMENTED = {
    "register": {"ml_engineer", "platform_engineer"},
    "approve": {"model_risk_officer", "validator", "business_owner"},
    "reject": {"model_risk_officer", "validator", "business_owner"},
    "deploy": {"platform_engineer", "ml_engineer"},
    "rollback": {"platform_engineer", "ml_engineer"},
    "change_policy": {"model_risk_officer", "admin"},
}

EXAMPLE = {  # examples/credit-risk/specops.yaml
    "register": ["ml_engineer"],
    "approve": ["model_risk_officer", "business_owner"],
    "reject": ["model_risk_officer", "business_owner"],
    "deploy": ["platform_engineer", "ml_engineer"],
    "rollback": ["platform_engineer"],
    "change_policy": ["model_risk_officer"],
}


def _one_role_people(perms: dict[str, list[str]] | None) -> Directory:
    cfg: dict = {"people": {f"u_{r}": {"roles": [r]} for r in ROLES}}
    if perms is not None:
        cfg["permissions"] = perms
    return Directory.from_config(cfg)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_default_matrix_every_pair(role, action):
    d = _one_role_people(None)
    assert {a: set(r) for a, r in DEFAULT_PERMISSIONS.items()} == DOCUMENTED
    expected = role in DOCUMENTED[action]
    assert allowed(d, f"u_{role}", action) is expected
    if not expected:
        with pytest.raises(PermissionDenied, match=f"u_{role} may not"):
            require(d, f"u_{role}", action)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_project_matrix_every_pair(role, action):
    d = _one_role_people(EXAMPLE)
    assert allowed(d, f"u_{role}", action) is (role in EXAMPLE[action])


def test_partial_override_keeps_other_defaults():
    d = _one_role_people({"rollback": ["admin"]})
    m = matrix(d)
    assert m["rollback"] == ("admin",)
    assert m["deploy"] == DEFAULT_PERMISSIONS["deploy"]


def test_unknown_person_and_wrong_role_are_refused_with_one_line():
    d = _one_role_people(None)
    with pytest.raises(PermissionDenied) as exc:
        require(d, "mallory", "deploy")
    assert "not listed under `people`" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(PermissionDenied, match="does not hold role 'business_owner'"):
        require(d, "u_model_risk_officer", "approve", "business_owner")
    with pytest.raises(PermissionDenied, match="role 'admin' is not allowed to approve"):
        require(d, "u_admin", "approve", "admin")


def test_services_enforce_the_matrix(gov, registry):
    """Each service function refuses a person without the permission, before any change."""
    registry.add("m", 1)
    with pytest.raises(PermissionDenied, match="bob may not register"):
        record_registration(gov, actor="bob", model="m", version=1,
                            model_digest=registry.get("m", 1).model_digest, spec_hash="s",
                            facts=facts())
    open_request(gov, model="m", version=1, model_digest=registry.get("m", 1).model_digest,
                 spec_hash="s", facts=facts(), trigger="dan")
    with pytest.raises(PermissionDenied, match="frank may not approve"):
        approve(gov, "frank", "m", 1, "platform_engineer")
    with pytest.raises(PermissionDenied, match="dan may not reject"):
        reject(gov, "dan", "m", 1)
    with pytest.raises(PermissionDenied, match="bob may not deploy"):
        deploy(gov, "bob", "m", 1, "staging")
    with pytest.raises(PermissionDenied, match="carol may not rollback"):
        rollback(gov, "carol", "m", "staging")
    record_config(gov, "dan", {"m": facts()})          # the baseline: anyone
    changed = facts(approval=rule({"model_risk_officer": 1}, sod=False))
    with pytest.raises(PermissionDenied, match="dan may not change policy"):
        record_config(gov, "dan", {"m": changed})
    assert record_config(gov, "bob", {"m": changed}) is True


def test_actor_resolution_order(monkeypatch):
    monkeypatch.setenv("SPECOPS_USER", "erin")
    assert resolve_actor("bob") == "bob"
    assert resolve_actor(None) == "erin"
    monkeypatch.delenv("SPECOPS_USER")
    assert resolve_actor(None)   # the OS user


def test_directory_from_specops_yaml(tmp_path):
    (tmp_path / "specops.yaml").write_text(
        "name: p\npeople:\n  ann: {roles: [ml_engineer], teams: [t]}\n"
        "permissions:\n  deploy: [ml_engineer]\n")
    d = load_directory(tmp_path)
    assert d.roles_of("ann") == {"ml_engineer"} and d.members("team:t") == {"ann"}
    assert matrix(d)["deploy"] == ("ml_engineer",)


def test_example_project_matrix_and_principals_match_the_compiler():
    """The runtime reads specops.yaml itself; it must agree with the compiler on who a
    principal stands for (the compiler checked satisfiability with its own rules)."""
    from pathlib import Path

    from specops.compiler.facts.eligibility import principal_members
    from specops.compiler.kinds import Person

    root = Path(__file__).resolve().parents[3] / "examples" / "credit-risk"
    d = load_directory(root)
    assert {a: list(r) for a, r in matrix(d).items()} == EXAMPLE
    people = {n: Person(roles=sorted(p.roles), teams=sorted(p.teams))
              for n, p in d.people.items()}
    principals = [f"team:{t}" for p in d.people.values() for t in p.teams]
    principals += [f"role:{r}" for p in d.people.values() for r in p.roles]
    principals += [f"person:{n}" for n in d.people] + list(d.people)
    for pr in principals:
        assert d.members(pr) == principal_members(pr, people), pr
