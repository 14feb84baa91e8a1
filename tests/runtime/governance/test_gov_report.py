"""The model report renders from a real registered version, self-contained, with plots;
and the request_approval op plus the CLI drive the whole flow end to end."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from report_fixture import build

from specops.runtime.governance.ledger import audit as A
from specops.runtime.reports.model_report import render_report


def test_report_is_self_contained_and_complete(tmp_path):
    gov, model, version = build(tmp_path / "proj")
    html = render_report(gov, model, version)
    for heading in ("1. Executive summary", "2. Purpose, ownership and use",
                    "3. Data and lineage", "4. Conceptual soundness",
                    "5. Performance against a benchmark and the champion", "6. Fairness",
                    "7. Packaging and serving cost", "8. Ongoing monitoring plan",
                    "9. Approvals and signatures", "10. Deployment history",
                    "11. Audit trail", "12. Where each expectation is answered"):
        assert heading in html
    # ROC, calibration, importance, rates by age and by sex, sensitivity to 4 inputs
    assert html.count('class="chart" data-chart=') == 9
    assert "Rates by sex" in html and "Rates by age" in html
    assert "calibration acceptable" in html and "carol" in html
    assert "Trained on synthetic applicants" in html
    assert "<title>credit_default version 1: model documentation</title>" in html
    assert "superseded" not in html
    assert not re.search(r"<script[^>]+src=", html)           # the chart library is inline
    assert not re.search(r"(src|href)=\"https?://", html)   # nothing fetched
    assert "verified" in html and "BROKEN" not in html
    gov.close()


def test_cli_flow_and_exit_codes(tmp_path, capsys, monkeypatch):
    from specops.compiler.cli.main import main

    gov, _model, _version = build(tmp_path / "proj")
    gov.close()
    proj = str(tmp_path / "proj")
    monkeypatch.delenv("SPECOPS_USER", raising=False)

    def run(*argv: str) -> int:
        return main([*argv, "--project", proj])

    assert run("approvals", "list") == 0
    assert "credit_default@1" in capsys.readouterr().out
    assert run("audit", "verify") == 0
    assert "audit chain ok" in capsys.readouterr().out
    # refused actions: exit 1, one line, no traceback
    assert run("deploy", "credit_default@1", "--env", "production", "--as", "bob") == 1
    err = capsys.readouterr().err
    assert err.startswith("specops: refused: bob may not deploy") and err.count("\n") == 1
    assert run("rollback", "credit_default", "--env", "production", "--as", "frank") == 1
    assert "nothing to roll back to" in capsys.readouterr().err
    # usage mistakes: exit 2
    assert run("approve", "credit_default", "--role", "x", "--as", "bob") == 2
    assert run("deploy", "credit_default@9", "--env", "staging", "--as", "frank") == 2
    assert "does not exist" in capsys.readouterr().err
    assert run("deployments", "credit_default") == 0
    out = capsys.readouterr().out
    assert "production" in out and "staging" in out
    out_file = tmp_path / "audit.jsonl"
    assert run("audit", "export", "-o", str(out_file)) == 0
    actions = [line.split('"action":"')[1].split('"')[0]
               for line in out_file.read_text().splitlines()]
    assert actions == ["config_change", "register", "request_approval", "approve", "approve",
                       "deploy", "deploy"]
    report = tmp_path / "r.html"
    assert run("report", "credit_default@1", "-o", str(report)) == 0
    assert "vegaEmbed" in report.read_text()
    # tamper with the signed model file: deploys are refused from now on
    onnx = tmp_path / "proj/.specops/artifacts/registry/credit_default/1/model.onnx"
    onnx.chmod(0o644)
    onnx.write_bytes(b"tampered")
    assert run("deploy", "credit_default@1", "--env", "staging", "--as", "frank") == 1
    assert "fails verification: model.onnx: content changed" in capsys.readouterr().err
    assert run("rollback", "credit_default", "--env", "staging", "--as", "frank") == 1
    assert "nothing to roll back" in capsys.readouterr().err


def test_cli_audit_verify_names_the_entry(tmp_path, capsys):
    from specops.compiler.cli.main import main

    gov, _m, _v = build(tmp_path / "proj")
    with gov.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.execute(A.log.update().where(A.log.c.seq == 4).values(reason="rubber stamp"))
    gov.close()
    assert main(["audit", "verify", "--project", str(tmp_path / "proj")]) == 1
    assert "entry 4: edited" in capsys.readouterr().err


@pytest.mark.slow
def test_report_screenshot_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    script = Path(__file__).resolve().parents[3] / "docs" / "screenshot_report.py"
    png = tmp_path / "report.png"
    proc = subprocess.run([sys.executable, str(script), "--out", str(png), "--workdir",
                           str(tmp_path / "w"), "--height", "1600"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "9 charts drawn" in proc.stdout
    assert png.stat().st_size > 20_000


def test_cli_module_stays_light():
    """Building the parser (done for `specops lint` too) must not import the store."""
    from specops.runtime.cli import governance_commands as cli_governance
    from specops.runtime.governance.promotion import ENVIRONMENTS

    assert cli_governance.ENVIRONMENTS == ENVIRONMENTS
    code = ("import sys; from specops.compiler.cli.main import build_parser; build_parser(); "
            "print(any(m.startswith(('sqlalchemy', 'specops.runtime.governance')) "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
