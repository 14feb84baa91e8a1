"""One typed, frozen params record per plan op (docs/plan.md, "Params").

Why records and not dicts: the compiler writes these and the runtime reads them, so the
shape of every op's params is decided here, once. The compiler validates what it built
through the record before writing a plan; the runtime's reader validates every node's
params before anything runs, and an op reads typed fields instead of `.get(key, default)`
(a default the runtime picked on its own could silently disagree with the compiler's).

Field types mirror what the compiler emits, byte for byte: `int | float` where a spec
value may be either (pydantic's smart union keeps 5 as 5 and 5.0 as 5.0, so a round trip
writes the same JSON), `float` only where the spec model has already made it a float.
Expression trees stay plain JSON (`Tree`): their one interpreter is contract/interpret.py
and their schema is `#/$defs/expr` in schemas/plan.schema.json.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

__all__ = [
    "TREE_MARK",
    "ApprovalRule",
    "BenchmarkParams",
    "BuildTrainingSetParams",
    "ColumnConstraint",
    "ComputeFeaturesParams",
    "CsvParams",
    "DeployParams",
    "Distribution",
    "Estimator",
    "EvaluateParams",
    "ExportOnnxParams",
    "FairnessParams",
    "Feature",
    "GateCheck",
    "GateParams",
    "InputColumn",
    "Label",
    "LabelRef",
    "LoadSourceParams",
    "MonitorParams",
    "OpParams",
    "Quantiles",
    "Record",
    "RegisterParams",
    "RequestApprovalParams",
    "RowCount",
    "Serving",
    "SourceColumn",
    "Spine",
    "Split",
    "Task",
    "TrainParams",
    "TrainingView",
    "Tree",
    "ValidateDataParams",
    "ValueType",
]

TREE_MARK = {"x-specops": "expr"}   # plan_schema.py replaces it with `#/$defs/expr`
Tree = Annotated[dict[str, Any], WithJsonSchema(TREE_MARK)]
Task = Literal["binary_classification", "multiclass_classification", "regression"]
ValueType = Literal["int64", "float64", "bool", "string", "datetime", "date", "null"]
ColumnType = Literal["int64", "int32", "float64", "float32", "bool", "string", "category",
                     "date", "datetime"]
NonNegInt = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(ge=1)]
NodeRef = Annotated[str, Field(pattern=r"^(source|features):")]


class Record(BaseModel):
    """Frozen and strict about keys: an unknown key is a plan from another format."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class OpParams(Record):
    """Base of every op's params record (what `op_catalog.OpInfo.params` points at)."""


# -- data ---------------------------------------------------------------------------------

class SourceColumn(Record):
    type: ColumnType
    nullable: bool


class CsvParams(Record):
    """How `load_source` reads a csv source: the source's `csv:` block, encoding as
    Python's canonical codec name. The defaults are how a csv source without the block is
    read; they equal the spec's (compiler/kinds/source_kind.py, a test compares them)."""

    header: bool = True
    delimiter: str = Field(",", min_length=1, max_length=1)
    quote: str | None = Field('"', min_length=1, max_length=1)
    null_values: tuple[str, ...] = ()
    trim: bool = True
    encoding: str = "utf-8"
    skip_rows: NonNegInt = 0
    decimal: Literal[".", ","] = "."
    columns: tuple[str, ...] | None = None


class LoadSourceParams(OpParams):
    path: str
    format: Literal["parquet", "csv"]
    columns: dict[str, SourceColumn]
    entity: str | None
    timestamp: str | None
    created_timestamp: str | None
    # Only sources that declare `csv:` carry it, so no other plan changed when it came.
    csv: CsvParams | None = Field(None, exclude_if=lambda v: v is None)


class ColumnConstraint(Record):
    nullable: bool
    unique: bool
    min: float | None
    max: float | None
    in_: tuple[str | int | float, ...] | None = Field(alias="in")


class RowCount(Record):
    min: NonNegInt | None
    max: NonNegInt | None


class Distribution(Record):
    reference: str
    method: Literal["psi", "ks"]
    max: float
    columns: tuple[str, ...] | None
    bins: Annotated[int, Field(ge=2)]       # format 2: was the runtime's own 10


class ValidateDataParams(OpParams):
    columns: dict[str, ColumnConstraint]
    row_count: RowCount | None
    max_null_share: float | None
    distribution: Distribution | None


# -- features -----------------------------------------------------------------------------

class Feature(Record):
    name: str
    expr: Tree
    type: ValueType
    agg: Literal["sum", "mean", "min", "max", "count", "last", "std"] | None
    window_s: NonNegInt | None


class ComputeFeaturesParams(OpParams):
    source: NodeRef
    entity: str | None
    timestamp: str | None
    created_timestamp: str | None
    ttl_s: NonNegInt | None
    features: tuple[Feature, ...]


# -- training -----------------------------------------------------------------------------

class Spine(Record):
    source: str
    entity: str | None
    timestamp: str | None
    columns: tuple[str, ...]


class LabelRef(Record):
    source: str
    column: str
    key: str | None


class TrainingView(Record):
    node: NodeRef
    features: tuple[str, ...]
    entity: str | None
    timestamp: str | None
    created_timestamp: str | None
    ttl_s: NonNegInt | None
    rename: dict[str, str]


class InputColumn(Record):
    name: str
    type: ValueType
    role: Literal["numeric", "categorical"]


class Split(Record):
    by: Literal["time", "random", "stratified"]
    test_fraction: float
    seed: int


class BuildTrainingSetParams(OpParams):
    spine: Spine
    label: LabelRef
    views: tuple[TrainingView, ...]
    inputs: tuple[InputColumn, ...]
    protected: tuple[str, ...]
    created_time_cutoff: bool
    split: Split


class Estimator(Record):
    class_: str = Field(alias="class")
    params: dict[str, Any]
    search: dict[str, Any]
    search_strategy: Literal["grid", "random"]
    n_iter: PosInt
    cv: PosInt
    cv_strategy: Literal["kfold", "time_series"]
    seed: int
    scoring: str | None                       # null: the task's default scorer


class Label(Record):
    name: str
    type: ValueType


class TrainParams(OpParams):
    task: Task
    estimator: Estimator
    inputs: tuple[InputColumn, ...]
    label: Label


# -- evaluation and packaging -------------------------------------------------------------

class Quantiles(Record):
    quantiles: Annotated[int, Field(ge=2, le=100)]


class FairnessParams(Record):
    """The model's `fairness:` block (docs/training.md, "Fairness"): the favourable outcome
    (a label value, or `higher_score` / `lower_score`), the decision threshold (null: 0.5
    for a classifier) and bands per protected column (edges, or quantiles of the training
    split fixed at evaluation)."""

    favorable: bool | int | str | None
    threshold: float | None
    bands: dict[str, tuple[float, ...] | Quantiles]


class EvaluateParams(OpParams):
    task: Task
    metrics: tuple[str, ...]
    slices: tuple[str, ...]
    protected: tuple[str, ...]
    min_group_size: PosInt
    label: Label
    # Only models that declare `fairness:` carry it (as `csv` on sources): no other plan
    # changed, and a plan without it means what it always meant (positive class at 0.5).
    fairness: FairnessParams | None = Field(None, exclude_if=lambda v: v is None)


class ExportOnnxParams(OpParams):
    target_opset: PosInt
    float_type: Literal["float32", "float64"]
    tolerance: float                          # format 2: was the runtime's own 1e-4


class BenchmarkParams(OpParams):
    rows: PosInt
    repeats: PosInt
    test_rows: PosInt                         # format 2: was the runtime's own 100


class GateCheck(Record):
    id: str
    text: str
    expr: Tree
    severity: Literal["blocking", "warning"]
    message: str | None


class GateParams(OpParams):
    gate: str
    checks: tuple[GateCheck, ...]
    blocking: bool
    min_group_size: PosInt
    require_champion: bool                    # format 2: was the runtime's own false


# -- governance and operations ------------------------------------------------------------

class RegisterParams(OpParams):
    model: str
    owner: str
    risk_tier: Literal["high", "medium", "low"]
    task: Task


class ApprovalRule(Record):
    index: NonNegInt
    when: Tree
    applies: bool | None                      # null: the runtime evaluates `when`
    require: dict[str, int]
    separation_of_duties: bool
    auto_approve: bool
    expires_s: NonNegInt | None


class RequestApprovalParams(OpParams):
    approval: str
    model: str
    rules: tuple[ApprovalRule, ...]


class Batching(Record):
    max_batch_size: PosInt
    wait_ms: float


class Serving(Record):
    format: Literal["onnx"]
    replicas: PosInt
    batching: Batching | None
    log_predictions: bool


class DeployParams(OpParams):
    model: str
    environment: Literal["staging", "production"]
    serving: Serving | None


class Drift(Record):
    method: Literal["psi", "ks", "jensenshannon", "wasserstein", "chisquare"]
    warn: float
    alert: float
    bins: Annotated[int, Field(ge=2)]
    binning: Literal["quantile", "uniform"]
    epsilon: float
    min_samples: PosInt
    drift_share: float


class MonitorParams(OpParams):
    model: str
    drift: Drift
    window_s: NonNegInt | None
    label_delay_s: NonNegInt | None
    consecutive_windows: PosInt
    retrain_on: tuple[Literal["data_drift", "prediction_drift", "performance"], ...]
    cooldown_s: NonNegInt | None
    performance: dict[str, float]
    webhook: str | None
