"""Related locations (the other party of a finding) in every output format.

Each test renders one diagnostic whose primary span is in one file and whose related
location is in another, and checks that the consumer of that format can find both: SARIF
against the official vendored schema, JSON against the published report schema.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema

from specops.compiler.diagnostics.diagnostic import Diagnostic, Related, Span
from specops.compiler.diagnostics.formats import render
from specops.compiler.diagnostics.formats.json_out import REPORT_SCHEMA

REPO = Path(__file__).resolve().parents[3]
SARIF_SCHEMA_FILE = REPO / "tests/fixtures/vendor/sarif/sarif-schema-2.1.0.json"
SARIF_SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"

SOURCES = {
    "specs/approval.yaml": ["kind: approval\n", "name: two\n", "require:\n",
                            "  - {role: validator, count: 2}\n"],
    "specops.yaml": ["name: demo\n", "people:\n", "  ana: {roles: [validator]}\n"],
}
DIAG = Diagnostic(
    "SPEC301", "rule `two` needs 2 validators but only 1 exists", "specs/approval.yaml",
    Span(4, 5, 4, 33),
    related=(Related("specops.yaml", Span(3, 3, 3, 6), "`ana` is the only validator"),),
)


def test_full_shows_note_arrow_and_excerpt_of_the_other_file() -> None:
    out = render("full", [DIAG], SOURCES, "0").splitlines()
    i = out.index("  = note: `ana` is the only validator")
    assert out[i + 1] == " --> specops.yaml:3:3"
    assert out[i + 3] == "3 |   ana: {roles: [validator]}"
    assert out[i + 4] == "  |   ^^^"


def test_concise_related_is_an_indented_line_after_its_finding() -> None:
    out = render("concise", [DIAG, DIAG], SOURCES, "0").splitlines()
    assert out[0].startswith("specs/approval.yaml:4:5: SPEC301 [error]")
    assert out[1] == "    specops.yaml:3:3: note: `ana` is the only validator"
    assert len(out) == 4 and out[2] == out[0]


def test_json_related_array_matches_published_schema() -> None:
    doc = json.loads(render("json", [DIAG], SOURCES, "0"))
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(doc)
    assert doc["diagnostics"][0]["related"] == [{
        "file": "specops.yaml", "line": 3, "column": 3, "end_line": 3, "end_column": 6,
        "message": "`ana` is the only validator"}]
    plain = Diagnostic("SPEC201", "x", "a.yaml", Span(1, 1, 1, 2))
    assert json.loads(render("json", [plain], {}, "0"))["diagnostics"][0]["related"] == []


def test_json_schema_rejects_a_related_without_position() -> None:
    doc = json.loads(render("json", [DIAG], SOURCES, "0"))
    del doc["diagnostics"][0]["related"][0]["line"]
    errors = list(jsonschema.Draft202012Validator(REPORT_SCHEMA).iter_errors(doc))
    assert errors


def _sarif_validator() -> jsonschema.protocols.Validator:
    raw = SARIF_SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SARIF_SCHEMA_SHA256
    schema = json.loads(raw)
    validator: jsonschema.protocols.Validator = jsonschema.validators.validator_for(schema)(
        schema)
    return validator


def test_sarif_related_locations_validate_and_point_at_the_other_file() -> None:
    doc: dict[str, Any] = json.loads(render("sarif", [DIAG], SOURCES, "1.0"))
    _sarif_validator().validate(doc)
    result = doc["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    (rel,) = result["relatedLocations"]
    assert rel["id"] == 1
    assert rel["physicalLocation"]["artifactLocation"]["uri"] == "specops.yaml"
    assert rel["physicalLocation"]["region"] == {
        "startLine": 3, "startColumn": 3, "endLine": 3, "endColumn": 6}
    assert rel["message"]["text"] == "`ana` is the only validator"


def test_sarif_without_related_has_no_related_locations_key() -> None:
    plain = Diagnostic("SPEC201", "x", "a.yaml", Span(1, 1, 1, 2))
    result = json.loads(render("sarif", [plain], {}, "1"))["runs"][0]["results"][0]
    assert "relatedLocations" not in result


def test_github_annotation_names_the_related_location_in_its_message() -> None:
    line = render("github", [DIAG], SOURCES, "0").strip()
    assert line.startswith("::error file=specs/approval.yaml,line=4,")
    assert line.endswith("%0Anote: specops.yaml:3:3: `ana` is the only validator")
    assert line.count("\n") == 0
