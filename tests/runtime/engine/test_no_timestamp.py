"""A table without any timestamp (most tabular data) runs end to end: random split, a
feature view joined on the key alone, training, evaluation, gate, registration.

Why: before, such a project linted and compiled clean and then failed at run time ("the
spine needs a timestamp", "param 'timestamp' is required"). The fixture project is
tests/fixtures/projects/no_timestamp; the data is written here, as a CSV as it comes
(`?` for missing values).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

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


def test_project_without_timestamp_runs_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "no_timestamp"
    shutil.copytree(FIXTURE, root)
    _write_people(root / "data" / "people.csv")
    r = subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", "run", str(root),
                        "--executor", "inline"], capture_output=True, text=True, cwd=root,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
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
        assert f"done {step}" in r.stderr, r.stderr
