"""Property: no input makes parse/check raise, and every issue points inside the text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from specops.compiler.diagnostics.rules import RULES
from specops.compiler.expr import MAX_LENGTH, compile_expression, feature_env, gate_env, policy_env

ENVS = [feature_env({"income": "float64", "region": "string", "at": "datetime"}),
        gate_env("binary_classification", slices=["region"], protected=["sex"]),
        policy_env("model")]

TOKENS = st.sampled_from([
    "income", "region", "at", "roc_auc", "sex", "model", "champion", ".", "__class__",
    "(", ")", "[", "]", "{", "}", ",", ":", "+", "-", "*", "/", "//", "**", "%", "==",
    "<", ">=", "and", "or", "not", "in", "is", "by", "lambda", "for", "if", "else", "1",
    "2.5", "'x'", '"y"', "None", "true", "log1p", "min", "disparate_impact", "has_check",
    "=", ":=", "@", "\\", "'", "f'", "é", "\n", " ", "yield", "await", "*", "**",
])


def _assert_sane(text: str) -> None:
    for env in ENVS:
        result = compile_expression(text, env)
        assert (result.tree is None) == bool(result.issues)
        for issue in result.issues:
            assert issue.code in RULES
            assert 0 <= issue.start < max(len(text), 1) + 1
            assert issue.end > issue.start


@settings(max_examples=300, deadline=None)
@given(st.lists(TOKENS, max_size=40).map(" ".join))
def test_token_soup_never_raises(text: str) -> None:
    _assert_sane(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_never_raises(text: str) -> None:
    _assert_sane(text)


def test_length_limit_boundary() -> None:
    _assert_sane("1" * MAX_LENGTH)
    _assert_sane("x" * (MAX_LENGTH + 1))
