"""OpenSSH ed25519 keys: create, load, fingerprint, sign and verify.

Why OpenSSH files: they are the keys people already have (`~/.ssh/id_ed25519`, the keys
git signs commits with), so nobody needs a new kind of credential to approve a model. The
files are read and written with `cryptography` (`load_ssh_private_key`,
`load_ssh_public_key`); fingerprints are computed exactly as `ssh-keygen -l` prints them
(`SHA256:` + unpadded base64 of the sha256 of the public key blob), so a person can check
the trust root against `ssh-keygen -lf ~/.ssh/id_ed25519.pub`.

A private key is refused when group or others can read it (like ssh), when it is
encrypted (set no passphrase for a CI key; people use `ssh-agent`-free files here), or
when it is not ed25519. Nothing is ever generated implicitly: `create_keypair` runs only
from `specops keys new` or an example's prepare step.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

__all__ = ["KeyProblem", "SshPrivateKey", "create_keypair", "default_keys_dir",
           "fingerprint", "load_private_key", "parse_public_key", "public_line",
           "verify_bytes"]


class KeyProblem(ValueError):
    """A key file is missing, unreadable, of the wrong type or too widely readable."""


def default_keys_dir() -> Path:
    """$SPECOPS_KEYS_DIR, else ~/.config/specops/keys."""
    env = os.environ.get("SPECOPS_KEYS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".config" / "specops" / "keys"


def public_line(public: ed25519.Ed25519PublicKey, comment: str = "") -> str:
    """The OpenSSH one-line form, `ssh-ed25519 AAAA... comment`."""
    raw = public.public_bytes(serialization.Encoding.OpenSSH,
                              serialization.PublicFormat.OpenSSH).decode()
    return f"{raw} {comment}".strip()


def fingerprint(public: ed25519.Ed25519PublicKey) -> str:
    """`SHA256:...` as `ssh-keygen -l` prints it: the key id of every signature."""
    blob = base64.b64decode(public_line(public).split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse_public_key(text: str) -> ed25519.Ed25519PublicKey:
    """An OpenSSH public key line (the comment is ignored); ed25519 only."""
    parts = text.strip().split()
    if len(parts) < 2:
        raise KeyProblem(f"not an OpenSSH public key line: {text.strip()[:40]!r}")
    try:
        key = serialization.load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
    except (ValueError, TypeError) as exc:
        raise KeyProblem(f"not an OpenSSH public key: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise KeyProblem(f"{parts[0]} keys are not supported; use ssh-ed25519")
    return key


def verify_bytes(public: ed25519.Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class SshPrivateKey:
    """A loaded private key; satisfies the `Signer` protocol (runtime/trust/signer.py)."""

    private: ed25519.Ed25519PrivateKey
    path: Path | None = None

    @property
    def public(self) -> ed25519.Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return fingerprint(self.public)

    def public_line(self, comment: str = "") -> str:
        return public_line(self.public, comment)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def load_private_key(path: Path | str) -> SshPrivateKey:
    """Load an unencrypted OpenSSH (or PKCS#8 PEM) ed25519 private key; refuse a key file
    that group or others may read."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise KeyProblem(f"no key file at {p}")
    mode = stat.S_IMODE(p.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        raise KeyProblem(f"{p} is accessible by group or others (mode {mode:o}); "
                         f"run: chmod 600 {p}")
    data = p.read_bytes()
    key: object
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyProblem(f"{p} is encrypted; use an unencrypted key file for specops") \
            from None
    except ValueError as exc:
        raise KeyProblem(f"{p}: not a private key ({str(exc).splitlines()[0]})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyProblem(f"{p}: not an ed25519 key (make one: ssh-keygen -t ed25519)")
    return SshPrivateKey(key, p)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, mode)   # the umask may have narrowed it; state it explicitly


def create_keypair(directory: Path, name: str, comment: str | None = None
                   ) -> SshPrivateKey:
    """Write `<dir>/<name>` (OpenSSH private key, 0600) and `<dir>/<name>.pub`; never
    overwrite an existing key (that would orphan everything it signed)."""
    if not name or "/" in name or name.startswith("."):
        raise KeyProblem(f"bad key name {name!r}")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    priv_path, pub_path = directory / name, directory / f"{name}.pub"
    if priv_path.exists() or pub_path.exists():
        raise KeyProblem(f"{priv_path} already exists; refusing to replace a key")
    key = ed25519.Ed25519PrivateKey.generate()
    _write_new(priv_path, key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.OpenSSH,
                                            serialization.NoEncryption()), 0o600)
    _write_new(pub_path, (public_line(key.public_key(), comment or name) + "\n").encode(),
               0o644)
    return SshPrivateKey(key, priv_path)
