"""The compiler's static estimator table (compiler/facts/estimator_allowlist.py) agrees with
the installed scikit-learn: every class exists, has the declared family, and accepts every listed
parameter. The compiler never imports scikit-learn; this test does, so the table cannot
drift from the library the runtime trains with."""

from __future__ import annotations

import inspect
import math
from typing import Any

import pytest

from specops.compiler.facts.estimator_allowlist import ESTIMATORS

sklearn = pytest.importorskip("sklearn")
from sklearn.base import is_classifier, is_regressor  # noqa: E402
from sklearn.utils import all_estimators  # noqa: E402

_CLASSES = {name: cls for name, cls in all_estimators()}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_class_exists_with_its_family(name: str) -> None:
    assert name in _CLASSES, f"{name} is not a scikit-learn estimator"
    info = ESTIMATORS[name]
    cls = _CLASSES[name]
    if info.family == "classifier":
        assert is_classifier(cls()), name
    else:
        assert info.family == "regressor"
        assert is_regressor(cls()), name


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_listed_param_is_in_the_signature(name: str) -> None:
    signature = inspect.signature(_CLASSES[name].__init__)
    accepted = set(signature.parameters) - {"self"}
    assert set(ESTIMATORS[name].params) - accepted == set()
    assert set(ESTIMATORS[name].params) <= set(_CLASSES[name]().get_params())


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_listed_params_are_scalars(name: str) -> None:
    """Specs set scalars only: no estimator-valued or callable parameters are listed."""
    defaults = _CLASSES[name]().get_params(deep=False)
    for param in ESTIMATORS[name].params:
        value = defaults[param]
        assert value is None or isinstance(value, str | int | float | bool | dict), \
            (name, param, value)


def test_runtime_allowlist_agrees() -> None:
    """The runtime maps the same names to the same families and modules."""
    runtime = pytest.importorskip("specops.runtime.training.estimator_classes")
    assert set(runtime.ESTIMATORS) == set(ESTIMATORS)
    for name, entry in runtime.ESTIMATORS.items():
        assert entry.family == ESTIMATORS[name].family, name
        assert _CLASSES[name].__module__.startswith(entry.module), name
        assert not set(ESTIMATORS[name].params) & runtime._FORBIDDEN, name


# estimator.scoring ------------------------------------------------------------------------

def _scorer_table() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    from specops.compiler.passes.model_checks.check_estimator import (
        BINARY_ONLY_SCORERS,
        CLASSIFICATION_SCORERS,
        REGRESSION_SCORERS,
    )

    return CLASSIFICATION_SCORERS, BINARY_ONLY_SCORERS, REGRESSION_SCORERS


def test_scorer_names_exist() -> None:
    from sklearn.metrics import get_scorer_names

    classification, binary_only, regression = _scorer_table()
    assert classification | regression <= set(get_scorer_names())
    assert binary_only <= classification and not classification & regression


def _fitted(kind: str) -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression, Ridge

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    if kind == "regression":
        y = np.abs(x @ np.array([1.0, 2.0, 0.5])) + 1.0   # positive, for gamma/poisson/log
        return Ridge().fit(x, y), x, y
    n = 2 if kind == "binary" else 3
    y = (np.abs(x[:, 0] * 3).astype(int)) % n
    return LogisticRegression(max_iter=500).fit(x, y), x, y


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_scorers_run_on_their_task(kind: str) -> None:
    import warnings

    from sklearn.metrics import get_scorer

    classification, binary_only, regression = _scorer_table()
    model, x, y = _fitted(kind)
    names = regression if kind == "regression" else \
        classification - (binary_only if kind == "multiclass" else frozenset())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(names):
            score = get_scorer(name)(model, x, y)   # must not raise
            assert math.isfinite(score), name


def test_binary_only_scorers_fail_on_multiclass() -> None:
    import warnings

    from sklearn.metrics import get_scorer

    _classification, binary_only, _regression = _scorer_table()
    model, x, y = _fitted("multiclass")
    for name in sorted(binary_only):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                value = get_scorer(name)(model, x, y)
            except ValueError:
                continue
        assert value != value, f"{name} scored a multiclass model: {value}"   # nan
