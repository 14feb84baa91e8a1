"""docs/rules.md is current, covers every code, and every example triggers its code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from specops.compiler.cli.main import main
from specops.compiler.diagnostics.rule_examples import EXAMPLES
from specops.compiler.diagnostics.rules import RULES
from specops.compiler.diagnostics.rules_doc import render_rules_markdown
from specops.compiler.passes.lint import lint_paths

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "rules.md"
MINIMAL = REPO / "tests" / "fixtures" / "projects" / "minimal"
VERIFIED = sorted(code for code, ex in EXAMPLES.items() if ex.verify)


def test_rules_doc_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render_rules_markdown(), (
        "docs/rules.md is stale: run `uv run specops rules --format markdown > docs/rules.md`")


def test_cli_markdown_format_matches(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--format", "markdown"]) == 0
    assert capsys.readouterr().out == render_rules_markdown()


def test_every_code_has_an_example_and_an_anchor() -> None:
    assert set(EXAMPLES) == set(RULES), "add an example to compiler/diagnostics/rule_examples.py"
    text = render_rules_markdown()
    for code, rule in RULES.items():
        assert f"\n### {code}\n" in text          # SARIF helpUri is rules.md#<code lower>
        assert f"[{code}](#{code.lower()})" in text
        assert rule.slug in text and rule.explanation in text


@pytest.mark.parametrize("code", VERIFIED)
def test_example_reports_its_code(code: str, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(MINIMAL, root)
    example = EXAMPLES[code]
    (root / example.file).write_text(example.text, encoding="utf-8")
    reported = {d.code for d in lint_paths([root], base=root).diagnostics}
    assert code in reported, f"example for {code} reports {sorted(reported)}"


def test_minimal_project_is_clean() -> None:
    assert not lint_paths([MINIMAL], base=MINIMAL).diagnostics


def test_rules_code_shows_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "spec201"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SPEC201 unknown-key (error)")
    assert EXAMPLES["SPEC201"].text.strip() in out
