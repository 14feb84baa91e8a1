"""`specops audit checkpoint | verify` on a real project (real registry, SQLite store), and
the attacks a user with the store file makes through the plain sqlite3 module: each is
refused by the database or detected, with exit 1 and one line; key mistakes exit 2."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from report_fixture import build

from specops.compiler.cli.main import main
from specops.runtime.governance.ledger.checkpoint import load_verifier, open_note

ORIGIN = "specops/credit_risk/audit"
REFUSED = r"append-only|audit_head: only the genesis|audit_head may only advance"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("built") / "proj"
    gov, _m, _v = build(root)
    gov.close()
    return root


@pytest.fixture
def proj(built, tmp_path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(built, root, symlinks=True)
    return root


def _write_key(path: Path, fmt: str = "openssh", mode: int = 0o600) -> str:
    """An Ed25519 key as `ssh-keygen -t ed25519` writes it; returns the .pub line."""
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH if fmt == "openssh"
        else serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    path.chmod(mode)
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                        serialization.PublicFormat.OpenSSH).decode()
    path.with_suffix(".pub").write_text(pub + " auditor@example\n")
    return pub


def _run(proj: Path, *argv: str) -> int:
    return main(["audit", *argv, "--project", str(proj)])


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _sql(proj: Path, *statements: str) -> None:
    """The store file opened with the plain sqlite3 module, as any user who can read and
    write it can; triggers are dropped first when the attack needs it."""
    db = sqlite3.connect(proj / ".specops" / "store.db")
    try:
        for s in statements:
            db.execute(s)
        db.commit()
    finally:
        db.close()


DROP = [f"DROP TRIGGER IF EXISTS {t}" for t in (
    "audit_log_no_update", "audit_log_no_delete", "audit_log_extend_only",
    "audit_head_no_delete", "audit_head_genesis_only", "audit_head_advance_only")]


def test_checkpoint_then_verify(proj, tmp_path, capsys):
    pub = _write_key(tmp_path / "audit_ed25519")
    cp = tmp_path / "witness" / "audit.checkpoint"
    cp.parent.mkdir()
    assert _run(proj, "checkpoint", "-o", str(cp), "--key", str(tmp_path / "audit_ed25519")) == 0
    err = capsys.readouterr().err
    vkey = err.split("--key-pub '")[1].split("'")[0]
    text = cp.read_text()
    lines = text.split("\n")
    assert lines[0] == ORIGIN and lines[1] == "7" and lines[3] == ""
    assert lines[4].startswith(f"\u2014 {ORIGIN} ")
    checkpoint, names = open_note(text, [load_verifier(vkey)])
    assert checkpoint.size == 7 and names == [ORIGIN]
    for key_pub in (vkey, pub, str(tmp_path / "audit_ed25519.pub")):
        assert _run(proj, "verify", "--checkpoint", str(cp), "--key-pub", key_pub) == 0
        out = capsys.readouterr().out
        assert "audit chain ok: 7 entries" in out and f"extends checkpoint {cp}" in out
        assert ("cross-check ok: 2 approval votes, 2 deployments, 1 approval requests, "
                "1 registry versions") in out
    # the log grows, the next checkpoint replaces the first only because it extends it
    assert _run(proj, "checkpoint", "-o", str(cp), "--key", str(tmp_path / "audit_ed25519")) == 0


def test_key_mistakes_exit_2_and_never_make_a_key(proj, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SPECOPS_AUDIT_KEY", raising=False)
    monkeypatch.delenv("SPECOPS_AUDIT_KEY_PUB", raising=False)
    cp = tmp_path / "cp"
    assert _run(proj, "checkpoint", "-o", str(cp)) == 2
    assert "--key" in _one_line(capsys)
    missing = tmp_path / "keys" / "audit_ed25519"
    assert _run(proj, "checkpoint", "-o", str(cp), "--key", str(missing)) == 2
    assert "never generated silently" in _one_line(capsys)
    assert not missing.exists() and not missing.parent.exists() and not cp.exists()
    _write_key(tmp_path / "loose", mode=0o644)
    assert _run(proj, "checkpoint", "-o", str(cp), "--key", str(tmp_path / "loose")) == 2
    assert "accessible by group or others" in _one_line(capsys)
    ecdsa = tmp_path / "ecdsa"
    ecdsa.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ecdsa.chmod(0o600)
    assert _run(proj, "checkpoint", "-o", str(cp), "--key", str(ecdsa)) == 2
    assert "is not an Ed25519 key" in _one_line(capsys)
    store_dir = proj / ".specops" / "audit.checkpoint"
    _write_key(tmp_path / "k", fmt="pem")
    assert _run(proj, "checkpoint", "-o", str(store_dir), "--key", str(tmp_path / "k")) == 2
    assert "outside the store's folder" in _one_line(capsys)
    assert _run(proj, "checkpoint", "-o", str(cp), "--key", str(tmp_path / "k")) == 0
    capsys.readouterr()
    assert _run(proj, "verify", "--checkpoint", str(cp)) == 2
    assert "--key-pub" in _one_line(capsys)


def test_rewrites_through_sqlite3_are_refused(proj, capsys):
    cols = "(seq, at, actor, action, target, reason, details, prev_hash, hash)"
    row = f"(4, 'x', 'mallory', 'approve', 'credit_default@1', '', '{{}}', '{'0' * 64}', 'h')"
    for stmt in (f"INSERT OR REPLACE INTO audit_log {cols} VALUES {row}",
                 f"REPLACE INTO audit_log {cols} VALUES {row}",
                 f"INSERT INTO audit_log {cols} VALUES {row} ON CONFLICT(seq) DO UPDATE "
                 "SET actor = excluded.actor",
                 "INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, 3, 'h')",
                 "UPDATE audit_head SET seq = 3", "DELETE FROM audit_head",
                 "DELETE FROM audit_log WHERE seq > 5"):
        with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
            _sql(proj, stmt)
    assert _run(proj, "verify") == 0


def test_wipe_and_truncation_are_detected(proj, tmp_path, capsys):
    _write_key(tmp_path / "k")
    cp = tmp_path / "cp"
    assert _run(proj, "checkpoint", "-o", str(cp), "--key", str(tmp_path / "k")) == 0
    capsys.readouterr()
    _sql(proj, *DROP, "DELETE FROM audit_log",
         f"UPDATE audit_head SET seq = 0, hash = '{'0' * 64}'")
    assert _run(proj, "verify") == 1     # no longer "ok: 0 entries"
    err = _one_line(capsys)
    assert err.startswith("specops: refused: cross-check: approval_votes row 1 (approve "
                          "credit_default@1 by bob as model_risk_officer): its audit entry 4 "
                          "is missing (the log has 0 entries)")
    pub = str(tmp_path / "k.pub")
    assert _run(proj, "verify", "--checkpoint", str(cp), "--key-pub", pub) == 1
    assert _one_line(capsys).startswith("specops: refused: checkpoint "
                                        f"{cp}: entry 1: truncated: the checkpoint records 7 "
                                        "entries, the log has 0; entries 1..7 are gone")
    assert _run(proj, "checkpoint", "-o", str(cp), "--key", str(tmp_path / "k")) == 1
    assert "refusing to sign a checkpoint" in _one_line(capsys)


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_a_key_made_by_ssh_keygen_signs(proj, tmp_path, capsys):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "auditor",
                    "-f", str(key)], check=True)
    cp = tmp_path / "cp"
    assert _run(proj, "checkpoint", "-o", str(cp), "--key", str(key)) == 0
    assert _run(proj, "verify", "--checkpoint", str(cp), "--key-pub", f"{key}.pub") == 0
    assert "extends checkpoint" in capsys.readouterr().out
