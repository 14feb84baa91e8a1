"""One safe, typed expression language for features, gates, approvals and policies.

Text is parsed with Python's `ast` against a whitelist (never evaluated), type-checked
against an environment built for its use, and compiled to the JSON tree of
docs/plan.md. `evaluate` interprets such a tree without importing the compiler.
See docs/expressions.md.
"""

from __future__ import annotations

from .api import (
    check_expression,
    check_spec_expression,
    compile_expression,
    issue_span,
    text_offset,
)
from .check import CheckResult, Tree, check
from .env import (
    Env,
    ObjectSchema,
    approval_env,
    feature_env,
    gate_env,
    metrics_for_task,
    policy_env,
)
from .evaluate import EvaluationError, evaluate
from .functions import FAIRNESS_FUNCTIONS, FUNCTIONS, Function
from .issues import ExprIssue
from .parse import MAX_DEPTH, MAX_LENGTH, ParseResult, parse
from .types import ExprType, column_type

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
