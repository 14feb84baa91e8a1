"""docs/expressions.md stays in step with the signature table and the environments."""

from __future__ import annotations

from pathlib import Path

from specops.compiler.expr import FAIRNESS_FUNCTIONS, FUNCTIONS
from specops.compiler.expr.env import (
    CLASSIFICATION_METRICS,
    COMMON_METRICS,
    POLICY_OBJECTS,
    REGRESSION_METRICS,
)

DOC = (Path(__file__).resolve().parents[3] / "docs" / "expressions.md").read_text("utf-8")


def test_every_function_signature_is_documented() -> None:
    for fn in FUNCTIONS.values():
        assert f"`{fn.signature()}`" in DOC, fn.name
        assert f"`{fn.example}`" in DOC, fn.name
    for name in FAIRNESS_FUNCTIONS:
        assert f"`{name}(attr) -> float64`" in DOC, name


def test_every_name_of_every_environment_is_documented() -> None:
    for metric in [*CLASSIFICATION_METRICS, *REGRESSION_METRICS, *COMMON_METRICS]:
        assert f"`{metric}`" in DOC, metric
    for obj, schema in POLICY_OBJECTS.items():
        assert f"| `{obj}` |" in DOC
        for name in [*schema.fields, *schema.predicates]:
            assert f"`{name}" in DOC, f"{obj}.{name}"
