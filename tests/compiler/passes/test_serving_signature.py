"""The declared serving signature: names from the spec, shown by `specops explain`, and a
collision refused rather than renamed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from broken_cases import MINIMAL

from specops.compiler.cli import main as cli
from specops.compiler.passes.lint import lint_paths
from specops.compiler.plan.explain import SIGNATURE_RULE

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "credit-risk"


def test_explain_shows_the_signature_and_its_rule(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLE)
    assert cli.main(["explain", "train:credit_default"]) == 0
    out = capsys.readouterr().out
    section = out.split("Serving signature (the request fields, by name):\n", 1)[1]
    lines = section.split("\n\n", 1)[0].splitlines()
    assert lines[0] == f"  rule: {SIGNATURE_RULE}"
    assert "  utilization: float64 (numeric) <- features:bureau_history@2" in lines
    assert "  region: string (categorical) <- source:applications" in lines
    assert not any("__" in line for line in lines)   # nothing renamed
    assert len(lines) == 1 + 8


def test_collision_is_an_error_with_both_sources(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    feature = root / "specs" / "feature.yaml"
    feature.write_text(feature.read_text(encoding="utf-8") + "  region: upper(region)\n",
                       encoding="utf-8")
    result = lint_paths([root], base=root)
    (d,) = [d for d in result.diagnostics if d.code == "SPEC524"]
    assert d.location() == "specs/model.yaml:9:31"           # loans.region, the later one
    (rel,) = d.related
    assert rel.location() == "specs/model.yaml:9:14"         # loan_features@1
    assert "`region`" in d.message and not result.ok
