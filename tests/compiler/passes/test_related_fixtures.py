"""Related locations of the semantic corpus: the other party of each finding is located.

A case may carry `expected_related.txt`: `file:line:col CODE -> file:line:col`, one a line,
listing every related location lint attaches to that case's diagnostics, exactly. The
primary locations stay pinned by expected.txt (test_semantic_fixtures.py); this pins the
second half of "located": the person, the rule, the gate, the earlier input.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from broken_cases import FIXTURES, Case, materialise, read_case

from specops.compiler.passes.lint import lint_paths

SEMANTIC = FIXTURES / "semantic"


def _cases() -> list[tuple[Case, list[str]]]:
    out = []
    for folder in sorted(SEMANTIC.iterdir()):
        path = folder / "expected_related.txt"
        if path.is_file():
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()
                     if ln.strip() and not ln.startswith("#")]
            out.append((read_case(folder), lines))
    return out


CASES = _cases()


def test_enough_cases_pin_related_locations() -> None:
    assert len(CASES) >= 15
    codes = {line.split()[1] for _, lines in CASES for line in lines}
    assert {"SPEC503", "SPEC504", "SPEC505", "SPEC521", "SPEC524"} <= codes


@pytest.mark.parametrize(("case", "wanted"), CASES, ids=[c.name for c, _ in CASES])
def test_related_locations(case: Case, wanted: list[str], tmp_path: Path) -> None:
    root = materialise(case, tmp_path)
    result = lint_paths([root], case.variables, base=root)
    actual = sorted(f"{d.location()} {d.code} -> {r.location()}"
                    for d in result.diagnostics for r in d.related)
    assert actual == sorted(wanted)
    for d in result.diagnostics:   # every related location points inside its file
        for r in d.related:
            lines = (root / r.file).read_text(encoding="utf-8").splitlines()
            assert 1 <= r.span.line <= len(lines), r.location()
            assert 1 <= r.span.col <= len(lines[r.span.line - 1]) + 1, r.location()
            assert r.message
