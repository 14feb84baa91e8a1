"""The registry keyring: the public keys that may verify registry manifests.

Why pinned and never read beside the artifacts: a `signing.pub` next to the versions is
replaced as easily as the model it vouches for. The keys come from the trust root in
force (`registry.pinned` in specops.yaml, accepted with `specops policy accept`) and,
for deployments that pin outside the store (a CI runner, a serving host), from a file of
OpenSSH public key lines named by $SPECOPS_REGISTRY_PUBKEYS, set by whoever operates the
verifier. Rotation adds a key and keeps the retired ones listed: manifests carry their
key id, so every older version still verifies.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519

from specops.runtime.trust.ssh_keys import KeyProblem, fingerprint, parse_public_key
from specops.runtime.trust.trust_root import TrustError

__all__ = ["PINNED_KEYS_ENV", "Keyring", "load_keyring"]

PINNED_KEYS_ENV = "SPECOPS_REGISTRY_PUBKEYS"

Keyring = dict[str, ed25519.Ed25519PublicKey]


def _env_keys() -> Keyring:
    ref = os.environ.get(PINNED_KEYS_ENV)
    if not ref:
        return {}
    try:
        lines = Path(ref).expanduser().read_text(encoding="utf-8").splitlines()
    except OSError:
        raise TrustError(f"{PINNED_KEYS_ENV}={ref}: cannot read the pinned keys file") \
            from None
    out: Keyring = {}
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                key = parse_public_key(line)
            except KeyProblem as exc:
                raise TrustError(f"{ref}: {exc}") from None
            out[fingerprint(key)] = key
    return out


def load_keyring(engine: sa.Engine) -> Keyring:
    """Key id -> public key: the trust root's pinned registry keys plus the operator's."""
    from specops.runtime.trust.trust_store import in_force

    with engine.connect() as conn:
        root = in_force(conn)
    ring: Keyring = dict(root.registry_keys()) if root is not None else {}
    ring.update(_env_keys())
    return ring
