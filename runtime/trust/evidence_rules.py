"""Did each deploy in a bundle have the approvals its rule required, when it happened?

Why judged again offline (the runtime already refused bad deploys): the bundle is for
someone who does not trust the runtime. The rule comes from the approval plan the
pipeline signed with the request (`plan_sha256`), the people and roles from the trust
root in force when each statement was logged, the order from the audit entries. A deploy
to an environment the rule covers counts only when, before it: every required role has
enough approvals by distinct people allowed to approve in that role, none expired at the
deploy's time, none by someone the separation of duties excludes (owner, authors, the
trigger; the deployer under `deployer_not_approver`), no rejection, and the request was
not voided. A canary or shadow rollout is judged exactly as a deploy (it sends real
traffic to the version), and so is a promote, at the promote's time, for the deployer who
started the rollout, plus: signed by the pipeline (a pinned registry key, never a
person's), ending a rollout statement of this bundle that no abort ended before it. An
abort or a self-healing rollback by the pipeline is checked for its key; a person's abort
for permission to roll back. Rollbacks and registrations are checked for permission only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from specops.runtime.governance.identity import Directory
from specops.runtime.governance.permissions import allowed
from specops.runtime.trust.evidence_format import BundleError
from specops.runtime.trust.statements import VerifiedAction
from specops.runtime.trust.trust_root import TrustRoot

__all__ = ["Event", "check_deploys"]

AUTO_ROLE = "auto"


@dataclass(frozen=True)
class Event:
    seq: int                          # the audit entry that logged it
    act: VerifiedAction
    request_id: Any
    plan: Mapping[str, Any] | None    # for approval requests


@dataclass(frozen=True)
class _Judge:
    """What `approvals.duty_conflicts` reads of a `Governance`, from a trust root."""
    directory: Directory
    sod: Mapping[str, bool]


def _when(at: Any) -> str:
    try:
        return datetime.fromtimestamp(float(at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError):
        return "?"


def _approvers(events: list[Event], deploy: Event, req: Event,
               root_at: Callable[[int], TrustRoot]) -> list[tuple[str, str]]:
    """(person, role) of each approval that counts for `deploy`."""
    from specops.runtime.governance.approvals import duty_conflicts
    from specops.runtime.governance.service import Governance

    plan = req.plan or {}
    root = root_at(deploy.seq)
    judge = _Judge(root.directory(), {"deployer_not_approver": True,
                                      "approver_not_author": True, **root.sod})
    conflicted = duty_conflicts(cast(Governance, judge), plan, req.act.person)
    expires = plan.get("expires_s")
    at = float(deploy.act.predicate.get("at", 0))
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for ev in events:
        a = ev.act
        if (ev.seq >= deploy.seq or a.action != "approve" or ev.request_id != req.request_id
                or a.spec_hash != req.act.spec_hash):
            continue
        role = str(a.predicate.get("role") or "")
        signed_at = float(a.predicate.get("at", 0))
        if expires is not None and signed_at + float(expires) <= at:
            continue
        if role == AUTO_ROLE:
            if plan.get("auto_approve"):
                out.append((a.person, role))
            continue
        if (a.person in seen or a.person in conflicted
                or not allowed(root_at(ev.seq).directory(), a.person, "approve", role)):
            continue
        seen.add(a.person)
        out.append((a.person, role))
    return out


def _deploy_line(events: list[Event], d: Event, requests: dict[Any, Event],
                 root_at: Callable[[int], TrustRoot], voids: Mapping[Any, int]) -> str:
    env = str(d.act.predicate.get("environment", ""))
    word = d.act.action
    if word == "rollout":
        mode = str(d.act.predicate.get("mode", ""))
        word = f"{mode} rollout" + (f" ({d.act.predicate.get('share')}%)"
                                    if mode == "canary" else "")
    who = f"{word} to {env} by {d.act.person} at {_when(d.act.predicate.get('at'))}"
    root = root_at(d.seq)
    if not allowed(root.directory(), d.act.person, "deploy"):
        raise BundleError(f"{who}: {d.act.person} may not deploy under the trust root then "
                          "in force")
    req = requests.get(d.request_id)
    covering = [r for r in requests.values() if env in ((r.plan or {}).get("environments")
                                                          or [])]
    if req is None:
        if covering:
            raise BundleError(f"{who}: no approval request of this version backs it")
        return f"{who}: no approval rule covers {env}"
    plan = req.plan or {}
    if env not in (plan.get("environments") or []):
        return f"{who}: the approval rule does not cover {env}"
    if d.request_id in voids and voids[d.request_id] < d.seq:
        raise BundleError(f"{who}: its approval request was voided (audit entry "
                          f"{voids[d.request_id]})")
    if plan.get("rule") is None:
        raise BundleError(f"{who}: no rule of approval {plan.get('approval')!r} applied")
    if d.act.spec_hash != req.act.spec_hash:
        raise BundleError(f"{who}: signed for another spec hash than the request's")
    for ev in events:
        if (ev.seq < d.seq and ev.act.action == "reject" and ev.request_id == d.request_id
                and ev.act.spec_hash == req.act.spec_hash):
            raise BundleError(f"{who}: {ev.act.person} had rejected it (audit entry "
                              f"{ev.seq})")
    got = _approvers(events, d, req, root_at)
    if not (plan.get("auto_approve") and any(r == AUTO_ROLE for _p, r in got)):
        for role, need in sorted((plan.get("require") or {}).items()):
            have = [p for p, r in got if r == role]
            if len(have) < int(need):
                raise BundleError(f"{who}: needs {need} valid {role} approval(s) (distinct, "
                                  f"unexpired, no conflict of duties), has {len(have)}")
    names = {p for p, _r in got}
    sod = {"deployer_not_approver": True, **root.sod}
    if sod["deployer_not_approver"] and d.act.person in names:
        raise BundleError(f"{who}: separation of duties: the deployer approved it")
    listed = ", ".join(f"{p} ({r})" for p, r in got)
    return (f"{who}: approval {plan.get('approval')!r} rule {plan.get('rule')} satisfied "
            f"by {listed or 'no approver needed'}")


def _by_pipeline(ev: Event, root_at: Callable[[int], TrustRoot]) -> bool:
    """Signed with a pinned registry key (the pipeline), as the runtime requires
    (deploy.pipeline_deploy_problem)."""
    return ev.act.key_id in root_at(ev.seq).registry_keys()


def _promote_line(events: list[Event], p: Event, requests: dict[Any, Event],
                  root_at: Callable[[int], TrustRoot], voids: Mapping[Any, int]) -> str:
    pred = p.act.predicate
    env = str(pred.get("environment", ""))
    who = f"promote to {env} at {_when(pred.get('at'))}"
    if not _by_pipeline(p, root_at):
        raise BundleError(f"{who}: signed by {p.act.person}'s key; only the pipeline "
                          "(rollout rules, a pinned registry key) promotes")
    starts = [ev for ev in events if ev.seq == pred.get("rollout_seq")
              and ev.act.action == "rollout" and ev.seq < p.seq]
    if not starts or starts[0].act.predicate.get("environment") != env:
        raise BundleError(f"{who}: the rollout it ends (audit entry "
                          f"{pred.get('rollout_seq')}) is not a rollout of this version to "
                          f"{env} in the bundle")
    start = starts[0]
    if pred.get("on_behalf_of") != start.act.person:
        raise BundleError(f"{who}: on behalf of {pred.get('on_behalf_of')!r}, but "
                          f"{start.act.person} started the rollout")
    for ev in events:
        if (start.seq < ev.seq < p.seq and ev.act.action in ("rollout_abort", "promote")
                and ev.act.predicate.get("rollout_seq") == start.seq):
            raise BundleError(f"{who}: the rollout was already ended by audit entry "
                              f"{ev.seq} ({ev.act.action})")
    # the approvals must still hold when the challenger takes all traffic
    as_deploy = Event(p.seq, replace(p.act, person=start.act.person), p.request_id, None)
    line = _deploy_line(events, as_deploy, requests, root_at, voids)
    return f"{who} by the pipeline, ending the rollout of audit entry {start.seq}; " + \
        line.split(": ", 1)[1]


def check_deploys(events: list[Event], root_at: Callable[[int], TrustRoot],
                  voids: Mapping[Any, int]) -> list[str]:
    """One line per deploy, rollback and registration that holds; `BundleError` for the
    first that does not."""
    requests = {ev.request_id: ev for ev in events if ev.plan is not None}
    lines: list[str] = []
    for ev in events:
        a = ev.act
        if a.action in ("deploy", "rollout"):
            lines.append(_deploy_line(events, ev, requests, root_at, voids))
        elif a.action == "promote":
            lines.append(_promote_line(events, ev, requests, root_at, voids))
        elif a.action == "auto_rollback" or (a.action == "rollout_abort"
                                             and _by_pipeline(ev, root_at)):
            if not _by_pipeline(ev, root_at):
                raise BundleError(f"{a.action} (audit entry {ev.seq}): signed by "
                                  f"{a.person}'s key; only the pipeline does that")
            lines.append(f"{a.action} at {_when(a.predicate.get('at'))}: signed by the "
                         "pipeline")
        elif a.action == "rollout_abort" and not allowed(
                root_at(ev.seq).directory(), a.person, "rollback"):
            raise BundleError(f"rollout_abort by {a.person} (audit entry {ev.seq}): not "
                              "allowed to roll back under the trust root then in force")
        elif a.action == "rollout_abort":
            lines.append(f"rollout_abort by {a.person} at {_when(a.predicate.get('at'))}: "
                         "allowed")
        elif a.action in ("rollback", "register") and a.person:
            if not allowed(root_at(ev.seq).directory(), a.person, a.action):
                raise BundleError(f"{a.action} by {a.person} (audit entry {ev.seq}): not "
                                  "allowed under the trust root then in force")
            lines.append(f"{a.action} by {a.person} at {_when(a.predicate.get('at'))}: "
                         "allowed")
    if not any(ev.act.action in ("deploy", "rollout", "promote") for ev in events):
        lines.append("no deploy of this version recorded")
    return lines
