"""Approval requests: opened at registration, signed per role, bound to what was reviewed.

The lifecycle (docs/governance.md has the diagram):
- `open_request` snapshots the model's approval plan from the plan's `models` section (the
  first rule that applies, its roles and counts, separation of duties, expiry, the
  environments that need approval, the owner and authors) and binds the request to the
  version's model digest and the spec hash. Re-opening the same version with a different
  binding voids the old request: approvals never carry over to something nobody reviewed.
- `approve` records one person's signature in one role. It is refused unless the person
  holds the role and the role may approve (permission matrix), the rule needs that role
  and still needs more of it, the person has not already signed in another role (distinct
  people), and, under separation of duties, the person is not in the owner team, among
  the authors, or the person who triggered the run.
- `reject` (any role allowed to reject; separation of duties does not apply: stopping a
  model is never a conflict of interest) closes the request for good.
- A signature counts only while its digest and spec hash equal the request's and for
  `expires_s` after it was given. `status()` recomputes all of this; the `status` column
  is a cache for listings, never trusted by `require_approved`.
- A rule with `auto_approve: true` is approved by `specops` itself when the version passed
  its gates (registration implies that: failing gates produce a `rejected` version).

Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from specops.contract.interpret import EvaluationError, evaluate
from specops.runtime.governance import permissions
from specops.runtime.governance.database import transaction
from specops.runtime.governance.errors import GovernanceError, NotFound
from specops.runtime.governance.governance_tables import requests, votes
from specops.runtime.governance.identity import SYSTEM_ACTOR
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.service import Governance
from specops.runtime.trust.acting import logged_rejections, request_problem
from specops.runtime.trust.statements import plan_digest

__all__ = ["AUTO_ROLE", "ApprovalStatus", "RoleStatus", "approval_plan", "approve",
           "conflicts", "duty_conflicts", "list_status", "open_request", "open_request_in",
           "reject", "require_approved", "status", "status_in"]

AUTO_ROLE = "auto"
_MODEL_FACTS = ("owner", "risk_tier", "task", "description", "intended_use", "limitations",
                "assumptions", "authors", "validator", "gates", "protected", "monitoring",
                "review_cadence_s", "serving")


# -- the approval plan ---------------------------------------------------------------------
def _rule_applies(tree: Any, scope: Mapping[str, Any]) -> bool:
    """Whether a rule condition the compiler left undecided holds, by the one interpreter
    (`specops.contract.interpret`, as the compiler decides it): null is not true. A tree
    the compiler never writes (`raw`, malformed, a name it does not know) is refused rather
    than read as false, which would silently fall through to a laxer rule."""
    if not isinstance(tree, Mapping) or tree.get("op") == "raw":
        raise GovernanceError("the plan carries an unchecked approval condition; recompile "
                              "it with `specops compile`")
    try:
        return evaluate(tree, scope) is True
    except EvaluationError as exc:
        raise GovernanceError(f"cannot evaluate approval condition: {exc}") from None


def approval_plan(model: str, facts: Mapping[str, Any]) -> dict[str, Any] | None:
    """The snapshot a request keeps, from the plan's `models[model]`; None when the model
    has no approval spec (then no environment needs approval)."""
    approval = facts.get("approval")
    if not approval:
        return None
    scope = {"name": model, "risk_tier": facts.get("risk_tier"), "task": facts.get("task"),
             "owner": facts.get("owner"), "environment": "production"}
    chosen: Mapping[str, Any] | None = None
    for rule in approval.get("rules", []):
        applies = rule.get("applies")
        if applies is None:
            applies = _rule_applies(rule.get("when"), scope)
        if applies:
            chosen = rule
            break
    snap: dict[str, Any] = {
        "approval": approval.get("name", ""),
        "environments": sorted(approval.get("environments") or ["production"]),
        "owner": facts.get("owner") or "", "authors": list(facts.get("authors") or []),
        "model": {k: facts.get(k) for k in _MODEL_FACTS if k in facts},
        "rule": None, "require": {}, "separation_of_duties": True, "auto_approve": False,
        "expires_s": None, "eligible": {},
    }
    if chosen is not None:
        snap.update({"rule": chosen.get("index"), "require": dict(chosen.get("require") or {}),
                     "separation_of_duties": bool(chosen.get("separation_of_duties", True)),
                     "auto_approve": bool(chosen.get("auto_approve", False)),
                     "expires_s": chosen.get("expires_s"),
                     "eligible": dict(chosen.get("eligible") or {})})
    return snap


# -- status --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoleStatus:
    role: str
    need: int
    approvers: list[str]

    @property
    def satisfied(self) -> bool:
        return len(self.approvers) >= self.need


@dataclass(frozen=True)
class ApprovalStatus:
    request_id: int
    model: str
    version: int
    state: str                 # open | approved | rejected | voided | expired
    reason: str
    model_digest: str
    spec_hash: str
    plan: dict[str, Any]
    trigger: str
    opened_at: float
    roles: list[RoleStatus] = field(default_factory=list)
    votes: list[dict[str, Any]] = field(default_factory=list)
    expires_at: float | None = None

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"

    @property
    def approved(self) -> bool:
        return self.state == "approved"

    def as_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "ref": self.ref, "state": self.state,
                "reason": self.reason, "model_digest": self.model_digest,
                "spec_hash": self.spec_hash, "trigger": self.trigger,
                "opened_at": self.opened_at, "expires_at": self.expires_at,
                "approval": self.plan.get("approval"), "rule": self.plan.get("rule"),
                "environments": self.plan.get("environments"),
                "roles": [{"role": r.role, "need": r.need, "approvers": r.approvers}
                          for r in self.roles],
                "votes": self.votes}


def _counted(gov: Governance | None, req: Any, plan: Mapping[str, Any], rows: list[Any]
             ) -> tuple[list[Any], list[str]]:
    """The votes that count, and why the others do not. In signed mode a vote counts only
    with a valid signed statement matching the row (runtime/trust/acting.py), by a person
    not in conflict under separation of duties, once per person: a row inserted in the
    database, or one signed offline around `approve`'s checks, is ignored."""
    if gov is None or not gov.signed:
        return rows, []
    from specops.runtime.trust.acting import vote_problem

    kept: list[Any] = []
    ignored: list[str] = []
    why = duty_conflicts(gov, plan, req.trigger)
    seen: set[str] = set()
    for v in rows:
        problem = vote_problem(gov, v, req)
        if problem is None and v.role != AUTO_ROLE and v.decision == "approve":
            if v.actor in why:
                problem = f"vote {v.id}: separation of duties: {v.actor} {why[v.actor]}"
            elif v.actor in seen:
                problem = f"vote {v.id}: {v.actor} already counts in another role"
            seen.add(v.actor)
        if problem is None:
            kept.append(v)
        else:
            ignored.append(problem)
    return kept, ignored


def _status_of(conn: sa.Connection, req: Any, now: float, current_digest: str | None,
               current_spec: str | None, gov: Governance | None = None) -> ApprovalStatus:
    # the signature is checked before the plan is used, and a plan of the wrong shape voids
    # the request: a hostile row must give a one-line cause, never a crash
    unsigned = request_problem(gov, req, conn) if gov is not None else None
    void = unsigned or plan_problem(req)
    if void:
        return ApprovalStatus(request_id=req.id, model=req.model, version=req.version,
                              state="voided", reason=void, model_digest=req.model_digest,
                              spec_hash=req.spec_hash, plan={}, trigger=req.trigger,
                              opened_at=req.opened_at)
    plan = dict(req.plan or {})
    all_rows = conn.execute(sa.select(votes).where(votes.c.request_id == req.id)
                            .order_by(votes.c.id)).all()
    rows, ignored = _counted(gov, req, plan, list(all_rows))
    counted_ids = {v.id for v in rows}
    vlist = [{"actor": v.actor, "role": v.role, "decision": v.decision, "comment": v.comment,
              "at": v.at, "model_digest": v.model_digest, "spec_hash": v.spec_hash,
              "audit_seq": v.audit_seq, "counts": v.id in counted_ids,
              "signed": bool(v.envelope)} for v in all_rows]
    base = dict(request_id=req.id, model=req.model, version=req.version,
                model_digest=req.model_digest, spec_hash=req.spec_hash, plan=plan,
                trigger=req.trigger, opened_at=req.opened_at, votes=vlist)
    expires_s = plan.get("expires_s")
    bound = [v for v in rows if v.model_digest == req.model_digest
             and v.spec_hash == req.spec_hash]
    live = [v for v in bound if v.decision == "approve"
            and (expires_s is None or v.at + float(expires_s) > now)]
    require: dict[str, int] = {str(k): int(n) for k, n in (plan.get("require") or {}).items()}
    roles = [RoleStatus(r, n, sorted({v.actor for v in live if v.role == r}))
             for r, n in sorted(require.items())]

    def done(state: str, reason: str, expires_at: float | None = None) -> ApprovalStatus:
        if ignored and state != "approved":
            reason += f" (ignored {len(ignored)} vote(s): {ignored[0]})"
        return ApprovalStatus(state=state, reason=reason, roles=roles, expires_at=expires_at,
                              **base)

    if req.status == "voided":
        return done("voided", req.note or "voided")
    if current_digest is not None and current_digest != req.model_digest:
        return done("voided", f"the model digest changed ({req.model_digest[:19]}… -> "
                              f"{current_digest[:19]}…): approvals were for other bytes")
    if current_spec is not None and current_spec != req.spec_hash:
        return done("voided", f"the spec hash changed ({req.spec_hash[:19]}… -> "
                              f"{current_spec[:19]}…): re-run to open a new request")
    rejecting = [(v.actor, v.role, v.comment) for v in bound if v.decision == "reject"]
    rejecting += logged_rejections(conn, gov, req) if gov is not None else []
    if rejecting:
        who, role, comment = rejecting[0]
        return done("rejected", f"rejected by {who} ({role})"
                    + (f": {comment}" if comment else ""))
    if plan.get("rule") is None:
        return done("open", f"no rule of approval {plan.get('approval')!r} applies to this "
                            "model: it can never be approved")
    counted = [v for v in live if v.role == AUTO_ROLE] if plan.get("auto_approve") else []
    if counted:
        return done("approved", "auto-approved: the rule allows it and the gates passed")
    if all(r.satisfied for r in roles):
        signed = [v.at for v in live if v.role in require]
        expires_at = (min(signed) + float(expires_s)) if expires_s and signed else None
        return done("approved", "every required role has signed" if require
                    else "the rule requires no approver", expires_at)
    missing = ", ".join(f"{r.need - len(r.approvers)} more {r.role}" for r in roles
                        if not r.satisfied)
    expired = [v for v in bound if v.decision == "approve" and v not in live]
    if expired:
        return done("expired", f"approvals expired after {int(float(expires_s or 0))}s; "
                               f"needs {missing}")
    return done("open", f"needs {missing}")


def _select_requests() -> sa.Select[Any]:
    """Request rows with the plan read as text: the JSON column would parse it while the
    row is fetched, before its signature is checked, and crash on a hostile value."""
    cols = [c for c in requests.c if c.name != "plan"]
    return sa.select(*cols, sa.cast(requests.c.plan, sa.Text).label("plan"))


_UNPARSABLE = "<unparsable plan>"
_PLAN_TYPES: dict[str, tuple[type, ...]] = {
    "environments": (list,), "authors": (list,), "owner": (str,), "require": (dict,),
    "separation_of_duties": (bool,), "auto_approve": (bool,), "expires_s": (int, float),
    "eligible": (dict,)}


def _loaded(row: Any) -> Any:
    """A request row with its plan parsed; an unparsable plan becomes `_UNPARSABLE`
    (which `plan_problem` reports and no signed statement can match)."""
    if row is None:
        return None
    fields = dict(row._mapping)
    raw = fields.get("plan")
    try:
        fields["plan"] = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except ValueError:
        fields["plan"] = _UNPARSABLE
    return SimpleNamespace(**fields)


def plan_problem(req: Any) -> str | None:
    """Why `req.plan` cannot be used (None: it can): not JSON, not an object, or a field
    of the wrong type. Such a request is void, with this one-line cause."""
    plan = req.plan
    where = f"request {req.id}: its approval plan"
    if plan == _UNPARSABLE:
        return f"{where} is not valid JSON"
    if not isinstance(plan, dict):
        return f"{where} is not a JSON object"
    for key, types in _PLAN_TYPES.items():
        value = plan.get(key)
        if value is not None and (not isinstance(value, types)
                                  or (isinstance(value, bool) and bool not in types)):
            return f"{where} has an ill-typed {key!r}"
    for key in ("environments", "authors"):
        if not all(isinstance(x, str) for x in plan.get(key) or []):
            return f"{where} has an ill-typed {key!r}"
    for n in (plan.get("require") or {}).values():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            return f"{where} has an ill-typed 'require'"
    expires = plan.get("expires_s")
    if expires is not None and expires < 0:
        return f"{where} has a negative 'expires_s'"
    return None


def _latest_request(conn: sa.Connection, model: str, version: int) -> Any:
    return _loaded(conn.execute(_select_requests().where(requests.c.model == model,
                                                         requests.c.version == version)
                                .order_by(requests.c.id.desc()).limit(1)).first())


def _current_digest(gov: Governance, model: str, version: int) -> str | None:
    if gov.registry is None:
        return None
    return str(gov.version(model, version).model_digest)


def status_in(conn: sa.Connection, gov: Governance, model: str, version: int,
              current_spec: str | None = None, check_registry: bool = True
              ) -> ApprovalStatus | None:
    req = _latest_request(conn, model, version)
    if req is None:
        return None
    digest = _current_digest(gov, model, version) if check_registry else None
    return _status_of(conn, req, gov.now(), digest, current_spec, gov)


def status(gov: Governance, model: str, version: int, current_spec: str | None = None
           ) -> ApprovalStatus | None:
    """The latest request of model@version, recomputed now (None: none was opened)."""
    with gov.engine.connect() as conn:
        return status_in(conn, gov, model, version, current_spec)


def list_status(gov: Governance, model: str | None = None, state: str | None = None
                ) -> list[ApprovalStatus]:
    """The latest request of every version (of `model`), recomputed against the registry's
    current digests; filter by `state`."""
    with gov.engine.connect() as conn:
        q = _select_requests()
        if model:
            q = q.where(requests.c.model == model)
        latest: dict[tuple[str, int], Any] = {}
        for r in conn.execute(q.order_by(requests.c.id)):
            latest[(r.model, r.version)] = _loaded(r)
        out = [_status_of(conn, r, gov.now(), _digest_or_gone(gov, m, v), None, gov)
               for (m, v), r in sorted(latest.items())]
    return [s for s in out if state is None or s.state == state]


def _digest_or_gone(gov: Governance, model: str, version: int) -> str | None:
    """The registry's digest now (so listings show voided requests), "" when the version
    is no longer in the registry (which voids it too)."""
    try:
        return _current_digest(gov, model, version)
    except NotFound:
        return ""


# -- opening -------------------------------------------------------------------------------
def open_request(gov: Governance, *, model: str, version: int, model_digest: str,
                 spec_hash: str, facts: Mapping[str, Any], trigger: str, run_id: str = "",
                 gates_passed: bool = True) -> ApprovalStatus | None:
    """Open (or return the identical open) request for model@version; None when the model
    needs no approval. A request for the same version bound to another digest or spec hash
    is voided first."""
    with transaction(gov.engine) as conn:
        return open_request_in(conn, gov, model=model, version=version,
                               model_digest=model_digest, spec_hash=spec_hash, facts=facts,
                               trigger=trigger, run_id=run_id, gates_passed=gates_passed)


def open_request_in(conn: sa.Connection, gov: Governance, *, model: str, version: int,
                    model_digest: str, spec_hash: str, facts: Mapping[str, Any],
                    trigger: str, run_id: str = "", gates_passed: bool = True
                    ) -> ApprovalStatus | None:
    """`open_request` inside the caller's governance transaction."""
    plan = approval_plan(model, facts)
    if plan is None:
        return None
    now, ref = gov.now(), f"{model}@{version}"
    live = [_loaded(r) for r in conn.execute(_select_requests().where(
        requests.c.model == model, requests.c.version == version,
        requests.c.status != "voided").order_by(requests.c.id)).all()]
    for old in live:
        if old.model_digest == model_digest and old.spec_hash == spec_hash:
            return _status_of(conn, old, now, None, None, gov)
    for old in live:
        what = ("spec hash" if old.model_digest == model_digest else "model digest")
        note = f"superseded: the {what} changed since request {old.id} was opened"
        conn.execute(requests.update().where(requests.c.id == old.id)
                     .values(status="voided", closed_at=now, note=note))
        audit.append(conn, actor=trigger, action="void", target=ref, reason=note,
                     details={"request_id": old.id, "old_model_digest": old.model_digest,
                              "old_spec_hash": old.spec_hash,
                              "model_digest": model_digest, "spec_hash": spec_hash},
                     at=now)
    from specops.runtime.trust.acting import sign

    envelope = sign(gov, action="request_approval", person=trigger, subject=ref,
                    digest=model_digest, spec_hash=spec_hash, at=now, run_id=run_id,
                    plan_sha256=plan_digest(plan))
    inserted = conn.execute(requests.insert().values(
        model=model, version=version, model_digest=model_digest, spec_hash=spec_hash,
        status="open", plan=plan, trigger=trigger, run_id=run_id, opened_at=now, note="",
        envelope=envelope))
    rid = int(inserted.inserted_primary_key[0])  # type: ignore[index]
    audit.append(conn, actor=trigger, action="request_approval", target=ref,
                 reason=f"approval {plan['approval']!r} rule {plan['rule']}",
                 details={"request_id": rid, "model_digest": model_digest,
                          "spec_hash": spec_hash, "require": plan["require"],
                          "separation_of_duties": plan["separation_of_duties"],
                          "expires_s": plan["expires_s"], "run_id": run_id,
                          "environments": plan["environments"]}, at=now)
    if plan["auto_approve"] and gates_passed and plan["rule"] is not None:
        entry = audit.append(conn, actor=SYSTEM_ACTOR, action="approve", target=ref,
                             reason="auto-approved: the rule allows it and all gates "
                                    "passed",
                             details={"request_id": rid, "role": AUTO_ROLE,
                                      "model_digest": model_digest,
                                      "spec_hash": spec_hash}, at=now)
        conn.execute(votes.insert().values(
            request_id=rid, actor=SYSTEM_ACTOR, role=AUTO_ROLE, decision="approve",
            comment="auto-approved after gates passed", model_digest=model_digest,
            spec_hash=spec_hash, at=now, audit_seq=entry.seq,
            envelope=sign(gov, action="approve", person=trigger, subject=ref,
                          digest=model_digest, spec_hash=spec_hash, role=AUTO_ROLE,
                          comment="auto-approved after gates passed", at=now,
                          request_id=rid)))
    req = _loaded(conn.execute(_select_requests().where(requests.c.id == rid)).one())
    st = _status_of(conn, req, now, None, None, gov)
    if st.state == "approved":
        conn.execute(requests.update().where(requests.c.id == rid)
                     .values(status="approved", closed_at=now))
    return st


# -- signing -------------------------------------------------------------------------------
def conflicts(gov: Governance, plan: Mapping[str, Any], trigger: str) -> dict[str, str]:
    """Person -> why they may not approve under separation of duties."""
    out: dict[str, str] = {}
    d = gov.directory
    owner = str(plan.get("owner") or "")
    for p in sorted(d.members(owner)) if owner else []:
        out.setdefault(p, f"is the model's owner ({owner})" if not owner.startswith("team:")
                       else f"is in the owner team {owner[5:]}")
    for author in plan.get("authors") or []:
        for p in sorted(d.members(str(author))):
            out.setdefault(p, f"is an author of the model ({author})")
    if trigger:
        out.setdefault(trigger, "triggered the run that produced this version")
    return out


def duty_conflicts(gov: Governance, plan: Mapping[str, Any], trigger: str
                   ) -> dict[str, str]:
    """Who may not approve: under the rule's separation of duties, `conflicts`; without
    it, still the model's authors while the trust root's `approver_not_author` holds
    (a rule across actions: writing a model and approving it are never one person's)."""
    if plan.get("separation_of_duties", True):
        return conflicts(gov, plan, trigger)
    if not gov.sod.get("approver_not_author", True):
        return {}
    out: dict[str, str] = {}
    for author in plan.get("authors") or []:
        for p in sorted(gov.directory.members(str(author))):
            out.setdefault(p, f"is an author of the model ({author})")
    return out


def _why_no_request(conn: sa.Connection, model: str, version: int) -> str:
    """Why there is nothing to sign: above all, a version its gates rejected (the user
    should hear which gate and why, not "is it registered?")."""
    from specops.runtime.registry.registry_tables import versions as registry_versions

    if not sa.inspect(conn).has_table(registry_versions.name):   # governance-only store
        return (f"no approval request for {model}@{version} (is it registered, and does "
                "the model have an approval spec?)")
    row = conn.execute(sa.select(registry_versions.c.status, registry_versions.c.reasons)
                       .where(registry_versions.c.model == model,
                              registry_versions.c.version == version)).first()
    if row is not None and row.status == "rejected":
        reasons = [str(r) for r in (row.reasons or [])]
        gates = sorted({r.split(":", 1)[0].removeprefix("gate ") for r in reasons
                        if r.startswith("gate ")})
        by = f"by gate {', '.join(gates)}" if gates else "by its gates"
        return (f"{model}@{version} was rejected {by} ({'; '.join(reasons) or 'no reason'})"
                "; a rejected version cannot be approved")
    if row is None:
        return f"{model}@{version} is not registered"
    return (f"no approval request for {model}@{version} (does the model have an approval "
            "spec?)")


def _open_for_signing(conn: sa.Connection, gov: Governance, model: str, version: int
                      ) -> tuple[Any, ApprovalStatus]:
    req = _latest_request(conn, model, version)
    if req is None:
        raise NotFound(_why_no_request(conn, model, version))
    digest = _current_digest(gov, model, version)
    st = _status_of(conn, req, gov.now(), digest, None, gov)
    if st.state == "voided" and req.status != "voided":
        conn.execute(requests.update().where(requests.c.id == req.id)
                     .values(status="voided", closed_at=gov.now(), note=st.reason))
        audit.append(conn, actor=SYSTEM_ACTOR, action="void", target=st.ref,
                     reason=st.reason, details={"request_id": req.id,
                                                "model_digest": req.model_digest,
                                                "current_digest": digest}, at=gov.now())
    return req, st


def approve(gov: Governance, actor: str, model: str, version: int, role: str,
            comment: str = "") -> ApprovalStatus:
    """Sign model@version as `role`; returns the recomputed status. In signed mode the
    actor is the owner of `gov.signer`'s key (a claimed `actor` must match it)."""
    from specops.runtime.trust.acting import acting_person

    actor = acting_person(gov, actor)
    permissions.require(gov.directory, actor, "approve", role)
    ref = f"{model}@{version}"
    result: ApprovalStatus | GovernanceError
    with transaction(gov.engine) as conn:
        req, st = _open_for_signing(conn, gov, model, version)
        plan = st.plan
        need = {r.role: r for r in st.roles}
        reason = ""
        if st.state in ("voided", "rejected", "approved"):
            reason = f"{ref} is {st.state}: {st.reason}"
        elif plan.get("rule") is None:
            reason = st.reason
        elif role not in need:
            reason = (f"role {role!r} is not required to approve {ref} (needs: "
                      f"{', '.join(f'{r.need} {r.role}' for r in st.roles) or 'nobody'})")
        elif actor in (why := duty_conflicts(gov, plan, req.trigger)):
            reason = f"separation of duties: {actor} {why[actor]}"
        elif any(actor in r.approvers for r in st.roles):
            held = next(r.role for r in st.roles if actor in r.approvers)
            reason = (f"{actor} already approved {ref} as {held}; each required approval "
                      "needs a distinct person")
        elif need[role].satisfied:
            reason = f"{ref} already has its {need[role].need} {role} approval(s)"
        if reason:
            result = GovernanceError(reason)
        else:
            now = gov.now()
            _record_vote(conn, gov, req, ref, actor, role, "approve", comment, now)
            result = _status_of(conn, req, now, None, None, gov)
            if result.state == "approved":
                conn.execute(requests.update().where(requests.c.id == req.id)
                             .values(status="approved", closed_at=now))
    if isinstance(result, GovernanceError):
        raise result
    return result


def _record_vote(conn: Any, gov: Governance, req: Any, ref: str, actor: str,
                 role: str | None, decision: str, comment: str, now: float) -> None:
    """One signature: the audit entry first (its sequence number is stored with the vote),
    then the vote row, both bound to the request's model digest and spec hash; in signed
    mode the row and the entry carry the actor's signed statement."""
    from specops.runtime.trust.acting import sign

    envelope = sign(gov, action=decision, person=actor, subject=ref,
                    digest=req.model_digest, spec_hash=req.spec_hash, role=role,
                    comment=comment, at=now, request_id=req.id)
    details: dict[str, Any] = {"request_id": req.id, "role": role,
                               "model_digest": req.model_digest,
                               "spec_hash": req.spec_hash}
    if envelope:
        details["envelope"] = json.loads(envelope)
    entry = audit.append(conn, actor=actor, action=decision, target=ref, reason=comment,
                         details=details, at=now)
    conn.execute(votes.insert().values(
        request_id=req.id, actor=actor, role=role, decision=decision, comment=comment,
        model_digest=req.model_digest, spec_hash=req.spec_hash, at=now,
        audit_seq=entry.seq, envelope=envelope))


def reject(gov: Governance, actor: str, model: str, version: int, role: str | None = None,
           comment: str = "") -> ApprovalStatus:
    """Reject model@version: closes its request; it can no longer be deployed."""
    from specops.runtime.trust.acting import acting_person

    actor = acting_person(gov, actor)
    acting = permissions.require(gov.directory, actor, "reject", role)
    ref = f"{model}@{version}"
    result: ApprovalStatus | GovernanceError
    with transaction(gov.engine) as conn:
        req, st = _open_for_signing(conn, gov, model, version)
        if st.state in ("voided", "rejected"):
            result = GovernanceError(f"{ref} is {st.state}: {st.reason}")
        else:
            now = gov.now()
            _record_vote(conn, gov, req, ref, actor, acting, "reject", comment, now)
            conn.execute(requests.update().where(requests.c.id == req.id)
                         .values(status="rejected", closed_at=now))
            result = _status_of(conn, req, now, None, None, gov)
    if isinstance(result, GovernanceError):
        raise result
    return result


def require_approved(conn: sa.Connection, gov: Governance, model: str, version: int,
                     environment: str, model_digest: str, spec_hash: str | None = None
                     ) -> ApprovalStatus | None:
    """Refuse unless model@version may enter `environment`: approved now, for exactly
    `model_digest` (and `spec_hash` when given). None when no approval is needed there.

    Production without any request is refused (secure by default: a version that never
    went through `request_approval` has not been reviewed); other environments need a
    request only when the approval spec lists them."""
    ref = f"{model}@{version}"
    req = _latest_request(conn, model, version)
    if req is None:
        if environment == "production":
            raise GovernanceError(f"{ref} has no approval request, so nothing vouches for it "
                                  "in production (its run opens one at `approval:"
                                  f"{model}`)")
        return None
    st = _status_of(conn, req, gov.now(), model_digest, spec_hash, gov)
    if environment not in (st.plan.get("environments") or ["production"]):
        return None
    if not st.approved:
        raise GovernanceError(f"{ref} is not approved for {environment} ({st.state}): "
                              f"{st.reason}")
    return st
