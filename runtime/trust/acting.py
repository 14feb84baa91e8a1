"""Who acts, and which stored rows count: the bridge between governance and signatures.

Why here (not in runtime/governance/): the governance service functions call three
things, and each means the same on every path (CLI, ops inside a run, notebooks):
- `acting_person`: in signed mode the actor is the person whose key `gov.signer` is in
  the trust root in force; a claimed name (`--as`, SPECOPS_USER) must match it.
- `sign`: the DSSE envelope stored with the row (None in claimed-identity mode).
- `vote_problem` / `deploy_problem`: at *use*, a row counts only when its envelope
  verifies against the trust root in force, says what the row says (action, person,
  role, subject, digest, spec hash, time, environment) and the person may do it now. A
  row inserted directly in the database carries no such envelope and is ignored.

Signed mode is on when the project lists keys in specops.yaml or a trust root was ever
accepted in the store (`Governance.signed`); projects without keys keep the older claimed
identity, which docs/governance.md states plainly.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from specops.runtime.governance.errors import GovernanceError
from specops.runtime.trust.dsse import EnvelopeError
from specops.runtime.trust.statements import (
    VerifiedAction,
    plan_digest,
    sign_action,
    verify_action,
)
from specops.runtime.trust.trust_root import TrustRoot

if TYPE_CHECKING:
    from specops.runtime.governance.service import Governance

__all__ = ["acting_person", "deploy_problem", "logged_rejections",
           "request_problem", "sign", "verified", "vote_problem"]

AUTO_ROLE = "auto"   # approvals.AUTO_ROLE (kept here to avoid an import cycle)


def _root(gov: Governance) -> TrustRoot:
    if gov.trust_problem:
        raise GovernanceError(gov.trust_problem)
    if gov.trust is None:
        raise GovernanceError("no trust root is in force: people listed with keys in "
                              "specops.yaml act only after `specops policy accept`")
    root: TrustRoot = gov.trust
    return root


def acting_person(gov: Governance, actor: str | None) -> str:
    """The person acting: the owner of `gov.signer`'s key (signed mode), else `actor`."""
    if not gov.signed:
        if actor:
            return actor
        from specops.runtime.governance.identity import IdentityError, resolve_actor

        try:
            return resolve_actor(None)
        except IdentityError as exc:
            raise GovernanceError(str(exc)) from None
    root = _root(gov)
    if gov.signer is None:
        raise GovernanceError("this project signs governed actions: pass --key PATH (your "
                              "SSH ed25519 private key) or set SPECOPS_KEY")
    person = root.person_of(gov.signer.key_id)
    if person is None:
        raise GovernanceError(f"key {gov.signer.key_id} belongs to nobody in the trust root "
                              "in force (a key added to specops.yaml counts only after "
                              "`specops policy accept`)")
    if actor and actor != person:
        raise GovernanceError(f"you claim to be {actor} but the key {gov.signer.key_id} is "
                              f"{person}'s")
    return person


def sign(gov: Governance, *, action: str, person: str, subject: str, digest: str,
         spec_hash: str = "", role: str | None = None, comment: str = "", at: float,
         **extra: Any) -> str | None:
    """The envelope (JSON text) for a row, or None in claimed-identity mode."""
    if not gov.signed:
        return None
    if gov.signer is None:
        raise GovernanceError(f"{action} must be signed: no key (pass --key or set "
                              "SPECOPS_KEY)")
    env = sign_action(gov.signer, action=action, person=person, subject=subject,
                      digest=digest, spec_hash=spec_hash, role=role, comment=comment, at=at,
                      **extra)
    return json.dumps(env, sort_keys=True)


def verified(gov: Governance, envelope: str | None) -> VerifiedAction:
    """The statement in `envelope`, checked against the trust root in force and (for the
    pipeline's statements) the pinned registry keys. Raises `EnvelopeError`."""
    root = _root(gov)
    return verify_action(envelope, root, extra_keys=root.registry_keys())


def _allowed(gov: Governance, person: str, action: str, role: str | None) -> str | None:
    from specops.runtime.governance.permissions import PermissionDenied, require

    try:
        require(_root(gov).directory(), person, action, role)
    except PermissionDenied as exc:
        return str(exc)
    return None


def vote_problem(gov: Governance, vote: Any, req: Any) -> str | None:
    """Why a vote row does not count (None: it does). Always None in claimed mode."""
    if not gov.signed:
        return None
    try:
        act = verified(gov, vote.envelope)
    except (EnvelopeError, GovernanceError) as exc:
        return f"vote {vote.id} by {vote.actor}: {exc}"
    pred: Mapping[str, Any] = act.predicate
    if "request_id" in pred and pred["request_id"] != req.id:
        # Why: a vote copied (with its envelope) into another request row is a replay.
        return (f"vote {vote.id} by {vote.actor}: signed for request {pred['request_id']}, "
                f"not request {req.id} (replayed)")
    expected = {"action": vote.decision, "role": vote.role, "at": vote.at,
                "subject": f"{req.model}@{req.version}", "digest": vote.model_digest,
                "request digest": req.model_digest}
    actual = {"action": act.action, "role": pred.get("role"), "at": pred.get("at"),
              "subject": act.subject, "digest": act.digest, "request digest": act.digest}
    for what, want in expected.items():
        if actual[what] != want:
            return f"vote {vote.id} by {vote.actor}: the signed {what} differs from the row"
    if req.spec_hash and act.spec_hash != req.spec_hash:
        return f"vote {vote.id} by {vote.actor}: signed for another spec hash"
    if vote.role == AUTO_ROLE:
        return _allowed(gov, act.person, "register", None) if act.person else None
    if act.person != vote.actor:
        return f"vote {vote.id}: row says {vote.actor} but {act.person} signed it"
    return _allowed(gov, act.person, vote.decision, vote.role)


def deploy_problem(gov: Governance, row: Mapping[str, Any]) -> str | None:
    """Why a deployments row is not a valid signed deploy (None: it is). A signed
    statement counts once, for the first row carrying it: a later row with a copy of an
    earlier row's envelope (to bring an older version back) is a replay."""
    if not gov.signed:
        return None
    from specops.runtime.governance.governance_tables import deployments

    with gov.engine.connect() as conn:
        replayed = earlier_copy(conn, deployments, row.get("id"), row.get("envelope"),
                                model=row["model"])
    if replayed is not None:
        return (f"the {row['action']} of {row['model']}@{row['version']} to "
                f"{row['environment']} (deployment {row.get('id')}) replays the signed "
                f"statement of deployment {replayed}: a signed deploy counts once")
    try:
        act = verified(gov, row.get("envelope"))
    except (EnvelopeError, GovernanceError) as exc:
        return f"the {row['action']} of {row['model']}@{row['version']} to " \
               f"{row['environment']}: {exc}"
    pred = act.predicate
    if (act.action != row["action"] or act.person != row["actor"]
            or act.subject != f"{row['model']}@{row['version']}"
            or act.digest != row["model_digest"] or pred.get("environment") !=
            row["environment"] or pred.get("at") != row["at"]):
        return (f"the {row['action']} of {row['model']}@{row['version']} to "
                f"{row['environment']}: the signed statement differs from the row")
    if row["action"] in ("promote", "auto_rollback"):   # the pipeline executing rules
        from specops.runtime.governance.deploy import pipeline_deploy_problem

        return pipeline_deploy_problem(gov, row, act)
    return _allowed(gov, act.person, str(row["action"]), None)


def earlier_copy(conn: sa.Connection, table: sa.Table, row_id: int | None,
                 envelope: str | None, **where: Any) -> int | None:
    """The id of an earlier row of `table` (matching `where`) that carries the same signed
    statement as `envelope`, else None: a statement counts once, for its first row."""
    mine = _payload(envelope)
    if mine is None or row_id is None:
        return None
    q = sa.select(table.c.id, table.c.envelope).where(table.c.id < row_id)
    for column, value in where.items():
        q = q.where(table.c[column] == value)
    for other in conn.execute(q.order_by(table.c.id)):
        if _payload(other.envelope) == mine:
            return int(other.id)
    return None


def _payload(envelope: str | None) -> bytes | None:
    """The signed bytes of an envelope (None if unreadable): two rows carry the same
    statement when these are equal, however the envelope's JSON text is spelled."""
    try:
        return base64.b64decode(json.loads(envelope or "")["payload"])
    except (ValueError, TypeError, KeyError):
        return None


def request_problem(gov: Governance, req: Any, conn: sa.Connection | None = None
                    ) -> str | None:
    """In signed mode a request counts only when the pipeline signed it, bound to its
    plan: a request row inserted with a laxer plan is void. A signed request statement
    counts once, for the first row carrying it (with `conn`): a row whose envelope is a
    copy of an earlier row's is a replay, not a new request."""
    if not gov.signed:
        return None
    if conn is not None and req.envelope:
        from specops.runtime.governance.governance_tables import requests

        mine = _payload(req.envelope)
        for row in conn.execute(sa.select(requests.c.id, requests.c.envelope).where(
                requests.c.model == req.model, requests.c.version == req.version,
                requests.c.id < req.id).order_by(requests.c.id)):
            if mine is not None and _payload(row.envelope) == mine:
                return (f"request {req.id} replays the signed statement of request "
                        f"{row.id}: a signed request counts once")
    try:
        act = verified(gov, req.envelope)
    except (EnvelopeError, GovernanceError) as exc:
        return f"request {req.id} is not signed by the pipeline: {exc}"
    if (act.action != "request_approval" or act.subject != f"{req.model}@{req.version}"
            or act.digest != req.model_digest or act.spec_hash != (req.spec_hash or "")
            or act.predicate.get("plan_sha256") != plan_digest(req.plan)):
        return f"request {req.id}: its signed statement differs from the row"
    return None


def logged_rejections(conn: sa.Connection, gov: Governance, req: Any
                      ) -> list[tuple[str, str, str]]:
    """(person, role, comment) of the signed rejections of `req`'s model@version and model
    digest kept in the audit log, whatever request they were made on.
    Why: the log is append-only (triggers, checkpoints) and the vote and request tables
    are not, so deleting a rejection's vote row, or opening (or copying in) another request
    row for the same bytes, must not make a rejected version deployable again."""
    if not gov.signed:
        return []
    from specops.runtime.governance.ledger import audit

    ref = f"{req.model}@{req.version}"
    out: list[tuple[str, str, str]] = []
    for row in conn.execute(sa.select(audit.log.c.details).where(
            audit.log.c.target == ref, audit.log.c.action == "reject")):
        try:
            details = json.loads(row.details)
            if "envelope" not in details:
                continue
            act = verified(gov, details["envelope"])
        except (ValueError, TypeError, EnvelopeError, GovernanceError):
            continue
        role = str(act.predicate.get("role") or "")
        if (act.action == "reject" and act.subject == ref and act.digest == req.model_digest
                and _allowed(gov, act.person, "reject", role or None) is None):
            out.append((act.person, role, str(act.predicate.get("comment") or "")))
    return out
