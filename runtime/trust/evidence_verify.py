"""`specops evidence verify`: check a bundle offline, against what the auditor pinned.

Why these checks, in this order: each one anchors the next. Pins (`--trust`: a trust
root or trust lock document, or public keys) anchor the trust chain or the checkpoint;
the checkpoint signature anchors the audit entries (inclusion proofs); the entries fix
the order of events, so every statement is judged by the trust root in force when it was
logged; the trust root's registry keys anchor the manifest; the manifest's digest is what
every statement must be about; and the approval plan (bound to the pipeline's signed
request) says which approvals each deploy needed. Nothing is read from the store or the
network. Without pins the bundle is only checked against itself: anyone can build a
self-consistent bundle with keys of their own, which `Pins.empty` reports.

Every element present must verify (not "at least one"): a bundle is the exporter's
claim, and a part that does not hold means it was changed after export.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519

from specops.runtime.governance.ledger import proofs
from specops.runtime.governance.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    Verifier,
    load_verifier,
    open_note,
)
from specops.runtime.registry.manifest import canonical as manifest_bytes
from specops.runtime.registry.manifest import content_digest
from specops.runtime.registry.signing import ALGORITHM, verify_manifest
from specops.runtime.trust.dsse import INTOTO_PAYLOAD_TYPE, EnvelopeError, pae
from specops.runtime.trust.evidence_export import (
    AUTO_ROLE,
    STATEMENT_ACTIONS,
    acceptance_problem,
)
from specops.runtime.trust.evidence_format import (
    FORMAT,
    TOP_KEYS,
    BundleError,
    decode,
    exact,
    strict_b64,
)
from specops.runtime.trust.evidence_rules import Event, check_deploys
from specops.runtime.trust.ssh_keys import KeyProblem, fingerprint, verify_bytes
from specops.runtime.trust.statements import VerifiedAction, plan_digest, verify_action
from specops.runtime.trust.trust_root import TrustRoot

__all__ = ["Pins", "Result", "load_pins", "verify_bundle"]

_ENV_KEYS = frozenset({"payloadType", "payload", "signatures"})
_SIG_KEYS = frozenset({"keyid", "sig"})
_DOC_KEYS = frozenset({"entry", "leaf_index", "tree_size", "inclusion_proof"})


@dataclass
class Pins:
    """What the auditor trusts: trust root digests and public keys (key id -> key)."""
    roots: set[str] = field(default_factory=set)
    keys: dict[str, ed25519.Ed25519PublicKey] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.roots and not self.keys


def load_pins(paths: list[str]) -> Pins:
    """`--trust FILE`s: a trust root document, a trust lock (`trust.lock.json`), or
    public keys (OpenSSH lines, a PEM key, a signed-note verifier key). `BundleError`."""
    pins = Pins()
    for p in paths:
        try:
            text = Path(p).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BundleError(f"cannot read --trust {p}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
        if text.lstrip().startswith("{"):
            try:
                doc = json.loads(text)
            except ValueError:
                raise BundleError(f"--trust {p}: not JSON") from None
            if isinstance(doc, dict) and doc.get("format") == "specops.trust-lock/v1":
                doc = doc.get("document")
            if not isinstance(doc, dict) or doc.get("format") != "specops.trust-root/v1":
                raise BundleError(f"--trust {p}: not a trust root or trust lock document")
            pins.roots.add(TrustRoot(doc).digest)
            pins.sources.append(f"trust root {TrustRoot(doc).digest[:19]}… ({p})")
            continue
        chunks = ([text] if text.lstrip().startswith("-----") else
                  [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")])
        for chunk in chunks:
            try:
                key = load_verifier(chunk.strip()).public
            except CheckpointError as exc:
                raise BundleError(f"--trust {p}: {exc}") from None
            pins.keys[fingerprint(key)] = key
            pins.sources.append(f"key {fingerprint(key)} ({p})")
    return pins


@dataclass
class Result:
    lines: list[str] = field(default_factory=list)
    cause: str | None = None
    unpinned: bool = False

    @property
    def ok(self) -> bool:
        return self.cause is None


def _envelope(env: Any, keys: Mapping[str, ed25519.Ed25519PublicKey], what: str) -> None:
    """Strict DSSE: exact keys, canonical base64, *every* signature by a known key."""
    e = exact(env, _ENV_KEYS, what)
    if e["payloadType"] != INTOTO_PAYLOAD_TYPE:
        raise BundleError(f"{what}: payload type is not {INTOTO_PAYLOAD_TYPE}")
    payload = strict_b64(e["payload"], f"{what} payload")
    sigs = e["signatures"]
    if not isinstance(sigs, list) or not sigs:
        raise BundleError(f"{what}: no signatures")
    for s in sigs:
        s = exact(s, _SIG_KEYS, f"{what} signature")
        key = keys.get(str(s["keyid"]))
        raw = strict_b64(s["sig"], f"{what} signature")
        if key is None or not verify_bytes(key, pae(INTOTO_PAYLOAD_TYPE, payload), raw):
            raise BundleError(f"{what}: the signature by {s['keyid']} does not verify "
                              "against the trust root in force")


class _Check:
    def __init__(self, data: bytes, pins: Pins) -> None:
        self.pins, self.result = pins, Result(unpinned=pins.empty)
        self.doc = exact(decode(data), TOP_KEYS, "the bundle")
        if self.doc["format"] != FORMAT:
            raise BundleError(f"format {self.doc['format']!r} is not {FORMAT} (a newer "
                              "specops wrote it, or it is not an evidence bundle)")
        self.roots: list[TrustRoot] = []
        self.anchored_from = 0
        self.cp: Checkpoint | None = None
        self.entries: dict[int, Mapping[str, Any]] = {}
        self.in_force: list[tuple[int, TrustRoot]] = []
        self.events: list[Event] = []
        self.auto_seqs: set[int] = set()

    def ok(self, line: str) -> None:
        self.result.lines.append(f"ok    {line}")

    # -- trust -------------------------------------------------------------------------
    def trust(self) -> None:
        chain = self.doc["trust"]
        if not isinstance(chain, list) or not chain:
            raise BundleError("the bundle holds no trust root")
        judge: TrustRoot | None = None
        for i, item in enumerate(chain, 1):
            item = exact(item, frozenset({"document", "acceptances"}), f"trust root #{i}")
            if not isinstance(item["document"], dict):
                raise BundleError(f"trust root #{i} is not an object")
            root = TrustRoot(item["document"])
            who, previous = (judge or root), (judge.digest if judge else "")
            try:
                keys = who.person_keys()
            except KeyProblem as exc:
                raise BundleError(f"trust root #{i}: {exc}") from None
            signed: set[str] = set()
            accs = item["acceptances"]
            for j, env in enumerate(accs if isinstance(accs, list) else [], 1):
                _envelope(env, keys, f"trust root #{i} acceptance {j}")
                problem, person = acceptance_problem(env, root.digest, previous, who)
                if problem or person in signed:
                    raise BundleError(f"trust root #{i} acceptance {j}: "
                                      f"{problem or f'{person} signed twice'}")
                signed.add(person)
            if len(signed) < who.accept_requires:
                raise BundleError(f"trust root #{i} lacks acceptances ({len(signed)} of "
                                  f"{who.accept_requires} by people allowed to change policy)")
            self.roots.append(root)
            judge = root
        digests = [r.digest for r in self.roots]
        if self.pins.roots:
            hit = [i for i, d in enumerate(digests) if d in self.pins.roots]
            if not hit:
                raise BundleError("the bundle's trust roots do not include the pinned one "
                                  f"(in force: {digests[-1]})")
            self.anchored_from = max(hit)
        self.ok(f"trust root chain: {len(self.roots)} root(s), every acceptance signed by "
                f"people allowed to change policy; in force {digests[-1]}"
                + (" (pinned)" if self.pins.roots else ""))

    def _anchored(self) -> list[TrustRoot]:
        return self.roots[self.anchored_from:]

    def _all_keys(self, roots: list[TrustRoot]) -> dict[str, ed25519.Ed25519PublicKey]:
        keys: dict[str, ed25519.Ed25519PublicKey] = {}
        for r in roots:
            keys.update(r.person_keys())
            keys.update(r.registry_keys())
        return keys

    # -- audit -------------------------------------------------------------------------
    def checkpoint(self) -> None:
        au = exact(self.doc["audit"], frozenset({"checkpoint", "entries"}), "audit")
        note = au["checkpoint"]
        if not isinstance(note, str):
            raise BundleError("the checkpoint is not a signed note")
        keys = dict(self.pins.keys)
        if self.pins.roots or self.pins.empty:
            keys.update(self._all_keys(self._anchored()))
        try:
            self.cp, names = open_note(note, [Verifier(k) for k in keys.values()])
        except CheckpointError as exc:
            raise BundleError(f"checkpoint: {exc}") from None
        self.ok(f"checkpoint {self.cp.origin} (size {self.cp.size}) signed by "
                f"{', '.join(names)} with a {'bundle' if self.pins.empty else 'pinned'} key")
        docs = au["entries"]
        if not isinstance(docs, list) or not docs:
            raise BundleError("the bundle holds no audit entry")
        for d in docs:
            d = exact(d, _DOC_KEYS, "an audit entry proof")
            seq = d["leaf_index"] + 1 if isinstance(d["leaf_index"], int) else "?"
            if not proofs.verify_entry_doc(d, self.cp) or seq in self.entries:
                raise BundleError(f"audit entry {seq}: not included in the checkpoint "
                                  "(edited, or its inclusion proof does not hold)")
            assert isinstance(seq, int)
            self.entries[seq] = d["entry"]
        self.ok(f"{len(self.entries)} audit entries included in the checkpoint's tree")

    def trust_in_log(self) -> None:
        """Each root was put in force by an entry of the log, after its acceptances."""
        logged: set[str] = set()
        previous = ""
        for root in self.roots:
            hits = [s for s, e in sorted(self.entries.items())
                    if e["action"] == "trust_root_in_force"
                    and e["details"].get("digest") == root.digest
                    and e["details"].get("previous", "") == previous]
            if not hits:
                raise BundleError(f"trust root {root.digest[:19]}…: no audit entry put it in "
                                  "force")
            self.in_force.append((hits[0], root))
            previous = root.digest
        for i, item in enumerate(self.doc["trust"], 1):
            for env in item["acceptances"]:
                found = [s for s, e in self.entries.items() if e["action"] == "policy_accept"
                         and e["details"].get("envelope") == env]
                if not found:
                    raise BundleError(f"trust root #{i}: an acceptance has no audit entry")
                logged.add(json.dumps(env, sort_keys=True))
        for s, e in sorted(self.entries.items()):
            if e["action"] == "policy_accept" and json.dumps(
                    e["details"].get("envelope"), sort_keys=True) not in logged:
                raise BundleError(f"audit entry {s}: a policy acceptance not in the bundle's "
                                  "trust chain")
        self.ok("every trust root and acceptance has its audit entry, and the reverse")

    def root_at(self, seq: int) -> TrustRoot:
        found = [r for s, r in self.in_force if s < seq]
        if not found:
            raise BundleError(f"audit entry {seq}: no trust root was in force")
        return found[-1]

    # -- the version ---------------------------------------------------------------------
    def manifest(self) -> None:
        m, subject = self.doc["manifest"], self.doc["subject"]
        if not isinstance(m, dict) or f"{m.get('model')}@{m.get('version')}" != subject:
            raise BundleError(f"the manifest is not {subject}'s")
        sig = exact(self.doc["manifest_signature"],
                    frozenset({"algorithm", "key_id", "signature"}), "manifest signature")
        strict_b64(sig["signature"], "the manifest signature")
        if sig["algorithm"] != ALGORITHM:
            raise BundleError(f"manifest signature algorithm is not {ALGORITHM}")
        ring = dict(self.pins.keys)
        for r in self._anchored():
            ring.update(r.registry_keys())
        problem = verify_manifest(sig, manifest_bytes(m), ring)
        if problem:
            raise BundleError(problem)
        arts = m.get("artifacts") or {}
        if content_digest(arts) != m.get("content_digest"):
            raise BundleError("the manifest's content digest does not match its artifacts")
        files = self.doc["files"]
        if not isinstance(files, dict) or set(files) != set(arts) - {"model.onnx"}:
            raise BundleError("the bundle's files are not the manifest's evidence files")
        for name, text in sorted(files.items()):
            raw = strict_b64(text, name)
            if ("sha256:" + hashlib.sha256(raw).hexdigest() != arts[name].get("sha256")
                    or len(raw) != arts[name].get("size")):
                raise BundleError(f"{name}: differs from the signed manifest")
        self.ok(f"manifest {subject} signed by pinned registry key {sig['key_id']}; "
                f"model digest {m.get('model_digest')}; {len(files)} evidence file(s) match")

    def _statement(self, env: Any, what: str) -> tuple[int, VerifiedAction]:
        """The statement's audit entry (the one carrying it; for an auto-approval, whose
        entry carries none, an unclaimed `auto` approve entry of the same spec hash) and
        what it says, verified against the trust root in force then."""
        subject = self.doc["subject"]
        found = [s for s, e in sorted(self.entries.items())
                 if e["details"].get("envelope") == env and e["target"] == subject]
        if found:
            return found[0], self._verified(env, found[0], what)
        for s, e in sorted(self.entries.items()):
            d = e["details"]
            if (e["action"] == "approve" and e["target"] == subject and "envelope" not in d
                    and d.get("role") == AUTO_ROLE and s not in self.auto_seqs):
                act = self._verified(env, s, what)
                if act.predicate.get("role") == AUTO_ROLE and act.spec_hash == d.get(
                        "spec_hash") and act.action == "approve":
                    self.auto_seqs.add(s)
                    return s, act
        raise BundleError(f"{what}: no audit entry records it")

    def _verified(self, env: Any, seq: int, what: str) -> VerifiedAction:
        root = self.root_at(seq)
        keys = {**root.person_keys(), **root.registry_keys()}
        _envelope(env, keys, what)
        try:
            act = verify_action(env, root, extra_keys=root.registry_keys())
        except EnvelopeError as exc:
            raise BundleError(f"{what}: {exc}") from None
        m = self.doc["manifest"]
        if act.subject != self.doc["subject"] or act.digest != m.get("model_digest"):
            raise BundleError(f"{what}: signed for {act.subject} {act.digest[:19]}…, not "
                              f"the manifest's {m.get('model_digest', '')[:19]}…")
        return act

    def statements(self) -> None:
        subject = self.doc["subject"]
        reqs, sts = self.doc["requests"], self.doc["statements"]
        if not isinstance(reqs, list) or not isinstance(sts, list):
            raise BundleError("requests and statements must be lists")
        for i, item in enumerate(reqs, 1):
            item = exact(item, frozenset({"plan", "envelope"}), f"request {i}")
            plan = item["plan"]
            found = [s for s, e in sorted(self.entries.items())
                     if e["action"] == "request_approval" and e["target"] == subject
                     and all(e["details"].get(k) == plan.get(k) for k in
                             ("require", "expires_s", "environments", "separation_of_duties"))]
            if not isinstance(plan, dict) or not found:
                raise BundleError(f"request {i}: no audit entry records it")
            act = self._verified(item["envelope"], found[0], f"request {i}")
            if act.action != "request_approval" or \
                    act.predicate.get("plan_sha256") != plan_digest(plan):
                raise BundleError(f"request {i}: its plan differs from the signed one")
            rid = self.entries[found[0]]["details"].get("request_id")
            self.events.append(Event(found[0], act, rid, plan))
        for i, env in enumerate(sts, 1):
            seq, act = self._statement(env, f"statement {i}")
            entry = self.entries[seq]
            if act.action not in STATEMENT_ACTIONS or entry["action"] != act.action:
                raise BundleError(f"statement {i}: a {act.action} statement in a "
                                  f"{entry['action']} entry")
            rid = act.predicate.get("request_id", entry["details"].get("request_id"))
            self.events.append(Event(seq, act, rid, None))
        carried = {json.dumps(e, sort_keys=True) for e in sts}
        for s, e in sorted(self.entries.items()):
            if e["target"] == subject and e["action"] in STATEMENT_ACTIONS and \
                    s not in self.auto_seqs and \
                    json.dumps(e["details"].get("envelope"), sort_keys=True) not in carried:
                raise BundleError(f"audit entry {s} ({e['action']} by {e['actor']}): its "
                                  "signed statement is missing from the bundle")
        self.events.sort(key=lambda ev: ev.seq)
        self.ok(f"{len(reqs)} request(s) and {len(sts)} statement(s) verify against the "
                f"trust root in force when logged and bind to {subject}'s digest; each has "
                "its audit entry, and the reverse")

    def rules(self) -> None:
        voids = {e["details"].get("request_id"): s for s, e in self.entries.items()
                 if e["action"] == "void" and e["target"] == self.doc["subject"]}
        for line in check_deploys(self.events, self.root_at, voids):
            self.ok(line)


def verify_bundle(data: bytes, pins: Pins) -> Result:
    """Run every check; `Result.cause` is the first failure (None: all hold)."""
    result = Result(unpinned=pins.empty)
    try:
        check = _Check(data, pins)
        result = check.result
        result.lines.append(f"ok    canonical {FORMAT} encoding")
        for step in (check.trust, check.checkpoint, check.trust_in_log, check.manifest,
                     check.statements, check.rules):
            step()
    except BundleError as exc:
        result.cause = str(exc)
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError,
            UnsupportedAlgorithm) as exc:   # a field of the wrong shape: never a traceback
        result.cause = f"malformed bundle ({type(exc).__name__}: {exc})"
    return result
