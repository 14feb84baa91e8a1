"""Every semantic error in tests/fixtures/semantic/ gives exactly its expected diagnostics.

Same layout as the front-end corpus (see broken_cases.py): each case is a folder of files
laid over the minimal project plus `expected.txt` (`file:line:col CODE`, one a line,
exactly). Here every code is compared, not only the front end's: these cases pin the
semantic passes (expressions, governance, policies, graph), and a case must show every
error it contains, none hidden by another.

An optional `expected_messages.txt` pins message text too, one
`file:line:col CODE severity message` a line (for cycle paths, policy rule ids and
warnings): for every code it names, the diagnostics with that code are exactly its lines
(several policy violations share one location, so expected.txt alone cannot count them).

SPECOPS_UPDATE_FIXTURES=1 rewrites expected.txt from what lint reports (review the diff).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from broken_cases import FIXTURES, MINIMAL, UPDATE, Case, materialise, read_case, rewrite

from specops.compiler.diagnostics.diagnostic import Diagnostic
from specops.compiler.diagnostics.formats import FORMATS, render
from specops.compiler.diagnostics.rules import RULES
from specops.compiler.passes.lint import lint_paths

SEMANTIC = FIXTURES / "semantic"
EXAMPLE = FIXTURES.parent.parent / "examples" / "credit-risk"


def semantic_cases() -> list[Case]:
    out = []
    for folder in sorted(SEMANTIC.iterdir()):
        if (folder / "expected.txt").is_file():
            case = read_case(folder)
            case.all_codes = True
            out.append(case)
    return out


CASES = semantic_cases()


def _lint(case: Case, tmp_path: Path) -> list[Diagnostic]:
    root = materialise(case, tmp_path)
    result = lint_paths([root], case.variables, base=root)
    for d in result.diagnostics:  # every diagnostic points inside its file
        path = root / d.file
        if path.is_file():
            lines = path.read_bytes().split(b"\n")
            assert 1 <= d.span.line <= len(lines), (d.location(), len(lines))
            assert 1 <= d.span.col <= len(lines[d.span.line - 1]) + 1, d.location()
    for fmt in FORMATS:  # and every output format can show them
        shown_as = render(fmt, result.diagnostics, result.sources(), "0", color=True)
        assert all(d.code in shown_as for d in result.diagnostics), fmt
    return result.diagnostics


def _message_line(d: Diagnostic) -> str:
    return f"{d.location()} {d.code} {d.severity.label} {d.message}"


def _expected_messages(case: Case) -> list[str]:
    path = case.folder / "expected_messages.txt"
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_semantic_case(case: Case, tmp_path: Path) -> None:
    diagnostics = _lint(case, tmp_path)
    actual = {(d.file, d.span.line, d.span.col, d.code) for d in diagnostics}
    shown = "\n".join(_message_line(d) for d in diagnostics)
    if UPDATE:
        rewrite(case, actual)
        return
    assert case.expected, f"{case.name}: expected.txt lists no diagnostics"
    assert actual == case.expected, f"lint reported:\n{shown}"
    # no pass reports the same finding twice at one place
    keys = [(d.file, d.span.line, d.span.col, d.code, d.message) for d in diagnostics]
    assert len(keys) == len(set(keys)), shown
    wanted = _expected_messages(case)
    codes = {line.split(" ", 2)[1] for line in wanted}
    reported = sorted(_message_line(d) for d in diagnostics if d.code in codes)
    assert reported == sorted(wanted), f"lint reported:\n{shown}"


def test_cases_document_themselves() -> None:
    for case in CASES:
        assert any(h.lstrip().startswith("#") for h in case.header), case.name


# Codes of the semantic passes (SPEC4xx expressions and types, SPEC5xx governance and
# policy, SPEC6xx graph) plus the two 3xx codes they own (deprecated versions, unknown
# packs). SPEC506 needs a policy whose facts are missing at evaluation time, which no spec
# can produce (every documented fact is always supplied): test_policies.py covers it.
_COVERED_ELSEWHERE = {"SPEC506"}


def test_corpus_covers_semantic_codes() -> None:
    wanted = {c for c in RULES if c[4] in "456"} | {"SPEC308", "SPEC309"}
    seen = {code for case in CASES for *_, code in case.expected}
    assert wanted - _COVERED_ELSEWHERE - seen == set()


def test_many_error_cases_report_across_files() -> None:
    """Several cases hold many errors in several files; every one must be listed."""
    many = [c for c in CASES if c.name.startswith("many_")]
    assert len(many) >= 3
    for case in many:
        files = {f for f, *_ in case.expected}
        assert len(case.expected) >= 8 and len(files) >= 3, case.name


def test_minimal_project_is_clean() -> None:
    result = lint_paths([MINIMAL], {}, base=MINIMAL)
    assert [_message_line(d) for d in result.diagnostics] == []


def test_credit_risk_example_lints_clean() -> None:
    result = lint_paths([EXAMPLE], {}, base=EXAMPLE)
    assert [_message_line(d) for d in result.diagnostics] == []
    # the example exercises both built-in packs and its own policy, and all of them hold
    results = result.context.policy_results["model:credit_default"]
    assert {r["policy"] for r in results} == {"sr11-7", "eu-ai-act-high-risk", "house_rules"}
    assert all(r["holds"] for r in results)
