"""The staging check: contract tests against a live endpoint, recorded per digest, run
by `specops deploy --env staging` and required by `specops deploy --env production`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from serve_helpers import copy_project

from specops.compiler.cli.main import main
from specops.runtime.governance import Governance
from specops.runtime.governance.approvals import approve, open_request
from specops.runtime.governance.promotion import current
from specops.runtime.serve.staging import latest_check, stage_and_check

PROJECT_YAML = """name: serve_test
people:
  alice: {roles: [ml_engineer], teams: [credit_risk]}
  bob: {roles: [model_risk_officer], teams: [model_validation]}
  frank: {roles: [platform_engineer], teams: [platform]}
permissions:
  deploy: [platform_engineer]
  approve: [model_risk_officer]
"""

FACTS: dict[str, Any] = {
    "owner": "team:credit_risk", "authors": ["alice"], "risk_tier": "high",
    "task": "binary_classification",
    "approval": {"name": "risk", "environments": ["production"], "rules": [
        {"index": 0, "applies": True, "when": {"op": "lit", "value": True},
         "require": {"model_risk_officer": 1}, "separation_of_duties": True,
         "auto_approve": False, "expires_s": None}]}}


@pytest.fixture
def project(served_project: dict[str, Any], tmp_path: Path) -> Path:
    root = copy_project(served_project, tmp_path / "proj")
    (root / "specops.yaml").write_text(PROJECT_YAML)
    return root


def test_contract_tests_pass_for_a_good_model(project: Path) -> None:
    gov = Governance.open(project)
    try:
        report = stage_and_check(project, None, gov.registry, "credit", 1)
    finally:
        gov.close()
    assert report["passed"], report
    assert [c["name"] for c in report["checks"]] == ["ready", "metadata", "scores",
                                                     "refuses_malformed"]
    assert "within" in report["checks"][2]["detail"]


def test_deploy_runs_staging_check_and_production_requires_it(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--project", str(project), "--as", "frank"]
    gov = Governance.open(project)
    digest = gov.version("credit", 1).model_digest
    open_request(gov, model="credit", version=1, model_digest=digest, spec_hash="s",
                 facts=FACTS, trigger="alice")
    approve(gov, "bob", "credit", 1, "model_risk_officer")
    try:
        assert main(["deploy", "credit@1", "--env", "production", *common]) == 1
        assert "no staging check" in capsys.readouterr().err
        assert main(["deploy", "credit@1", "--env", "staging", *common]) == 0
        check = latest_check(gov.engine, "credit", digest)
        assert check is not None and check["passed"] and check["version"] == 1
        assert main(["deploy", "credit@1", "--env", "production", *common]) == 0
        assert current(gov, "credit", "production") == 1
    finally:
        gov.close()


def test_a_failed_staging_check_blocks_production(project: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from specops.runtime.serve.staging import record

    gov = Governance.open(project)
    digest = gov.version("credit", 1).model_digest
    record(gov.engine, {"model": "credit", "version": 1, "passed": False, "checks": []},
           digest)
    open_request(gov, model="credit", version=1, model_digest=digest, spec_hash="s",
                 facts=FACTS, trigger="alice")
    approve(gov, "bob", "credit", 1, "model_risk_officer")
    gov.close()
    rc = main(["deploy", "credit@1", "--env", "production", "--project", str(project),
               "--as", "frank"])
    assert rc == 1 and "last staging check" in capsys.readouterr().err
