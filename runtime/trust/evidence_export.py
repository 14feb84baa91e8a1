"""`specops evidence export`: everything an auditor needs about one model version, in one file.

Why a bundle and not access to the store: a regulator should not have to trust the
team's database, its admins or specops' own code paths. The bundle carries the signed
manifest, every signed statement about the version (registration by the pipeline, the
approval request and its plan, approvals and rejections, deploys and rollbacks, canary and
shadow rollouts with their promote, abort and self-healing rollback), the
audit entries of those actions with RFC 6962 inclusion proofs against one signed C2SP
checkpoint, and the chain of trust roots with their acceptance signatures. Checked
offline by `evidence_verify.verify_bundle` against a pinned key or trust root.

The exporter refuses to write a bundle from a store that does not hold: a broken audit
chain, a trust root chain that no longer verifies, or a version that fails registry
verification are causes, not footnotes. Encoding: evidence_format.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from specops.runtime.governance.ledger import audit, merkle, proofs
from specops.runtime.governance.ledger.checkpoint import Checkpoint as Cp
from specops.runtime.governance.ledger.checkpoint import (
    CheckpointError,
    Signer,
    format_body,
    parse_body,
    sign_note,
)
from specops.runtime.registry.manifest import MANIFEST, SIGNATURE
from specops.runtime.registry.manifest import canonical as manifest_bytes
from specops.runtime.trust.dsse import EnvelopeError
from specops.runtime.trust.evidence_format import FORMAT, BundleError, b64, encode
from specops.runtime.trust.statements import verify_action
from specops.runtime.trust.trust_root import TrustError, TrustRoot

__all__ = ["AUTO_ROLE", "STATEMENT_ACTIONS", "acceptance_problem", "export_bundle",
           "policy_holders"]

STATEMENT_ACTIONS = ("register", "approve", "reject", "deploy", "rollback",
                     # progressive delivery (governance/deploy.py): a canary or shadow start
                     # by a deployer; promote, abort and self-healing by the pipeline
                     "rollout", "promote", "rollout_abort", "auto_rollback")
_VERSION_ACTIONS = frozenset({*STATEMENT_ACTIONS, "request_approval", "void"})
_TRUST_SUBJECT = "trust-root"
AUTO_ROLE = "auto"   # approvals.AUTO_ROLE: an auto-approval's vote


def policy_holders(root: TrustRoot) -> set[str]:
    """People allowed to change policy under `root` (who may accept its successor)."""
    from specops.runtime.governance.permissions import allowed

    d = root.directory()
    return {n for n in d.people if allowed(d, n, "change_policy")}


def acceptance_problem(envelope: Any, digest: str, previous: str, judge: TrustRoot
                       ) -> tuple[str | None, str]:
    """(why the acceptance does not count or None, the person who signed it)."""
    try:
        act = verify_action(envelope, judge)
    except EnvelopeError as exc:
        return str(exc), ""
    if (act.action != "policy_accept" or act.subject != _TRUST_SUBJECT or act.digest != digest
            or act.predicate.get("previous", "") != previous):
        return "the statement is not an acceptance of this trust root", act.person
    if act.person not in policy_holders(judge):
        return f"{act.person} may not change policy", act.person
    return None, act.person


def _trust_chain(conn: sa.Connection, log: Sequence[audit.AuditEntry]
                 ) -> tuple[list[dict[str, Any]], list[int]]:
    """Every accepted root with the valid acceptances the log holds; their entry numbers."""
    from specops.runtime.trust.trust_store import in_force, roots

    in_force(conn)     # raises TrustError naming the first bad link
    chain: list[dict[str, Any]] = []
    seqs: list[int] = []
    judge: TrustRoot | None = None
    for row in conn.execute(sa.select(roots).order_by(roots.c.seq)):
        root = TrustRoot(json.loads(row.document))
        previous = judge.digest if judge is not None else ""
        who = judge if judge is not None else root
        accepted: dict[str, dict[str, Any]] = {}
        for e in log:
            d = e.details
            if (e.action == "policy_accept" and d.get("digest") == root.digest
                    and d.get("previous", "") == previous and "envelope" in d):
                problem, person = acceptance_problem(d["envelope"], root.digest, previous,
                                                     who)
                if problem is None and person not in accepted:
                    accepted[person] = d["envelope"]
                    seqs.append(e.seq)
            elif (e.action == "trust_root_in_force" and d.get("digest") == root.digest
                  and d.get("previous", "") == previous):
                seqs.append(e.seq)
        chain.append({"document": dict(root.document),
                      "acceptances": [accepted[p] for p in sorted(accepted)]})
        judge = root
    return chain, seqs


def _checkpoint(state: audit.LogState, tree: merkle.Tree, note: str | None,
                signer: Signer | None, origin: str) -> tuple[str, int]:
    """The signed note the proofs are made against, and its tree size."""
    if note is not None:
        text, sep, _sigs = note.rpartition("\n\n")
        if not sep:
            raise BundleError("the checkpoint is not a signed note")
        try:
            cp = parse_body(text + "\n")
        except CheckpointError as exc:
            raise BundleError(f"the checkpoint: {exc}") from None
        if cp.size > tree.size or tree.root(cp.size) != cp.root:
            raise BundleError(f"the audit log is not an extension of the checkpoint given "
                              f"(size {cp.size}): run `specops audit verify --checkpoint`")
        return note, cp.size
    if signer is None:
        raise BundleError("give a checkpoint: --checkpoint FILE (signed earlier) or "
                          "--checkpoint-key FILE (sign a fresh one now)")
    cp = Cp(origin, tree.size, tree.root())
    return sign_note(format_body(cp), [signer]), tree.size


def _requests(conn: sa.Connection, model: str, version: int) -> list[dict[str, Any]]:
    from specops.runtime.governance.governance_tables import requests

    # the plan is read as text and parsed here: the JSON column would parse a hostile value
    # while fetching and crash with a traceback instead of this one-line refusal
    rows = conn.execute(sa.select(requests.c.id, requests.c.envelope,
                                  sa.cast(requests.c.plan, sa.Text).label("plan")).where(
        requests.c.model == model, requests.c.version == version,
        requests.c.envelope.is_not(None)).order_by(requests.c.id)).all()
    out = []
    for r in rows:
        try:
            plan = json.loads(r.plan) if r.plan else {}
            envelope = json.loads(r.envelope)
        except ValueError:
            plan = envelope = None
        if not isinstance(plan, dict) or not isinstance(envelope, dict):
            raise BundleError(f"request {r.id} of {model}@{version} is not readable (its plan "
                              "or envelope is not a JSON object): the store was altered; run "
                              "`specops audit verify`")
        out.append({"plan": plan, "envelope": envelope})
    return out


def _auto_vote(engine: sa.Engine, seq: int) -> dict[str, Any] | None:
    """The signed statement of an auto-approval: kept on its vote row, whose audit entry
    (by `specops`, role `auto`) carries none."""
    from specops.runtime.governance.governance_tables import votes

    with engine.connect() as conn:
        text = conn.execute(sa.select(votes.c.envelope).where(
            votes.c.audit_seq == seq, votes.c.role == AUTO_ROLE)).scalar()
    out: dict[str, Any] | None = json.loads(text) if text else None
    return out


def _files(version: Any, manifest: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in sorted(manifest.get("artifacts") or {}):
        if name != "model.onnx":
            out[name] = b64((version.path / name).read_bytes())
    return out


def export_bundle(engine: sa.Engine, registry: Any, model: str, version: int, *,
                  note: str | None = None, signer: Signer | None = None,
                  origin: str = "specops/audit") -> bytes:
    """The canonical bundle for `model@version` (`BundleError` with the cause when the
    store does not hold or the version has no signed evidence). `note`: a checkpoint
    signed earlier (the log must extend it); else `signer` signs a fresh one."""
    ref = f"{model}@{version}"
    v = registry.get(model, version)
    report = registry.verify(model, version)
    if report["problems"]:
        raise BundleError(f"{ref} fails registry verification: {report['problems'][0]}")
    body = (v.path / MANIFEST).read_bytes()
    manifest = json.loads(body)
    if manifest_bytes(manifest) != body:
        raise BundleError(f"{ref}: manifest.json is not in canonical form")
    signature = json.loads((v.path / SIGNATURE).read_text(encoding="utf-8"))
    state = audit.read_log(engine)
    if state.problem is not None:
        raise BundleError(f"the audit log does not hold: {state.problem}")
    try:
        with engine.connect() as conn:
            chain, trust_seqs = _trust_chain(conn, state.entries)
            reqs = _requests(conn, model, version)
    except TrustError as exc:
        raise BundleError(f"the trust root chain does not verify: {exc}") from None
    if not chain:
        raise BundleError("no trust root was ever accepted: this project does not sign its "
                          "governed actions, so there is no evidence to export")
    statements: list[dict[str, Any]] = []
    seqs = list(trust_seqs)
    for e in state.entries:
        if e.target != ref or e.action not in _VERSION_ACTIONS:
            continue
        env = e.details.get("envelope")
        if e.action == "approve" and env is None and e.details.get("role") == AUTO_ROLE:
            env = _auto_vote(engine, e.seq)   # the pipeline signed the vote row only
        if e.action in STATEMENT_ACTIONS:
            if not isinstance(env, Mapping):
                continue     # unsigned (claimed-identity era): not evidence of anything
            statements.append(dict(env))
        seqs.append(e.seq)
    if not statements and not reqs:
        raise BundleError(f"{ref} has no signed statement in the audit log")
    tree = state.tree()
    note_text, size = _checkpoint(state, tree, note, signer, origin)
    late = [s for s in seqs if s > size]
    if late:
        raise BundleError(f"the checkpoint (size {size}) predates audit entry {min(late)}; "
                          "sign a newer one (--checkpoint-key)")
    entries = [proofs.entry_doc(state, s, tree, size) for s in sorted(set(seqs))]
    doc = {"format": FORMAT, "subject": ref, "manifest": manifest,
           "manifest_signature": signature, "files": _files(v, manifest),
           "requests": reqs, "statements": statements, "trust": chain,
           "audit": {"checkpoint": note_text, "entries": entries}}
    return encode(doc)
