"""Governed actions as in-toto Statements (v1) in DSSE envelopes, made with the actor's key.

Why in-toto: the subject is what the action is about (the model digest and the spec
hash, or the trust root digest), the predicate what was done (action, role, comment,
time, environment, the OS user who ran the command). An auditor can check a statement
with standard tooling and the pinned keys alone; specops stores the envelope next to the
row it justifies, and at use a row counts only when its envelope verifies against the
trust root in force and says exactly what the row says (`verify_action`).
"""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from specops.runtime.trust.dsse import EnvelopeError, sign_envelope, verify_envelope
from specops.runtime.trust.signer import Signer
from specops.runtime.trust.trust_root import TrustRoot

__all__ = ["PREDICATE_TYPE", "STATEMENT_TYPE", "VerifiedAction", "os_user", "plan_digest",
           "sign_action", "verify_action"]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
# What a pinned registry key that belongs to no person may sign: the pipeline's own
# actions (and its automatic approval, role "auto"). Why: such a key proves no person, so
# a statement it signs must never count as a person's approve/reject/deploy/rollback/
# policy accept, whatever name the statement claims.
PIPELINE_ACTIONS = frozenset({"register", "request_approval", "retrain",
                              # rollout rules and self-healing (governance/deploy.py)
                              "promote", "rollout_abort", "auto_rollback"})
PIPELINE_ROLE = "auto"
PREDICATE_TYPE = "https://specops.dev/attestations/governed-action/v1"


def plan_digest(plan: Any) -> str:
    """The digest a request's signed statement binds its approval plan with (`plan_sha256`:
    the plan as JSON, sorted keys, no whitespace). One definition for signing, checking at
    use (trust/acting.py) and checking offline (trust/evidence_verify.py)."""
    body = json.dumps(plan, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1] if ":" in digest else digest


def sign_action(signer: Signer, *, action: str, person: str, subject: str, digest: str,
                spec_hash: str = "", role: str | None = None, comment: str = "",
                at: float, **extra: Any) -> dict[str, Any]:
    """A DSSE envelope over the statement that `person` did `action` on `subject`
    (`model@version` or `trust-root`) whose bytes have `digest`."""
    subjects = [{"name": subject, "digest": {"sha256": _hex(digest)}}]
    if spec_hash:
        subjects.append({"name": "spec", "digest": {"sha256": _hex(spec_hash)}})
    predicate = {"action": action, "person": person, "role": role, "comment": comment,
                 "at": at, "time": datetime.fromtimestamp(at, UTC).isoformat(),
                 "os_user": os_user(), **extra}
    statement = {"_type": STATEMENT_TYPE, "subject": subjects,
                 "predicateType": PREDICATE_TYPE, "predicate": predicate}
    body = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    return sign_envelope(body, [signer])


@dataclass(frozen=True)
class VerifiedAction:
    person: str
    key_id: str
    action: str
    subject: str
    digest: str
    spec_hash: str
    predicate: Mapping[str, Any]


def verify_action(envelope: Mapping[str, Any] | str | None, root: TrustRoot, *,
                  extra_keys: Mapping[str, Any] | None = None) -> VerifiedAction:
    """Check the signature against the people's keys in `root` (plus `extra_keys`, e.g.
    pinned registry keys for the pipeline) and return what the statement says, with the
    person the key belongs to. Raises `EnvelopeError` with the cause."""
    if not envelope:
        raise EnvelopeError("no signed statement")
    keys = dict(root.person_keys())
    keys.update(extra_keys or {})
    payload, key_ids = verify_envelope(envelope, keys)
    try:
        st = json.loads(payload)
        subjects = {s["name"]: "sha256:" + s["digest"]["sha256"] for s in st["subject"]}
        pred = dict(st["predicate"])
    except (ValueError, KeyError, TypeError) as exc:
        raise EnvelopeError(f"malformed statement: {exc}") from None
    if st.get("_type") != STATEMENT_TYPE or st.get("predicateType") != PREDICATE_TYPE:
        raise EnvelopeError("not a specops governed-action statement")
    owner = root.person_of(key_ids[0]) or ("" if extra_keys and key_ids[0] in extra_keys
                                           else None)
    if owner is None:
        raise EnvelopeError(f"key {key_ids[0]} belongs to nobody in the trust root")
    claimed = str(pred.get("person", ""))
    action = str(pred.get("action", ""))
    if owner == "" and not (action in PIPELINE_ACTIONS or (
            action == "approve" and pred.get("role") == PIPELINE_ROLE)):
        raise EnvelopeError(f"key {key_ids[0]} is a pinned registry key of no person: it "
                            f"signs only the pipeline's own actions, not {action} as "
                            f"{claimed!r}")
    if owner and claimed != owner:
        raise EnvelopeError(f"statement claims {claimed!r} but is signed by {owner}'s key")
    spec = subjects.pop("spec", "")
    if len(subjects) != 1:
        raise EnvelopeError("statement must have exactly one subject besides the spec")
    (subject, digest), = subjects.items()
    return VerifiedAction(owner or claimed, key_ids[0], action,
                          subject, digest, spec, pred)
