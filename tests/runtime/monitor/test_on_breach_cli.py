"""`monitoring: {on_breach: rollback}` end to end through `specops monitor`: a tiny project
trained twice (pd@1 on January, pd@2 on January and February), both approved by the
four-eyes rule and deployed in turn; a drifted March breaches pd@2, and the monitor pass
rolls production back to pd@1 as the pipeline, audited. A second breach on pd@1, which has
no earlier approved version, is refused, reported and audited; production stays."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from test_retrain import SPECOPS_YAML, SPECS, _cli, _loans


def _approve_and_deploy(root: Path, version: int) -> None:
    from specops.runtime.governance import Governance
    from specops.runtime.governance.approvals import approve
    from specops.runtime.governance.promotion import deploy

    gov = Governance.open(root)
    try:
        approve(gov, "bob", "pd", version, "model_risk_officer")
        approve(gov, "carol", "pd", version, "business_owner")
        deploy(gov, "alice", "pd", version, "production")
    finally:
        gov.close()


@pytest.mark.slow
def test_monitor_breach_rolls_production_back(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: Any) -> None:
    from specops.runtime.governance import Governance
    from specops.runtime.governance.ledger import audit
    from specops.runtime.governance.promotion import current

    monkeypatch.setenv("SPECOPS_USER", "alice")
    root = tmp_path / "proj"
    (root / "specs").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "specops.yaml").write_text(SPECOPS_YAML)
    specs = textwrap.dedent(SPECS).replace("  retrain_on: [data_drift]\n",
                                           "  on_breach: rollback\n")
    (root / "specs" / "all.yaml").write_text(specs)
    jan = _loans(800, 1, datetime(2025, 1, 1, tzinfo=UTC))
    jan.write_parquet(root / "data" / "loans.parquet")
    assert _cli(["run", str(root), "--executor", "inline", "-q"]) == 0
    _approve_and_deploy(root, 1)
    feb = _loans(400, 2, datetime(2025, 2, 1, tzinfo=UTC), shift=0.3, first=10_000)
    pl.concat([jan, feb]).write_parquet(root / "data" / "loans.parquet")
    assert _cli(["run", str(root), "--executor", "inline", "-q"]) == 0
    _approve_and_deploy(root, 2)
    capsys.readouterr()

    march = _loans(400, 3, datetime(2025, 3, 1, tzinfo=UTC), shift=2.0, first=20_000)
    march.write_parquet(root / "data" / "mar.parquet")
    args = ["monitor", "pd", "--project", str(root), "--current", "data/mar.parquet",
            "--json", "--now", "2025-04-15T00:00:00", "--no-webhook"]
    assert _cli(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == "pd@2" and "data_drift" in doc["in_breach"]
    assert doc["self_healing"]["status"] == "rolled_back", doc["self_healing"]
    assert (doc["self_healing"]["from"], doc["self_healing"]["to"]) == (2, 1)
    gov = Governance.open(root)
    try:
        assert current(gov, "pd", "production") == 1
        e = [x for x in audit.entries(gov.engine) if x.action == "auto_rollback"]
        assert len(e) == 1 and e[0].target == "pd@1" and e[0].actor == "specops"
        assert e[0].details["breach"]["signals"] == doc["in_breach"]
    finally:
        gov.close()

    # pd@1 serves now and breaches too: nothing earlier was approved -> refused, reported
    assert _cli([*args, "--reset-state"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == "pd@1"
    assert doc["self_healing"]["status"] == "refused"
    assert "no earlier version of pd in production is approved now" in \
        doc["self_healing"]["reason"]
    gov = Governance.open(root)
    try:
        assert current(gov, "pd", "production") == 1
        refused = [x for x in audit.entries(gov.engine)
                   if x.action == "auto_rollback_refused"]
        assert [x.target for x in refused] == ["pd@1"]
        assert audit.verify(gov.engine)[1] is None
    finally:
        gov.close()
