"""The evidence bundle's encoding: one canonical JSON document where every byte matters.

Why canonical JSON and not a tar or zip: an archive has headers, padding, timestamps and
orderings that no check reads, so a flipped byte there changes nothing and proves
nothing; a reader might also disagree with the writer about which member wins. Here the
file must be exactly `encode(decode(file))` (sorted keys, no whitespace, ASCII only with
`\\u` escapes, no NaN, no duplicate keys), every object has exactly its documented keys,
and every base64 string is in its one canonical spelling, so any changed byte either
breaks the encoding or changes a value that a signature, a hash or a Merkle proof covers.
The layout (`FORMAT` "specops.evidence/v1"):

    {"format":    "specops.evidence/v1",
     "subject":   "model@version",
     "manifest":  the registry manifest (its canonical bytes are what was signed),
     "manifest_signature": {"algorithm", "key_id", "signature"},
     "files":     {name: base64} every manifest artifact but model.onnx (evaluation,
                  gate and parity reports as recorded; checked against the manifest),
     "requests":  [{"plan": the approval plan snapshot, "envelope": DSSE}],
     "statements": [DSSE envelopes: register, approve, reject, deploy, rollback],
     "trust":     [{"document": trust root, "acceptances": [DSSE policy_accept]}],
                  every root accepted so far, oldest first,
     "audit":     {"checkpoint": C2SP signed note,
                   "entries": [inclusion proof documents, ledger/proofs.py]}}
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["FORMAT", "TOP_KEYS", "BundleError", "b64", "decode", "encode", "exact",
           "strict_b64"]

FORMAT = "specops.evidence/v1"
TOP_KEYS = frozenset({"format", "subject", "manifest", "manifest_signature", "files",
                      "requests", "statements", "trust", "audit"})


class BundleError(ValueError):
    """The bundle cannot be read, or one of its checks fails (the message is the cause)."""


def encode(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise BundleError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise BundleError(f"{name} is not allowed")


def decode(data: bytes) -> dict[str, Any]:
    """The bundle document; `BundleError` unless `data` is its canonical encoding."""
    try:
        text = data.decode("ascii")
        doc = json.loads(text, object_pairs_hook=_no_duplicates,
                         parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"not an evidence bundle (not canonical ASCII JSON: "
                          f"{str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise BundleError("not an evidence bundle (the top level is not an object)")
    if encode(doc) != data:
        raise BundleError("not in canonical form (whitespace, key order, escapes or number "
                          "spelling differ from what the exporter writes)")
    return doc


def exact(obj: Any, keys: frozenset[str] | set[str], what: str) -> Mapping[str, Any]:
    """`obj` as a mapping with exactly `keys` (an unknown or missing key is refused, so no
    byte of the bundle sits in a field nothing reads)."""
    if not isinstance(obj, Mapping):
        raise BundleError(f"{what} is not an object")
    if set(obj) != set(keys):
        extra, missing = sorted(set(obj) - set(keys)), sorted(set(keys) - set(obj))
        raise BundleError(f"{what}: unexpected keys {extra}" if extra
                          else f"{what}: missing keys {missing}")
    return obj


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def strict_b64(text: Any, what: str) -> bytes:
    """Standard base64 in its canonical spelling only (unused trailing bits zero)."""
    if not isinstance(text, str):
        raise BundleError(f"{what} is not a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError(f"{what} is not base64") from None
    if b64(raw) != text:
        raise BundleError(f"{what} is not canonical base64")
    return raw
