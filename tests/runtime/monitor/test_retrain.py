"""Drift-triggered retraining end to end on a tiny project: `specops monitor --retrain`
compiles the project, detects the drift, runs the model's pipeline on the sources as they
are now, and the new version goes through the gate and waits for its four-eyes approval.
Every trigger (and every one held back by the cooldown) is in the audit log."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from specops.runtime.monitor.retrain import decide

SPECOPS_YAML = """\
name: tiny
specs: ["specs/*.yaml"]
people:
  alice: {roles: [ml_engineer], teams: [risk]}
  bob: {roles: [model_risk_officer], teams: [validation]}
  carol: {roles: [business_owner], teams: [lending]}
"""

SPECS = """\
kind: source
name: loans
owner: team:risk
path: data/loans.parquet
entity: loan_id
timestamp: applied_at
columns:
  loan_id: {type: int64, nullable: false, unique: true}
  applied_at: {type: datetime, nullable: false}
  income: {type: float64}
  amount: {type: float64}
  region: {type: string}
  sex: {type: string, protected: true}
  defaulted: {type: int64, in: [0, 1]}
---
kind: gate
name: quality
checks:
  - "roc_auc >= 0.55"
---
kind: approval
name: four_eyes
rules:
  - when: "risk_tier == 'high'"
    require: {model_risk_officer: 1, business_owner: 1}
    separation_of_duties: true
---
kind: model
name: pd
owner: team:risk
authors: [alice]
risk_tier: high
task: binary_classification
limitations: synthetic
training:
  spine: loans
  label: {source: loans, column: defaulted}
  features: [loans.income, loans.amount, loans.region]
  protected: [loans.sex]
  split: {by: time, test_fraction: 0.25, seed: 1}
estimator:
  class: LogisticRegression
  params: {C: 1.0}
  cv: 2
  seed: 1
gates: [quality]
approval: four_eyes
monitoring:
  drift: {method: psi, warn: 0.1, alert: 0.25, min_samples: 50}
  window: 7d
  consecutive_windows: 2
  retrain_on: [data_drift]
  cooldown: 7d
"""


def _loans(n: int, seed: int, start: datetime, shift: float = 0.0, first: int = 0
           ) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50 + shift * 30, 10, n)
    amount = rng.normal(20 + shift * 15, 5, n)
    region = rng.choice(["n", "s", "e"], n, p=[0.2, 0.2, 0.6] if shift else [0.4, 0.3, 0.3])
    z = -(income - 50 - shift * 30) / 10 + (amount - 20 - shift * 15) / 5
    minutes = np.sort(rng.integers(0, 60 * 24 * 28, n))
    return pl.DataFrame({
        "loan_id": np.arange(first, first + n), "applied_at":
        [start + timedelta(minutes=int(m)) for m in minutes], "income": income,
        "amount": amount, "region": region, "sex": rng.choice(["F", "M"], n),
        "defaulted": (z + rng.normal(0, 1, n) > 0.5).astype(np.int64)})


def _cli(argv: list[str]) -> int:
    from specops.compiler.cli.main import main

    return main(argv)


@pytest.mark.slow
def test_drift_retrains_into_a_version_that_still_needs_approval(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from specops.runtime.governance import Governance
    from specops.runtime.governance.approvals import status
    from specops.runtime.governance.ledger import audit
    from specops.runtime.registry import Registry

    monkeypatch.setenv("SPECOPS_USER", "alice")
    root = tmp_path / "proj"
    (root / "specs").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "specops.yaml").write_text(SPECOPS_YAML)
    (root / "specs" / "all.yaml").write_text(textwrap.dedent(SPECS))
    jan = datetime(2025, 1, 1, tzinfo=UTC)
    _loans(800, 1, jan).write_parquet(root / "data" / "loans.parquet")
    assert _cli(["run", str(root), "--executor", "inline", "-q"]) == 0
    reg = Registry.open(root)
    assert [v.version for v in reg.versions("pd")] == [1]

    # February arrives, shifted; it lands in the source (with its outcomes)
    feb = _loans(400, 2, datetime(2025, 2, 1, tzinfo=UTC), shift=1.0, first=10_000)
    feb.write_parquet(root / "data" / "feb.parquet")
    old = pl.read_parquet(root / "data" / "loans.parquet")
    pl.concat([old, feb]).write_parquet(root / "data" / "loans.parquet")

    now = "2025-03-15T00:00:00"
    args = ["monitor", "pd", "--project", str(root), "--current", "data/feb.parquet",
            "--retrain", "--json", "--now", now, "--no-webhook"]
    assert _cli(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert any(a["signal"] == "data_drift" for a in doc["alerts"])
    rt = doc["retrain"]
    assert rt["status"] == "new_version", rt
    assert rt["version"] == "pd@2" and rt["approval"] == "open"
    versions = reg.versions("pd")
    assert [v.version for v in versions] == [1, 2]
    assert versions[-1].status == "registered"      # passed its gate
    gate_report = json.loads((versions[-1].path / "gate_report.quality.json").read_text())
    assert gate_report["passed"]
    assert (versions[-1].path / "profile" / "profile.json").is_file()

    gov = Governance.open(root)
    try:
        st = status(gov, "pd", 2)
        assert st.state == "open" and not st.approved   # nobody approved it yet
        log = list(audit.entries(gov.engine, target="pd"))
        actions = [e.action for e in log]
        assert actions == ["retrain_trigger", "retrain_result"]
        trigger, result = log
        assert trigger.actor == "alice" and trigger.details["run_id"] == rt["run_id"]
        assert trigger.details["alerts"][0]["signal"] == "data_drift"
        assert result.details["version"] == "pd@2"
        assert audit.verify(gov.engine)[1] is None
    finally:
        gov.close()

    # the drift goes on: alerts may fire again, but the retrain cooldown holds
    march = _loans(400, 3, datetime(2025, 3, 1, tzinfo=UTC), shift=1.0, first=20_000)
    march.write_parquet(root / "data" / "mar.parquet")
    args[5] = "data/mar.parquet"
    args[args.index(now)] = "2025-03-16T00:00:00"
    assert _cli(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert any(a["signal"] == "data_drift" for a in doc["alerts"])
    assert doc["retrain"]["status"] == "cooldown"
    assert [v.version for v in reg.versions("pd")] == [1, 2]
    gov = Governance.open(root)
    try:
        actions = [e.action for e in audit.entries(gov.engine, target="pd")]
    finally:
        gov.close()
    assert actions[-1] == "retrain_skipped"
    assert actions.count("retrain_trigger") == 1
    report = Path(doc["reports"]["html"]).read_text()
    assert "Retraining" in report


def test_retrain_decision() -> None:
    day = 86400.0
    assert not decide(["data_drift"], [], 7 * day, None, 0).fire
    assert not decide(["prediction_drift"], ["data_drift"], 7 * day, None, 0).fire
    go = decide(["data_drift"], ["data_drift", "performance"], 7 * day, None, 0)
    assert go.fire and go.signals == ["data_drift"]
    held = decide(["data_drift"], ["data_drift"], 7 * day, 0.0, 6 * day)
    assert not held.fire and held.held_by_cooldown and "cooldown" in held.reason
    assert decide(["data_drift"], ["data_drift"], 7 * day, 0.0, 7 * day).fire


def test_retrain_outcome_kinds(tmp_path: Path) -> None:
    """A cached register node replays the first registration: not a new version."""
    from types import SimpleNamespace

    from specops.runtime.monitor.retrain import _outcome

    reg_dir = tmp_path / "reg"
    reg_dir.mkdir()
    (reg_dir / "registration.json").write_text(json.dumps({"ref": "m@3", "created": True}))

    def result(cache_hit: bool, ok: bool = True) -> Any:
        reg = SimpleNamespace(status="done", path=reg_dir, cache_hit=cache_hit)
        failed = [] if ok else [SimpleNamespace(node_id="gate:m:q", cause="auc < 0.7")]
        return SimpleNamespace(nodes={"register:m": reg}, status="succeeded" if ok
                               else "failed", failed=failed, ok=ok)

    assert _outcome(result(False), "m")["status"] == "new_version"
    same = _outcome(result(True), "m")
    assert same["status"] == "unchanged" and "m@3" in same["reason"]
    bad = _outcome(result(False, ok=False), "m")
    assert bad["status"] == "failed" and "auc < 0.7" in bad["reason"]


@pytest.mark.slow
def test_unchanged_data_retrains_nothing_and_starts_no_cooldown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """Drift in the scored traffic while the sources hold no new rows: the fit would be
    the one already registered, so nothing is trained (decided from the cache key before
    training) and the cooldown does not start: next month's genuinely new data retrains."""
    from specops.runtime.governance import Governance
    from specops.runtime.governance.ledger import audit
    from specops.runtime.registry import Registry
    from specops.runtime.store import Store

    monkeypatch.setenv("SPECOPS_USER", "alice")
    root = tmp_path / "proj"
    (root / "specs").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "specops.yaml").write_text(SPECOPS_YAML)
    (root / "specs" / "all.yaml").write_text(textwrap.dedent(SPECS))
    _loans(800, 1, datetime(2025, 1, 1, tzinfo=UTC)).write_parquet(root / "data" /
                                                                   "loans.parquet")
    assert _cli(["run", str(root), "--executor", "inline", "-q"]) == 0
    feb = _loans(400, 2, datetime(2025, 2, 1, tzinfo=UTC), shift=1.0, first=10_000)
    feb.write_parquet(root / "data" / "feb.parquet")     # scored, not yet in the source
    args = ["monitor", "pd", "--project", str(root), "--current", "data/feb.parquet",
            "--retrain", "--json", "--now", "2025-03-15T00:00:00", "--no-webhook"]
    assert _cli(args) == 0
    first = json.loads(capsys.readouterr().out)
    rt = first["retrain"]
    assert rt["status"] == "unchanged", rt
    store = Store.from_url(None, root)
    try:
        runs = store.engine.connect().exec_driver_sql(
            "SELECT count(*) FROM node_runs WHERE node_id = 'train:pd' "
            "AND cache_hit = 0").scalar()
    finally:
        store.close()
    assert runs == 1                          # the first run's fit, no other
    # the next day February lands in the source: a real retrain, not held by a cooldown
    old = pl.read_parquet(root / "data" / "loans.parquet")
    pl.concat([old, feb]).write_parquet(root / "data" / "loans.parquet")
    args[args.index("2025-03-15T00:00:00")] = "2025-03-16T00:00:00"
    assert _cli(args) == 0
    second = json.loads(capsys.readouterr().out)
    rt = second["retrain"]
    assert rt["status"] == "new_version", rt
    assert [v.version for v in Registry.open(root).versions("pd")] == [1, 2]
    # each pass kept its own report; monitor.html is the latest
    html = [Path(d["reports"]["html"]) for d in (first, second)]
    assert html[0] != html[1] and all(p.is_file() for p in html)
    assert html[0].name.startswith("monitor-") and "Retraining" in html[0].read_text()
    assert (html[1].parent / "monitor.html").read_text() == html[1].read_text()
    gov = Governance.open(root)
    try:
        actions = [e.action for e in audit.entries(gov.engine, target="pd")]
    finally:
        gov.close()
    assert actions == ["retrain_skipped", "retrain_trigger", "retrain_result"]
