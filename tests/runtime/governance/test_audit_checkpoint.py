"""The C2SP signed-note and tlog-checkpoint encodings: the reference vector of
golang.org/x/mod/sumdb/note verifies; our notes round-trip; malformed or re-signed notes
and bad keys are refused with a reason."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from specops.runtime.governance.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    format_body,
    load_verifier,
    open_note,
    parse_body,
    sign_note,
    verifier_key,
)

# golang.org/x/mod/sumdb/note documentation example
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_SIG = ("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
          "BwJnAM=")


def test_go_reference_note_signature_verifies() -> None:
    v = load_verifier(GO_VKEY)
    blob = base64.b64decode(GO_SIG)
    assert v.name == "PeterNeumann" and blob[:4].hex() == "c74f20a3"
    assert v.accepts("PeterNeumann", blob[:4], GO_TEXT.encode(), blob[4:])
    assert not v.accepts("PeterNeumann", blob[:4], GO_TEXT.replace("answer", "Answer")
                         .encode(), blob[4:])
    assert verifier_key("PeterNeumann", v.public) == GO_VKEY


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**40), st.binary(min_size=32, max_size=32),
       st.binary(min_size=32, max_size=32))
def test_checkpoint_round_trip_and_any_flipped_byte_fails(size: int, root: bytes,
                                                          seed: bytes) -> None:
    signer = Signer("example.com/log", ed25519.Ed25519PrivateKey.from_private_bytes(seed))
    cp = Checkpoint("example.com/log", size, root)
    note = sign_note(format_body(cp), [signer])
    pinned = [load_verifier(verifier_key(signer.name, signer.public))]
    assert open_note(note, pinned) == (cp, ["example.com/log"])
    raw = bytearray(note.encode())
    for i in range(0, len(raw), 7):
        flipped = bytearray(raw)
        flipped[i] ^= 0x01
        try:
            text = flipped.decode()
        except UnicodeDecodeError:
            continue
        with pytest.raises(CheckpointError):
            open_note(text, pinned)


def test_malformed_checkpoints_and_keys_are_refused(tmp_path) -> None:
    for body in ("o\n1\n", "o\nx\nAAAA\n", "o\n01\n" + "A" * 44 + "\n", "o\n1\nnot-base64\n",
                 "o\n1\n" + base64.b64encode(b"x" * 31).decode() + "\n"):
        with pytest.raises(CheckpointError, match="not a checkpoint"):
            parse_body(body)
    signer = Signer("log", ed25519.Ed25519PrivateKey.generate())
    note = sign_note(format_body(Checkpoint("log", 1, bytes(32))), [signer])
    with pytest.raises(CheckpointError, match="no signature block"):
        open_note(note.split("\n\n")[0] + "\n", [])
    with pytest.raises(CheckpointError, match="no valid signature by a pinned key"):
        open_note(note, [load_verifier(verifier_key(
            "log", ed25519.Ed25519PrivateKey.generate().public_key()))])
    with pytest.raises(CheckpointError, match="does not match its key"):
        load_verifier(GO_VKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(CheckpointError, match="cannot read public key"):
        load_verifier(str(tmp_path / "missing.pub"))
    with pytest.raises(CheckpointError, match="bad checkpoint line"):
        format_body(Checkpoint("two\nlines", 1, bytes(32)))
