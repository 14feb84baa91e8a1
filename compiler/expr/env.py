"""Typed environments: what names, attributes and functions one use of an expression sees.

Why per use: `income` means a column in a feature expression, `roc_auc` a metric in a
gate, `model.owner` a spec field in a policy. The caller builds the environment from what
it knows (a source's columns, a model's task, slices and protected attributes) with the
builders below; the checker only asks it questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from specops.compiler.expr.functions import EnvKind
from specops.compiler.expr.types import ExprType, column_type

__all__ = [
    "CLASSIFICATION_METRICS",
    "COMMON_METRICS",
    "POLICY_OBJECTS",
    "REGRESSION_METRICS",
    "Env",
    "ObjectSchema",
    "approval_env",
    "feature_env",
    "gate_env",
    "metrics_for_task",
    "policy_env",
]

_F, _I, _S, _B = ExprType.FLOAT64, ExprType.INT64, ExprType.STRING, ExprType.BOOL

CLASSIFICATION_METRICS: dict[str, ExprType] = {
    m: _F for m in ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss",
                    "brier", "ece")}
REGRESSION_METRICS: dict[str, ExprType] = {m: _F for m in ("rmse", "mae", "r2")}
COMMON_METRICS: dict[str, ExprType] = {
    "latency_p50_ms": _F, "latency_p99_ms": _F, "model_size_mb": _F, "throughput_rps": _F,
    "onnx_max_abs_diff": _F, "onnx_label_mismatch": _I, "train_rows": _I, "test_rows": _I,
}
_TASK_FAMILY = {"binary_classification": "classification",
                "multiclass_classification": "classification", "regression": "regression"}


def metrics_for_task(task: str) -> tuple[dict[str, ExprType], dict[str, str]]:
    """(metrics the task has, metrics of the other family -> the family they need)."""
    if _TASK_FAMILY.get(task) == "regression":
        own, other, family = REGRESSION_METRICS, CLASSIFICATION_METRICS, "a classifier"
    else:
        own, other, family = CLASSIFICATION_METRICS, REGRESSION_METRICS, "a regressor"
    return {**own, **COMMON_METRICS}, dict.fromkeys(other, family)


@dataclass(frozen=True, slots=True)
class ObjectSchema:
    """A spec object in a policy: typed fields and string-membership predicates.

    `predicates` maps a method name to the strings it accepts (None: any string); every
    predicate takes one string literal and is true when that string is in the set the
    evaluator is given under `"<object>.<predicate>"`.
    """

    fields: Mapping[str, ExprType]
    predicates: Mapping[str, tuple[str, ...] | None]


@dataclass(frozen=True, slots=True)
class Env:
    kind: EnvKind
    columns: Mapping[str, ExprType] = field(default_factory=dict)   # -> `col` nodes
    metrics: Mapping[str, ExprType] = field(default_factory=dict)   # -> `metric` nodes
    foreign_metrics: Mapping[str, str] = field(default_factory=dict)  # SPEC411
    slice_columns: frozenset[str] = frozenset()
    protected: frozenset[str] = frozenset()
    champion: bool = False
    objects: Mapping[str, ObjectSchema] = field(default_factory=dict)
    boolean: bool = False           # the whole expression must be bool (SPEC408)
    task: str | None = None

    def names(self) -> list[str]:
        """Every plain name in scope, for did-you-mean."""
        return [*self.columns, *self.metrics, *self.objects,
                *(["champion"] if self.champion else [])]


def feature_env(columns: Mapping[str, str]) -> Env:
    """A feature expression over a source: column name -> declared ColumnType."""
    return Env("feature", columns={n: column_type(t) for n, t in columns.items()})


def gate_env(task: str, *, slices: Iterable[str] = (), protected: Iterable[str] = (),
             champion: bool = True) -> Env:
    """A gate check for a model with this task, slice columns and protected attributes."""
    metrics, foreign = metrics_for_task(task)
    return Env("gate", metrics=metrics, foreign_metrics=foreign,
               slice_columns=frozenset(slices), protected=frozenset(protected),
               champion=champion, boolean=True, task=task)


def approval_env() -> Env:
    """An approval rule's `when`: facts about the model being approved."""
    return Env("approval", columns={"risk_tier": _S, "task": _S, "owner": _S, "name": _S,
                                    "environment": _S}, boolean=True)


POLICY_OBJECTS: dict[str, ObjectSchema] = {
    "model": ObjectSchema(
        fields={"name": _S, "owner": _S, "risk_tier": _S, "task": _S, "description": _S,
                "limitations": _S, "intended_use": _S, "assumptions": _S, "validator": _S,
                "approval": _S, "review_cadence_days": _I, "has_monitoring": _B,
                "has_approval": _B, "has_serving": _B, "has_validator": _B,
                "uses_restricted": _B, "uses_deprecated": _B, "n_gates": _I,
                "n_blocking_gates": _I, "n_protected": _I, "n_features": _I,
                "n_authors": _I, "n_slices": _I, "estimator": _S,
                "validator_independent": _B, "retrains_on_drift": _B, "auto_approved": _B,
                "logs_predictions": _B},
        predicates={"has_check": ("fairness", "performance", "latency", "parity",
                                  "champion", "calibration", "slice"),
                    "has_gate": None, "has_tag": None, "uses_feature": None,
                    "has_author": None}),
    "feature": ObjectSchema(
        fields={"name": _S, "version": _I, "owner": _S, "access": _S, "description": _S,
                "pii": _B, "deprecated": _B, "has_ttl": _B, "has_owner": _B,
                "n_features": _I, "n_grants": _I},
        predicates={"has_grant": None, "has_tag": None, "has_feature": None}),
    "source": ObjectSchema(
        fields={"name": _S, "owner": _S, "description": _S, "format": _S,
                "has_checks": _B, "has_owner": _B, "has_pii": _B, "has_timestamp": _B,
                "n_columns": _I, "n_protected": _I, "n_pii": _I},
        predicates={"has_column": None, "has_tag": None}),
}


def policy_env(applies_to: str = "model") -> Env:
    """A policy rule's `when`/`require` over one spec (`applies_to`: model/feature/source)."""
    return Env("policy", objects={applies_to: POLICY_OBJECTS[applies_to]}, boolean=True)
