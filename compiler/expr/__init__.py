"""One safe, typed expression language for features, gates, approvals and policies.

Text is parsed with Python's `ast` against a whitelist (never evaluated), type-checked
against an environment built for its use, and compiled to the JSON tree of
docs/plan.md. `evaluate` interprets such a tree without importing the compiler.
See docs/expressions.md.
"""

from __future__ import annotations

from specops.compiler.expr.api import (
    check_expression,
    check_spec_expression,
    compile_expression,
    issue_span,
    text_offset,
)
from specops.compiler.expr.check import CheckResult, Tree, check
from specops.compiler.expr.env import (
    Env,
    ObjectSchema,
    approval_env,
    feature_env,
    gate_env,
    metrics_for_task,
    policy_env,
)
from specops.compiler.expr.functions import FAIRNESS_FUNCTIONS, FUNCTIONS, Function
from specops.compiler.expr.issues import ExprIssue
from specops.compiler.expr.parse import MAX_DEPTH, MAX_LENGTH, ParseResult, parse
from specops.compiler.expr.types import ExprType, column_type
from specops.contract.interpret import EvaluationError, evaluate

__all__ = [
    "FAIRNESS_FUNCTIONS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "CheckResult",
    "Env",
    "EvaluationError",
    "ExprIssue",
    "ExprType",
    "Function",
    "ObjectSchema",
    "ParseResult",
    "Tree",
    "approval_env",
    "check",
    "check_expression",
    "check_spec_expression",
    "column_type",
    "compile_expression",
    "evaluate",
    "feature_env",
    "gate_env",
    "issue_span",
    "metrics_for_task",
    "parse",
    "policy_env",
    "text_offset",
]
