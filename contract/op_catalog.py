"""The op catalog: what each plan op does, where it sits, and how the runtime should run it.

Why one table: the graph builder (stage of a node), the plan builder (resources, retry,
manual), `specops explain` (what the op does) and the Mermaid renderer (subgraph per
stage) must agree; a new op is one row here plus its params in `params.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OPS", "STAGES", "OpInfo", "op_info"]

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
    num_cpus: int = 1
    memory_mb: int = 1024
    max_attempts: int = 3
    backoff_s: float = 1.0
    manual: bool = False


OPS: dict[str, OpInfo] = {info.op: info for info in (
    OpInfo("load_source", "source", "data",
           "Reads the source's files (parquet or csv; globs are partitions) with the declared "
           "column types."),
    OpInfo("validate_data", "validate", "validation",
           "Checks the loaded source against its column constraints and data checks; "
           "everything downstream of the source waits for it (a blocking edge)."),
    OpInfo("compute_features", "features", "features",
           "Computes the feature view's expressions (and windowed aggregates) over its "
           "source, keyed by entity and event time.", memory_mb=2048),
    OpInfo("build_training_set", "training_set", "training",
           "Joins the feature views point-in-time onto the spine (no feature newer than the "
           "event, TTL respected), attaches the label and splits train/test.",
           memory_mb=2048),
    OpInfo("train", "train", "training",
           "Fits the estimator on the training split, with a cross-validated search over the "
           "search space when one is given.", num_cpus=2, memory_mb=4096, max_attempts=2),
    OpInfo("evaluate", "evaluate", "evaluation",
           "Scores the test split: task metrics, per-slice metrics and fairness metrics for "
           "the protected attributes."),
    OpInfo("export_onnx", "export_onnx", "packaging",
           "Converts the trained model to ONNX and records the input signature."),
    OpInfo("benchmark", "benchmark", "packaging",
           "Measures ONNX latency and size and the largest difference between ONNX and "
           "native predictions."),
    OpInfo("gate", "gate", "gates",
           "Evaluates the gate's checks against evaluation and benchmark results; a failing "
           "blocking check stops registration.", max_attempts=1),
    OpInfo("register", "register", "governance",
           "Records a new model version (artifacts, lineage, gate evidence) in the signed "
           "registry; a new version needs a new approval.", max_attempts=1),
    OpInfo("request_approval", "approval", "governance",
           "Opens an approval request under the rules that apply to the model; resolved by "
           "people with `specops approve`.", max_attempts=1),
    OpInfo("deploy", "deploy", "deployment",
           "Deploys the approved version to an environment (run by `specops deploy`, not by "
           "`specops run`).", max_attempts=1, manual=True),
    OpInfo("monitor", "monitor", "monitoring",
           "Watches served predictions for drift and performance, and triggers retraining "
           "when configured (run by `specops monitor`).", max_attempts=1, manual=True),
)}


def op_info(op: str) -> OpInfo:
    return OPS[op]
