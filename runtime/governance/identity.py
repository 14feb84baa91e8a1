"""Who is acting, and which roles and teams they hold.

Why the runtime reads `specops.yaml` itself (with `yaml.safe_load`) instead of taking
people from the plan: the plan deliberately leaves people out of node params so that a
colleague joining a team does not void approvals, and `specops approve` runs long after
`specops run`, against whatever the project's people are *today*. Roles are therefore
looked up live from the project config; the plan's `models` section (snapshotted into the
approval request when it is opened) supplies the rules, owner and authors.

The actor is asserted, not authenticated: `--as USER`, else `SPECOPS_USER`, else the OS
user. That is enough to stop honest mistakes and to attribute actions in the audit log; a
deployment that must resist a dishonest operator puts the CLI behind SSO and sets
`SPECOPS_USER` from the verified identity (see docs/governance.md).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SYSTEM_ACTOR", "Directory", "IdentityError", "Person", "load_directory",
           "resolve_actor"]

SYSTEM_ACTOR = "specops"   # who auto-approvals are attributed to; never a person


class IdentityError(ValueError):
    """The project's people cannot be read (bad specops.yaml) or no actor is known."""


@dataclass(frozen=True)
class Person:
    name: str
    roles: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    email: str | None = None


@dataclass(frozen=True)
class Directory:
    """People and the permission overrides of one project (`people:`, `permissions:`)."""

    people: Mapping[str, Person] = field(default_factory=dict)
    permissions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    configured: bool = False    # False: no specops.yaml people section at all

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> Directory:
        data = data or {}
        raw_people = data.get("people") or {}
        raw_perms = data.get("permissions") or {}
        if not isinstance(raw_people, Mapping) or not isinstance(raw_perms, Mapping):
            raise IdentityError("specops.yaml: `people` and `permissions` must be mappings")
        people: dict[str, Person] = {}
        for name, p in raw_people.items():
            p = p or {}
            if not isinstance(p, Mapping):
                raise IdentityError(f"specops.yaml: people.{name} must be a mapping")
            people[str(name)] = Person(str(name), frozenset(map(str, p.get("roles") or ())),
                                       frozenset(map(str, p.get("teams") or ())),
                                       p.get("email"))
        perms = {str(a): tuple(str(r) for r in (roles or ())) for a, roles in raw_perms.items()}
        return cls(people, perms, configured="people" in data)

    def person(self, name: str) -> Person | None:
        return self.people.get(name)

    def roles_of(self, name: str) -> frozenset[str]:
        p = self.people.get(name)
        return p.roles if p else frozenset()

    def holders(self, role: str) -> list[str]:
        return sorted(n for n, p in self.people.items() if role in p.roles)

    def members(self, principal: str) -> set[str]:
        """People a principal stands for: `team:x`, `role:r`, `person:n` or a bare name.

        The compiler's `principal_members` rules, so the runtime excludes the people the
        compiler promised to exclude; a bare name not listed under `people` still counts
        (excluding someone unknown is harmless, forgetting them is not)."""
        if principal.startswith("team:"):
            team = principal[5:]
            return {n for n, p in self.people.items() if team in p.teams}
        if principal.startswith("role:"):
            role = principal[5:]
            return {n for n, p in self.people.items() if role in p.roles}
        name = principal[7:] if principal.startswith("person:") else principal
        return {name} if name else set()

    def conflicted(self, principals: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for pr in principals:
            if pr:
                out |= self.members(pr)
        return out


def load_directory(project_root: Path | str | None) -> Directory:
    """The directory of the project at `project_root` (empty when it has no specops.yaml)."""
    root = Path(project_root or ".")
    cfg = root / "specops.yaml" if root.is_dir() else root
    if not cfg.is_file():
        return Directory()
    import yaml

    try:
        data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise IdentityError(f"cannot read {cfg}: {exc}".splitlines()[0]) from None
    if data is not None and not isinstance(data, Mapping):
        raise IdentityError(f"{cfg}: expected a mapping at the top level")
    return Directory.from_config(data)


def resolve_actor(explicit: str | None = None) -> str:
    """`--as USER`, else `SPECOPS_USER`, else the operating-system user."""
    for candidate in (explicit, os.environ.get("SPECOPS_USER")):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise IdentityError("cannot tell who you are: pass --as USER or set SPECOPS_USER") \
            from None
