"""The values each estimator parameter can take, as the compiler knows them.

Why a table here: scikit-learn checks a parameter's domain only inside `fit`, so
`max_depth: 0` used to lint and compile clean and fail minutes into a training run (or, in
a search, fail one candidate and quietly drop it). The compiler must not import
scikit-learn, so the domains are written out; `tests/compiler/passes/test_value_checks.py`
checks every refused sample against scikit-learn's own `_parameter_constraints`, so the
table cannot be stricter than the library. Parameters absent here are not range-checked
(string choices such as `criterion` are left to scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DOMAINS", "RESERVED_PARAMS", "Domain", "Value", "domain_error"]

# Parameters the runtime sets itself (runtime/training/estimator_classes.py `_FORBIDDEN`):
# they change where work runs or carry state between fits, not what the model is.
RESERVED_PARAMS = frozenset({"n_jobs", "verbose", "warm_start", "memory", "callbacks"})

Value = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Domain:
    """Accepted: None when `none`; an int in [int_low, int_high]; a float inside the
    interval (`float_low`/`float_high`, open ends when `*_open`); a listed word; a bool
    when `boolean`."""

    text: str
    none: bool = False
    int_low: int | None = None
    int_high: int | None = None
    floats: bool = False
    float_low: float | None = None
    float_low_open: bool = False
    float_high: float | None = None
    float_high_open: bool = False
    words: frozenset[str] = frozenset()
    boolean: bool = False
    ints: bool = True

    def accepts(self, value: Value) -> bool:
        if value is None:
            return self.none
        if isinstance(value, bool):
            return self.boolean
        if isinstance(value, str):
            return value in self.words
        if isinstance(value, int) and self.ints and (self.int_low is not None or
                                                     self.int_high is not None):
            return (self.int_low is None or value >= self.int_low) and \
                (self.int_high is None or value <= self.int_high)
        if self.floats:
            v = float(value)
            lo, hi = self.float_low, self.float_high
            return (lo is None or (v > lo if self.float_low_open else v >= lo)) and \
                (hi is None or (v < hi if self.float_high_open else v <= hi))
        return False


def _int(low: int, text: str, none: bool = False, high: int | None = None) -> Domain:
    return Domain(text, none=none, int_low=low, int_high=high)


def _pos_float(text: str, open_low: bool = True) -> Domain:
    return Domain(text, floats=True, float_low=0.0, float_low_open=open_low,
                  int_low=1 if open_low else 0)


_UNIT = Domain("a number in (0, 1]", floats=True, float_low=0.0, float_low_open=True,
               float_high=1.0, ints=False)
_SHARED: dict[str, Domain] = {
    "max_depth": _int(1, "an integer >= 1, or null", none=True),
    "n_estimators": _int(1, "an integer >= 1"),
    "max_iter": _int(1, "an integer >= 1"),
    "max_leaf_nodes": _int(2, "an integer >= 2, or null", none=True),
    "min_samples_leaf": Domain("an integer >= 1 or a fraction in (0, 1)", int_low=1,
                               floats=True, float_low=0.0, float_low_open=True,
                               float_high=1.0, float_high_open=True),
    "min_samples_split": Domain("an integer >= 2 or a fraction in (0, 1]", int_low=2,
                                floats=True, float_low=0.0, float_low_open=True,
                                float_high=1.0),
    "learning_rate": _pos_float("a number > 0"),
    "C": _pos_float("a number > 0"),
    "alpha": _pos_float("a number >= 0", open_low=False),
    "l2_regularization": _pos_float("a number >= 0", open_low=False),
    "ccp_alpha": _pos_float("a number >= 0", open_low=False),
    "min_impurity_decrease": _pos_float("a number >= 0", open_low=False),
    "tol": _pos_float("a number >= 0", open_low=False),
    "subsample": _UNIT,
    "l1_ratio": Domain("a number in [0, 1], or null", none=True, floats=True,
                       float_low=0.0, float_high=1.0, int_low=0, int_high=1),
    "min_weight_fraction_leaf": Domain("a number in [0, 0.5]", floats=True, float_low=0.0,
                                       float_high=0.5, int_low=0, int_high=0),
    "max_bins": _int(2, "an integer from 2 to 255", high=255),
    "n_iter_no_change": _int(1, "an integer >= 1, or null", none=True),
    "random_state": _int(0, "an integer >= 0, or null", none=True, high=2**32 - 1),
    "max_samples": Domain("null, an integer >= 1 or a number > 0", none=True,
                          int_low=1, floats=True, float_low=0.0, float_low_open=True),
    "max_features": Domain("null, sqrt, log2, an integer >= 1 or a fraction in (0, 1]",
                           none=True, int_low=1, floats=True, float_low=0.0,
                           float_low_open=True, float_high=1.0,
                           words=frozenset({"sqrt", "log2"})),
    "bootstrap": Domain("true or false", boolean=True),
    "oob_score": Domain("true or false", boolean=True),
    "fit_intercept": Domain("true or false", boolean=True),
    "positive": Domain("true or false", boolean=True),
    "early_stopping": Domain("auto, true or false", boolean=True, words=frozenset({"auto"})),
}

# Where one class differs from the shared meaning of a name.
_BY_CLASS: dict[tuple[str, str], Domain] = {
    ("GradientBoostingRegressor", "alpha"): Domain(
        "a number in (0, 1)", floats=True, float_low=0.0, float_low_open=True,
        float_high=1.0, float_high_open=True, ints=False),
    ("HistGradientBoostingClassifier", "max_features"): _UNIT,
    ("HistGradientBoostingRegressor", "max_features"): _UNIT,
    ("HistGradientBoostingClassifier", "min_samples_leaf"): _int(1, "an integer >= 1"),
    ("HistGradientBoostingRegressor", "min_samples_leaf"): _int(1, "an integer >= 1"),
    ("LogisticRegression", "max_iter"): _int(0, "an integer >= 0"),
    ("GradientBoostingClassifier", "learning_rate"): _pos_float("a number >= 0", False),
    ("GradientBoostingRegressor", "learning_rate"): _pos_float("a number >= 0", False),
}
for _linear in ("Ridge", "ElasticNet", "Lasso"):
    _BY_CLASS[(_linear, "max_iter")] = _int(1, "an integer >= 1, or null", none=True)
for _hgb in ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"):
    _BY_CLASS[(_hgb, "validation_fraction")] = Domain(
        "a number in (0, 1), an integer >= 1, or null", none=True, int_low=1, floats=True,
        float_low=0.0, float_low_open=True, float_high=1.0, float_high_open=True)

DOMAINS = _SHARED


def domain_error(estimator: str, param: str, value: Value) -> str | None:
    """Why `value` cannot be `param` of `estimator`, or None when it can (or is unknown)."""
    dom = _BY_CLASS.get((estimator, param)) or _SHARED.get(param)
    if dom is None or dom.accepts(value):
        return None
    shown = "null" if value is None else str(value).lower() if isinstance(value, bool) \
        else repr(value) if isinstance(value, str) else str(value)
    return f"`{param}: {shown}` is outside the domain of `{estimator}`: {dom.text}"
