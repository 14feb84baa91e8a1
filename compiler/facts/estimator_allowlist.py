"""The estimator allowlist as the compiler knows it: class names, their task family, and
the scalar parameters a spec may set.

Why a static table: the compiler must not import scikit-learn (lint runs in pre-commit
without the runtime). `tests/compiler/passes/test_estimators.py` checks this table against the
installed scikit-learn signatures so it cannot drift. The runtime keeps its own allowlist
mapping these names to classes; a spec never names an import path.
"""

from __future__ import annotations

__all__ = ["ESTIMATORS", "EstimatorInfo"]

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EstimatorInfo:
    family: str                 # "classifier" or "regressor"
    params: frozenset[str]


_TREE = ("ccp_alpha", "criterion", "max_depth", "max_features", "max_leaf_nodes",
         "min_impurity_decrease", "min_samples_leaf", "min_samples_split",
         "min_weight_fraction_leaf", "random_state")
_FOREST = (*_TREE, "bootstrap", "max_samples", "n_estimators", "oob_score")
_GB = (*_TREE, "learning_rate", "loss", "n_estimators", "n_iter_no_change", "subsample",
       "tol", "validation_fraction")
_HGB = ("early_stopping", "l2_regularization", "learning_rate", "loss", "max_bins",
        "max_depth", "max_features", "max_iter", "max_leaf_nodes", "min_samples_leaf",
        "n_iter_no_change", "random_state", "scoring", "tol", "validation_fraction")


def _info(family: str, *params: str) -> EstimatorInfo:
    return EstimatorInfo(family, frozenset(params))


ESTIMATORS: dict[str, EstimatorInfo] = {
    "LogisticRegression": _info("classifier", "C", "class_weight", "fit_intercept",
                                "intercept_scaling", "l1_ratio", "max_iter", "penalty",
                                "random_state", "solver", "tol"),
    "HistGradientBoostingClassifier": _info("classifier", *_HGB, "class_weight"),
    "RandomForestClassifier": _info("classifier", *_FOREST, "class_weight"),
    "ExtraTreesClassifier": _info("classifier", *_FOREST, "class_weight"),
    "GradientBoostingClassifier": _info("classifier", *_GB),
    "DecisionTreeClassifier": _info("classifier", *_TREE, "class_weight", "splitter"),
    "HistGradientBoostingRegressor": _info("regressor", *_HGB, "quantile"),
    "RandomForestRegressor": _info("regressor", *_FOREST),
    "ExtraTreesRegressor": _info("regressor", *_FOREST),
    "GradientBoostingRegressor": _info("regressor", *_GB, "alpha"),
    "DecisionTreeRegressor": _info("regressor", *_TREE, "splitter"),
    "Ridge": _info("regressor", "alpha", "fit_intercept", "max_iter", "positive",
                   "random_state", "solver", "tol"),
    "LinearRegression": _info("regressor", "fit_intercept", "positive", "tol"),
    "ElasticNet": _info("regressor", "alpha", "fit_intercept", "l1_ratio", "max_iter",
                        "positive", "random_state", "selection", "tol"),
    "Lasso": _info("regressor", "alpha", "fit_intercept", "max_iter", "positive",
                   "random_state", "selection", "tol"),
}
