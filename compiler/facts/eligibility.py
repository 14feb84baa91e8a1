"""Who can approve a model: eligibility under separation of duties, and whether the
required roles can be filled by distinct people (a bipartite matching).

Why matching and not counting: with `{model_risk_officer: 1, business_owner: 1}` and one
person holding both roles, each role alone "has someone", yet no two distinct people can
sign. Shared by the compile-time satisfiability check and written into the plan, so the
runtime enforces the same eligibility it was promised.
"""

from __future__ import annotations

from collections.abc import Mapping

from specops.compiler.kinds import ModelSpec, Person

__all__ = ["competing_roles", "conflicted_people", "eligible_people", "fill_roles",
           "principal_members"]


def principal_members(principal: str, people: Mapping[str, Person]) -> set[str]:
    """People a principal stands for: `team:x` -> members of x, `role:r` -> holders of r."""
    if principal.startswith("team:"):
        team = principal[5:]
        return {name for name, p in people.items() if team in p.teams}
    if principal.startswith("role:"):
        role = principal[5:]
        return {name for name, p in people.items() if role in p.roles}
    name = principal[7:] if principal.startswith("person:") else principal
    return {name} if name in people else set()


def conflicted_people(model: ModelSpec, people: Mapping[str, Person]) -> set[str]:
    """People who may not approve `model` under separation of duties: owner and authors."""
    out = principal_members(model.owner, people)
    for author in model.authors:
        out |= principal_members(author, people)
    return out


def eligible_people(role: str, model: ModelSpec, people: Mapping[str, Person],
                    separation: bool) -> list[str]:
    excluded = conflicted_people(model, people) if separation else set()
    return sorted(n for n, p in people.items() if role in p.roles and n not in excluded)


def fill_roles(required: Mapping[str, int], candidates: Mapping[str, list[str]]
               ) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Assign distinct people to role slots; return (assignment, unfilled count per role)."""
    slots = [role for role in sorted(required) for _ in range(max(required[role], 0))]
    owner_of: dict[str, int] = {}   # person -> slot index

    def augment(slot: int, seen: set[str]) -> bool:
        for person in candidates.get(slots[slot], []):
            if person in seen:
                continue
            seen.add(person)
            if person not in owner_of or augment(owner_of[person], seen):
                owner_of[person] = slot
                return True
        return False

    for i in range(len(slots)):
        augment(i, set())
    assignment: dict[str, list[str]] = {role: [] for role in required}
    for person, slot in sorted(owner_of.items()):
        assignment[slots[slot]].append(person)
    missing = {role: n - len(assignment[role]) for role, n in required.items()
               if n - len(assignment[role]) > 0}
    return assignment, missing


def competing_roles(role: str, candidates: Mapping[str, list[str]],
                    assignment: Mapping[str, list[str]]) -> tuple[set[str], set[str]]:
    """Why `role` could not be filled although it has holders: the roles that compete for
    the same people, and those people (a set of roles needing more distinct people than
    hold any of them, Hall's condition). Follows alternating paths of the matching: from
    `role` to its candidates, from each candidate to the role they were assigned."""
    assigned_to = {p: r for r, people in assignment.items() for p in people}
    roles, people = {role}, set()
    frontier = [role]
    while frontier:
        for person in candidates.get(frontier.pop(), []):
            if person in people:
                continue
            people.add(person)
            other = assigned_to.get(person)
            if other is not None and other not in roles:
                roles.add(other)
                frontier.append(other)
    return roles, people
