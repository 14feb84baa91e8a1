"""Every broken spec in tests/fixtures/broken/ gives exactly its expected diagnostics.

The corpus is data (see broken_cases.py for the layout); this module only runs lint on
each case and compares the set of (file, line, col, code). It also checks that the corpus
keeps covering the codes the front end and reference passes emit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from broken_cases import MINIMAL, UPDATE, Case, cases, materialise, rewrite

from specops.compiler.diagnostics.formats import FORMATS, render
from specops.compiler.diagnostics.rules import RULES
from specops.compiler.passes.lint import lint_paths

CASES = cases()


def _lint(case: Case, tmp_path: Path) -> tuple[set[tuple[str, int, int, str]], str]:
    root = materialise(case, tmp_path)
    result = lint_paths([root], case.variables, base=root)
    actual = {(d.file, d.span.line, d.span.col, d.code) for d in result.diagnostics
              if case.compared(d.code)}
    shown = "\n".join(f"{d.location()} {d.code} {d.message}" for d in result.diagnostics)
    for fmt in FORMATS:  # and every output format can show them
        shown_as = render(fmt, result.diagnostics, result.sources(), "0", color=True)
        assert all(d.code in shown_as for d in result.diagnostics), fmt
    for d in result.diagnostics:  # every diagnostic points inside its file
        path = root / d.file
        if path.is_file():
            lines = path.read_bytes().split(b"\n")
            assert 1 <= d.span.line <= len(lines), (d.location(), len(lines))
            assert 1 <= d.span.col <= len(lines[d.span.line - 1]) + 1, d.location()
    return actual, shown


def test_minimal_project_is_clean() -> None:
    result = lint_paths([MINIMAL], {}, base=MINIMAL)
    assert [d.location() + " " + d.code for d in result.diagnostics] == []


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 70


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_case(case: Case, tmp_path: Path) -> None:
    actual, shown = _lint(case, tmp_path)
    if UPDATE:
        rewrite(case, actual)
        return
    assert case.expected, f"{case.name}: expected.txt lists no diagnostics"
    assert actual == case.expected, f"lint reported:\n{shown}"


# Codes the corpus must exercise: everything the loader, templates, schema validation,
# reference resolution and suppressions emit. SPEC001 (unreadable file) needs a FIFO, a
# dangling link or a refused read, which a copied fixture cannot hold: test_project.py and
# test_confine_attacks.py cover it.
_COVERED_ELSEWHERE = {"SPEC001"}


def test_corpus_covers_front_end_codes() -> None:
    wanted = {c for c in RULES if c[4] in "0123" or c[4] == "9"}
    wanted = {c for c in wanted if not c.startswith("SPEC4") and c not in _COVERED_ELSEWHERE}
    seen = {code for case in CASES for *_, code in case.expected}
    assert wanted - seen == set()
