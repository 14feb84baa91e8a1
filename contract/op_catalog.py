"""The op catalog: what each plan op does, where it sits, and how the runtime should run it.

Why one table: the graph builder (stage of a node), the plan builder (resources, retry,
manual), `specops explain` (what the op does) and the Mermaid renderer (subgraph per
stage) must agree; a new op is one row here plus its params in `params.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from specops.contract.op_params import (
    BenchmarkParams,
    BuildTrainingSetParams,
    ComputeFeaturesParams,
    DeployParams,
    EvaluateParams,
    ExportOnnxParams,
    GateParams,
    LoadSourceParams,
    MonitorParams,
    OpParams,
    RegisterParams,
    RequestApprovalParams,
    TrainParams,
    ValidateDataParams,
)

__all__ = ["OPS", "STAGES", "OpInfo", "op_info", "params_record"]

STAGES: tuple[str, ...] = (
    "data", "validation", "features", "training", "evaluation", "packaging", "gates",
    "governance", "deployment", "monitoring",
)


@dataclass(frozen=True, slots=True)
class OpInfo:
    op: str
    prefix: str              # node id prefix, e.g. "train" in "train:credit_default"
    stage: str
    summary: str             # one line for `specops explain`
    params: type[OpParams]   # the typed params record both halves read and write
    runtime: str             # "module:function" of the op, under specops.runtime
    num_cpus: int = 1
    memory_mb: int = 1024
    max_attempts: int = 3
    backoff_s: float = 1.0
    manual: bool = False


_RT = "specops.runtime."

OPS: dict[str, OpInfo] = {info.op: info for info in (
    OpInfo("load_source", "source", "data",
           "Reads the source's files (parquet or csv; globs are partitions) with the declared "
           "column types.",
           LoadSourceParams, _RT + "data.load_source:load_source"),
    OpInfo("validate_data", "validate", "validation",
           "Checks the loaded source against its column constraints and data checks; "
           "everything downstream of the source waits for it (a blocking edge).",
           ValidateDataParams, _RT + "data.validate_data:validate_data"),
    OpInfo("compute_features", "features", "features",
           "Computes the feature view's expressions (and windowed aggregates) over its "
           "source, keyed by entity and event time.",
           ComputeFeaturesParams, _RT + "data.compute_features:compute_features", memory_mb=2048),
    OpInfo("build_training_set", "training_set", "training",
           "Joins the feature views point-in-time onto the spine (no feature newer than the "
           "event, TTL respected), attaches the label and splits train/test.",
           BuildTrainingSetParams, _RT + "data.build_training_set:build_training_set",
           memory_mb=2048),
    OpInfo("train", "train", "training",
           "Fits the estimator on the training split, with a cross-validated search over the "
           "search space when one is given.",
           TrainParams, _RT + "training.train:train", num_cpus=2, memory_mb=4096, max_attempts=2),
    OpInfo("evaluate", "evaluate", "evaluation",
           "Scores the test split: task metrics, per-slice metrics and fairness metrics for "
           "the protected attributes.",
           EvaluateParams, _RT + "evaluation.evaluate:evaluate"),
    OpInfo("export_onnx", "export_onnx", "packaging",
           "Converts the trained model to ONNX and records the input signature.",
           ExportOnnxParams, _RT + "training.export_onnx:export_onnx"),
    OpInfo("benchmark", "benchmark", "packaging",
           "Measures ONNX latency and size and the largest difference between ONNX and "
           "native predictions.",
           BenchmarkParams, _RT + "training.benchmark:benchmark"),
    OpInfo("gate", "gate", "gates",
           "Evaluates the gate's checks against evaluation and benchmark results; a failing "
           "blocking check stops registration.",
           GateParams, _RT + "evaluation.gate:gate", max_attempts=1),
    OpInfo("register", "register", "governance",
           "Records a new model version (artifacts, lineage, gate evidence) in the signed "
           "registry; a new version needs a new approval.",
           RegisterParams, _RT + "registry.register:register", max_attempts=1),
    OpInfo("request_approval", "approval", "governance",
           "Opens an approval request under the rules that apply to the model; resolved by "
           "people with `specops approve`.",
           RequestApprovalParams, _RT + "governance.request_approval:request_approval",
           max_attempts=1),
    OpInfo("deploy", "deploy", "deployment",
           "Deploys the approved version to an environment (run by `specops deploy`, not by "
           "`specops run`).",
           DeployParams, _RT + "governance.deploy:deploy", max_attempts=1, manual=True),
    OpInfo("monitor", "monitor", "monitoring",
           "Watches served predictions for drift and performance, and triggers retraining "
           "when configured (run by `specops monitor`).",
           MonitorParams, _RT + "monitor.monitor_node:monitor", max_attempts=1, manual=True),
)}


def op_info(op: str) -> OpInfo:
    return OPS[op]


def params_record(op: str) -> type[OpParams] | None:
    """The params record of a catalog op; None for an op outside the catalog (the runtime's
    own test and debug ops, plugins), whose params are the op's own business."""
    info = OPS.get(op)
    return info.params if info is not None else None
