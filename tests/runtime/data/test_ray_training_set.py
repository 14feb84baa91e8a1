"""The credit-risk plan builds byte-identical training sets under the inline and Ray
executors (issue 4's check), with feature partitions fanned out as Ray tasks, and with the
point-in-time join in memory or out of core (`pit_partitioned`)."""

from __future__ import annotations

import importlib.util
import io
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


def test_partitioned_and_in_memory_training_sets_are_byte_identical(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SPECOPS_PIT_MODE forces the join: out of core (several entity-range parts, the
    table streamed from them in chunks) the op writes the same bytes as in memory."""
    import specops.runtime.data.build_training_set as bts

    joins: list[Any] = []
    real = bts.join_files

    def spy(*args: Any, **kwargs: Any) -> Any:
        joins.append(real(*args, **kwargs))
        return joins[-1]

    monkeypatch.setattr(bts, "join_files", spy)
    monkeypatch.setattr(bts, "_CHUNK", 500)          # several chunks...
    monkeypatch.setattr(bts, "_ROW_GROUP", 256)      # ...cut across row groups
    monkeypatch.setenv("SPECOPS_PIT_ROWS_PER_PART", "300")
    outs, digests = {}, {}
    for mode in ("memory", "partitioned"):
        monkeypatch.setenv("SPECOPS_PIT_MODE", mode)
        root = tmp_path / mode
        root.mkdir()
        result = execute_plan(_project(root), root, executor="inline", select=NODE)
        assert result.ok, [(o.node_id, o.cause) for o in result.failed]
        out = result.nodes[NODE].path
        assert out is not None
        outs[mode] = {f.name: f.read_bytes() for f in sorted(Path(out).iterdir())}
        digests[mode] = result.digests()[NODE]
    assert joins and all(j.mode == "partitioned" and j.parts > 3 for j in joins), joins
    assert set(outs["memory"]) == {"train.parquet", "test.parquet", "schema.json"}
    assert outs["memory"] == outs["partitioned"]
    assert digests["memory"] == digests["partitioned"]
    assert pl.read_parquet(io.BytesIO(outs["memory"]["train.parquet"])).height > 1000
