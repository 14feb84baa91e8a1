"""Who can approve a model: principals, separation of duties, and the matching of people to
required roles (specops.compiler.facts.eligibility)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from specops.compiler.facts.eligibility import (
    competing_roles,
    conflicted_people,
    eligible_people,
    fill_roles,
    principal_members,
)
from specops.compiler.kinds import ModelSpec, Person
from specops.compiler.passes.lint import LintResult, lint_paths

PEOPLE = {
    "alice": Person(roles=["ml_engineer"], teams=["risk"]),
    "bob": Person(roles=["model_risk_officer"], teams=["validation"]),
    "carol": Person(roles=["business_owner", "model_risk_officer"], teams=["lending", "risk"]),
    "dan": Person(roles=["compliance"], teams=["legal"]),
}


def _model(owner: str = "team:risk", authors: tuple[str, ...] = ()) -> ModelSpec:
    return ModelSpec.model_validate({
        "kind": "model", "name": "m", "owner": owner, "task": "binary_classification",
        "authors": list(authors),
        "training": {"spine": "loans", "label": {"source": "loans", "column": "y"},
                     "features": ["loans.x"]},
        "estimator": {"class": "LogisticRegression"},
    })


# principal_members ------------------------------------------------------------------------

@pytest.mark.parametrize(("principal", "members"), [
    ("team:risk", {"alice", "carol"}),
    ("team:legal", {"dan"}),
    ("team:nobody", set()),
    ("role:model_risk_officer", {"bob", "carol"}),
    ("role:compliance", {"dan"}),
    ("role:unknown", set()),
    ("person:bob", {"bob"}),
    ("bob", {"bob"}),
    ("person:zoe", set()),
    ("zoe", set()),
])
def test_principal_members(principal: str, members: set[str]) -> None:
    assert principal_members(principal, PEOPLE) == members


def test_principal_members_with_no_people() -> None:
    assert principal_members("team:risk", {}) == set()
    assert principal_members("person:bob", {}) == set()


# separation of duties ------------------------------------------------------------------------

def test_owner_team_and_authors_are_conflicted() -> None:
    assert conflicted_people(_model("team:risk"), PEOPLE) == {"alice", "carol"}
    assert conflicted_people(_model("person:bob", ("dan",)), PEOPLE) == {"bob", "dan"}
    assert conflicted_people(_model("team:legal", ("person:alice", "role:business_owner")),
                             PEOPLE) == {"dan", "alice", "carol"}


def test_eligible_people_excludes_conflicts_only_under_separation() -> None:
    model = _model("team:risk")
    assert eligible_people("model_risk_officer", model, PEOPLE, True) == ["bob"]
    assert eligible_people("model_risk_officer", model, PEOPLE, False) == ["bob", "carol"]
    assert eligible_people("business_owner", model, PEOPLE, True) == []
    assert eligible_people("nobody_has_it", model, PEOPLE, False) == []


# fill_roles: distinct people across roles ---------------------------------------------------

def _check_assignment(required: dict[str, int], candidates: dict[str, list[str]],
                      assignment: dict[str, list[str]], missing: dict[str, int]) -> None:
    everyone = [p for people in assignment.values() for p in people]
    assert len(everyone) == len(set(everyone)), "a person fills two slots"
    for role, people in assignment.items():
        assert set(people) <= set(candidates.get(role, [])), role
        assert len(people) + missing.get(role, 0) == required[role], role


def test_fill_roles_simple() -> None:
    required = {"model_risk_officer": 1, "business_owner": 1}
    candidates = {"model_risk_officer": ["bob"], "business_owner": ["carol"]}
    assignment, missing = fill_roles(required, candidates)
    assert missing == {}
    assert assignment == {"model_risk_officer": ["bob"], "business_owner": ["carol"]}


def test_fill_roles_one_person_cannot_sign_twice() -> None:
    required = {"model_risk_officer": 1, "business_owner": 1}
    candidates = {"model_risk_officer": ["carol"], "business_owner": ["carol"]}
    assignment, missing = fill_roles(required, candidates)
    _check_assignment(required, candidates, assignment, missing)
    assert sum(missing.values()) == 1


def test_fill_roles_reassigns_to_make_room() -> None:
    # greedy order would give carol to business_owner... or to model_risk_officer first;
    # either way an augmenting path must move her so that bob can take the other role.
    required = {"a_role": 1, "b_role": 1}
    candidates = {"a_role": ["carol", "bob"], "b_role": ["carol"]}
    assignment, missing = fill_roles(required, candidates)
    assert missing == {}
    assert assignment == {"a_role": ["bob"], "b_role": ["carol"]}


def test_fill_roles_counts_per_role() -> None:
    required = {"model_risk_officer": 2}
    assignment, missing = fill_roles(required, {"model_risk_officer": ["bob"]})
    assert assignment == {"model_risk_officer": ["bob"]} and missing == {"model_risk_officer": 1}
    assignment, missing = fill_roles(required, {"model_risk_officer": ["bob", "erin"]})
    assert missing == {} and sorted(assignment["model_risk_officer"]) == ["bob", "erin"]


def test_fill_roles_hall_condition_fails_though_every_role_alone_is_covered() -> None:
    # 4 slots over 3 people: each role has >= its count of holders, the union does not.
    required = {"model_risk_officer": 1, "business_owner": 1, "compliance": 2}
    three = ["bob", "carol", "dan"]
    candidates = {"model_risk_officer": three[:2], "business_owner": three[:2],
                  "compliance": three}
    assert all(len(candidates[r]) >= n for r, n in required.items())
    assignment, missing = fill_roles(required, candidates)
    _check_assignment(required, candidates, assignment, missing)
    assert sum(missing.values()) == 1
    short = next(iter(missing))
    roles, people = competing_roles(short, candidates, assignment)
    assert people == set(three)
    assert sum(required[r] for r in roles) > len(people)   # the Hall violator


def test_fill_roles_hall_condition_on_a_subset() -> None:
    # two roles compete for one person, while a third role has plenty
    required = {"a": 1, "b": 1, "c": 2}
    candidates = {"a": ["x"], "b": ["x"], "c": ["y", "z", "w"]}
    assignment, missing = fill_roles(required, candidates)
    _check_assignment(required, candidates, assignment, missing)
    assert sum(missing.values()) == 1 and "c" not in missing
    roles, people = competing_roles(next(iter(missing)), candidates, assignment)
    assert roles == {"a", "b"} and people == {"x"}


def test_fill_roles_zero_and_empty() -> None:
    assert fill_roles({}, {}) == ({}, {})
    assert fill_roles({"a": 0}, {"a": []}) == ({"a": []}, {})
    assert fill_roles({"a": 1}, {}) == ({"a": []}, {"a": 1})


def _brute_force_max(required: dict[str, int], candidates: dict[str, list[str]]) -> int:
    slots = [r for r in sorted(required) for _ in range(required[r])]
    people = sorted({p for ps in candidates.values() for p in ps})
    best = 0
    for k in range(len(slots), 0, -1):
        for chosen in itertools.combinations(range(len(slots)), k):
            for perm in itertools.permutations(people, k):
                if all(p in candidates.get(slots[s], []) for s, p in zip(chosen, perm,
                                                                         strict=True)):
                    return k
    return best


@pytest.mark.parametrize("seed", range(25))
def test_fill_roles_is_a_maximum_matching(seed: int) -> None:
    import random

    rng = random.Random(seed)
    people = ["p1", "p2", "p3", "p4"]
    roles = ["r1", "r2", "r3"]
    required = {r: rng.randint(0, 2) for r in roles}
    candidates = {r: sorted(rng.sample(people, rng.randint(0, 3))) for r in roles}
    assignment, missing = fill_roles(required, candidates)
    _check_assignment(required, candidates, assignment, missing)
    filled = sum(len(v) for v in assignment.values())
    assert filled == _brute_force_max(required, candidates)


# the pass, end to end ------------------------------------------------------------------------

MINIMAL = Path(__file__).resolve().parents[2] / "fixtures" / "projects" / "minimal"


def _lint_minimal(tmp_path: Path, approval: str, people: str) -> LintResult:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    (root / "specs" / "approval.yaml").write_text(approval, encoding="utf-8")
    cfg = (root / "specops.yaml").read_text(encoding="utf-8")
    head = cfg[: cfg.index("people:")]
    (root / "specops.yaml").write_text(head + people, encoding="utf-8")
    return lint_paths([root], {}, base=root)


def test_without_separation_the_owner_team_may_approve(tmp_path: Path) -> None:
    people = "people:\n  alice: {roles: [model_risk_officer], teams: [risk]}\n"
    rule = "kind: approval\nname: standard\nrules:\n  - require: {model_risk_officer: 1}\n"
    strict = _lint_minimal(tmp_path / "a", rule, people)
    assert [d.code for d in strict.diagnostics] == ["SPEC503"]
    assert strict.context.approval_plans["default_risk"]["excluded"] == ["alice"]
    assert strict.context.approval_plans["default_risk"]["satisfiable"] is False
    relaxed = _lint_minimal(tmp_path / "b", rule + "    separation_of_duties: false\n", people)
    assert relaxed.diagnostics == []
    plan = relaxed.context.approval_plans["default_risk"]
    assert plan["satisfiable"] is True and plan["excluded"] == []
    assert plan["example_assignment"] == {"model_risk_officer": ["alice"]}


def test_first_applicable_rule_is_the_one_checked(tmp_path: Path) -> None:
    people = ("people:\n  bob: {roles: [model_risk_officer], teams: [validation]}\n"
              "  carol: {roles: [business_owner], teams: [lending]}\n"
              "  alice: {roles: [ml_engineer], teams: [risk]}\n")   # the owner team
    rules = ("kind: approval\nname: standard\nrules:\n"
             "  - when: \"risk_tier == 'low'\"\n    require: {model_risk_officer: 1}\n"
             "  - require: {model_risk_officer: 5}\n")
    result = _lint_minimal(tmp_path, rules, people)
    # the model is judged by rule 1 only; rule 2 is still checked on its own (every rule
    # is, used or not), once, at its `require:` entry
    assert [(d.code, d.location()) for d in result.diagnostics if d.code.startswith("SPEC5")] \
        == [("SPEC503", "specs/approval.yaml:6:35")]
    assert result.context.approval_plans["default_risk"]["rule"] == 0
    assert result.context.approval_plans["default_risk"]["satisfiable"] is True


def test_hall_failure_message_names_the_competing_roles(tmp_path: Path) -> None:
    people = ("people:\n  bob: {roles: [model_risk_officer, business_owner], teams: [v]}\n"
              "  alice: {roles: [ml_engineer], teams: [risk]}\n")   # the owner team
    rule = ("kind: approval\nname: standard\nrules:\n"
            "  - require: {model_risk_officer: 1, business_owner: 1}\n")
    result = _lint_minimal(tmp_path, rule, people)
    [diag] = [d for d in result.diagnostics if d.code.startswith("SPEC5")]
    assert diag.code == "SPEC503" and diag.location() == "specs/approval.yaml:4:35"
    assert [r.location() for r in diag.related] == ["specs/model.yaml:14:11"]
    assert "roles business_owner, model_risk_officer need 2 distinct people, and only bob " \
           "holds any of them" in diag.message
