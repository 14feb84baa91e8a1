"""The credit-risk plan builds byte-identical training sets under the inline and Ray
executors (issue 4's check), with feature partitions fanned out as Ray tasks."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from specops.compiler.plan.compile import compile_project
from specops.runtime.engine.plan_reader import parse_plan
from specops.runtime.engine.run_loop import execute_plan

pytestmark = pytest.mark.ray

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "credit-risk"
NODE = "training_set:credit_default"


def _project(root: Path) -> Any:
    shutil.copytree(EXAMPLE / "specs", root / "specs")
    shutil.copy(EXAMPLE / "specops.yaml", root / "specops.yaml")
    spec = importlib.util.spec_from_file_location("gen", EXAMPLE / "generate_data.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.generate(root / "data", seed=3, n_apps=2000)
    result = compile_project(root)
    assert result.plan is not None, result.diagnostics
    return parse_plan(result.plan.data)


def test_inline_and_ray_training_sets_are_identical(ray_local, tmp_path: Path) -> None:
    frames = {}
    for executor in ("inline", "ray"):
        root = tmp_path / executor
        root.mkdir()
        plan = _project(root)
        result = execute_plan(plan, root, executor=executor, select=NODE)
        assert result.ok, [(o.node_id, o.cause) for o in result.failed]
        out = result.nodes[NODE].path
        assert out is not None
        frames[executor] = (pl.read_parquet(Path(out) / "train.parquet"),
                            pl.read_parquet(Path(out) / "test.parquet"))
        digests = result.digests()
        frames[executor + "_digest"] = digests[NODE]
    assert frames["inline"][0].equals(frames["ray"][0])
    assert frames["inline"][1].equals(frames["ray"][1])
    assert frames["inline_digest"] == frames["ray_digest"]
