"""A table without any timestamp (most tabular data) runs end to end: random split, a
feature view joined on the key alone, training, evaluation, gate, registration.

Why: before, such a project linted and compiled clean and then failed at run time ("the
spine needs a timestamp", "param 'timestamp' is required"). The fixture project is
tests/fixtures/projects/no_timestamp; the data is written here, as a CSV as it comes
(`?` for missing values).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "projects" / "no_timestamp"


def _write_people(path: Path, n: int = 1200) -> None:
    rng = np.random.default_rng(0)
    age = rng.integers(18, 80, n)
    hours = rng.normal(40, 8, n).clip(1, 99).round(1)
    education = rng.choice(["school", "college", "degree"], n)
    score = 0.04 * (age - 40) + 0.08 * (hours - 40) + (education == "degree") * 1.0
    label = (score + rng.logistic(0, 1, n) > 0.5).astype(int)
    lines = ["person_id,age,hours,education,income_gt_50k"]
    for i in range(n):
        h = "?" if i % 97 == 0 else str(hours[i])
        lines.append(f"{i},{age[i]},{h},{education[i]},{label[i]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", *args],
                          capture_output=True, text=True, cwd=root, timeout=600)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("nt") / "no_timestamp"
    shutil.copytree(FIXTURE, root)
    _write_people(root / "data" / "people.csv")
    r = _run(root, "run", str(root), "--executor", "inline")
    assert r.returncode == 0, r.stdout + r.stderr
    return root, r.stderr


def test_project_without_timestamp_runs_end_to_end(project: tuple[Path, str]) -> None:
    root, log = project
    objects = root / ".specops" / "artifacts" / "objects"
    trains = list(objects.glob("*/train.parquet"))
    assert len(trains) == 1
    train = pl.read_parquet(trains[0])
    test = pl.read_parquet(trains[0].with_name("test.parquet"))
    # random split on a table without time: 25 % of the 1200 rows, features joined by key
    assert (train.height, test.height) == (900, 300)
    assert {"long_hours", "log_hours", "age", "education"} <= set(train.columns)
    assert train["log_hours"].null_count() + test["log_hours"].null_count() == 13
    for step in ("evaluate:income", "gate:income", "register:income"):
        assert f"done {step}" in log, log


def test_run_shows_failed_warnings_and_headline_metrics(project: tuple[Path, str]) -> None:
    """A failed warning-severity check does not stop the run, but the run says so; the
    run ends with the selected candidate's test metrics (cache hits replay them)."""
    root, log = project
    assert ("specops: warning: gate quality on income: roc_auc >= 0.999 failed (" in log), log
    auc = re.search(r"^income: test roc_auc (0\.\d{4})", log, re.MULTILINE)
    assert auc is not None and 0.6 <= float(auc.group(1)) < 0.999, log
    again = _run(root, "run", str(root), "--executor", "inline")
    assert "specops: warning: gate quality on income" in again.stderr
    assert f"income: test roc_auc {auc.group(1)}" in again.stderr
    # the gate's summary counts the two written checks, not the built-in parity check
    db = sqlite3.connect(root / ".specops" / "store.db")
    message = db.execute("SELECT message FROM node_runs WHERE node_id = 'gate:income:quality'"
                         " ORDER BY rowid LIMIT 1").fetchone()[0]
    db.close()
    assert message.startswith("gate quality: 1/2 passed, ONNX parity ok"), message
    # warnings also in --quiet; the headline only in the normal output
    quiet = _run(root, "run", str(root), "--executor", "inline", "--quiet")
    assert "specops: warning: gate quality" in quiet.stderr
    assert "income: test" not in quiet.stderr


def _counts(log: str) -> str:
    return next(line for line in log.splitlines() if line.startswith("run "))


def test_rerun_after_registration_and_approval_is_all_cache_hits(
        project: tuple[Path, str]) -> None:
    """The run's own registration, and then an approval, must not make the next unchanged
    run recompute gate, register and approval (which would start Ray)."""
    root, _ = project
    again = _run(root, "run", str(root), "--executor", "inline")
    assert again.returncode == 0, again.stderr
    assert " 0 done, 11 cached" in _counts(again.stderr), again.stderr
    ok = _run(root, "approve", "income@1", "--role", "model_risk_officer", "--as", "bob",
              "--comment", "validated")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    after = _run(root, "run", str(root), "--executor", "inline")
    assert " 0 done, 11 cached" in _counts(after.stderr), after.stderr


def test_approving_a_rejected_version_names_the_gate(project: tuple[Path, str]) -> None:
    root, _ = project
    r = _run(root, "run", str(root), "--executor", "inline", "--var", "min_auc=0.99")
    assert r.returncode == 1 and "(rejected)" in r.stderr, r.stderr
    ref = re.search(r"recorded as (income@\d+) \(rejected\)", r.stderr)
    assert ref is not None, r.stderr
    no = _run(root, "approve", ref.group(1), "--role", "model_risk_officer", "--as", "bob",
              "--comment", "looks fine")
    assert no.returncode != 0
    assert f"{ref.group(1)} was rejected by gate quality (gate quality: " in no.stderr, \
        no.stderr
    assert "is it registered" not in no.stderr and no.stderr.count("\n") == 1


def test_a_moved_champion_recomputes_the_gate_and_a_reset_registry_register(
        project: tuple[Path, str]) -> None:
    from specops.runtime.registry import Registry

    root, _ = project
    reg = Registry.open(root)
    try:
        reg.set_alias("income", "production", 1, actor="test", reason="champion")
    finally:
        reg.close()
    r = _run(root, "run", str(root), "--executor", "inline")
    assert r.returncode == 0, r.stderr
    assert "done gate:income" in r.stderr, r.stderr    # judged against the champion now
    r = _run(root, "run", str(root), "--executor", "inline")
    assert " 0 done, 11 cached" in _counts(r.stderr), r.stderr
    store = sqlite3.connect(root / ".specops" / "store.db")
    with store:
        store.execute("UPDATE registry_versions SET content_digest = 'sha256:gone' "
                      "WHERE model = 'income'")
    store.close()
    r = _run(root, "run", str(root), "--executor", "inline")
    assert "cached register:income" not in r.stderr, r.stderr



def test_a_failed_validation_points_at_a_report_that_stays(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    shutil.copytree(FIXTURE, root)
    _write_people(root / "data" / "people.csv", n=50)
    csv = root / "data" / "people.csv"
    lines = csv.read_text().splitlines()
    cells = lines[4].split(",")
    lines[4] = ",".join([cells[0], "150", *cells[2:]])       # age 150 > max 100
    csv.write_text("\n".join(lines) + "\n")
    r = _run(root, "run", str(root), "--executor", "inline", "--select", "validate:*")
    assert r.returncode == 1, r.stderr
    m = re.search(r"Report: (\S+report\.txt)", r.stderr)
    assert m is not None, r.stderr
    report = Path(m.group(1))
    assert "/tmp/" not in report.relative_to(root).as_posix()
    assert report.is_file() and "age" in report.read_text(), r.stderr
