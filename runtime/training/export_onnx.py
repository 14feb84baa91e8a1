"""`export_onnx`: package the fitted pipeline as ONNX and prove it predicts the same.

(The module is named `onnx` after the op table in `ops/__init__.py`.)

Why:
- ONNX is the deliverable that is signed, registered and served; the joblib pipeline never
  leaves specops. Conversion uses `zipmap=False` (plain tensors: the Open Inference Protocol
  and Triton reject ZipMap's sequence-of-maps) and an explicit `target_opset`, because the
  skl2onnx default moves whenever packages are upgraded and the model digest must not.
- float32 inputs end to end (see `preprocess.py`): numeric columns `FloatTensorType`,
  categorical `StringTensorType`, one `[None, 1]` input per column named after it.
- Parity on the whole test set, every time: labels must be equal and the maximum absolute
  probability (or prediction) difference is reported; `parity.json` carries `passed` under
  the tolerance, and the gate op turns it into a blocking check. onnxruntime releases have
  shipped wrong tree predictions (microsoft/onnxruntime#28557), so this runs on every build.

Outputs: `model.onnx`, `parity.json`, `signature.json` (inputs/outputs with OIP datatypes).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import joblib
import numpy as np
import polars as pl

from specops.runtime.engine.op_inputs import find_input_file, optional_input_file, read_json
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult
from specops.runtime.training.preprocess import Feature, onnx_feed, onnx_input_types, prepare_frame

__all__ = ["DEFAULT_OPSET", "DEFAULT_TOLERANCE", "TEST_ROWS", "check_parity", "convert",
           "export_onnx", "parity_metrics", "recorded_test_rows", "signature"]

DEFAULT_OPSET: dict[str, int] = {"": 17, "ai.onnx.ml": 3}
DEFAULT_TOLERANCE = 1e-4
TEST_ROWS = "test_rows.parquet"
_OIP = {"tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(int64)": "INT64",
        "tensor(string)": "BYTES", "tensor(int32)": "INT32", "tensor(bool)": "BOOL"}


def _opset(value: Any) -> dict[str, int] | int:
    if value is None:
        return dict(DEFAULT_OPSET)
    if isinstance(value, int):   # pin the ML domain too: TreeEnsemble v3 keeps doubles
        return {"": value, "ai.onnx.ml": 3}
    if isinstance(value, dict):
        return {str(k): int(v) for k, v in value.items()}
    raise OpError(f"target_opset must be an int or a {{domain: version}} map, got {value!r}")


def convert(pipe: Any, features: list[Feature], target_opset: dict[str, int] | int) -> bytes:
    from skl2onnx import convert_sklearn

    model_step = pipe.steps[-1][1]
    options = {id(model_step): {"zipmap": False}} if hasattr(model_step, "predict_proba") \
        else None
    try:
        onx = convert_sklearn(pipe, initial_types=onnx_input_types(features),
                              options=options, target_opset=target_opset,
                              name="specops_model")  # default is a random uuid
    except Exception as exc:  # skl2onnx raises many types; the message is what helps
        raise OpError(f"ONNX conversion failed: {type(exc).__name__}: {exc}") from exc
    data: bytes = onx.SerializeToString()
    return data


def session(onnx_bytes: bytes, threads: int = 1) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_bytes, sess_options=opts,
                                providers=["CPUExecutionProvider"])


def check_parity(onnx_bytes: bytes, pipe: Any, frame: pl.DataFrame, features: list[Feature],
                 classification: bool, tolerance: float = DEFAULT_TOLERANCE) -> dict[str, Any]:
    """Compare onnxruntime with scikit-learn on `frame` (already `prepare_frame`d)."""
    try:
        sess = session(onnx_bytes)
        outputs = sess.run(None, onnx_feed(frame, features))
    except Exception as exc:  # a graph that does not load or run is a failed parity check
        error = f"{type(exc).__name__}: {exc}"
        return {"passed": False, "rows": frame.height, "error": error, "reasons": [error],
                "tolerance": tolerance, "max_abs_diff": None, "label_mismatches": None}
    report: dict[str, Any] = {"rows": frame.height, "tolerance": tolerance}
    if classification:
        labels = np.asarray(outputs[0]).reshape(-1)
        expected = np.asarray(pipe.predict(frame)).reshape(-1)
        mismatch = np.flatnonzero(labels.astype(str) != expected.astype(str))
        proba = np.asarray(outputs[1], dtype=np.float64)
        ref = pipe.predict_proba(frame)
        diff = np.abs(proba - ref) if proba.shape == ref.shape else np.array([np.inf])
        diff = np.where(np.isnan(diff), np.inf, diff)
        report.update({"label_mismatches": len(mismatch),
                       "label_mismatch_rows": mismatch[:20].tolist(),
                       "label_mismatch_rate": float(len(mismatch) / max(frame.height, 1)),
                       "max_abs_diff": float(diff.max()) if diff.size else 0.0,
                       "mean_abs_diff": float(diff.mean()) if diff.size else 0.0})
    else:
        pred = np.asarray(outputs[0], dtype=np.float64).reshape(-1)
        ref = np.asarray(pipe.predict(frame), dtype=np.float64).reshape(-1)
        diff = np.abs(pred - ref)
        scale = np.maximum(np.abs(ref), 1.0)
        report.update({"label_mismatches": 0,
                       "max_abs_diff": float(diff.max()) if diff.size else 0.0,
                       "max_rel_diff": float((diff / scale).max()) if diff.size else 0.0,
                       "mean_abs_diff": float(diff.mean()) if diff.size else 0.0})
    bad = [] if np.isfinite(report["max_abs_diff"]) else ["non-finite difference"]
    if report["label_mismatches"]:
        bad.append(f"{report['label_mismatches']} label mismatch(es)")
    measure = report.get("max_rel_diff", report["max_abs_diff"])
    if not bad and measure > tolerance:
        bad.append(f"max difference {measure:.3g} > tolerance {tolerance:g}")
    report["passed"] = not bad
    report["reasons"] = bad
    for key in ("max_abs_diff", "max_rel_diff", "mean_abs_diff"):
        if key in report and not np.isfinite(report[key]):
            report[key] = None   # strict JSON has no Infinity; the reasons say why
    return report


def recorded_test_rows(onnx_bytes: bytes, frame: pl.DataFrame, features: list[Feature],
                       rows: int = 100) -> pl.DataFrame:
    """The first `rows` test rows (as the model sees them) with this model's outputs.

    Registered as evidence (`test_rows.parquet`), so serving can be checked against the
    registry itself: a staging endpoint must return these scores within the parity
    tolerance (runtime/serve/staging.py). Output columns are named `output:<name>`.
    """
    head = frame.head(rows)
    sess = session(onnx_bytes)
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(names, onnx_feed(head, features))
    cols: dict[str, Any] = {}
    for name, arr in zip(names, values, strict=True):
        arr = np.asarray(arr)
        if arr.ndim == 2 and arr.shape[1] > 1:
            cols[f"output:{name}"] = pl.Series(arr.astype(np.float32).tolist(),
                                               dtype=pl.List(pl.Float32))
        else:
            flat = arr.reshape(-1)
            cols[f"output:{name}"] = flat.astype(str) if flat.dtype == object else flat
    return head.with_columns(**cols)


def parity_metrics(parity: dict[str, Any]) -> dict[str, float]:
    """Gate metric names (compiler COMMON_METRICS) from a parity report."""
    out = {"onnx_parity": 1.0 if parity["passed"] else 0.0}
    if parity.get("max_abs_diff") is not None:
        out["onnx_max_abs_diff"] = float(parity["max_abs_diff"])
    if parity.get("label_mismatches") is not None:
        out["onnx_label_mismatch"] = float(parity["label_mismatches"])
    return out


def signature(onnx_bytes: bytes, classes: list[Any]) -> dict[str, Any]:
    sess = session(onnx_bytes)

    def describe(args: Any) -> list[dict[str, Any]]:
        return [{"name": a.name, "datatype": _OIP.get(a.type, a.type),
                 "shape": [d if isinstance(d, int) else -1 for d in a.shape]} for a in args]

    return {"inputs": describe(sess.get_inputs()), "outputs": describe(sess.get_outputs()),
            "classes": classes, "protocol": "open-inference-v2"}


def export_onnx(ctx: OpContext) -> OpResult:
    model_path = find_input_file(ctx, "model.joblib")
    trained = read_json(model_path.parent / "params.json")
    float_type = str(ctx.params["float_type"])   # the plan's settings (ExportOnnxParams)
    if float_type != "float32":
        raise OpError(f"float_type {float_type!r} is not supported: float64 tree graphs do not "
                      "load in onnxruntime; specops trains on float32 so parity holds")
    target_opset = _opset(ctx.params["target_opset"])
    # A plan always carries the tolerance (format 2); only `specops reproduce`, which
    # re-exports without a parity check, leaves it out.
    tolerance: float | None = ctx.params.get("tolerance")
    features = [Feature(**f) for f in trained["inputs"]]
    classification = "regression" not in trained["task"]
    pipe = joblib.load(model_path)
    onnx_bytes = convert(pipe, features, target_opset)

    digest = "sha256:" + hashlib.sha256(onnx_bytes).hexdigest()
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    (ctx.out_dir / "model.onnx").write_bytes(onnx_bytes)
    test_path = optional_input_file(ctx, "test.parquet")
    parity: dict[str, Any] | None = None
    if test_path is not None:
        if tolerance is None:
            raise OpError(f"{ctx.node_id}: params.tolerance is required for the parity check")
        frame = prepare_frame(pl.read_parquet(test_path), features)
        parity = check_parity(onnx_bytes, pipe, frame, features, classification,
                              float(tolerance))
        parity.update({"model_digest": digest, "target_opset": target_opset})
        (ctx.out_dir / "parity.json").write_text(
            json.dumps(parity, indent=2, sort_keys=True) + "\n")
    sig = signature(onnx_bytes, list(trained.get("classes") or []))
    sig.update({"target_opset": target_opset, "float_type": float_type, "tolerance": tolerance,
                "features": trained["inputs"], "label": trained["label"],
                "task": trained["task"]})
    (ctx.out_dir / "signature.json").write_text(json.dumps(sig, indent=2, sort_keys=True) + "\n")
    metrics = parity_metrics(parity) if parity else {}
    if parity is None:
        status = "parity deferred to the benchmark op (no test.parquet among inputs)"
    else:
        status = "parity ok" if parity["passed"] else "PARITY FAILED: " + "; ".join(
            parity["reasons"])
    return OpResult(metrics=metrics, report={"model_digest": digest, "parity": parity},
                    message=f"model.onnx {len(onnx_bytes)} bytes, {status}")
