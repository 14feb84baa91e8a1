"""The credit-risk example's data nodes, from its compiled plan, on generated data.

Runs load_source -> validate_data -> compute_features -> build_training_set in plan
order (a tiny inline loop, no scheduler), on a small generated data set, and checks that
a failing validation stops everything downstream with the report.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from specops.compiler.plan.compile import compile_project
from specops.runtime.engine.op_interface import OpContext, OpError
from specops.runtime.engine.op_registry import resolve_op

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "credit-risk"
DATA_OPS = {"load_source", "validate_data", "compute_features", "build_training_set"}


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen", EXAMPLE / "generate_data.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("credit-risk")
    shutil.copytree(EXAMPLE / "specs", root / "specs")
    shutil.copy(EXAMPLE / "specops.yaml", root / "specops.yaml")
    stats = _generator().generate(root / "data", seed=7, n_apps=3000)
    assert stats["late_bureau"] > 0 and 8 < stats["default_rate_pct"] < 25
    result = compile_project(root)
    assert result.plan is not None, result.diagnostics
    return root, {n["id"]: n for n in result.plan.data["nodes"]}


def _run(root: Path, nodes: dict[str, Any], work: Path) -> tuple[dict[str, Path], dict]:
    done: dict[str, Path] = {}
    failed: dict[str, OpError] = {}
    data_nodes = {k: n for k, n in nodes.items() if n["op"] in DATA_OPS}
    progress = True
    while progress:
        progress = False
        for nid, n in sorted(data_nodes.items()):
            if nid in done or nid in failed or any(i not in done for i in n["inputs"]):
                continue
            out = work / nid.replace(":", "_").replace("@", "_")
            out.mkdir(parents=True)
            ctx = OpContext(nid, n["op"], n["params"], root, out,
                            {i: done[i] for i in n["inputs"]}, "t", n["fingerprint"])
            try:
                resolve_op(n["op"])(ctx)
                done[nid] = out
            except OpError as e:
                failed[nid] = e
            progress = True
    return done, failed


def test_example_builds_a_training_set(project, tmp_path: Path) -> None:
    root, nodes = project
    done, failed = _run(root, nodes, tmp_path)
    assert not failed
    ts = done["training_set:credit_default"]
    train = pl.read_parquet(ts / "train.parquet")
    test = pl.read_parquet(ts / "test.parquet")
    assert train.height + test.height == 3000
    assert {"utilization", "late_12m", "log_income", "sex", "defaulted"} <= set(train.columns)
    assert train.get_column("utilization").null_count() < train.height // 2
    assert test.get_column("applied_at").min() >= train.get_column("applied_at").max()


def test_validation_failure_stops_downstream(project, tmp_path: Path) -> None:
    root, nodes = project
    bad = tmp_path / "proj"
    shutil.copytree(root, bad)
    apps = pl.read_parquet(bad / "data" / "applications.parquet")
    apps.with_columns(pl.when(pl.int_range(pl.len()) < 10).then(-5.0)
                      .otherwise(pl.col("loan_amount")).alias("loan_amount")
                      ).write_parquet(bad / "data" / "applications.parquet")
    done, failed = _run(bad, nodes, tmp_path / "work")
    assert set(failed) == {"validate:applications"}
    report = failed["validate:applications"].report
    assert any(c["check"] == "min" and c["column"] == "loan_amount" and not c["passed"]
               for c in report["checks"])
    assert "training_set:credit_default" not in done
    assert "features:application_features@1" not in done
    assert "features:bureau_history@2" in done        # other branches still ran
