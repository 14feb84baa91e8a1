"""`specops evidence export|verify` through the real command line: exit codes and the
one-line causes an auditor sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evidence_helpers import governed_version
from trust_helpers import Project

from specops.compiler.cli.main import main
from specops.runtime.trust.ssh_keys import create_keypair


@pytest.fixture(autouse=True)
def _no_session_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SPECOPS_REGISTRY_KEY", "SPECOPS_REGISTRY_PUBKEYS", "SPECOPS_AUDIT_KEY",
                "SPECOPS_STORE_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def project(sqlite_project: Project) -> Iterator[Project]:
    reg = governed_version(sqlite_project)
    reg.close()
    yield sqlite_project


def _export(p: Project, out: Path, *extra: str) -> int:
    return main(["evidence", "export", "m@1", "-o", str(out), "--project", str(p.root),
                 *extra])


def test_export_then_verify_with_pins(project: Project, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "m1.evidence.json"
    key = str(project.root / ".keys" / "pipeline")
    assert _export(project, out, "--checkpoint-key", key) == 0
    assert "wrote the evidence bundle of m@1" in capsys.readouterr().err
    assert main(["evidence", "verify", str(out), "--trust", key + ".pub"]) == 0
    stdout = capsys.readouterr().out
    assert stdout.rstrip().endswith("VERIFIED")
    assert "carol (business_owner)" in stdout

    wrong = create_keypair(tmp_path / "w", "other")
    assert main(["evidence", "verify", str(out), "--trust", f"{wrong.path}.pub"]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "no valid signature by a pinned key" in err[0]

    assert main(["evidence", "verify", str(out)]) == 1
    captured = capsys.readouterr()
    assert "CONSISTENT ONLY" in captured.out and "nothing pinned" in captured.err
    assert main(["evidence", "verify", str(out), "--allow-unpinned"]) == 0

    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x04
    out.write_bytes(bytes(data))
    assert main(["evidence", "verify", str(out), "--trust", key + ".pub"]) == 1
    assert "specops: refused:" in capsys.readouterr().err


def test_export_against_an_audit_checkpoint_file(project: Project, tmp_path: Path,
                                                  capsys: Any) -> None:
    key = str(project.root / ".keys" / "pipeline")
    cp = tmp_path / "anchors" / "audit.checkpoint"
    cp.parent.mkdir()
    assert main(["audit", "checkpoint", "-o", str(cp), "--key", key,
                 "--project", str(project.root)]) == 0, capsys.readouterr().err
    out = tmp_path / "b.json"
    assert _export(project, out, "--checkpoint", str(cp)) == 0
    assert main(["evidence", "verify", str(out), "--trust", key + ".pub"]) == 0


def test_usage_mistakes_exit_2(project: Project, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "b.json"
    assert _export(project, out) == 2                      # no checkpoint, no key
    assert "--checkpoint-key" in capsys.readouterr().err
    assert _export(project, out, "--checkpoint-key", str(tmp_path / "nokey")) == 2
    assert main(["evidence", "export", "m", "-o", str(out), "--project",
                 str(project.root)]) == 2
    assert main(["evidence", "verify", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key\n")
    out.write_text("{}")
    assert main(["evidence", "verify", str(out), "--trust", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_export_of_an_unknown_version_is_refused(project: Project, tmp_path: Path,
                                                 capsys: Any) -> None:
    key = str(project.root / ".keys" / "pipeline")
    assert main(["evidence", "export", "m@9", "-o", str(tmp_path / "x"), "--project",
                 str(project.root), "--checkpoint-key", key]) == 1
    assert "m@9 does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("hostile", ["garbage", "[1, 2]", "{"])
def test_export_from_a_store_with_a_hostile_plan_is_one_line(project: Project, tmp_path: Path,
                                                             capsys: Any, hostile: str) -> None:
    # an insider rewrote the request's plan column: export refuses in one line (exit 1)
    # instead of crashing while the JSON column is fetched
    import sqlalchemy as sa

    engine = sa.create_engine(project.url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE approval_requests SET plan = ?", (hostile,))
    engine.dispose()
    key = str(project.root / ".keys" / "pipeline")
    assert _export(project, tmp_path / "x", "--checkpoint-key", key) == 1
    err = capsys.readouterr().err
    assert "is not readable" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
