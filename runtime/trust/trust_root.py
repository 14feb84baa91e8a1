"""The trust root: people, their public keys and roles, permissions, the policy rule and
the pinned registry keys, as one canonical document with a digest.

Why in specops.yaml: people and permissions were already there, reviewed with the code;
the trust root adds `keys:` per person, `policy: {accept_requires: N}` and
`registry: {key: PATH, pinned: [...]}`. The working copy is only a *proposal*: what is in
force is the last document accepted with `specops policy accept` (trust_store.py), so an
edit of specops.yaml (a person added, a role granted) changes nothing until the people
allowed to change policy sign it.

Key entries are OpenSSH public key lines or paths (relative to the project root) of
`.pub` files; the accepted document holds the lines themselves, so replacing a `.pub`
file later changes nothing either.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from specops.runtime.governance.identity import Directory
from specops.runtime.trust.ssh_keys import KeyProblem, fingerprint, parse_public_key

__all__ = ["TrustError", "TrustRoot", "keys_configured", "load_working_root", "read_config"]


class TrustError(ValueError):
    """The trust root cannot be read, is not accepted, or its acceptance does not verify."""


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _key_line(entry: str, root: Path, where: str) -> str:
    text = entry.strip()
    if not text.startswith("ssh-"):
        path = Path(text).expanduser()
        path = path if path.is_absolute() else root / path
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError:
            raise TrustError(f"{where}: key file {entry} is missing") from None
    try:
        parse_public_key(text)
    except KeyProblem as exc:
        raise TrustError(f"{where}: {exc}") from None
    return " ".join(text.split()[:2])


@dataclass(frozen=True)
class TrustRoot:
    """One trust root document (normalised) and what it says."""

    document: Mapping[str, Any]

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(_canonical(self.document)).hexdigest()

    @property
    def accept_requires(self) -> int:
        return int((self.document.get("policy") or {}).get("accept_requires", 1))

    @property
    def sod(self) -> Mapping[str, bool]:
        return dict(self.document.get("separation_of_duties") or {})

    def directory(self) -> Directory:
        return Directory.from_config({"people": self.document.get("people") or {},
                                      "permissions": self.document.get("permissions") or {}})

    @cached_property
    def _people_keys(self) -> dict[str, tuple[str, ed25519.Ed25519PublicKey]]:
        """Key id -> (person, public key); parsed once per root (every vote is checked
        against it when a status is recomputed)."""
        out: dict[str, tuple[str, ed25519.Ed25519PublicKey]] = {}
        for name, p in sorted((self.document.get("people") or {}).items()):
            for line in p.get("keys") or []:
                key = parse_public_key(line)
                out.setdefault(fingerprint(key), (str(name), key))
        return out

    def person_keys(self) -> dict[str, ed25519.Ed25519PublicKey]:
        """Key id -> public key, for every person's key."""
        return {kid: key for kid, (_n, key) in self._people_keys.items()}

    def person_of(self, key_id: str) -> str | None:
        found = self._people_keys.get(key_id)
        return found[0] if found else None

    def registry_keys(self) -> dict[str, ed25519.Ed25519PublicKey]:
        """Key id -> public key of every pinned registry key (retired ones included, so
        versions signed before a rotation still verify)."""
        out: dict[str, ed25519.Ed25519PublicKey] = {}
        for line in (self.document.get("registry") or {}).get("pinned") or []:
            key = parse_public_key(line)
            out[fingerprint(key)] = key
        return out


def read_config(project_root: Path) -> dict[str, Any]:
    cfg = project_root / "specops.yaml"
    if not cfg.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TrustError(f"cannot read {cfg}: {exc}".splitlines()[0]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TrustError(f"{cfg}: expected a mapping at the top level")
    return data


def keys_configured(config: Mapping[str, Any]) -> bool:
    """True when the project uses signed actions: some person lists `keys`, or a registry
    key is pinned. Projects without keys keep the claimed-identity mode (documented)."""
    people = config.get("people") or {}
    if isinstance(people, Mapping) and any(
            isinstance(p, Mapping) and p.get("keys") for p in people.values()):
        return True
    reg = config.get("registry") or {}
    return isinstance(reg, Mapping) and bool(reg.get("pinned"))


def load_working_root(project_root: Path, config: Mapping[str, Any] | None = None
                      ) -> TrustRoot:
    """The trust root the working copy proposes (not necessarily in force)."""
    data = dict(config if config is not None else read_config(project_root))
    people_in = data.get("people") or {}
    if not isinstance(people_in, Mapping):
        raise TrustError("specops.yaml: `people` must be a mapping")
    people: dict[str, Any] = {}
    for name, p in sorted(people_in.items()):
        p = p or {}
        if not isinstance(p, Mapping):
            raise TrustError(f"specops.yaml: people.{name} must be a mapping")
        people[str(name)] = {
            "roles": sorted(map(str, p.get("roles") or ())),
            "teams": sorted(map(str, p.get("teams") or ())),
            "keys": sorted({_key_line(str(k), project_root, f"people.{name}.keys")
                            for k in p.get("keys") or ()}),
        }
    perms = {str(a): [str(r) for r in (roles or ())]
             for a, roles in sorted((data.get("permissions") or {}).items())}
    policy = data.get("policy") or {}
    reg = data.get("registry") or {}
    sod = data.get("separation_of_duties") or {}
    if not all(isinstance(x, Mapping) for x in (policy, reg, sod)):
        raise TrustError("specops.yaml: `policy`, `registry` and `separation_of_duties` "
                         "must be mappings")
    requires = int(policy.get("accept_requires", 1))
    if requires < 1:
        raise TrustError("specops.yaml: policy.accept_requires must be at least 1")
    doc = {"format": "specops.trust-root/v1", "people": people, "permissions": perms,
           "policy": {"accept_requires": requires},
           "registry": {"pinned": sorted({_key_line(str(k), project_root,
                                                    "registry.pinned")
                                          for k in reg.get("pinned") or ()})},
           "separation_of_duties": {
               "deployer_not_approver": bool(sod.get("deployer_not_approver", True)),
               "approver_not_author": bool(sod.get("approver_not_author", True))}}
    return TrustRoot(doc)
