"""Manifest signatures: ed25519 over the canonical manifest bytes, verified against pins.

Why no key is created here any more: the registry key is *referenced* (a `Signer`, from
$SPECOPS_REGISTRY_KEY, specops.yaml's `registry.key`, or a KMS implementing the
protocol in runtime/trust/signer.py), and a missing key is a one-line error. Why the
public key is never taken from beside the artifacts: whoever can swap a model file can
swap that too. A signature verifies only against the keyring (runtime/trust/keyring.py:
the trust root's pinned keys), looked up by the key id the manifest carries, so rotating
the key keeps older versions verifiable.

Why ed25519 (the project used ECDSA P-256 before): registry and people's keys are then
the same kind of OpenSSH key, pinned the same way; OpenSSF model-signing interop would
need a P-256 `Signer`, which the protocol allows.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from specops.runtime.trust.signer import Signer
from specops.runtime.trust.ssh_keys import verify_bytes

__all__ = ["ALGORITHM", "KeyError_", "sign_manifest", "verify_manifest"]

ALGORITHM = "ssh-ed25519"


class KeyError_(RuntimeError):
    """The signing key is unusable or missing (kept for callers of the old module)."""


def sign_manifest(signer: Signer, body: bytes) -> dict[str, Any]:
    return {"algorithm": ALGORITHM, "key_id": signer.key_id,
            "signature": base64.b64encode(signer.sign(body)).decode()}


def verify_manifest(sig: Mapping[str, Any], body: bytes,
                    keyring: Mapping[str, ed25519.Ed25519PublicKey]) -> str | None:
    """None when `sig` verifies `body` with a pinned key; else the one-line problem."""
    kid = str(sig.get("key_id", ""))
    if not keyring:
        return ("no pinned registry key to verify against (pin one under `registry.pinned` "
                "in specops.yaml and run `specops policy accept`, or set "
                "SPECOPS_REGISTRY_PUBKEYS)")
    key = keyring.get(kid)
    if key is None:
        return f"manifest signed by key {kid or '(none)'}, which is not a pinned registry key"
    try:
        raw = base64.b64decode(str(sig.get("signature", "")), validate=True)
    except (ValueError, binascii.Error):
        return "manifest signature is not base64"
    if not verify_bytes(key, body, raw):
        return "manifest signature is invalid"
    return None
