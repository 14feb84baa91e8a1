"""Every output format, checked against what its consumer requires.

SARIF against the official 2.1.0 schema plus GitHub's extra required fields; GitHub
workflow commands against actions/toolkit's escaping; the terminal excerpt against the
cells a terminal actually draws; JSON against the published report schema.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from specops.compiler.cli import main as cli
from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, Span
from specops.compiler.diagnostics.formats import FORMATS, render
from specops.compiler.diagnostics.formats.full import display_width, render_full
from specops.compiler.diagnostics.formats.github import (
    SUMMARY_ROWS,
    escape_data,
    escape_property,
    render_github,
    render_summary,
)
from specops.compiler.diagnostics.formats.json_out import REPORT_SCHEMA
from specops.compiler.diagnostics.formats.paths import repo_relative
from specops.compiler.diagnostics.rules import RULES
from specops.compiler.passes.lint import LintResult, lint_paths

REPO = Path(__file__).resolve().parents[3]
# The official OASIS schema, vendored with its licence (see LICENSE.md beside it).
SARIF_SCHEMA_FILE = REPO / "tests/fixtures/vendor/sarif/sarif-schema-2.1.0.json"
SARIF_SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"

BROKEN = """\
kind: source
name: raw
path: a.parquet
columns: {id: {type: int64}}
tags: ["名前", 3]
owner:\t"é x"
---
kind: gate
name: g
checks: [x]
colour: 1
---
kind: gate
name: h
checks: [x]
colour: 1
"""


@pytest.fixture(autouse=True)
def _not_in_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that run inside GitHub Actions must not see its environment."""
    for name in ("GITHUB_WORKSPACE", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def broken(tmp_path: Path) -> LintResult:
    (tmp_path / "specops.yaml").write_text("name: demo\n", encoding="utf-8")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "bad file.yaml").write_text(BROKEN, encoding="utf-8")
    result = lint_paths([tmp_path], base=tmp_path)
    assert {d.code for d in result.diagnostics} >= {"SPEC201", "SPEC203", "SPEC204"}
    return result


def _diag(code: str = "SPEC201", message: str = "unknown key `x`", file: str = "specs/a.yaml",
          span: Span | None = None, severity: Severity = Severity.ERROR,
          help: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, file, span or Span(2, 3, 2, 6), severity, help=help)


# --- SARIF -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.protocols.Validator:
    raw = SARIF_SCHEMA_FILE.read_bytes()   # vendored: never skipped on a clean clone
    assert hashlib.sha256(raw).hexdigest() == SARIF_SCHEMA_SHA256, "not the official file"
    schema = json.loads(raw)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def _sarif(result: LintResult) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render("sarif", result.diagnostics, result.sources(),
                                            "1.2.3"))
    return doc


def test_sarif_validates_against_official_schema(
        broken: LintResult, sarif_validator: jsonschema.protocols.Validator) -> None:
    doc = _sarif(broken)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator.iter_errors(doc)]
    assert not errors


def test_sarif_empty_run_is_valid(sarif_validator: jsonschema.protocols.Validator) -> None:
    doc = json.loads(render("sarif", [], {}, "1.2.3"))
    sarif_validator.validate(doc)
    assert doc["runs"][0]["results"] == []


def test_sarif_has_githubs_required_fields(broken: LintResult) -> None:
    doc = _sarif(broken)
    assert doc["version"] == "2.1.0" and doc["$schema"]
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "specops" and driver["version"] == "1.2.3"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for r in driver["rules"]:
        assert r["shortDescription"]["text"]
        assert r["fullDescription"]["text"]
        assert r["help"]["text"] and r["help"]["markdown"]
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert len(run["results"]) == len(broken.diagnostics)
    for res in run["results"]:
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["message"]["text"]
        loc = res["locations"][0]["physicalLocation"]
        uri = loc["artifactLocation"]["uri"]
        assert uri == "specs/bad%20file.yaml"  # repo-relative and percent-encoded
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        region = loc["region"]
        for key in ("startLine", "startColumn", "endLine", "endColumn"):
            assert isinstance(region[key], int) and region[key] >= 1
        assert res["partialFingerprints"]["primaryLocationLineHash"]


def test_sarif_fingerprints_are_distinct_and_stable(broken: LintResult) -> None:
    first = [r["partialFingerprints"]["primaryLocationLineHash"]
             for r in _sarif(broken)["runs"][0]["results"]]
    # the two `colour: 1` lines are identical text with the same code: still two alerts
    assert len(set(first)) == len(first)
    again = [r["partialFingerprints"]["primaryLocationLineHash"]
             for r in _sarif(broken)["runs"][0]["results"]]
    assert first == again


def test_sarif_absolute_paths_and_unknown_codes(
        sarif_validator: jsonschema.protocols.Validator) -> None:
    diags = [_diag(file="/abs/x y.yaml"), _diag(code="SPEC999", severity=Severity.INFO)]
    doc = json.loads(render("sarif", diags, {}, "0"))
    sarif_validator.validate(doc)
    locs = [r["locations"][0]["physicalLocation"]["artifactLocation"]
            for r in doc["runs"][0]["results"]]
    assert locs[0] == {"uri": "file:///abs/x%20y.yaml"}
    assert doc["runs"][0]["results"][1]["level"] == "note"


# --- GitHub workflow commands ------------------------------------------------------------

def test_github_escaping_matches_actions_toolkit() -> None:
    assert escape_data("50% a\r\nb:c,d") == "50%25 a%0D%0Ab:c,d"
    assert escape_property("50% a\r\nb:c,d") == "50%25 a%0D%0Ab%3Ac%2Cd"
    # `%` first, or the escapes themselves would be escaped again
    assert escape_data("%0A") == "%250A"


def test_github_annotation_line() -> None:
    d = _diag(file="specs/a,b:c.yaml", message="100% wrong\nsecond line", help="fix: it")
    (line,) = render_github([d]).splitlines()
    head, _, message = line.partition("::")[2].partition("::")
    assert line.startswith("::error file=specs/a%2Cb%3Ac.yaml,")
    props = dict(p.split("=", 1) for p in head.split(" ", 1)[1].split(","))
    assert props == {"file": "specs/a%2Cb%3Ac.yaml", "line": "2", "endLine": "2", "col": "3",
                     "endColumn": "6", "title": "SPEC201 unknown-key"}
    assert message == "100%25 wrong%0Asecond line%0Afix: it"
    assert "\r" not in line


def test_github_most_severe_first_and_levels() -> None:
    diags = [_diag(severity=Severity.INFO, message="i"),
             _diag(severity=Severity.WARNING, message="w1"),
             _diag(severity=Severity.ERROR, message="e"),
             _diag(severity=Severity.WARNING, message="w2")]
    lines = render_github(diags).splitlines()
    assert [ln.split(" ", 1)[0] for ln in lines] == ["::error", "::warning", "::warning",
                                                     "::notice"]
    assert lines[1].endswith("::w1") and lines[2].endswith("::w2")  # stable within a level


def test_github_multiline_span_sends_no_columns() -> None:
    (line,) = render_github([_diag(span=Span(3, 5, 7, 2))]).splitlines()
    assert "line=3,endLine=7," in line
    assert "col=" not in line and "endColumn=" not in line


# --- full --------------------------------------------------------------------------------

def _caret_cell(out: str, line_no: int, needle: str) -> tuple[int, int]:
    """(cell where `needle` starts in the excerpt of `line_no`, cell of the first caret)."""
    lines = out.splitlines()
    excerpt = next(ln for ln in lines if ln.startswith(f"{line_no} | "))
    caret_line = lines[lines.index(excerpt) + 1]
    return (display_width(excerpt[: excerpt.index(needle)]),
            display_width(caret_line[: caret_line.index("^")]))


@pytest.mark.parametrize(("text", "needle", "col", "length"), [
    ("name: raw", "raw", 7, 3),
    ('tags: ["名前", 3]', "3", 14, 1),           # wide CJK characters take two cells
    ("owner: \"é x\"", '"é x"', 8, 5),          # precomposed accent: one cell
    ("a: \"e\u0301\" # x", "# x", 9, 3),        # combining accent: zero cells
    ("owner:\t\"x\"", '"x"', 8, 3),               # tab expands to the next stop
    ("a:\t[\t1, bad]", "bad", 9, 3),
])
def test_full_caret_lands_under_the_span(text: str, needle: str, col: int,
                                         length: int) -> None:
    d = _diag(span=Span(1, col, 1, col + length))
    out = render_full([d], {d.file: [text]})
    assert "\t" not in out
    want, got = _caret_cell(out, 1, needle)
    assert got == want
    caret_line = out.splitlines()[4]
    assert caret_line.count("^") == display_width(needle)


def test_full_real_lint_output(broken: LintResult) -> None:
    out = render("full", broken.diagnostics, broken.sources(), "0")
    assert "error[SPEC203]: expected a string, got integer `3`" in out
    assert " --> specs/bad file.yaml:5:14" in out
    want, got = _caret_cell(out, 5, "3]")
    assert got == want


def test_full_tolerates_spans_outside_the_file() -> None:
    past_end = _diag(span=Span(1, 40, 1, 45))
    out = render_full([past_end], {past_end.file: ["short"]})
    assert out.splitlines()[4].endswith("^")
    missing_line = _diag(span=Span(9, 1, 9, 2))
    assert "|" not in render_full([missing_line], {missing_line.file: ["one line"]})
    assert render_full([missing_line], {}).count("\n") == 2


def test_full_color_only_when_asked() -> None:
    d = _diag(help="do this")
    assert "\x1b[" not in render_full([d], {d.file: ["a", "b: cdef"]})
    assert "\x1b[" in render_full([d], {d.file: ["a", "b: cdef"]}, color=True)


# --- concise, json -----------------------------------------------------------------------

def test_concise_one_line_each(broken: LintResult) -> None:
    out = render("concise", broken.diagnostics, broken.sources(), "0")
    lines = out.splitlines()
    assert len(lines) == len(broken.diagnostics)
    assert "specs/bad file.yaml:5:14: SPEC203 [error] expected a string, got integer `3`" \
        in lines
    multi = render("concise", [_diag(message="a\nb")], {}, "0")
    assert multi == "specs/a.yaml:2:3: SPEC201 [error] a b\n"


def test_json_matches_published_schema(broken: LintResult) -> None:
    doc = json.loads(render("json", broken.diagnostics, broken.sources(), "0"))
    jsonschema.Draft202012Validator.check_schema(REPORT_SCHEMA)
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(doc)
    assert doc["counts"]["error"] == len(broken.diagnostics)
    rec = doc["diagnostics"][0]
    assert rec["code"] in RULES and rec["slug"] == RULES[rec["code"]].slug


def test_json_schema_is_shipped() -> None:
    shipped = json.loads((REPO / "schemas" / "lint-report.schema.json").read_text("utf-8"))
    assert shipped["properties"] == REPORT_SCHEMA["properties"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_nothing_cleanly(fmt: str) -> None:
    out = render(fmt, [], {}, "0")
    if fmt in ("json", "sarif"):
        json.loads(out)
    else:
        assert out.strip() == ""


# --- GitHub paths and step summary -------------------------------------------------------

@pytest.mark.parametrize(("file", "workspace", "cwd", "want"), [
    ("specs/a.yaml", None, "/ws/sub", "specs/a.yaml"),
    ("specs/a.yaml", "/ws", "/ws/sub", "sub/specs/a.yaml"),
    ("../other/a.yaml", "/ws", "/ws/sub", "other/a.yaml"),
    ("/ws/sub/specs/a.yaml", "/ws", "/elsewhere", "sub/specs/a.yaml"),
    ("/tmp/a.yaml", "/ws", "/ws", "/tmp/a.yaml"),
])
def test_repo_relative(file: str, workspace: str | None, cwd: str, want: str) -> None:
    assert repo_relative(file, workspace, Path(cwd)) == want


def test_github_paths_follow_the_workspace(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    line = render_github([_diag(file="specs/a.yaml")])
    assert line.startswith("::error file=project/specs/a.yaml,")
    sarif = json.loads(render("sarif", [_diag(file="specs/a.yaml")], {}, "0"))
    uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert uri["artifactLocation"]["uri"] == "project/specs/a.yaml"


def test_step_summary_table() -> None:
    diags = [_diag(severity=Severity.WARNING, message="w | pipe"),
             _diag(severity=Severity.ERROR, message="e\nsecond line")]
    text = render_summary(diags)
    rows = [ln for ln in text.splitlines() if ln.startswith("| ")][1:]
    assert "1 error, 1 warning, 0 infos" in text
    assert rows[0].startswith("| error | SPEC201 unknown-key | `specs/a.yaml:2:3` | e second")
    assert rows[1].endswith("| w \\| pipe |")
    assert render_summary([]).endswith("No findings.\n\n")
    many = render_summary([_diag()] * (SUMMARY_ROWS + 3))
    assert "… and 3 more" in many


def test_cli_github_format_writes_step_summary(broken: LintResult, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    assert cli.main(["lint", "--format", "github", "."]) == 1
    out = capsys.readouterr().out
    assert out.count("::error ") == len(broken.diagnostics)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n### specops lint")
    assert text.count("| error |") == len(broken.diagnostics)
