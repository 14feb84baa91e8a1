"""Parsing: the whitelist, hostile input, bounds, and exact columns (offsets are 0-based)."""

from __future__ import annotations

import time

import pytest

from specops.compiler.expr import MAX_DEPTH, MAX_LENGTH, parse
from specops.compiler.expr.ir import Call, Compare, InList, Lit, Logical, Name, SliceOf


def _issue(text: str) -> tuple[str, int]:
    result = parse(text)
    assert result.tree is None, f"{text!r} should be refused"
    first = result.issues[0]
    return first.code, first.start


@pytest.mark.parametrize(("text", "code", "col"), [
    # attribute access and dunders
    ("x.__class__", "SPEC402", 2),
    ("__import__('os')", "SPEC402", 0),
    ("__builtins__", "SPEC402", 0),
    ("''.__class__.__mro__", "SPEC402", 13),
    ("a.b.c", "SPEC402", 0),
    ("income + x.y.z", "SPEC402", 9),
    ("(1).real", "SPEC402", 0),
    ("f(x).y", "SPEC402", 0),
    ("a.b.c()", "SPEC402", 0),
    ("f(x)(y)", "SPEC402", 0),
    # code, not data
    ("lambda: 1", "SPEC402", 0),
    ("log1p(lambda x: x)", "SPEC402", 6),
    ("[x for x in y]", "SPEC402", 0),
    ("1 + sum(x for x in y)", "SPEC402", 7),
    ("{k: 1 for k in y}", "SPEC402", 0),
    ("{1, 2}", "SPEC402", 0),
    ("{'a': 1}", "SPEC402", 0),
    ("a[0]", "SPEC402", 0),
    ("a[1:2]", "SPEC402", 0),
    ("f(*args)", "SPEC402", 2),
    ("f(**kw)", "SPEC402", 2),
    ("clip(x, lo=0, hi=1)", "SPEC402", 8),
    ("(y := 1)", "SPEC402", 1),
    ("a if b else c", "SPEC402", 0),
    ("f'{x}'", "SPEC402", 0),
    ("b'x'", "SPEC402", 0),
    ("1j", "SPEC402", 0),
    ("...", "SPEC402", 0),
    ("await x", "SPEC402", 0),
    ("[1, 2]", "SPEC402", 0),
    ("x in y", "SPEC402", 5),
    ("x in [y]", "SPEC402", 6),
    ("x is None", "SPEC402", 0),
    ("a & b", "SPEC402", 0),
    ("~a", "SPEC402", 0),
    ("a @ b", "SPEC402", 0),
    ("a >> b", "SPEC402", 2),
    ("a << b", "SPEC402", 0),
    ("99999999999999999999", "SPEC402", 0),
    ("1e999", "SPEC402", 0),
    ("\uff49\uff4e\uff43\uff4f\uff4d\uff45 > 1", "SPEC402", 0),  # fullwidth
    ("x.\uff3f\uff3fclass\uff3f\uff3f", "SPEC402", 2),  # fullwidth _
    ("x > 1 # and y", "SPEC402", 6),
    ("'é' == xé", "SPEC402", 8),
    # syntax
    ("1 +", "SPEC401", 3),
    ("income +* 2", "SPEC401", 8),
    ("", "SPEC401", 0),
    ("   ", "SPEC401", 0),
    ("(1", "SPEC401", 0),
    ("a\x00b", "SPEC401", 1),
    ("x = 1", "SPEC401", 2),
    ("import os", "SPEC401", 0),
])
def test_refused_with_code_and_column(text: str, code: str, col: int) -> None:
    assert _issue(text) == (code, col)


def test_every_refusal_is_data_not_an_exception() -> None:
    for text in ["yield x", "(yield)", "x.__dict__['a']", "().__class__.__bases__[0]",
                 "print(open('/etc/passwd').read())", "exec('1')", "globals()"]:
        result = parse(text)
        assert result.tree is None or all(i.code for i in result.issues)


@pytest.mark.parametrize("text", [
    "(" * 500 + "1" + ")" * 500,
    "[" * 500,
    "1" + "+1" * 10_000,
    "-" * 1_999 + "1",
    "not " * 400 + "x",
    "f(" * 60 + "x" + ")" * 60,
    "a" * (MAX_LENGTH + 1),
    "1" + "+1" * 900,
    "2" + "**2" * 600,
])
def test_hostile_nesting_refused_quickly(text: str) -> None:
    # CPU time with a wide bound: the guard is against super-linear blow-ups (minutes),
    # not a benchmark, and wall time on a shared machine measures the neighbours
    started = time.process_time()
    code, _ = _issue(text)
    assert code == "SPEC407"
    assert time.process_time() - started < 2.0


def test_depth_limit_is_inclusive() -> None:
    ok = "(" * (MAX_DEPTH - 5) + "x" + ")" * (MAX_DEPTH - 5)
    assert parse(ok).tree is not None


def test_by_keeps_columns_exact() -> None:
    tree = parse("min(roc_auc by region) >= 0.70").tree
    assert isinstance(tree, Compare) and isinstance(tree.left, Call)
    arg = tree.left.args[0]
    assert isinstance(arg, SliceOf)
    assert (arg.metric.start, arg.by.start, arg.by.end) == (4, 15, 21)
    assert isinstance(tree.right, Lit) and tree.right.start == 26


def test_by_inside_strings_and_outside_calls_is_untouched() -> None:
    tree = parse('region == "by by"').tree
    assert isinstance(tree, Compare) and isinstance(tree.right, Lit)
    assert tree.right.value == "by by"
    assert parse("x by y").issues[0].code == "SPEC401"      # not inside brackets
    assert parse("'>>' == x").tree is not None               # `>>` in a string is text


def test_non_ascii_columns_are_characters_not_bytes() -> None:
    tree = parse("'é' + x").tree
    assert tree is not None and isinstance(tree.right, Name)  # type: ignore[union-attr]
    assert tree.right.start == 6  # type: ignore[union-attr]
    code, col = _issue("'é€' + x.__class__")
    assert (code, col) == ("SPEC402", 9)


def test_leading_blanks_and_newlines_keep_offsets() -> None:
    tree = parse("  a +\n b").tree
    assert isinstance(tree, object) and tree is not None
    assert tree.start == 2  # type: ignore[union-attr]
    assert _issue("  x.__class__") == ("SPEC402", 4)


def test_chained_comparison_and_in() -> None:
    tree = parse("0 < x <= 1").tree
    assert isinstance(tree, Logical) and tree.op == "and" and len(tree.args) == 2
    tree = parse("x not in ('a', 'b')").tree
    assert isinstance(tree, InList) and tree.negate and len(tree.items) == 2


def test_literal_words() -> None:
    assert parse("true").tree == Lit(True, 0, 4)
    assert parse("null").tree == Lit(None, 0, 4)
    assert parse("-2").tree == Lit(-2, 0, 2)


def test_several_refusals_are_all_reported() -> None:
    issues = parse("f(a=1) + x.__y__").issues
    assert [(i.code, i.start) for i in issues] == [("SPEC402", 2), ("SPEC402", 11)]
