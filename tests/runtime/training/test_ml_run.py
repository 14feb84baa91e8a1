"""The ML ops through the real runtime (inline executor): train -> ... -> register, a
champion comparison on the second run, a gate failure on the third, `runs compare`."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from ml_helpers import make_dataset, train_params
from plan_helpers import node, plan_dict

from specops.runtime.cli import model_commands as cli_models
from specops.runtime.engine.op_interface import OpContext, OpResult
from specops.runtime.engine.op_registry import register_op
from specops.runtime.engine.plan_reader import parse_plan
from specops.runtime.engine.run_loop import execute_plan
from specops.runtime.registry import Registry

CHAMPION = {"op": "compare", "fn": "ge", "left": {"op": "metric", "name": "roc_auc"},
            "right": {"op": "binary", "fn": "sub", "left": {"op": "champion",
                                                            "metric": "roc_auc"},
                      "right": {"op": "lit", "value": 0.05}}}


def _dataset_op(ctx: OpContext) -> OpResult:
    src = make_dataset(ctx.out_dir.parent / "src")
    for f in src.iterdir():
        shutil.copy(f, ctx.out_dir / f.name)
    return OpResult()


def _plan(c: float, auc_min: float) -> Any:
    train = train_params(params={"C": c})   # complete params, as the compiler writes them
    train["estimator"]["seed"] = 1
    checks = [{"id": "auc", "text": f"roc_auc >= {auc_min}", "severity": "blocking",
               "message": None,
               "expr": {"op": "compare", "fn": "ge",
                        "left": {"op": "metric", "name": "roc_auc"},
                        "right": {"op": "lit", "value": auc_min}}},
              {"id": "vs_champion", "text": "roc_auc >= champion.roc_auc - 0.05",
               "severity": "blocking", "message": None, "expr": CHAMPION},
              {"id": "rows", "text": "train_rows >= 100 and latency_p99_ms <= 50",
               "severity": "blocking", "message": None,
               "expr": {"op": "logical", "fn": "and", "args": [
                   {"op": "compare", "fn": "ge", "left": {"op": "metric", "name": "train_rows"},
                    "right": {"op": "lit", "value": 100}},
                   {"op": "compare", "fn": "le",
                    "left": {"op": "metric", "name": "latency_p99_ms"},
                    "right": {"op": "lit", "value": 50}}]}}]
    return parse_plan(plan_dict(
        node("training_set:m", "test.ml_dataset"),
        {**node("train:m", "train", ["training_set:m"]), "params": train},
        node("evaluate:m", "evaluate", ["train:m", "training_set:m"],
             task="binary_classification", metrics=[], slices=["region"], protected=["sex"],
             min_group_size=5, label=train["label"]),
        node("export_onnx:m", "export_onnx", ["train:m"], target_opset=17,
             float_type="float32"),
        node("benchmark:m", "benchmark", ["export_onnx:m", "train:m", "training_set:m"],
             rows=100, repeats=2),
        node("gate:m:q", "gate", ["benchmark:m", "evaluate:m"], gate="q", checks=checks,
             blocking=True, min_group_size=5),
        node("register:m", "register", ["benchmark:m", "evaluate:m", "export_onnx:m",
                                        "gate:m:q", "train:m"], model="m", owner="t",
             risk_tier="high", task="binary_classification")))


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    sub.add_parser("runs").add_subparsers().add_parser("list")
    cli_models.register(sub, lambda p: None)
    cli_models.extend(sub, lambda p: None)   # `runs compare` builds on `runs`
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.mark.slow
def test_pipeline_registers_compares_champion_and_blocks(tmp_path: Path, capsys: Any) -> None:
    register_op("test.ml_dataset", _dataset_op)
    first = execute_plan(_plan(1.0, 0.5), tmp_path, executor="inline")
    assert first.ok, {k: o.cause for k, o in first.nodes.items() if o.cause}
    reg = Registry.open(tmp_path)
    assert [v.version for v in reg.versions("m")] == [1]
    report = json.loads((first.nodes["gate:m:q"].path / "gate_report.json").read_text())
    assert report["no_champion"] == ["vs_champion"]
    reg.set_alias("m", "production", 1, actor="test")

    second = execute_plan(_plan(0.2, 0.5), tmp_path, executor="inline")
    assert second.ok, {k: o.cause for k, o in second.nodes.items() if o.cause}
    report = json.loads((second.nodes["gate:m:q"].path / "gate_report.json").read_text())
    assert report["champion"]["ref"] == "m@1" and report["no_champion"] == []
    assert [v.version for v in reg.versions("m")] == [1, 2]

    third = execute_plan(_plan(0.5, 0.999), tmp_path, executor="inline")
    assert not third.ok
    assert "auc" in (third.nodes["gate:m:q"].cause or "")
    assert reg.versions("m")[-1].status == "rejected"
    assert "register:m" not in third.nodes or third.nodes["register:m"].status != "done"

    assert _cli(["runs", "compare", first.run_id, second.run_id, "--project", str(tmp_path),
                 "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert "train:m" in diff["nodes"] and "metrics" in diff["nodes"]["evaluate:m"]
    assert "training_set:m" not in diff["nodes"]    # same data, served from cache
