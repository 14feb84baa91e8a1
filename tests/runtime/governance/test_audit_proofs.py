"""Entry and consistency proofs as portable documents, checked only against roots from a
signed checkpoint: every entry of a real log proves in; a changed entry, proof, index or
size, or any flipped byte of the serialized document, does not."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric import ed25519
from test_audit_attacks import ORIGIN, _history, _more

from specops.runtime.governance.ledger import audit as A
from specops.runtime.governance.ledger import proofs as P
from specops.runtime.governance.ledger.checkpoint import Checkpoint, Signer, Verifier, open_note
from specops.runtime.governance.ledger.log_check import check_log, make_checkpoint


def _checkpoint(gov, key):
    note = make_checkpoint(check_log(gov.engine, origin=ORIGIN), ORIGIN, [key])
    cp, _ = open_note(note, [Verifier(key.public, ORIGIN)])
    return cp


def test_every_entry_proves_into_the_checkpoint_and_edits_do_not(any_gov, registry, tmp_path):
    key = Signer(ORIGIN, ed25519.Ed25519PrivateKey.generate())
    _history(any_gov, registry)
    _more(any_gov, 6)
    cp = _checkpoint(any_gov, key)
    state = A.read_log(any_gov.engine)
    tree = state.tree()
    exported = tmp_path / "audit.jsonl"
    A.export_jsonl(any_gov.engine, exported)
    lines = [json.loads(x) for x in exported.read_text().splitlines()]
    for seq in range(1, state.size + 1):
        doc = P.entry_doc(state, seq, tree)
        assert doc["entry"] == lines[seq - 1]
        assert P.verify_entry_doc(json.loads(json.dumps(doc)), cp)
        forged = {**doc, "entry": {**doc["entry"], "actor": "mallory"}}
        assert not P.verify_entry_doc(forged, cp)
        assert not P.verify_entry_doc({**doc, "leaf_index": (seq % state.size)}, cp)
    doc = P.entry_doc(state, 2, tree)
    raw = json.dumps(doc).encode()
    for i in range(len(raw)):
        flipped = bytearray(raw)
        flipped[i] ^= 0x04
        try:
            mutated = json.loads(flipped.decode())
        except (UnicodeDecodeError, ValueError):
            continue
        if mutated == doc:
            continue
        assert not P.verify_entry_doc(mutated, cp), (i, flipped[i - 5:i + 5])


def test_consistency_doc_between_two_checkpoints(any_gov, registry):
    key = Signer(ORIGIN, ed25519.Ed25519PrivateKey.generate())
    _history(any_gov, registry)
    old = _checkpoint(any_gov, key)
    _more(any_gov, 4)
    new = _checkpoint(any_gov, key)
    state = A.read_log(any_gov.engine)
    doc = P.consistency_doc(state, old.size)
    assert (doc["old_size"], doc["tree_size"]) == (5, 9)
    assert P.verify_consistency_doc(json.loads(json.dumps(doc)), old, new)
    assert not P.verify_consistency_doc(doc, new, old)
    assert not P.verify_consistency_doc({**doc, "old_size": 4}, old, new)
    assert not P.verify_consistency_doc({**doc, "consistency_proof": ["AAAA"]}, old, new)
    other = Checkpoint(ORIGIN, old.size, bytes(32))
    assert not P.verify_consistency_doc(doc, other, new)
