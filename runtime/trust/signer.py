"""The `Signer` protocol and where a signing key comes from.

Why a protocol: the registry key of a regulated team belongs in a KMS or HSM, not in a
file beside the store; anything with a `key_id` (the `SHA256:` fingerprint of its
ed25519 public key) and `sign(bytes) -> bytes` can sign manifests and statements, so a
KMS client plugs in without specops knowing it. Files are the default implementation.

Why no fallback: a missing key is a one-line error naming where specops looked. Creating
a key silently (what the registry used to do) makes every earlier version unverifiable
and hands whoever deleted the key a fresh identity.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from specops.runtime.trust.ssh_keys import KeyProblem, SshPrivateKey, load_private_key

__all__ = ["PERSON_KEY_ENV", "REGISTRY_KEY_ENV", "Signer", "SignerMissing", "person_signer",
           "registry_signer"]

PERSON_KEY_ENV = "SPECOPS_KEY"
REGISTRY_KEY_ENV = "SPECOPS_REGISTRY_KEY"


@runtime_checkable
class Signer(Protocol):
    """Signs bytes with an ed25519 key; `key_id` is its `SHA256:` fingerprint."""

    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


class SignerMissing(KeyProblem):
    """No key was configured where one is required."""


def person_signer(path: str | Path | None = None) -> SshPrivateKey | None:
    """`--key PATH`, else $SPECOPS_KEY; None when neither is given."""
    ref = path or os.environ.get(PERSON_KEY_ENV)
    return load_private_key(ref) if ref else None


def registry_signer(project_root: Path, configured: str | None) -> SshPrivateKey:
    """The pipeline's registry key: $SPECOPS_REGISTRY_KEY, else specops.yaml's
    `registry.key` (relative to the project). Missing: `SignerMissing`, never a new key."""
    ref = os.environ.get(REGISTRY_KEY_ENV) or configured
    if not ref:
        raise SignerMissing(
            "no registry signing key: set SPECOPS_REGISTRY_KEY or `registry: {key: PATH}` "
            "in specops.yaml (create one with `specops keys new pipeline`)")
    path = Path(ref).expanduser()
    if not path.is_absolute():
        path = project_root / path
    if not path.is_file():
        raise SignerMissing(f"the registry signing key {path} is missing; restore it (a new "
                            "key would not verify earlier versions; to rotate, pin a new key "
                            "in specops.yaml and run `specops policy accept`)")
    return load_private_key(path)
