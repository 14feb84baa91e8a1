"""SSH keys as people have them, DSSE as specified, statements that cannot be re-read."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from specops.runtime.trust.dsse import EnvelopeError, pae, sign_envelope, verify_envelope
from specops.runtime.trust.signer import SignerMissing, registry_signer
from specops.runtime.trust.ssh_keys import (
    KeyProblem,
    create_keypair,
    load_private_key,
    parse_public_key,
)


def test_pae_matches_the_dsse_spec_vector() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == \
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_keys_made_by_ssh_keygen_load_and_fingerprint_alike(tmp_path: Path) -> None:
    path = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bob@laptop",
                    "-f", str(path)], check=True)
    key = load_private_key(path)
    printed = subprocess.run(["ssh-keygen", "-lf", f"{path}.pub"], check=True,
                             capture_output=True, text=True).stdout.split()[1]
    assert key.key_id == printed
    assert parse_public_key((tmp_path / "id_ed25519.pub").read_text()) is not None
    ours = create_keypair(tmp_path / "k", "alice")
    printed = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "k" / "alice.pub")],
                             check=True, capture_output=True, text=True).stdout.split()[1]
    assert ours.key_id == printed
    rsa = tmp_path / "id_rsa"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(rsa)],
                   check=True)
    with pytest.raises(KeyProblem, match="not an ed25519 key"):
        load_private_key(rsa)
    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(locked)],
                   check=True)
    with pytest.raises(KeyProblem, match="is encrypted"):
        load_private_key(locked)


def test_envelope_binds_type_and_payload(tmp_path: Path) -> None:
    key = create_keypair(tmp_path, "bob")
    other = create_keypair(tmp_path, "mallory")
    ring = {key.key_id: key.public}
    env = sign_envelope(b'{"a":1}', [key])
    assert verify_envelope(env, ring) == (b'{"a":1}', [key.key_id])
    swapped = dict(env, payload=base64.b64encode(b'{"a":2}').decode())
    with pytest.raises(EnvelopeError, match="no valid signature"):
        verify_envelope(swapped, ring)
    with pytest.raises(EnvelopeError, match="payload type"):
        verify_envelope(dict(env, payloadType="text/plain"), ring)
    with pytest.raises(EnvelopeError, match="no valid signature"):
        verify_envelope(sign_envelope(b'{"a":1}', [other]), ring)
    # a signature claiming the pinned key id, made by another key
    forged = sign_envelope(b'{"a":1}', [other])
    forged["signatures"][0]["keyid"] = key.key_id
    with pytest.raises(EnvelopeError):
        verify_envelope(json.dumps(forged), ring)
    with pytest.raises(EnvelopeError, match="malformed"):
        verify_envelope("{not json", ring)


def test_registry_signer_is_referenced_never_created(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPECOPS_REGISTRY_KEY", raising=False)
    with pytest.raises(SignerMissing, match="no registry signing key"):
        registry_signer(tmp_path, None)
    with pytest.raises(SignerMissing, match="is missing; restore it"):
        registry_signer(tmp_path, "keys/pipeline")
    assert list(tmp_path.iterdir()) == []
    made = create_keypair(tmp_path / "keys", "pipeline")
    assert registry_signer(tmp_path, "keys/pipeline").key_id == made.key_id
    monkeypatch.setenv("SPECOPS_REGISTRY_KEY", str(tmp_path / "nowhere"))
    with pytest.raises(SignerMissing, match="nowhere is missing"):
        registry_signer(tmp_path, "keys/pipeline")
