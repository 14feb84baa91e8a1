"""Signed tree heads in the C2SP tlog-checkpoint format, signed as C2SP signed notes.

Why this format: it is what transparency logs and their witnesses exchange (Go's sumdb,
Sigstore's Rekor v2, the C2SP witness network), so a checkpoint specops writes can be
checked, stored or cosigned by tooling that has never heard of specops. A checkpoint is

    <origin>\\n<tree size>\\n<base64 root hash>\\n[extension lines]\\n
    \\n
    — <key name> <base64(4-byte key id || Ed25519 signature of the text above)>\\n

(c2sp.org/tlog-checkpoint, c2sp.org/signed-note). The key id is the first 4 bytes of
SHA-256(name || 0x0A || 0x01 || 32-byte public key); a verifier key is written
`<name>+<key id hex>+<base64(0x01 || public key)>`.

Keys: the signer is an Ed25519 private key in a file (OpenSSH `ssh-keygen -t ed25519`, or
PKCS#8 PEM), never generated here: a checkpoint signed by a key that appeared from nowhere
proves nothing. A private key readable by group or others is refused, as ssh does. The
verifier is given explicitly (a verifier key string, an `ssh-ed25519` public key line or a
PEM public key, inline or in a file): a checkpoint is trusted only through a key the
verifier pinned, never through one found next to it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

__all__ = ["Checkpoint", "CheckpointError", "Signer", "Verifier", "format_body",
           "key_id", "load_signer", "load_verifier", "open_note", "parse_body",
           "sign_note", "strict_b64decode", "verifier_key"]

_ED25519 = b"\x01"
_DASH = "\u2014 "
_VKEY = re.compile(r"^[^\s+]+\+[0-9a-fA-F]{8}\+[A-Za-z0-9+/]+=*$")


class CheckpointError(ValueError):
    """A checkpoint or key that cannot be used: malformed, unsigned, or untrusted."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @property
    def root_b64(self) -> str:
        return base64.b64encode(self.root).decode("ascii")


def strict_b64decode(text: str) -> bytes:
    """Standard base64 in its one canonical spelling: unused trailing bits must be zero,
    so a note or proof that differs in any character never verifies as the same one."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + _ED25519 + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise CheckpointError(f"bad key name {name!r}: non-empty, no spaces, no '+'")
    return name


def _raw_public(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verifier_key(name: str, public: ed25519.Ed25519PublicKey) -> str:
    """The signed-note verifier key string for `name` and `public` (what to pin)."""
    raw = _raw_public(public)
    return (f"{_check_name(name)}+{key_id(name, raw).hex()}+"
            + base64.b64encode(_ED25519 + raw).decode("ascii"))


@dataclass(frozen=True)
class Signer:
    name: str
    private: ed25519.Ed25519PrivateKey

    @property
    def public(self) -> ed25519.Ed25519PublicKey:
        return self.private.public_key()

    def line(self, text: str) -> str:
        raw = _raw_public(self.public)
        sig = self.private.sign(text.encode("utf-8"))
        return f"{_DASH}{self.name} " + base64.b64encode(key_id(self.name, raw) + sig).decode()


@dataclass(frozen=True)
class Verifier:
    """A pinned public key; `name` None accepts any signature line whose key id matches
    this key under that line's name (for keys given as ssh or PEM public keys)."""
    public: ed25519.Ed25519PublicKey
    name: str | None = None
    source: str = field(default="", compare=False)

    def accepts(self, name: str, kid: bytes, text: bytes, sig: bytes) -> bool:
        if self.name is not None and name != self.name:
            return False
        if key_id(name, _raw_public(self.public)) != kid:
            return False
        try:
            self.public.verify(sig, text)
        except InvalidSignature:
            return False
        return True


def format_body(cp: Checkpoint) -> str:
    for line in (cp.origin, *cp.extensions):
        if not line or "\n" in line or any(ord(c) < 0x20 for c in line):
            raise CheckpointError(f"bad checkpoint line {line!r}")
    return "".join(f"{x}\n" for x in (cp.origin, str(cp.size), cp.root_b64, *cp.extensions))


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    if not text.endswith("\n") or not signers:
        raise CheckpointError("a note needs text ending in a newline and a signer")
    return text + "\n" + "".join(s.line(text) + "\n" for s in signers)


def parse_body(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("not a checkpoint: need origin, size and root hash lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise CheckpointError("not a checkpoint: bad origin or tree size line")
    try:
        raw = strict_b64decode(root)
    except (binascii.Error, ValueError):
        raise CheckpointError("not a checkpoint: the root hash is not base64") from None
    if len(raw) != 32:
        raise CheckpointError("not a checkpoint: the root hash is not 32 bytes")
    ext = tuple(lines[3:-1])
    if any(not x for x in ext):
        raise CheckpointError("not a checkpoint: empty extension line")
    return Checkpoint(origin, int(size), raw, ext)


def open_note(note: str, verifiers: Iterable[Verifier]) -> tuple[Checkpoint, list[str]]:
    """Parse a signed checkpoint and check its signatures against pinned keys.

    Returns the checkpoint and the names whose signatures verified; raises
    `CheckpointError` when it is malformed or no pinned key signed it."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise CheckpointError("not a signed note: control characters")
    text, sep, sigblock = note.rpartition("\n\n")
    if not sep or not sigblock.endswith("\n"):
        raise CheckpointError("not a signed note: no signature block")
    text += "\n"
    cp = parse_body(text)
    pinned = list(verifiers)
    good: list[str] = []
    for line in sigblock[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise CheckpointError(f"not a signed note: bad signature line {line[:40]!r}")
        name, _, b64 = line[len(_DASH):].rpartition(" ")
        try:
            blob = strict_b64decode(b64)
        except (binascii.Error, ValueError):
            raise CheckpointError("not a signed note: a signature is not base64") from None
        if len(blob) < 5 or not name:
            raise CheckpointError("not a signed note: short signature line")
        if any(v.accepts(name, blob[:4], text.encode("utf-8"), blob[4:]) for v in pinned):
            good.append(name)
    if not good:
        raise CheckpointError("no valid signature by a pinned key (forged, re-signed with "
                              "another key, or the wrong --key-pub)")
    return cp, good


def _read_key_text(spec: str) -> tuple[str, str]:
    """`spec` is the key itself or a path to a file holding it."""
    text = spec.strip()
    if "\n" not in text and not text.startswith(("ssh-", "-----")) \
            and not _VKEY.match(text):
        path = Path(text).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip(), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"cannot read public key {spec}: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from None
    return text, "inline key"


def load_verifier(spec: str) -> Verifier:
    """A verifier from a signed-note verifier key, an `ssh-ed25519` line or a PEM public
    key, given inline or as a file path."""
    text, source = _read_key_text(spec)
    if _VKEY.match(text):
        name, kid_hex, b64 = text.split("+", 2)
        try:
            blob = strict_b64decode(b64)
        except (binascii.Error, ValueError):
            raise CheckpointError(f"{source}: bad verifier key") from None
        if len(blob) != 33 or blob[:1] != _ED25519:
            raise CheckpointError(f"{source}: not an Ed25519 verifier key")
        if key_id(_check_name(name), blob[1:]).hex() != kid_hex.lower():
            raise CheckpointError(f"{source}: the verifier key's id does not match its key")
        return Verifier(ed25519.Ed25519PublicKey.from_public_bytes(blob[1:]), name, source)
    try:
        key = (serialization.load_ssh_public_key(text.encode()) if text.startswith("ssh-")
               else serialization.load_pem_public_key(text.encode()))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CheckpointError(f"{source}: not a public key") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise CheckpointError(f"{source}: not an Ed25519 public key")
    return Verifier(key, None, source)


def load_signer(path: Path | str, name: str, passphrase: bytes | None = None) -> Signer:
    """The Ed25519 private key in `path` (OpenSSH or PKCS#8 PEM). Never creates one."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
        data = p.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"signing key {p} does not exist (a checkpoint key is never "
                              "generated silently: create one, e.g. ssh-keygen -t ed25519 "
                              f"-f {p})") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read signing key {p}: {exc.strerror}") from None
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CheckpointError(f"signing key {p} is accessible by group or others "
                              f"(mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it")
    try:
        key = (serialization.load_ssh_private_key(data, passphrase)
               if b"OPENSSH PRIVATE KEY" in data
               else serialization.load_pem_private_key(data, passphrase))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CheckpointError(f"signing key {p}: {str(exc).splitlines()[0]}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise CheckpointError(f"signing key {p} is not an Ed25519 key")
    return Signer(_check_name(name), key)
