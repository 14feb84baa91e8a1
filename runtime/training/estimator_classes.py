"""The runtime's estimator allowlist: spec class names mapped to scikit-learn classes.

Why an allowlist: a spec is data written by many people and reviewed in pull requests; it
must never be able to import arbitrary code. Only the classes below can be built, and only
with keyword parameters that their constructor accepts (checked against the signature, so a
typo fails with the list of valid names instead of being silently ignored). The compiler
keeps a static copy of the names (`specops.compiler.facts.estimator_allowlist`); a test
checks both agree.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from specops.runtime.engine.op_interface import OpError

__all__ = ["ESTIMATORS", "EstimatorEntry", "build_estimator", "estimator_entry", "is_tree"]


@dataclass(frozen=True, slots=True)
class EstimatorEntry:
    module: str
    family: str        # "classifier" | "regressor"
    tree: bool         # trees need no scaling (and scaling only adds ONNX parity noise)


def _e(module: str, family: str, tree: bool) -> EstimatorEntry:
    return EstimatorEntry(module, family, tree)


ESTIMATORS: dict[str, EstimatorEntry] = {
    "LogisticRegression": _e("sklearn.linear_model", "classifier", False),
    "HistGradientBoostingClassifier": _e("sklearn.ensemble", "classifier", True),
    "RandomForestClassifier": _e("sklearn.ensemble", "classifier", True),
    "ExtraTreesClassifier": _e("sklearn.ensemble", "classifier", True),
    "GradientBoostingClassifier": _e("sklearn.ensemble", "classifier", True),
    "DecisionTreeClassifier": _e("sklearn.tree", "classifier", True),
    "HistGradientBoostingRegressor": _e("sklearn.ensemble", "regressor", True),
    "RandomForestRegressor": _e("sklearn.ensemble", "regressor", True),
    "ExtraTreesRegressor": _e("sklearn.ensemble", "regressor", True),
    "GradientBoostingRegressor": _e("sklearn.ensemble", "regressor", True),
    "DecisionTreeRegressor": _e("sklearn.tree", "regressor", True),
    "Ridge": _e("sklearn.linear_model", "regressor", False),
    "LinearRegression": _e("sklearn.linear_model", "regressor", False),
    "ElasticNet": _e("sklearn.linear_model", "regressor", False),
    "Lasso": _e("sklearn.linear_model", "regressor", False),
}

# Parameters a spec may not set: they change where work runs or leak state, not the model.
_FORBIDDEN = frozenset({"n_jobs", "verbose", "warm_start", "memory", "callbacks"})


def estimator_entry(name: str) -> EstimatorEntry:
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise OpError(f"estimator {name!r} is not allowed; choose one of "
                      f"{', '.join(sorted(ESTIMATORS))}") from None


def is_tree(name: str) -> bool:
    return estimator_entry(name).tree


def _estimator_class(name: str) -> type[Any]:
    entry = estimator_entry(name)
    cls: type[Any] = getattr(importlib.import_module(entry.module), name)
    return cls


def build_estimator(name: str, params: dict[str, Any], seed: int | None = None) -> Any:
    """Instantiate an allowlisted estimator after validating `params` against its signature.

    `random_state` defaults to `seed` when the class takes one, so a run is deterministic
    unless the spec overrides it explicitly.
    """
    cls = _estimator_class(name)
    accepted = {p for p in inspect.signature(cls.__init__).parameters if p != "self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise OpError(f"{name}: unknown parameter(s) {', '.join(unknown)}; valid: "
                      f"{', '.join(sorted(accepted - _FORBIDDEN))}")
    forbidden = sorted(set(params) & _FORBIDDEN)
    if forbidden:
        raise OpError(f"{name}: parameter(s) {', '.join(forbidden)} are set by the runtime, "
                      "not the spec")
    for key, value in params.items():
        if not isinstance(value, (int, float, str, bool, type(None))):
            raise OpError(f"{name}: parameter {key!r} must be a scalar, got "
                          f"{type(value).__name__}")
    kwargs = dict(params)
    if "random_state" in accepted and "random_state" not in kwargs and seed is not None:
        kwargs["random_state"] = seed
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise OpError(f"{name}: invalid parameters: {exc}") from exc
