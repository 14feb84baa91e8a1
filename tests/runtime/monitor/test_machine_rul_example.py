"""examples/machine-rul end to end: a regression from windowed sensor aggregates.

What a bug would break here, step by step, as a user runs the example's README:
- `specops run` (inline executor) makes the data and keys (prepare steps), computes the
  point-in-time windows, trains, evaluates regression metrics per machine type, passes the
  rmse/mae/r2 gates, registers a signed version and auto-approves it (low risk);
- the headline prints regression metrics (rmse, mae, r2), good enough to mean something;
- a gate tightened beyond reach (`--var max_rmse=1`) stops the run naming the check;
- the fortnight after the training data, undrifted, raises no data-drift or performance
  alert (the fleet is in steady state; only sampling noise);
- the same fortnight drifted (`--next --drift`: the site runs hotter and rougher) raises a
  data-drift alert on exactly the temperature and vibration windows, not on pressure,
  speed or operating hours, plus prediction drift and realised rmse above its bound;
- the model report renders the regression evidence.

The example is copied to a temporary folder so nothing is written into the repository.
The session's registry key is removed from the environment so the example signs with the
keys its own prepare step makes, as on a fresh clone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "machine-rul"
SHIFTED = {"temp_mean_24h", "temp_max_24h", "vib_mean_24h", "vib_std_24h", "vib_mean_7d"}
UNSHIFTED = {"pressure_mean_24h", "rpm_mean_24h", "operating_hours", "readings_24h"}

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    drop = ("SPECOPS_REGISTRY_KEY", "SPECOPS_REGISTRY_PUBKEYS", "SPECOPS_USER", "SPECOPS_KEY",
            "SPECOPS_STORE_URL")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _specops(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", *args],
                          capture_output=True, text=True, cwd=root, env=_env(), timeout=600)


def _python(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=root,
                          env=_env(), timeout=300)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("rul") / "machine-rul"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(
        "data", ".keys", ".specops", "trust.lock.json", "__pycache__"))
    lint = _specops(root, "lint")
    assert lint.returncode == 0 and "0 errors" in lint.stderr, lint.stdout + lint.stderr
    run = _specops(root, "run", "--executor", "inline")
    assert run.returncode == 0, run.stdout + run.stderr
    return root, run.stdout + run.stderr


def test_run_trains_gates_registers_and_auto_approves(project: tuple[Path, str]) -> None:
    root, log = project
    for step in ("features:sensor_windows@1", "training_set:pump_rul", "train:pump_rul",
                 "evaluate:pump_rul", "gate:pump_rul:accuracy",
                 "gate:pump_rul:serving_budget", "register:pump_rul", "approval:pump_rul"):
        assert f"done {step}" in log, log
    m = re.search(r"pump_rul: test rmse ([0-9.]+), mae ([0-9.]+), r2 ([0-9.]+)", log)
    assert m is not None, log
    rmse, mae, r2 = map(float, m.groups())
    assert 0 < mae <= rmse <= 100 and r2 >= 0.75
    listed = _specops(root, "approvals", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["ref"], r["state"]) for r in rows] == [("pump_rul@1", "approved")], \
        listed.stdout
    verify = _specops(root, "models", "verify", "pump_rul@1")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _signals(doc: dict[str, object], name: str) -> list[dict[str, object]]:
    return [next(s for s in w["signals"] if s["name"] == name)  # type: ignore[index]
            for w in doc["windows"]]  # type: ignore[attr-defined]


def test_drifted_fortnight_alerts_on_exactly_the_shifted_windows(
        project: tuple[Path, str]) -> None:
    root, _ = project
    # the monitor evaluates each window once (its hygiene state is in the store), so the
    # undrifted fortnight is watched from a copy of the project
    twin = root.with_name("twin")
    shutil.copytree(root, twin)
    gen = _python(twin, "generate_data.py", "--next")
    assert gen.returncode == 0, gen.stderr
    quiet = _specops(twin, "monitor", "pump_rul", "--current", "data/next_snapshots.parquet",
                     "--json")
    assert quiet.returncode == 0, quiet.stderr
    calm = json.loads(quiet.stdout)
    assert [s["level"] for s in _signals(calm, "data_drift")] == ["ok", "ok"]
    assert [s["level"] for s in _signals(calm, "performance")] == ["ok", "ok"]
    assert not calm["alerts"] or {a["signal"] for a in calm["alerts"]} == {"prediction_drift"}
    gen = _python(root, "generate_data.py", "--next", "--drift")
    assert gen.returncode == 0, gen.stderr
    mon = _specops(root, "monitor", "pump_rul", "--current", "data/next_snapshots.parquet",
                   "--json")
    assert mon.returncode == 0, mon.stderr
    doc = json.loads(mon.stdout)
    assert doc["version"] == "pump_rul@1" and doc["columns"]["time"] == "snapshot_at"
    assert set(doc["in_breach"]) >= {"data_drift", "prediction_drift", "performance"}
    fired = {a["signal"] for a in doc["alerts"]}
    assert "data_drift" in fired, doc["alerts"]
    for window in doc["windows"]:
        drift = next(s for s in window["signals"] if s["name"] == "data_drift")
        assert drift["level"] == "alert"
        features = set(drift["details"]["features"])
        assert features >= SHIFTED and not (features & UNSHIFTED), features
        perf = next(s for s in window["signals"] if s["name"] == "performance")
        assert perf["level"] == "alert" and "rmse=" in perf["reason"]
    assert (root / ".specops" / "monitor" / "pump_rul" / "monitor.html").is_file()


def test_report_renders_the_regression_evidence(project: tuple[Path, str],
                                                tmp_path: Path) -> None:
    root, _ = project
    out = tmp_path / "report.html"
    r = _specops(root, "report", "pump_rul@1", "-o", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    html = out.read_text(encoding="utf-8")
    for text in ("pump_rul", "HistGradientBoostingRegressor", "Performance by machine_type",
                 "rmse &lt;= 100", "mae &lt;= 60", "r2 &gt;= 0.75", "vib_mean_7d"):
        assert text in html, text


def test_a_gate_beyond_reach_stops_the_run_naming_the_check(
        project: tuple[Path, str]) -> None:
    root, _ = project
    r = _specops(root, "run", "--executor", "inline", "--var", "max_rmse=1")
    assert r.returncode != 0
    assert "rmse <= 1" in r.stderr and "rejected" in r.stderr, r.stderr
    assert "done train:pump_rul" not in r.stderr      # only the gate was recomputed
