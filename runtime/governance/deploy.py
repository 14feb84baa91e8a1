"""`deploy` (a manual plan node): promote the latest approved version through governance.

Why a thin op: promotion rules live in runtime/governance/promotion.py (permission, signature,
approvals bound to the digest, promotion checks, history, alias); the op only chooses the
version (`params.version`, else the one its `approval:`/`register:` input recorded) and
the actor (`ctx.extra["actor"]`, SPECOPS_USER or the OS user). Serving itself (starting
replicas) is the serving layer's job and can hook in after this returns. In signed mode
(runtime/trust/acting.py) the deploy is signed with the key in $SPECOPS_KEY and the actor
is that key's person.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from specops.runtime.engine.op_inputs import optional_input_file, read_json
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult
from specops.runtime.governance.promotion import Deployment

__all__ = ["PIPELINE_ACTOR", "ROLLOUT_MODES", "Rollout", "abort_rollout", "auto_rollback",
           "deploy", "deployer_of", "pipeline_deploy_problem", "promote_rollout",
           "rollout_problem", "running_rollout", "start_rollout"]


def deploy(ctx: OpContext) -> OpResult:
    from specops.runtime.governance import Governance, GovernanceError, NotFound, resolve_actor
    from specops.runtime.governance.promotion import deploy as promote
    from specops.runtime.registry import Registry

    env = str(ctx.params.get("environment") or ctx.node_id.rsplit(":", 1)[-1])
    model = str(ctx.params.get("model") or ctx.node_id.split(":")[1])
    version = ctx.params.get("version")
    if version is None:
        for name in ("registration.json", "approval.json"):
            path = optional_input_file(ctx, name)
            if path is not None:
                doc = read_json(path)
                version = doc.get("version") or str(doc.get("ref", "@")).split("@")[1]
                break
    if not version:
        raise OpError(f"{ctx.node_id}: no version to deploy (no registration among inputs)")
    registry = Registry.for_context(ctx)
    try:
        gov = Governance.open(ctx.project_root, ctx.extra.get("store_url"), registry=registry)
        try:
            claimed = ctx.extra.get("actor")
            if gov.signed:   # the operator's key ($SPECOPS_KEY) signs the deploy
                from specops.runtime.trust.signer import person_signer

                gov.signer = person_signer(None)
            actor = claimed or ("" if gov.signed else resolve_actor(None))
            d = promote(gov, actor, model, int(version), env,
                        reason=f"run {ctx.run_id}", spec_hash=ctx.extra.get("spec_hash"))
        finally:
            gov.close()
    except (GovernanceError, NotFound, ValueError) as exc:   # KeyProblem is a ValueError
        raise OpError(f"{model}@{version} -> {env}: {exc}") from None
    finally:
        getattr(registry, "close", lambda: None)()
    doc = {"model": model, "version": d.version, "environment": env, "changed": d.changed,
           "previous_version": d.previous_version, "actor": d.actor, "at": d.at}
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    (ctx.out_dir / "deployment.json").write_text(json.dumps(doc, indent=2, sort_keys=True)
                                                 + "\n")
    return OpResult(report=doc, message=f"{d.ref} serves {env}"
                    + ("" if d.changed else " (already)"))


# -- progressive delivery: canary, shadow, automatic promotion and rollback ----------------
# Why here: the governance folder is full, and a rollout is a deploy in steps (the same
# permission, verification, approvals, promotion checks and separation of duties as
# `promotion.deploy`). Start: a person's signed `rollout` statement (canary share or
# shadow) beside the champion. End: `promote` (the challenger becomes the champion: a
# `deployments` row) or `abort` (the challenger is removed), executed by the pipeline's
# registry key when the spec's `rollout:` rules decide (runtime/cli/rollout_commands.py),
# or by a person allowed to roll back. `auto_rollback` is the self-healing rollback of a
# monitoring breach (`monitoring: {on_breach: rollback}`). What may route is decided at
# use by `rollout_problem`, the serving side's counterpart of `deploy_is_valid`.

ROLLOUT_MODES = ("canary", "shadow")
PIPELINE_ACTOR = "specops"     # who acts for the pipeline when its key is nobody's
ROLLOUT_ENDS = ("promote", "rollout_abort")


@dataclass(frozen=True)
class Rollout:
    """A running rollout: `challenger` beside `champion` in `environment`."""

    id: int
    model: str
    environment: str
    mode: str                    # canary | shadow
    champion: int
    challenger: int
    challenger_digest: str
    share: float                 # percent of requests to the challenger (0: shadow)
    sticky_key: str              # the input routed on ("" = the request id)
    actor: str
    at: float
    audit_seq: int | None
    envelope: str | None

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.challenger}"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "model": self.model, "environment": self.environment,
                "mode": self.mode, "champion": self.champion, "challenger": self.challenger,
                "challenger_digest": self.challenger_digest, "share": self.share,
                "sticky_key": self.sticky_key, "actor": self.actor, "started_at": self.at,
                "audit_seq": self.audit_seq}


def _rollout_of(row: Any) -> Rollout:
    m = row._mapping
    return Rollout(int(m["id"]), m["model"], m["environment"], m["mode"], int(m["champion"]),
                   int(m["challenger"]), m["challenger_digest"], float(m["share"]),
                   m["sticky_key"] or "", m["actor"], float(m["at"]),
                   None if m["audit_seq"] is None else int(m["audit_seq"]), m["envelope"])


def running_rollout(gov: Any, model: str, environment: str,
                    conn: sa.Connection | None = None) -> Rollout | None:
    """The rollout the table says is running (its last event is a start), else None.
    Whether it may route is `rollout_problem`'s answer, not this one's."""
    from specops.runtime.governance.governance_tables import rollouts

    q = (sa.select(rollouts).where(rollouts.c.model == model,
                                   rollouts.c.environment == environment)
         .order_by(rollouts.c.id.desc()).limit(1))
    if conn is None:
        with gov.engine.connect() as c:
            row = c.execute(q).first()
    else:
        row = conn.execute(q).first()
    return _rollout_of(row) if row is not None and row.action == "rollout" else None


def _stack_now(conn: sa.Connection, model: str, environment: str) -> list[int]:
    from specops.runtime.governance.promotion import _rows, _stack

    return _stack(_rows(conn, model, environment))


def start_rollout(gov: Any, actor: str, model: str, version: int, environment: str, *,
                  share: float | None = None, shadow: bool = False, sticky_key: str = "",
                  reason: str = "", spec_hash: str | None = None) -> Rollout:
    """Start a canary (`share` percent of requests, sticky by key) or a shadow of
    model@version beside the version serving `environment`: refused unless a full deploy
    of it would be allowed now (permission, verification, approvals for exactly its
    digest, promotion checks, deployer not approver)."""
    from specops.runtime.governance.database import transaction
    from specops.runtime.governance.errors import GovernanceError
    from specops.runtime.governance.governance_tables import rollouts
    from specops.runtime.governance.ledger import audit
    from specops.runtime.governance.promotion import (
        _approvers,
        _check_env,
        approved_and_promotable,
        entry_checks,
    )
    from specops.runtime.trust.acting import sign

    _check_env(environment)
    mode = "shadow" if shadow else "canary"
    if shadow:
        if share:
            raise GovernanceError("a shadow takes no traffic share (drop --canary)")
        share = 0.0
    elif share is None or not 0 < float(share) < 100:
        raise GovernanceError(f"a canary share is a percent of requests between 0 and 100 "
                              f"(exclusive), not {share}")
    share = float(share)
    actor, v, ref = entry_checks(gov, actor, model, version, environment)
    with transaction(gov.engine) as conn:
        st, _ = approved_and_promotable(conn, gov, model, version, environment, v, spec_hash)
        stack = _stack_now(conn, model, environment)
        if not stack:
            raise GovernanceError(f"{model} serves nothing in {environment}: a {mode} needs "
                                  f"a champion (deploy {ref} instead)")
        champion = stack[-1]
        if champion == version:
            raise GovernanceError(f"{ref} already serves {environment}")
        busy = running_rollout(gov, model, environment, conn)
        if busy is not None:
            raise GovernanceError(f"{busy.ref} is already rolling out in {environment} "
                                  f"(rollout {busy.id}): promote or abort it first")
        approvers = _approvers(st)
        if gov.sod.get("deployer_not_approver", True) and actor in approvers:
            raise GovernanceError(f"separation of duties: {actor} approved {ref} and may not "
                                  f"also deploy it to {environment}")
        now = gov.now()
        request_id = st.request_id if st else None
        envelope = sign(gov, action="rollout", person=actor, subject=ref,
                        digest=v.model_digest, spec_hash=st.spec_hash if st else "",
                        comment=reason, at=now, environment=environment, mode=mode,
                        share=share, champion=champion, sticky_key=sticky_key,
                        request_id=request_id, approvers=approvers)
        details: dict[str, Any] = {"environment": environment, "mode": mode, "share": share,
                                   "champion": champion, "sticky_key": sticky_key,
                                   "model_digest": v.model_digest, "request_id": request_id,
                                   "approvers": approvers}
        if envelope:
            details["envelope"] = json.loads(envelope)
        entry = audit.append(conn, actor=actor, action="rollout", target=ref, reason=reason,
                             details=details, at=now)
        pk = conn.execute(rollouts.insert().values(
            model=model, environment=environment, action="rollout", mode=mode,
            champion=champion, challenger=version, challenger_digest=v.model_digest,
            share=share, sticky_key=sticky_key, start_id=None, actor=actor, reason=reason,
            at=now, audit_seq=entry.seq, envelope=envelope)).inserted_primary_key
    assert pk is not None
    return Rollout(int(pk[0]), model, environment, mode, champion, version, v.model_digest,
                   share, sticky_key, actor, now, entry.seq, envelope)


def _signed_rollout_problem(gov: Any, r: Rollout) -> str | None:
    """In signed mode: the start row's statement verifies and says what the row says."""
    from specops.runtime.governance import permissions
    from specops.runtime.governance.errors import GovernanceError
    from specops.runtime.trust.acting import verified
    from specops.runtime.trust.dsse import EnvelopeError

    try:
        act = verified(gov, r.envelope)
    except (EnvelopeError, GovernanceError) as exc:
        return f"rollout {r.id} of {r.ref}: {exc}"
    p = act.predicate
    if (act.action != "rollout" or act.person != r.actor or act.subject != r.ref
            or act.digest != r.challenger_digest or p.get("environment") != r.environment
            or p.get("mode") != r.mode or p.get("share") != r.share
            or p.get("champion") != r.champion or p.get("at") != r.at
            or (p.get("sticky_key") or "") != r.sticky_key):
        return f"rollout {r.id} of {r.ref}: the signed statement differs from the row"
    try:
        permissions.require(gov.directory, act.person, "deploy")
    except GovernanceError as exc:
        return f"rollout {r.id} of {r.ref}: {exc}"
    return None


def rollout_problem(gov: Any, r: Rollout) -> str | None:
    """Why the running rollout `r` must not route a request (None: it may).

    Its audit entry (append-only, hash-chained) must exist and agree with the row, and no
    later entry may have ended it (deleting the `promote`/`abort` row does not revive
    it); the champion must still be what the environment's deploy history makes current;
    in signed mode its statement must verify under the trust root in force, by a person
    allowed to deploy; the challenger's registry digest must be the one started, and its
    approvals valid now for that environment, none by the deployer."""
    from specops.runtime.governance.approvals import require_approved
    from specops.runtime.governance.errors import GovernanceError, NotFound
    from specops.runtime.governance.governance_tables import rollouts
    from specops.runtime.governance.ledger import audit
    from specops.runtime.governance.promotion import _approvers
    from specops.runtime.trust.acting import _payload, earlier_copy

    what = f"rollout {r.id} of {r.ref} in {r.environment}"
    try:
        with gov.engine.connect() as conn:
            # A signed statement starts one rollout: a copy of an ended one's row, with
            # a fresh audit entry that agrees with it, must not revive its challenger.
            first = earlier_copy(conn, rollouts, r.id, r.envelope, model=r.model,
                                 action="rollout")
            if first is not None:
                return f"{what} replays the signed statement of rollout {first}"
            mine = None
            for e in audit.entries(conn, target=r.ref):
                if e.seq == r.audit_seq:
                    mine = e
                elif (e.action == "rollout" and r.envelope and _payload(r.envelope)
                      == _payload(json.dumps(e.details.get("envelope")))):
                    return f"{what} replays the signed statement of audit entry {e.seq}"
                elif (mine is not None and e.action in ROLLOUT_ENDS
                      and e.details.get("rollout_seq") == r.audit_seq):
                    return f"{what} was ended by audit entry {e.seq} ({e.action})"
            d = mine.details if mine is not None else {}
            if (mine is None or mine.action != "rollout" or mine.actor != r.actor
                    or d.get("environment") != r.environment or d.get("mode") != r.mode
                    or d.get("share") != r.share or d.get("champion") != r.champion
                    or d.get("model_digest") != r.challenger_digest
                    or (d.get("sticky_key") or "") != r.sticky_key):
                return f"{what}: no audit entry agrees with the row (not started by a " \
                       "signed `specops deploy --canary/--shadow`)"
            stack = _stack_now(conn, r.model, r.environment)
            if not stack or stack[-1] != r.champion:
                return (f"{what}: it was started beside @{r.champion}, but "
                        f"{r.environment} serves "
                        + (f"@{stack[-1]}" if stack else "nothing") + " now")
            if gov.signed:
                problem = _signed_rollout_problem(gov, r)
                if problem:
                    return problem
            v = gov.version(r.model, r.challenger)
            if v.model_digest != r.challenger_digest:
                return f"{what}: the registry holds other bytes for {r.ref} now"
            st = require_approved(conn, gov, r.model, r.challenger, r.environment,
                                  r.challenger_digest)
        if gov.sod.get("deployer_not_approver", True) and r.actor in _approvers(st):
            return f"{what}: separation of duties: {r.actor} both approved and deployed it"
    except (GovernanceError, NotFound) as exc:
        return f"{what}: {exc}"
    return None


def _pipeline(gov: Any) -> str:
    """The pipeline's name when it acts (rollout rules, self-healing). In signed mode only
    the pinned registry key (`gov.signer`, set by the caller) may act for it."""
    from specops.runtime.governance.errors import GovernanceError

    if not gov.signed:
        return PIPELINE_ACTOR
    from specops.runtime.trust.acting import _root

    root = _root(gov)
    if gov.signer is None or gov.signer.key_id not in root.registry_keys():
        raise GovernanceError("rollout rules and self-healing are executed by the "
                              "pipeline: sign with its registry key (SPECOPS_REGISTRY_KEY or "
                              "`registry: {key: ...}`), which must be pinned in the trust "
                              "root in force")
    return str(root.person_of(gov.signer.key_id) or PIPELINE_ACTOR)


def promote_rollout(gov: Any, model: str, environment: str, reason: str = "",
                    decision: dict[str, Any] | None = None) -> Deployment:
    """The challenger of the running rollout becomes the champion, executed and signed by
    the pipeline for the person who started the rollout. Refused unless the rollout may
    still route and the challenger's approvals are valid now."""
    from specops.runtime.governance.approvals import require_approved
    from specops.runtime.governance.database import transaction
    from specops.runtime.governance.errors import GovernanceError, NotFound
    from specops.runtime.governance.governance_tables import deployments, rollouts
    from specops.runtime.governance.ledger import audit
    from specops.runtime.governance.promotion import _approvers, _verified
    from specops.runtime.trust.acting import sign

    person = _pipeline(gov)
    r = running_rollout(gov, model, environment)
    if r is None:
        raise NotFound(f"no rollout of {model} is running in {environment}")
    problem = rollout_problem(gov, r)
    if problem:
        raise GovernanceError(f"cannot promote: {problem}")
    v = _verified(gov, model, r.challenger)
    with transaction(gov.engine) as conn:
        again = running_rollout(gov, model, environment, conn)
        if again is None or again.id != r.id:
            raise GovernanceError(f"{model} in {environment} changed while promoting; retry")
        st = require_approved(conn, gov, model, r.challenger, environment, v.model_digest)
        now = gov.now()
        approvers = _approvers(st)
        request_id = st.request_id if st else None
        envelope = sign(gov, action="promote", person=person, subject=r.ref,
                        digest=v.model_digest, spec_hash=st.spec_hash if st else "",
                        comment=reason, at=now, environment=environment,
                        previous_version=r.champion, rollout_seq=r.audit_seq,
                        on_behalf_of=r.actor,
                        rollout_statement=json.loads(r.envelope) if r.envelope else None,
                        request_id=request_id, approvers=approvers)
        details: dict[str, Any] = {"environment": environment,
                                   "previous_version": r.champion,
                                   "model_digest": v.model_digest, "rollout": r.id,
                                   "rollout_seq": r.audit_seq, "on_behalf_of": r.actor,
                                   "request_id": request_id, "approvers": approvers,
                                   "decision": decision or {}}
        if envelope:
            details["envelope"] = json.loads(envelope)
        entry = audit.append(conn, actor=person, action="promote", target=r.ref,
                             reason=reason, details=details, at=now)
        conn.execute(deployments.insert().values(
            model=model, environment=environment, version=r.challenger,
            model_digest=v.model_digest, action="promote", previous_version=r.champion,
            actor=person, reason=reason, request_id=request_id, at=now,
            audit_seq=entry.seq, envelope=envelope))
        conn.execute(rollouts.insert().values(
            model=model, environment=environment, action="promote", mode=r.mode,
            champion=r.champion, challenger=r.challenger, challenger_digest=v.model_digest,
            share=r.share, sticky_key=r.sticky_key, start_id=r.id, actor=person,
            reason=reason, at=now, audit_seq=entry.seq, envelope=envelope))
    assert gov.registry is not None
    gov.registry.set_alias(model, environment, r.challenger, actor=person,
                           reason=reason or f"promote (audit #{entry.seq})")
    return Deployment(model, environment, r.challenger, "promote", r.champion, person, now)


def abort_rollout(gov: Any, model: str, environment: str, reason: str = "",
                  actor: str | None = None, decision: dict[str, Any] | None = None
                  ) -> Rollout:
    """Remove the challenger (the champion keeps serving everything). `actor` None: the
    pipeline acts (rollout rules); else a person allowed to `rollback`."""
    from specops.runtime.governance import permissions
    from specops.runtime.governance.database import transaction
    from specops.runtime.governance.errors import NotFound
    from specops.runtime.governance.governance_tables import rollouts
    from specops.runtime.governance.ledger import audit
    from specops.runtime.trust.acting import acting_person, sign

    if actor is None:
        person = _pipeline(gov)
    else:
        person = acting_person(gov, actor)
        permissions.require(gov.directory, person, "rollback")
    with transaction(gov.engine) as conn:
        r = running_rollout(gov, model, environment, conn)
        if r is None:
            raise NotFound(f"no rollout of {model} is running in {environment}")
        now = gov.now()
        envelope = sign(gov, action="rollout_abort", person=person, subject=r.ref,
                        digest=r.challenger_digest, comment=reason, at=now,
                        environment=environment, rollout_seq=r.audit_seq,
                        champion=r.champion)
        details: dict[str, Any] = {"environment": environment, "rollout": r.id,
                                   "rollout_seq": r.audit_seq, "champion": r.champion,
                                   "model_digest": r.challenger_digest,
                                   "decision": decision or {}}
        if envelope:
            details["envelope"] = json.loads(envelope)
        entry = audit.append(conn, actor=person, action="rollout_abort", target=r.ref,
                             reason=reason, details=details, at=now)
        conn.execute(rollouts.insert().values(
            model=model, environment=environment, action="abort", mode=r.mode,
            champion=r.champion, challenger=r.challenger,
            challenger_digest=r.challenger_digest, share=r.share, sticky_key=r.sticky_key,
            start_id=r.id, actor=person, reason=reason, at=now, audit_seq=entry.seq,
            envelope=envelope))
    return r


def auto_rollback(gov: Any, model: str, environment: str = "production",
                  reason: str = "", breach: dict[str, Any] | None = None) -> Deployment:
    """Self-healing (`monitoring: {on_breach: rollback}`): return `environment` to the
    nearest earlier version whose approvals are valid now and whose bytes verify,
    executed and signed by the pipeline. Refused (and audited as
    `auto_rollback_refused`) when no earlier version is approved now."""
    from specops.runtime.governance.approvals import require_approved
    from specops.runtime.governance.database import transaction
    from specops.runtime.governance.errors import GovernanceError, NotFound
    from specops.runtime.governance.governance_tables import deployments
    from specops.runtime.governance.ledger import audit
    from specops.runtime.governance.promotion import _check_env, _rows, _stack, _verified
    from specops.runtime.trust.acting import deploy_problem, sign

    _check_env(environment)
    person = _pipeline(gov)
    with gov.engine.connect() as conn:
        rows = _rows(conn, model, environment)
    stack = _stack(rows)
    if not stack:
        raise NotFound(f"{model} has never been deployed to {environment}")
    current = stack[-1]
    why: list[str] = []
    target: tuple[int, Any] | None = None
    for candidate in dict.fromkeys(reversed(stack[:-1])):
        if candidate == current:
            continue
        try:
            # a version only a planted row put in the history never served: skip it
            problems = [deploy_problem(gov, row) for row in rows
                        if row["version"] == candidate]
            if None not in problems:
                raise GovernanceError(f"no valid deploy of it in {environment}'s history "
                                      f"({problems[-1]})")
            v = _verified(gov, model, candidate)
            with gov.engine.connect() as conn:
                require_approved(conn, gov, model, candidate, environment, v.model_digest)
        except (GovernanceError, NotFound) as exc:
            why.append(f"@{candidate}: {exc}")
            continue
        target = (candidate, v)
        break
    if target is None:
        cause = (f"no earlier version of {model} in {environment} is approved now"
                 + (f" ({'; '.join(why)})" if why else " (it never served another)"))
        with transaction(gov.engine) as conn:
            audit.append(conn, actor=person, action="auto_rollback_refused",
                         target=f"{model}@{current}", reason=cause,
                         details={"environment": environment, "breach": breach or {}},
                         at=gov.now())
        raise GovernanceError(f"self-healing rollback refused: {cause}")
    version, v = target
    with transaction(gov.engine) as conn:
        if _stack_now(conn, model, environment) != stack:
            raise GovernanceError(f"{model} in {environment} changed while rolling back; "
                                  "retry")
        st = require_approved(conn, gov, model, version, environment, v.model_digest)
        now = gov.now()
        envelope = sign(gov, action="auto_rollback", person=person,
                        subject=f"{model}@{version}", digest=v.model_digest,
                        comment=reason, at=now, environment=environment,
                        previous_version=current, breach=breach or {})
        details: dict[str, Any] = {"environment": environment, "previous_version": current,
                                   "model_digest": v.model_digest, "breach": breach or {},
                                   "request_id": st.request_id if st else None}
        if envelope:
            details["envelope"] = json.loads(envelope)
        entry = audit.append(conn, actor=person, action="auto_rollback",
                             target=f"{model}@{version}", reason=reason, details=details,
                             at=now)
        conn.execute(deployments.insert().values(
            model=model, environment=environment, version=version,
            model_digest=v.model_digest, action="auto_rollback", previous_version=current,
            actor=person, reason=reason, request_id=st.request_id if st else None, at=now,
            audit_seq=entry.seq, envelope=envelope))
    assert gov.registry is not None
    gov.registry.set_alias(model, environment, version, actor=person,
                           reason=reason or f"auto_rollback (audit #{entry.seq})")
    return Deployment(model, environment, version, "auto_rollback", current, person, now)


def pipeline_deploy_problem(gov: Any, row: Mapping[str, Any], act: Any) -> str | None:
    """For a `promote` or `auto_rollback` row whose statement verified and matches it:
    it must be signed by a pinned registry key (only the pipeline executes rules); an
    auto_rollback returns to a version a valid earlier row deployed; a promotion carries
    the signed `rollout` statement of a person allowed to deploy, about exactly these
    bytes and this environment."""
    from specops.runtime.governance import permissions
    from specops.runtime.governance.errors import GovernanceError
    from specops.runtime.trust.acting import _root, verified
    from specops.runtime.trust.dsse import EnvelopeError

    what = f"the {row['action']} of {row['model']}@{row['version']} to {row['environment']}"
    if act.key_id not in _root(gov).registry_keys():
        return f"{what}: signed by {act.person or act.key_id}, not by the pipeline's key"
    if row["action"] == "auto_rollback":   # back to a version a valid row deployed before
        from specops.runtime.governance.promotion import _rows
        from specops.runtime.trust.acting import deploy_problem

        with gov.engine.connect() as conn:
            earlier = [r for r in _rows(conn, row["model"], row["environment"])
                       if r["id"] < row["id"] and r["version"] == row["version"]]
        if not any(deploy_problem(gov, r) is None for r in earlier):
            return f"{what}: no valid earlier deploy of that version to return to"
        return None
    if row["action"] != "promote":
        return None
    inner = act.predicate.get("rollout_statement")
    try:
        started = verified(gov, json.dumps(inner) if inner else None)
    except (EnvelopeError, GovernanceError) as exc:
        return f"{what}: its rollout statement: {exc}"
    if (started.action != "rollout" or started.subject != f"{row['model']}@{row['version']}"
            or started.digest != row["model_digest"]
            or started.predicate.get("environment") != row["environment"]
            or started.person != act.predicate.get("on_behalf_of")):
        return f"{what}: its rollout statement is about something else"
    try:
        permissions.require(gov.directory, started.person, "deploy")
    except GovernanceError as exc:
        return f"{what}: {exc}"
    return None


def deployer_of(gov: Any, row: Mapping[str, Any]) -> str | None:
    """Who is the deployer under separation of duties: the row's actor, for a promotion
    the person who started the rollout, for the pipeline's self-healing rollback nobody
    (it returns to a version a person deployed before)."""
    import base64

    from specops.runtime.governance.governance_tables import rollouts

    if row["action"] == "auto_rollback":
        return None
    if row["action"] != "promote":
        return str(row["actor"])
    if row.get("envelope"):    # signed mode: what the pipeline signed (verified by then)
        try:
            statement = json.loads(base64.b64decode(json.loads(row["envelope"])["payload"]))
            return str(statement["predicate"]["on_behalf_of"])
        except (ValueError, TypeError, KeyError):
            return str(row["actor"])
    with gov.engine.connect() as conn:
        end = conn.execute(sa.select(rollouts.c.start_id).where(
            rollouts.c.action == "promote",
            rollouts.c.audit_seq == row["audit_seq"])).first()
        start = None if end is None else conn.execute(sa.select(rollouts.c.actor).where(
            rollouts.c.id == end.start_id)).first()
    return str(start.actor) if start is not None else str(row["actor"])
