"""DSSE envelopes (Dead Simple Signing Envelope, as in-toto and Sigstore use them).

Why DSSE: the signature covers the payload type and the exact payload bytes through the
pre-authentication encoding (PAE), so a statement cannot be re-read as another type or
re-serialised into something else that still verifies. Each signature names its key by
`keyid` (the SSH fingerprint); verification looks the key up in a pinned set and never
trusts a key carried inside the envelope.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from specops.runtime.trust.signer import Signer
from specops.runtime.trust.ssh_keys import verify_bytes

__all__ = ["INTOTO_PAYLOAD_TYPE", "EnvelopeError", "pae", "sign_envelope", "verify_envelope"]

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class EnvelopeError(ValueError):
    """The envelope is malformed or no signature verifies against a pinned key."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSEv1 pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def sign_envelope(payload: bytes, signers: list[Signer],
                  payload_type: str = INTOTO_PAYLOAD_TYPE) -> dict[str, Any]:
    message = pae(payload_type, payload)
    return {"payloadType": payload_type,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": s.key_id,
                            "sig": base64.b64encode(s.sign(message)).decode()}
                           for s in signers]}


def verify_envelope(envelope: Mapping[str, Any] | str,
                    keys: Mapping[str, ed25519.Ed25519PublicKey],
                    payload_type: str = INTOTO_PAYLOAD_TYPE) -> tuple[bytes, list[str]]:
    """(payload, key ids whose signature verifies); raises unless at least one does."""
    try:
        env = json.loads(envelope) if isinstance(envelope, str) else envelope
        if env.get("payloadType") != payload_type:
            raise EnvelopeError(f"payload type {env.get('payloadType')!r} is not "
                                f"{payload_type}")
        payload = base64.b64decode(str(env["payload"]), validate=True)
        sigs = list(env.get("signatures") or [])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        if isinstance(exc, EnvelopeError):
            raise
        raise EnvelopeError(f"malformed envelope: {exc}") from None
    message = pae(payload_type, payload)
    good: list[str] = []
    for s in sigs:
        kid = str(s.get("keyid", "")) if isinstance(s, Mapping) else ""
        key = keys.get(kid)
        if key is None or kid in good:
            continue
        try:
            raw = base64.b64decode(str(s.get("sig", "")), validate=True)
        except (ValueError, binascii.Error):
            continue
        if verify_bytes(key, message, raw):
            good.append(kid)
    if not good:
        named = ", ".join(str(s.get("keyid")) for s in sigs if isinstance(s, Mapping))
        raise EnvelopeError(f"no valid signature by a pinned key (signed by: "
                            f"{named or 'nobody'})")
    return payload, good
