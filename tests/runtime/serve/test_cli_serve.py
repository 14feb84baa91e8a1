"""`specops predict` and `specops serve` from the command line."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from serve_helpers import copy_project

from specops.compiler.cli.main import main


def test_predict_cli_writes_scores_with_keys(served_project: dict[str, Any], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.csv"
    served_project["test"].write_csv(src)
    out = tmp_path / "scores.parquet"
    rc = main(["predict", "credit@1", "--project", str(served_project["root"]), "-i",
               str(src), "-o", str(out), "--executor", "inline", "--keep", "id,ts"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "credit@1" and summary["rows"] == served_project["test"].height
    assert pl.read_parquet(out).columns[:3] == ["id", "ts", "label"]


def test_serve_cli_refuses_tampered_and_undeployed_models(
        served_project: dict[str, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_project(served_project, tmp_path / "proj")
    assert main(["serve", "credit", "--project", str(root), "--env", "production"]) == 1
    assert "not deployed to production" in capsys.readouterr().err
    sig = root / ".specops/artifacts/registry/credit/1/signature.json"
    os.chmod(sig, stat.S_IRUSR | stat.S_IWUSR)
    sig.write_text(sig.read_text().replace('"FP32"', '"FP64"', 1))
    assert main(["serve", "credit@1", "--project", str(root)]) == 1
    err = capsys.readouterr().err
    assert "refused" in err and "signature.json: content changed" in err
