"""The trust root in specops.yaml: is the working copy in force, and can its people carry
out every model's duties across actions?

Why lint says it (SPEC508): people, their keys, roles and permissions in specops.yaml
take effect only after `specops policy accept`; the runtime keeps acting on the last
accepted root. A pull request that adds a person or grants a role must therefore say
that merging it changes nothing until policy holders sign. Lint has no store, so it
compares with `trust.lock.json`, which `specops policy accept` writes beside specops.yaml
when a root comes into force (commit it with the change). Key files are read only when
they resolve inside the project (lint runs on pull requests: nothing outside is read);
with no lock and no readable key (keys provisioned outside the checkout, as the example's
prepare step does) there is nothing to compare yet, and lint stays silent.

Why SPEC525: see `_check_signed`.

Why SPEC509: `separation_of_duties.deployer_not_approver` and `approver_not_author` are
rules across actions, enforced at run time; when a model's required approvers and a
deployer cannot be distinct people (or only authors could approve), every deploy would
be refused, so the pull request fails instead.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, Span
from specops.compiler.facts.eligibility import fill_roles, principal_members
from specops.compiler.kinds.project_kind import ProjectSpec
from specops.compiler.passes.context import Context

__all__ = ["LOCK_FILE", "check_trust", "key_text"]

LOCK_FILE = "trust.lock.json"
# the runtime's default deploy roles (runtime/governance/permissions.py), when specops.yaml
# does not name `deploy` under `permissions`
_DEFAULT_DEPLOY = ("platform_engineer", "ml_engineer")


def _key_text(entry: str, root: Path) -> str | None:
    """`type base64` of a key entry; None when it is a path lint may not or cannot read."""
    text = entry.strip()
    if not text.startswith("ssh-"):
        path = root / text
        try:
            real = path.resolve()
            if Path(text).is_absolute() or not real.is_relative_to(root.resolve()) \
                    or not real.is_file() or real.stat().st_size > 16384:
                return None
            text = real.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError, ValueError):
            return None
    parts = text.split()
    if len(parts) < 2:
        return None
    try:
        base64.b64decode(parts[1], validate=True)
    except ValueError:
        return None
    return f"{parts[0]} {parts[1]}"


def key_text(entry: str, root: Path) -> str | None:
    """A key entry as the trust check reads it (`specops compile`'s cache key hashes it)."""
    return _key_text(entry, root)


def _working(config: ProjectSpec, root: Path) -> dict[str, Any]:
    people = {}
    for name, p in config.people.items():
        keys = [_key_text(k, root) for k in p.keys]
        people[name] = {"roles": sorted(p.roles), "teams": sorted(p.teams),
                        "keys": None if None in keys else sorted({k for k in keys if k})}
    return {"people": people,
            "permissions": {a: list(r) for a, r in sorted(config.permissions.items())},
            "policy": {"accept_requires": config.policy.accept_requires},
            "separation_of_duties": config.separation_of_duties.model_dump()}


def _changes(accepted: Mapping[str, Any], working: Mapping[str, Any]) -> list[str]:
    old = dict(accepted.get("people") or {})
    new = dict(working["people"])
    out = [f"+ {n}" for n in sorted(set(new) - set(old))]
    out += [f"- {n}" for n in sorted(set(old) - set(new))]
    for n in sorted(set(old) & set(new)):
        o, w = old[n], new[n]
        if sorted(o.get("roles") or []) != w["roles"] or sorted(o.get("teams") or []) \
                != w["teams"]:
            out.append(f"~ {n} (roles or teams)")
        elif w["keys"] is not None and sorted(o.get("keys") or []) != w["keys"]:
            out.append(f"~ {n} (keys)")
    for section in ("permissions", "policy", "separation_of_duties"):
        if section in accepted and accepted[section] != working[section]:
            out.append(f"~ {section}")
    return out


def _uses_trust(config: ProjectSpec) -> bool:
    return any(p.keys for p in config.people.values()) or bool(config.registry.pinned)


def _check_accepted(ctx: Context, config: ProjectSpec) -> None:
    root, cfile = ctx.project.root, ctx.project.config_file
    if root is None or cfile is None or not _uses_trust(config):
        return
    doc = cfile.documents[0] if cfile.documents else None
    span = doc.key_span(("people",)) if doc else Span.point(1, 1)
    lock = root / LOCK_FILE
    try:
        accepted = json.loads(lock.read_text(encoding="utf-8")).get("document") or {}
    except FileNotFoundError:
        if not any(_key_text(k, root) for p in config.people.values() for k in p.keys):
            return   # keys are provisioned outside this checkout: nothing to compare yet
        ctx.diagnostics.append(Diagnostic(
            "SPEC508", "people and keys in specops.yaml have never been accepted "
            f"({LOCK_FILE} is missing): no governed action counts until they are",
            cfile.path, span, Severity.WARNING,
            help="a person allowed to change_policy runs `specops policy accept --key "
                 f"KEY` and commits {LOCK_FILE}"))
        return
    except (OSError, ValueError, AttributeError):
        accepted = {}
    changes = _changes(accepted, _working(config, root))
    if changes:
        ctx.diagnostics.append(Diagnostic(
            "SPEC508", "people, roles or permissions differ from the accepted trust root "
            f"({', '.join(changes[:6])}{', …' if len(changes) > 6 else ''}): not in force "
            "until `specops policy accept`", cfile.path, span, Severity.WARNING,
            help=f"after review, {config.policy.accept_requires} person(s) allowed to "
                 f"change_policy run `specops policy accept --key KEY`; commit {LOCK_FILE}"))


def _check_duties(ctx: Context, config: ProjectSpec) -> None:
    duties = config.separation_of_duties
    people = config.people
    deployers = sorted(n for n, p in people.items()
                       if set(p.roles) & set(config.permissions.get("deploy",
                                                                    _DEFAULT_DEPLOY)))
    if not deployers:
        return   # nobody may deploy at all: not a conflict between duties
    for mloaded, model in ctx.models():
        plan = ctx.approval_plans.get(model.name)
        if not plan or not plan.get("satisfiable") or not plan.get("require"):
            continue
        candidates = {r: list(c) for r, c in plan["eligible"].items()}
        why = []
        if not plan.get("separation_of_duties") and duties.approver_not_author:
            authors: set[str] = set()
            for a in model.authors:
                authors |= principal_members(a, people)
            candidates = {r: [p for p in c if p not in authors] for r, c in candidates.items()}
            why.append("approver_not_author")
        require = dict(plan["require"])
        if duties.deployer_not_approver:
            require["(deployer)"] = 1
            candidates["(deployer)"] = deployers
            why.append("deployer_not_approver")
        _, missing = fill_roles(require, candidates)
        if missing and why:
            total = sum(require.values())
            need = " + ".join(f"{n} {r.strip('()')}" for r, n in sorted(require.items()))
            ctx.error("SPEC509", f"model `{model.name}`: {need} must be {total} distinct "
                      f"people under separation_of_duties ({', '.join(why)}), and only "
                      f"{total - sum(missing.values())} can be found", mloaded, "approval",
                      help="add people to the roles that approve or deploy, or relax "
                           "`separation_of_duties` in specops.yaml")


def _check_signed(ctx: Context, config: ProjectSpec) -> None:
    """SPEC525: a high-risk model in a project whose governed actions are not signed.

    Why a warning and not silence: without keys, specops runs in claimed-identity mode
    (`--as`, $SPECOPS_USER), which holds against honest mistakes but not against a
    dishonest insider, the very failure a high-risk model's approvals exist to prevent.
    The field to change is `people` in specops.yaml (keys), the model is the reason."""
    cfile = ctx.project.config_file
    if cfile is None or _uses_trust(config):
        return
    risky = [(loaded, m) for loaded, m in ctx.models() if m.risk_tier == "high"]
    if not risky:
        return
    doc = cfile.documents[0] if cfile.documents else None
    span = (doc.key_span(("people",)) if doc and config.people else None) or Span.point(1, 1)
    names = ", ".join(f"`{m.name}`" for _, m in risky[:3]) + (", …" if len(risky) > 3 else "")
    ctx.diagnostics.append(Diagnostic(
        "SPEC525", f"governed actions are not signed (no person has `keys`), yet {names} "
        "is high risk: approvals and deploys would rest on claimed names", cfile.path, span,
        Severity.WARNING,
        help="give each person `keys:` (an SSH ed25519 public key; `specops keys new NAME`) "
             "and the registry a referenced key, then `specops policy accept`",
        related=tuple(ctx.related("high risk", loaded, "risk_tier") for loaded, _ in
                      risky[:3])))


def check_trust(ctx: Context) -> None:
    config = ctx.config
    if config is None:
        return
    _check_signed(ctx, config)
    _check_accepted(ctx, config)
    _check_duties(ctx, config)
