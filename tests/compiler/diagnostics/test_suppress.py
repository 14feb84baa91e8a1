"""Inline suppressions: `# specops: ignore[CODE] reason`, same line or the next code line."""

from __future__ import annotations

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, Span
from specops.compiler.diagnostics.suppress import apply_suppressions, parse_suppressions


def diag(code: str, line: int, file: str = "f.yaml") -> Diagnostic:
    return Diagnostic(code, "x", file, Span.point(line, 1))


def test_trailing_comment_covers_its_own_line() -> None:
    text = "a: 1\ngates: [x]  # specops: ignore[SPEC304] soon\n"
    sups, diags = parse_suppressions("f.yaml", text)
    assert diags == []
    assert [(s.line, s.target, s.codes, s.reason) for s in sups] == [
        (2, 2, ("SPEC304",), "soon")]
    kept = apply_suppressions([diag("SPEC304", 2), diag("SPEC304", 1)], sups)
    assert [(d.code, d.span.line) for d in kept] == [("SPEC304", 1)]


def test_comment_alone_covers_the_next_code_line() -> None:
    text = "a: 1\n  # specops: ignore[SPEC304] soon\n\n# another comment\ngates: [x]\nb: 2\n"
    sups, _ = parse_suppressions("f.yaml", text)
    assert [(s.line, s.target) for s in sups] == [(2, 5)]
    kept = apply_suppressions([diag("SPEC304", 5), diag("SPEC304", 6)], sups)
    assert [d.span.line for d in kept] == [6]


def test_several_codes_any_case() -> None:
    sups, diags = parse_suppressions("f.yaml", "a: 1  # specops: ignore[spec304, SPEC305,] both\n")
    assert diags == [] and sups[0].codes == ("SPEC304", "SPEC305")
    assert apply_suppressions([diag("SPEC304", 1), diag("SPEC305", 1)], sups) == []


def test_missing_reason_is_an_error_and_suppresses_nothing() -> None:
    sups, diags = parse_suppressions("f.yaml", "a: 1  # specops: ignore[SPEC304]   \n")
    assert sups == [] and [(d.code, d.span.line, d.span.col) for d in diags] == [
        ("SPEC902", 1, 7)]


def test_unknown_and_missing_codes() -> None:
    sups, diags = parse_suppressions(
        "f.yaml", "a: 1  # specops: ignore[SPEC999] why\nb: 2  # specops: ignore[] why\n")
    assert [(d.code, d.span.line) for d in diags] == [("SPEC903", 1), ("SPEC903", 2)]
    # a suppression of an unknown code is not reported again as unused
    assert apply_suppressions([], sups) == []


def test_unused_suppression_warns_at_the_comment() -> None:
    sups, _ = parse_suppressions("f.yaml", "a: 1\nb: 2  # specops: ignore[SPEC304, SPEC305] x\n")
    kept = apply_suppressions([diag("SPEC304", 2)], sups)
    assert [(d.code, d.span.line, d.span.col, d.severity) for d in kept] == [
        ("SPEC901", 2, 7, Severity.WARNING)]
    assert "SPEC305" in kept[0].message


def test_wrong_code_keeps_the_diagnostic_and_warns() -> None:
    sups, _ = parse_suppressions("f.yaml", "gates: [x]  # specops: ignore[SPEC305] nope\n")
    kept = apply_suppressions([diag("SPEC304", 1)], sups)
    assert sorted(d.code for d in kept) == ["SPEC304", "SPEC901"]


def test_suppressions_are_per_file() -> None:
    sups, _ = parse_suppressions("a.yaml", "x: 1  # specops: ignore[SPEC304] why\n")
    kept = apply_suppressions([diag("SPEC304", 1, file="b.yaml")], sups)
    assert sorted(d.code for d in kept) == ["SPEC304", "SPEC901"]


def test_suppression_problems_cannot_be_suppressed() -> None:
    sups, diags = parse_suppressions(
        "f.yaml", "a: 1  # specops: ignore[SPEC903, SPEC999] trying to hide\n")
    kept = apply_suppressions(diags, sups)
    assert "SPEC903" in {d.code for d in kept}


def test_hash_inside_a_plain_value_is_not_a_comment() -> None:
    sups, diags = parse_suppressions("f.yaml", "a: x#specops: ignore[SPEC304] no\n")
    assert sups == [] and diags == []
