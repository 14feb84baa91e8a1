"""`model`: what to train, on which features, judged by which gates, approved how."""

from __future__ import annotations

import math
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from specops.compiler.kinds.common import Delay, Duration, Name, Principal, Schedule, SpecModel

__all__ = ["DRIFT_MAXIMUM", "Estimator", "Fairness", "ModelSpec", "Monitoring", "Rollout",
           "RolloutCondition", "Serving", "Training"]

Task = Literal["binary_classification", "multiclass_classification", "regression"]


class Label(SpecModel):
    source: Name
    column: Name


class Split(SpecModel):
    by: Literal["time", "random", "stratified"] = Field(
        "time", description="time: the latest rows are the test set (needs the spine's "
                            "timestamp); random; stratified: random within each label class "
                            "(label deciles for a regression)")
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 0


class Training(SpecModel):
    spine: Name = Field(description="source whose rows (entity, event time) are the examples")
    label: Label
    features: list[str] = Field(min_length=1, description="view@version, view@version.feature "
                                                          "or source.column")
    protected: list[str] = Field(default_factory=list, description="source.column")
    split: Split = Field(default_factory=lambda: Split())
    created_time_cutoff: bool = Field(False, description="only use feature rows created "
                                                         "before the event time")


class Quantiles(SpecModel):
    quantiles: int = Field(ge=2, le=100, description="bands cut at quantiles of the "
                                                     "training split (4: quartiles)")


class Fairness(SpecModel):
    """What a fairness check measures (docs/training.md, "Fairness")."""

    favorable: bool | int | str | None = Field(
        None, description="the favourable outcome: a label value (e.g. 0 where 1 means "
                          "default), or higher_score / lower_score; default: the positive "
                          "class (the larger label)")
    threshold: float | None = Field(
        None, description="favourable decision: P(favourable) >= threshold (default 0.5); "
                          "for a regression, prediction >= (higher_score) or <= "
                          "(lower_score) threshold, required")
    bands: dict[str, list[float] | Quantiles] = Field(
        default_factory=dict, description="protected column -> band edges ([25, 40, 60]) "
                                          "or {quantiles: 4}; required for a continuous "
                                          "protected attribute")


class Estimator(SpecModel):
    class_: str = Field(alias="class")
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    search: dict[str, list[str | int | float | bool | None]] = Field(default_factory=dict)
    search_strategy: Literal["grid", "random"] = "grid"
    n_iter: int = Field(10, ge=1)
    cv: int = Field(5, ge=2, le=20)
    cv_strategy: Literal["kfold", "time_series"] = "kfold"
    seed: int = 0
    scoring: str | None = None


class Batching(SpecModel):
    max_batch_size: int = Field(16, ge=1)
    wait_ms: float = Field(2.0, ge=0)


class Serving(SpecModel):
    format: Literal["onnx"] = "onnx"
    replicas: int = Field(1, ge=1)
    batching: Batching | None = None
    log_predictions: bool = True


# The largest value each drift statistic can take (runtime/monitor/stats.py conventions):
# the Jensen-Shannon distance uses natural logs, so its maximum is sqrt(ln 2); KS's D is a
# difference of two distribution functions. A threshold above it can never fire.
DRIFT_MAXIMUM: dict[str, float] = {"jensenshannon": math.sqrt(math.log(2)), "ks": 1.0}


class Drift(SpecModel):
    method: Literal["psi", "ks", "jensenshannon", "wasserstein", "chisquare"] = "psi"
    warn: float = Field(0.1, ge=0)
    alert: float = Field(0.25, ge=0)
    bins: int = Field(10, ge=2, le=1000)
    binning: Literal["quantile", "uniform"] = "quantile"
    epsilon: float = Field(1e-4, gt=0)
    min_samples: int = Field(100, ge=1)
    drift_share: float = Field(0.5, gt=0, le=1)

    @field_validator("warn", "alert")
    @classmethod
    def _within_method_range(cls, v: float, info: ValidationInfo) -> float:
        """A threshold the statistic can never reach silences the monitor without a word."""
        method = info.data.get("method", "psi")
        top = DRIFT_MAXIMUM.get(method) if isinstance(method, str) else None
        if top is not None and v > top:
            raise PydanticCustomError(
                "threshold_range", f"`{info.field_name}` ({v}) is above the largest "
                f"{method} value ({top:.4g}); the threshold could never be reached")
        return v

    @field_validator("alert")
    @classmethod
    def _alert_not_below_warn(cls, v: float, info: ValidationInfo) -> float:
        """`warn` above `alert` would page before it warns: refused where it is written."""
        warn = info.data.get("warn")
        if isinstance(warn, (int, float)) and v < warn:
            raise PydanticCustomError("threshold_order", f"`alert` ({v}) is below `warn` "
                                      f"({warn}); a drift must warn before it alerts")
        return v


class Monitoring(SpecModel):
    drift: Drift = Field(default_factory=lambda: Drift())
    window: Duration = "7d"
    label_delay: Delay | None = None
    consecutive_windows: int = Field(1, ge=1)
    retrain_on: list[Literal["data_drift", "prediction_drift", "performance"]] = Field(
        default_factory=list)
    cooldown: Duration = "7d"
    performance: dict[str, float] = Field(default_factory=dict)
    webhook: str | None = None
    schedule: Schedule | None = Field(
        None, description="when an orchestrator runs `specops monitor MODEL --from-log` "
                          "(specops export; the prediction log must be on)")
    on_breach: Literal["rollback"] | None = Field(
        None, description="rollback: a signal in breach (after hygiene) on the production "
                          "version returns production to the previous approved version, "
                          "signed by the pipeline and audited (docs/rollout.md)")

    @field_validator("webhook")
    @classmethod
    def _webhook_is_url(cls, v: str | None) -> str | None:
        """Alerts are posted to it at run time; a typo would lose every alert silently."""
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in v:
            raise PydanticCustomError("webhook_url", "`webhook` must be an http(s) URL "
                                      "such as https://hooks.example.com/specops")
        return v


class RolloutCondition(SpecModel):
    """One rule of `rollout:` (docs/rollout.md): a challenger metric against a bound or
    against the champion, or a declared test's p-value. Which fields combine is checked by
    lint (SPEC711), where the message can name the field."""

    metric: str | None = Field(None, description="requests, error_rate, p50_latency_ms, "
                               "p99_latency_ms, mean_score, or a realised metric (roc_auc, ...)")
    test: Literal["ks", "errors"] | None = Field(
        None, description="ks: two-sample Kolmogorov-Smirnov on the scores; errors: "
                          "Fisher's exact test, challenger error rate above the champion's")
    above: float | None = None
    below: float | None = None
    above_champion_by: float | None = None
    below_champion_by: float | None = None
    p_below: float | None = Field(None, gt=0, lt=1)
    p_above: float | None = Field(None, gt=0, lt=1)


class Rollout(SpecModel):
    """Automatic promotion and rollback of a canary or shadow (`specops rollout
    evaluate`): any `rollback_when` rule that holds rolls back once `min_requests` reached
    the challenger; all `promote_when` rules must hold, after `min_duration` too."""

    promote_when: list[RolloutCondition] = Field(default_factory=list)
    rollback_when: list[RolloutCondition] = Field(default_factory=list)
    min_requests: int = Field(100, ge=1)
    min_duration: Duration = "1h"
    window: Duration = Field("1h", description="compare the arms on this much recent "
                                                "traffic (since the rollout started)")


class ModelSpec(SpecModel):
    kind: Literal["model"]
    name: Name
    description: str | None = None
    owner: Principal
    risk_tier: Literal["high", "medium", "low"] = "medium"
    task: Task
    intended_use: str | None = None
    limitations: str | None = None
    assumptions: str | None = None
    training: Training
    estimator: Estimator
    slices: list[Name] = Field(default_factory=list)
    fairness: Fairness | None = None
    gates: list[Name] = Field(default_factory=list)
    approval: Name | None = None
    serving: Serving | None = None
    monitoring: Monitoring | None = None
    rollout: Rollout | None = None
    schedule: Schedule | None = Field(
        None, description="when an orchestrator retrains: runs the model's pipeline "
                          "(specops export --target airflow|dagster|github-actions|cron)")
    review_cadence: Duration | None = None
    validator: Principal | None = None
    authors: list[Principal] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
