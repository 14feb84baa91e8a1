"""check_expression: issues become Diagnostics at file columns (quoted and plain values)."""

from __future__ import annotations

from specops.compiler.diagnostics import Severity, Span
from specops.compiler.expr import check_expression, feature_env, gate_env, text_offset

ENV = feature_env({"income": "float64", "region": "string"})


def test_plain_value_columns() -> None:
    line = "  log_income: log1p(region)"
    span = Span(7, 15, 7, 28)                     # value starts at column 15 (1-based)
    offset = text_offset(line, span)
    assert offset == 0
    tree, diags = check_expression("log1p(region)", ENV, file="f.yaml", span=span,
                                   offset=offset)
    assert tree is None
    [d] = diags
    assert (d.code, d.span, d.severity) == ("SPEC404", Span(7, 21, 7, 27), Severity.ERROR)
    assert line[d.span.col - 1:d.span.end_col - 1] == "region"


def test_quoted_value_columns() -> None:
    line = '  - "min(roc_auc by regoin) >= 0.70"'
    span = Span(3, 5, 3, 37)                      # starts at the opening quote
    offset = text_offset(line, span)
    assert offset == 1
    env = gate_env("binary_classification", slices=["region"])
    _, [d] = check_expression("min(roc_auc by regoin) >= 0.70", env, file="g.yaml",
                              span=span, offset=offset)
    assert d.code == "SPEC403" and line[d.span.col - 1:d.span.end_col - 1] == "regoin"
    assert d.help == "did you mean `region`?"


def test_block_scalar_falls_back_to_whole_value() -> None:
    span = Span(4, 9, 6, 1)
    assert text_offset("  expr: >", span) is None
    assert text_offset("  expr: |", Span(4, 9, 4, 10)) is None
    _, [d] = check_expression("incme", ENV, file="f.yaml", span=span, offset=None)
    assert d.span == span


def test_success_returns_tree_and_no_diagnostics() -> None:
    tree, diags = check_expression("log1p(income)", ENV, file="f.yaml",
                                   span=Span(1, 1, 1, 14))
    assert diags == [] and tree is not None and tree["type"] == "float64"
