"""Portable proofs about the audit log: one entry is in it, one tree extends another.

Why JSON documents: an evidence bundle (`specops evidence export`) carries the entries of
one model version with their inclusion proofs and a signed checkpoint, and an auditor
verifies it offline with nothing but the bundle and a pinned public key. Each document
holds everything its check needs except the tree size and root it is checked against,
which come from a checkpoint the verifier trusts (`checkpoint.open_note`), never from
the document.

    entry proof       {"entry": {...the exported entry, prev_hash and hash included},
                       "leaf_index": i, "tree_size": n, "inclusion_proof": [b64, ...]}
    consistency proof {"old_size": m, "tree_size": n, "consistency_proof": [b64, ...]}

`leaf_index` is `seq - 1`; the leaf is SHA-256(0x00 || canonical(entry without prev_hash
and hash)), exactly the bytes the chain hash covers; the entry must carry exactly those
fields plus `prev_hash` and `hash`, and `hash` must be its chain hash.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from specops.runtime.governance.ledger import merkle
from specops.runtime.governance.ledger.audit import LogState, canonical, entry_hash
from specops.runtime.governance.ledger.checkpoint import Checkpoint, strict_b64decode

__all__ = ["ENTRY_FIELDS", "consistency_doc", "entry_doc", "leaf_of", "verify_consistency_doc",
           "verify_entry_doc"]

ENTRY_FIELDS = ("seq", "at", "actor", "action", "target", "reason", "details")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(items: Any) -> list[bytes] | None:
    if not isinstance(items, list):
        return None
    try:
        out = [strict_b64decode(x) for x in items]
    except (binascii.Error, TypeError, ValueError):
        return None
    return out if all(len(x) == 32 for x in out) else None


def leaf_of(entry: Mapping[str, Any]) -> bytes:
    """The Merkle leaf hash of an exported entry (extra keys such as `hash` ignored)."""
    return merkle.leaf_hash(canonical({k: entry[k] for k in ENTRY_FIELDS}))


def entry_doc(state: LogState, seq: int, tree: merkle.Tree | None = None,
              size: int | None = None) -> dict[str, Any]:
    """The inclusion proof of entry `seq` in the tree of `size` entries (default: all).
    Pass `tree` (`state.tree()`) when proving many entries, to build it once."""
    t = tree or state.tree()
    n = t.size if size is None else size
    if not 1 <= seq <= n:
        raise merkle.ProofError(f"no entry {seq} in a log of {n} entries")
    entry = state.entries[seq - 1]
    return {"entry": entry.as_json(), "leaf_index": seq - 1, "tree_size": n,
            "inclusion_proof": [_b64(h) for h in t.inclusion_proof(seq - 1, n)]}


def verify_entry_doc(doc: Mapping[str, Any], checkpoint: Checkpoint) -> bool:
    """Is `doc["entry"]` entry number `leaf_index + 1` of the tree of a trusted
    checkpoint? Its size comes from the checkpoint too: an audit path alone fits trees of
    several sizes."""
    entry, index, size = doc.get("entry"), doc.get("leaf_index"), doc.get("tree_size")
    root = checkpoint.root
    if size != checkpoint.size:
        return False
    proof = _unb64(doc.get("inclusion_proof"))
    if not isinstance(entry, Mapping) or proof is None or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in (index, size)):
        return False
    assert isinstance(index, int) and isinstance(size, int)
    if set(entry) != {*ENTRY_FIELDS, "prev_hash", "hash"} or entry.get("seq") != index + 1:
        return False
    try:
        leaf = leaf_of(entry)
        fields = {k: entry[k] for k in ENTRY_FIELDS}
        if entry_hash(str(entry["prev_hash"]), fields) != entry["hash"]:
            return False   # the chain fields travel with the entry: they must agree too
    except (TypeError, ValueError, UnicodeEncodeError):
        return False
    return merkle.verify_inclusion(leaf, index, size, proof, root)


def consistency_doc(state: LogState, old_size: int, size: int | None = None,
                    tree: merkle.Tree | None = None) -> dict[str, Any]:
    t = tree or state.tree()
    n = t.size if size is None else size
    return {"old_size": old_size, "tree_size": n,
            "consistency_proof": [_b64(h) for h in t.consistency_proof(old_size, n)]}


def verify_consistency_doc(doc: Mapping[str, Any], old: Checkpoint, new: Checkpoint
                           ) -> bool:
    """Does the tree of trusted checkpoint `new` extend that of trusted checkpoint `old`?"""
    m, n = doc.get("old_size"), doc.get("tree_size")
    if (m, n) != (old.size, new.size):
        return False
    old_root, root = old.root, new.root
    proof = _unb64(doc.get("consistency_proof"))
    if proof is None or not all(isinstance(x, int) and not isinstance(x, bool)
                                for x in (m, n)):
        return False
    assert isinstance(m, int) and isinstance(n, int)
    return merkle.verify_consistency(m, n, old_root, root, proof)
