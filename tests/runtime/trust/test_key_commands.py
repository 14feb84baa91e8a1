"""`specops keys new|list|show`: OpenSSH ed25519 files, 0600, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from specops.compiler.cli.main import main
from specops.runtime.trust.ssh_keys import load_private_key


def test_keys_new_list_show(tmp_path: Path, capsys: Any,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECOPS_KEYS_DIR", str(tmp_path / "default"))
    assert main(["keys", "new", "bob"]) == 0
    out = capsys.readouterr().out
    key = load_private_key(tmp_path / "default" / "bob")
    assert key.key_id in out and out.splitlines()[1].startswith("ssh-ed25519 ")
    assert stat.S_IMODE((tmp_path / "default" / "bob").stat().st_mode) == 0o600
    original = (tmp_path / "default" / "bob").read_bytes()
    assert main(["keys", "new", "bob"]) == 2
    assert "refusing to replace a key" in capsys.readouterr().err
    assert (tmp_path / "default" / "bob").read_bytes() == original
    assert main(["keys", "new", "carol", "--dir", str(tmp_path / "other")]) == 0
    capsys.readouterr()
    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert "bob" in listed and key.key_id in listed and "carol" not in listed
    assert main(["keys", "show", "bob"]) == 0
    assert f"fingerprint  {key.key_id}" in capsys.readouterr().out
    assert main(["keys", "show", "nobody"]) == 2
    assert "no public key" in capsys.readouterr().err
    assert main(["keys", "new", "../escape"]) == 2
    assert "bad key name" in capsys.readouterr().err
