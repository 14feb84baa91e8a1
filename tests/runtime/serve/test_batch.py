"""Batch scoring: features computed from the plan like training, partitions in parallel."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from specops.runtime.serve.batch import BatchError, add_features, predict_file
from specops.runtime.serve.served_model import resolve

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "credit-risk"


def test_scores_from_raw_rows_equal_scores_of_the_training_set(tmp_path: Path) -> None:
    """The credit-risk example end to end: features computed from the plan for the raw
    applications equal the training set's, and so do the scores of its test rows (a raw
    `employment_years` column is not the `coalesce(employment_years, 0.0)` feature)."""
    from specops.compiler.plan.compile import compile_project
    from specops.runtime.engine.plan_reader import parse_plan
    from specops.runtime.engine.run_loop import execute_plan

    root = tmp_path / "credit-risk"
    shutil.copytree(EXAMPLE / "specs", root / "specs")
    shutil.copy(EXAMPLE / "specops.yaml", root / "specops.yaml")
    spec = importlib.util.spec_from_file_location("gen", EXAMPLE / "generate_data.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.generate(root / "data")   # the example's own size: its gates pass on it
    compiled = compile_project(root)
    assert compiled.plan is not None
    plan = parse_plan(compiled.plan.data)
    model = next(iter(plan.models))
    ts_node = plan.by_id[f"training_set:{model}"]
    result = execute_plan(plan, root, select=[f"register:{model}"])
    assert result.ok, [o.cause for o in result.failed]
    test_path = result.nodes[ts_node.id].path / "test.parquet"
    train = pl.read_parquet(result.nodes[ts_node.id].path / "train.parquet")
    spine = ts_node.params["spine"]
    views = ts_node.params["views"]
    computed = [(v.get("rename") or {}).get(f, f) for v in views
                if str(v["node"]).startswith("features:") for f in v["features"]]
    assert computed
    keys = [spine["entity"], spine["timestamp"]]
    others = sorted({v["entity"] for v in views} - set(keys))
    got = add_features(train.select(*keys, *others), computed, plan, model, root, None)
    for col in computed:
        assert got.get_column(col).equals(train.get_column(col), check_names=False), col

    store = f"sqlite:///{root / '.specops/store.db'}"
    source = resolve(root, store, model, None)
    raw = predict_file(source, root / "data" / "applications.parquet",
                       tmp_path / "raw.parquet", plan=plan, store_url=store)
    assert "employment_years" in raw["features_computed"]
    direct = predict_file(source, test_path, tmp_path / "test.parquet", plan=plan)
    assert direct["features_computed"] == []
    joined = pl.read_parquet(tmp_path / "test.parquet").join(
        pl.read_parquet(tmp_path / "raw.parquet"), on=keys, how="left", suffix="_raw")
    assert joined.height == pl.read_parquet(test_path).height
    assert joined.get_column("probability_1").equals(joined.get_column("probability_1_raw"),
                                                     check_names=False)


def test_predict_keeps_keys_scores_partitions_and_refuses_missing_inputs(
        served_project: dict[str, Any], tmp_path: Path) -> None:
    root = served_project["root"]
    test = served_project["test"]
    src = tmp_path / "in.parquet"
    test.write_parquet(src)
    source = resolve(root, None, "credit", None)
    one = predict_file(source, src, tmp_path / "one.parquet", keep=["id", "ts"])
    calls: list[int] = []

    def mapper(fn: Any, items: list[Any], num_cpus: int = 1) -> list[Any]:
        calls.append(len(items))
        return [fn(item) for item in items]   # the function a Ray task would run

    four = predict_file(source, src, tmp_path / "four.csv", keep=["id", "ts"], partitions=4,
                        mapper=mapper)
    assert one["rows"] == four["rows"] == test.height and calls == [4]
    a = pl.read_parquet(tmp_path / "one.parquet")
    b = pl.read_csv(tmp_path / "four.csv")
    assert a.columns == ["id", "ts", "label", "probability_0", "probability_1", "model",
                         "version"]
    assert a.get_column("id").to_list() == test.get_column("id").to_list()
    assert (a.get_column("probability_1") - b.get_column("probability_1")).abs().max() < 1e-6
    test.drop("age").write_parquet(tmp_path / "bad.parquet")
    with pytest.raises(BatchError, match="age"):
        predict_file(source, tmp_path / "bad.parquet", tmp_path / "x.parquet")
