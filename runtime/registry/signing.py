"""The project signing key: ECDSA P-256 over SHA-256, via `cryptography`.

Why ECDSA P-256 rather than Ed25519: the OpenSSF model-signing tool accepts EC keys only
(P-256/384/521) and rejects Ed25519, so a specops key can also sign or verify with that
tooling. Why a local key: it works offline and in air-gapped clusters, with no OIDC or
transparency-log dependency; keyless signing can be layered on later.

Files: `<project>/.specops/keys/signing.key` (PKCS#8 PEM, created with mode 0600 inside a
0700 directory, never overwritten) and `signing.pub` (0644). A private key readable by
group or others is refused, like ssh does, rather than used. The key id is the sha256 of
the public key's DER SubjectPublicKeyInfo.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["ALGORITHM", "KeyError_", "SigningKey", "key_id", "load_or_create_key",
           "load_public_key", "verify_signature"]

ALGORITHM = "ecdsa-p256-sha256"
KEY_FILE, PUB_FILE = "signing.key", "signing.pub"


class KeyError_(RuntimeError):
    """The signing key is unusable (bad permissions, unreadable, wrong type)."""


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class SigningKey:
    private: ec.EllipticCurvePrivateKey
    public_pem: str
    key_id: str
    path: Path

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, mode)   # the umask may have narrowed it; state it explicitly


def load_or_create_key(key_dir: Path) -> SigningKey:
    """The project's key, created on first use."""
    key_path, pub_path = key_dir / KEY_FILE, key_dir / PUB_FILE
    if not key_path.exists():
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = ec.generate_private_key(ec.SECP256R1())
        pem_bytes = fresh.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        try:
            _write_new(key_path, pem_bytes, 0o600)
        except FileExistsError:
            pass   # another process created it first: use theirs
        else:
            pub = fresh.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            if pub_path.exists():
                pub_path.unlink()
            _write_new(pub_path, pub, 0o644)
    mode = stat.S_IMODE(key_path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        raise KeyError_(f"{key_path} is accessible by group or others (mode {mode:o}); "
                        f"run: chmod 600 {key_path}")
    try:
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"{key_path}: not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or \
            not isinstance(loaded.curve, ec.SECP256R1):
        raise KeyError_(f"{key_path}: expected an ECDSA P-256 key")
    public = loaded.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    if not pub_path.exists():
        _write_new(pub_path, pem.encode(), 0o644)
    return SigningKey(loaded, pem, key_id(public), key_path)


def load_public_key(key_dir: Path) -> ec.EllipticCurvePublicKey:
    pub_path = key_dir / PUB_FILE
    if not pub_path.exists():
        raise KeyError_(f"no public key at {pub_path}: nothing was ever signed here")
    public = serialization.load_pem_public_key(pub_path.read_bytes())
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise KeyError_(f"{pub_path}: expected an ECDSA public key")
    return public


def verify_signature(public: ec.EllipticCurvePublicKey, data: bytes, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True), data,
                      ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
