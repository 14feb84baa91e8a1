"""A hostile approval_requests.plan (red-team finding 5): an attacker with write access to
the SQLite store inserts a copy of the latest request whose plan is not JSON or is
ill-typed. `approvals list`, `approve` and `reject` must answer with an exit code and one
line (no traceback), and admission must refuse with ModelRefused: the request is void."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from governed import approve_and_deploy, governed

from specops.compiler.cli.main import main
from specops.runtime.governance.governance_tables import requests
from specops.runtime.serve.admission import ModelRefused
from specops.runtime.serve.served_model import load_model, resolve

HOSTILE = ["garbage", "[1,2]", '{"require":{"x":"x"}}', '{"expires_s":"x"}', "{"]


@pytest.fixture
def root(served_project: dict[str, Any], tmp_path: Path) -> Path:
    root = governed(served_project, tmp_path / "proj")
    approve_and_deploy(root)
    return root


def insert_hostile(root: Path, plan: str) -> int:
    """The attack: plain SQL on the store, a copy of the latest request with `plan`."""
    eng = sa.create_engine(f"sqlite:///{root / '.specops' / 'store.db'}")
    try:
        with eng.begin() as conn:
            row = conn.execute(sa.select(requests).order_by(requests.c.id.desc())).first()
            assert row is not None
            values = {k: v for k, v in row._mapping.items() if k not in ("id", "plan")}
            values["status"] = "open"
            rid = int(conn.execute(requests.insert().values(plan={}, **values))
                      .inserted_primary_key[0])
            conn.execute(sa.text("UPDATE approval_requests SET plan=:p WHERE id=:i"),
                         {"p": plan, "i": rid})
        return rid
    finally:
        eng.dispose()


def run(root: Path, *argv: str) -> int:
    return main([*argv, "--project", str(root)])


@pytest.mark.parametrize("plan", HOSTILE)
def test_admission_refuses_a_hostile_plan(root: Path, plan: str) -> None:
    load_model(resolve(root, None, "credit", "production"))   # served before the attack
    rid = insert_hostile(root, plan)
    with pytest.raises(ModelRefused) as info:
        load_model(resolve(root, None, "credit", "production"))
    cause = str(info.value)
    assert "\n" not in cause and f"request {rid}: its approval plan" in cause


@pytest.mark.parametrize("plan", HOSTILE)
def test_cli_answers_a_hostile_plan_in_one_line(root: Path, plan: str,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPECOPS_KEY", raising=False)
    rid = insert_hostile(root, plan)
    assert run(root, "approvals", "list", "--json") == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    assert '"voided"' in out.out and f"request {rid}: its approval plan" in out.out
    for argv in (["approve", "credit@1", "--role", "model_risk_officer", "--as", "bob"],
                 ["reject", "credit@1", "--as", "bob"]):
        assert run(root, *argv) == 1
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err and "\n" not in err
        assert "voided" in err and "its approval plan" in err
