"""The compiler's static estimator table (compiler/estimators.py) agrees with the installed
scikit-learn: every class exists, has the declared family, and accepts every listed
parameter. The compiler never imports scikit-learn; this test does, so the table cannot
drift from the library the runtime trains with."""

from __future__ import annotations

import inspect

import pytest
from specops.compiler.estimators import ESTIMATORS

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
    runtime = pytest.importorskip("specops.runtime.estimators")
    assert set(runtime.ESTIMATORS) == set(ESTIMATORS)
    for name, entry in runtime.ESTIMATORS.items():
        assert entry.family == ESTIMATORS[name].family, name
        assert _CLASSES[name].__module__.startswith(entry.module), name
        assert not set(ESTIMATORS[name].params) & runtime._FORBIDDEN, name
