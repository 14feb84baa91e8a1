"""ONNX packaging: parity holds for logreg and HGB, and catches a broken model."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import onnx
import polars as pl
import pytest
from ml_helpers import make_ctx, make_dataset, run_pipeline

from specops.runtime.engine.op_interface import OpError
from specops.runtime.training.benchmark import benchmark
from specops.runtime.training.export_onnx import check_parity, export_onnx
from specops.runtime.training.preprocess import Feature, prepare_frame

MODELS = [("LogisticRegression", {}), ("HistGradientBoostingClassifier", {"max_iter": 30}),
          ("RandomForestClassifier", {"n_estimators": 10})]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("onnx"))


def _parity_inputs(dirs: dict[str, Path]) -> tuple[object, pl.DataFrame, list[Feature]]:
    trained = json.loads((dirs["train"] / "params.json").read_text())
    features = [Feature(**f) for f in trained["inputs"]]
    frame = prepare_frame(pl.read_parquet(dirs["data"] / "test.parquet"), features)
    return joblib.load(dirs["train"] / "model.joblib"), frame, features


@pytest.mark.parametrize(("cls", "params"), MODELS)
def test_parity_holds(tmp_path: Path, data: Path, cls: str, params: dict) -> None:
    dirs = run_pipeline(tmp_path, cls, data=data, params=params)
    parity = json.loads((dirs["benchmark"] / "parity.json").read_text())
    assert parity["passed"], parity
    assert parity["label_mismatches"] == 0 and parity["max_abs_diff"] < 1e-4
    bench = json.loads((dirs["benchmark"] / "benchmark.json").read_text())
    for key in ("latency_p50_us", "latency_p99_us", "throughput_rows_s", "model_size_mb",
                "peak_rss_mb"):
        assert bench[key] > 0
    sig = json.loads((dirs["export"] / "signature.json").read_text())
    assert [(i["name"], i["datatype"]) for i in sig["inputs"]] == [
        ("income", "FP32"), ("age", "FP32"), ("region", "BYTES")]
    assert [o["name"] for o in sig["outputs"]] == ["label", "probabilities"]


def _edit(model: onnx.ModelProto, op_type: str, attr: str, scale: float) -> None:
    for node in model.graph.node:
        if node.op_type == op_type:
            for a in node.attribute:
                if a.name == attr:
                    a.floats[:] = [v * scale + 0.5 for v in a.floats]
                    return
    raise AssertionError(f"no {op_type}.{attr} to edit")


@pytest.mark.parametrize(("cls", "params", "op_type", "attr"), [
    ("LogisticRegression", {}, "LinearClassifier", "coefficients"),
    ("HistGradientBoostingClassifier", {"max_iter": 30}, "TreeEnsembleClassifier",
     "nodes_values"),
])
def test_parity_catches_a_broken_model(tmp_path: Path, data: Path, cls: str, params: dict,
                                       op_type: str, attr: str) -> None:
    dirs = run_pipeline(tmp_path, cls, data=data, params=params)
    pipe, frame, features = _parity_inputs(dirs)
    model = onnx.load(str(dirs["export"] / "model.onnx"))
    _edit(model, op_type, attr, scale=-1.0)
    broken = model.SerializeToString()
    report = check_parity(broken, pipe, frame, features, classification=True)
    assert not report["passed"] and report["reasons"]
    assert report["label_mismatches"] > 0 or report["max_abs_diff"] > 1e-4
    # a file that does not even load is a failed parity check, not a crash
    bad = check_parity(broken[: len(broken) // 2], pipe, frame, features, True)
    assert not bad["passed"] and bad["error"]


def test_benchmark_reports_a_tampered_file(tmp_path: Path, data: Path) -> None:
    dirs = run_pipeline(tmp_path, "LogisticRegression", data=data)
    model = onnx.load(str(dirs["export"] / "model.onnx"))
    _edit(model, "LinearClassifier", "coefficients", scale=3.0)
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    (tampered / "model.onnx").write_bytes(model.SerializeToString())
    (tampered / "signature.json").write_text((dirs["export"] / "signature.json").read_text())
    ctx = make_ctx(tmp_path, "benchmark:t", "benchmark",
                   {"rows": 50, "repeats": 2, "test_rows": 100},
                   {"export_onnx:m": tampered, "train:m": dirs["train"],
                    "training_set:m": data})
    result = benchmark(ctx)
    assert result.metrics["onnx_parity"] == 0.0
    assert not json.loads((ctx.out_dir / "parity.json").read_text())["passed"]


def test_float64_is_refused_and_opset_is_pinned(tmp_path: Path, data: Path) -> None:
    dirs = run_pipeline(tmp_path, "LogisticRegression", data=data)
    ctx = make_ctx(tmp_path, "export_onnx:x", "export_onnx", {"float_type": "float64"},
                   {"train:m": dirs["train"]})
    with pytest.raises(OpError, match="float64"):
        export_onnx(ctx)
    sig = json.loads((dirs["export"] / "signature.json").read_text())
    assert sig["target_opset"] == {"": 17, "ai.onnx.ml": 3}


def test_export_is_deterministic(tmp_path: Path, data: Path) -> None:
    a = run_pipeline(tmp_path, "HistGradientBoostingClassifier", data=data, run="a",
                     params={"max_iter": 20})
    b = run_pipeline(tmp_path, "HistGradientBoostingClassifier", data=data, run="b",
                     params={"max_iter": 20})
    assert (a["export"] / "model.onnx").read_bytes() == (b["export"] / "model.onnx").read_bytes()
