"""The commands: `specops deploy --canary/--shadow` (with the staging check a production
deploy needs), `specops rollout status|evaluate|abort`, exit codes and one-line causes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rollout_projects import signed_project

from specops.compiler.cli.main import main


def test_deploy_canary_status_and_abort(served_project: dict[str, Any], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    s, v = signed_project(served_project, tmp_path / "proj")
    root = str(s.root)
    frank = str(s.root / ".keys" / "frank")
    base = ["--project", root, "--key", frank]
    # the same rules as a full deploy: production needs a passed staging check first
    assert main(["deploy", f"credit@{v}", "--env", "production", "--canary", "10", *base]
                ) == 1
    assert "staging" in capsys.readouterr().err
    assert main(["deploy", f"credit@{v}", "--env", "staging", *base]) == 0
    assert main(["deploy", f"credit@{v}", "--env", "production", "--canary", "10",
                 "--shadow", *base]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert main(["deploy", f"credit@{v}", "--env", "production", "--canary", "150",
                 *base]) == 1
    err = capsys.readouterr().err
    assert "between 0 and 100" in err and len(err.strip().splitlines()) == 1
    capsys.readouterr()
    assert main(["deploy", f"credit@{v}", "--env", "production", "--canary", "10",
                 "--sticky-key", "age", *base]) == 0
    out = capsys.readouterr().out
    assert f"credit@{v} rolls out in production beside @1: canary 10% of requests, " \
           "sticky by age" in out
    # one rollout at a time per model and environment
    assert main(["deploy", f"credit@{v}", "--env", "production", "--shadow", *base]) == 1
    assert "already rolling out" in capsys.readouterr().err
    assert main(["rollout", "status", "credit", "--project", root, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["rollout"]["share"] == 10.0 and doc["rollout"]["sticky_key"] == "age"
    assert doc["problem"] is None and doc["arms"]["challenger"]["requests"] == 0
    assert main(["rollout", "evaluate", "credit", "--project", root]) == 2
    assert "no `rollout:` rules" in capsys.readouterr().err
    assert main(["rollout", "abort", "credit", "--project", root, "--key",
                 str(s.root / ".keys" / "bob")]) == 1
    assert "bob may not rollback" in capsys.readouterr().err
    assert main(["rollout", "abort", "credit", "--project", root, "--key", frank]) == 0
    assert "@1 serves everything" in capsys.readouterr().out
    assert main(["rollout", "status", "credit", "--project", root]) == 2
    assert "no rollout of credit is running in production" in capsys.readouterr().err
