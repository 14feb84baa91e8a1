"""Schema validation mapped back to YAML positions: one diagnostic per mistake."""

from __future__ import annotations

import pytest

from specops.compiler.diagnostics.diagnostic import Diagnostic
from specops.compiler.frontend.loader import load_text
from specops.compiler.frontend.validate_specs import LoadedSpec, validate_document

MODEL = """\
kind: model
name: m
owner: team:risk
task: binary_classification
training:
  spine: loans
  label: {source: loans, column: target}
  features: [v@1]
estimator:
  class: HistGradientBoostingClassifier
"""


def check(text: str) -> tuple[LoadedSpec | None, list[Diagnostic]]:
    docs, diags = load_text("f.yaml", text)
    assert docs, diags
    loaded, problems = validate_document(docs[0])
    return loaded, diags + problems


def found(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.col) for d in check(text)[1]]


def test_valid_model() -> None:
    loaded, diags = check(MODEL)
    assert diags == [] and loaded is not None and not loaded.partial


def test_unknown_key_did_you_mean_top_level_and_nested() -> None:
    loaded, diags = check(MODEL + "serving: {format: onnx, replica: 2}\ngatse: [q]\n")
    assert [(d.code, d.span.line, d.span.col, d.help) for d in diags] == [
        ("SPEC201", 11, 25, "did you mean `replicas`?"),
        ("SPEC201", 12, 1, "did you mean `gates`?")]
    # the rest of the spec survives for later passes
    assert loaded is not None and loaded.was_pruned("gatse")
    assert loaded.spec.training.features == ["v@1"]


def test_unknown_key_without_close_match_lists_the_allowed_keys() -> None:
    _, diags = check("kind: gate\nname: g\nchecks: [a]\nzzzzzz: 1\n")
    assert "allowed keys:" in (diags[0].help or "") and "checks" in (diags[0].help or "")


def test_enum_did_you_mean() -> None:
    _, diags = check(MODEL.replace("binary_classification", "regresion"))
    assert [(d.code, d.span.line, d.help) for d in diags] == [
        ("SPEC204", 4, "did you mean `regression`?")]


@pytest.mark.parametrize(("extra", "expected"), [
    # str | Check: a misspelt key in the mapping branch, not "expected a string" too
    ("  - {check: x, severty: warning}\n", [("SPEC201", 5, 16)]),
    # neither branch fits: one message naming both
    ("  - 5\n", [("SPEC203", 5, 5)]),
    ("  - [a, b]\n", [("SPEC203", 5, 5)]),
    # a value inside the mapping branch is wrong
    ("  - {check: x, severity: fatal}\n", [("SPEC204", 5, 26)]),
])
def test_union_collapse_gives_one_diagnostic_per_mistake(
        extra: str, expected: list[tuple[str, int, int]]) -> None:
    text = "kind: gate\nname: g\nchecks:\n  - roc_auc > 0.5\n" + extra
    assert found(text) == expected


def test_union_type_message_names_every_branch() -> None:
    _, diags = check("kind: feature\nname: v\nsource: s\nfeatures: {a: b}\ndeprecated: 5\n")
    assert len(diags) == 1 and diags[0].message == \
        "expected true or false or a mapping, got integer `5`"


def test_scalar_union_of_many_types() -> None:
    _, diags = check(MODEL + "  params: {max_iter: [1, 2]}\n")
    assert [(d.code, d.span.line) for d in diags] == [("SPEC203", 11)]


def test_missing_field_positions() -> None:
    assert found(MODEL.replace("task: binary_classification\n", "")) == [("SPEC202", 1, 1)]
    assert found(MODEL.replace("column: target", "col: target")) == [("SPEC201", 7, 26)]  # misspelt
    assert found(MODEL.replace(", column: target", "")) == [("SPEC202", 7, 3)]
    gate = "kind: gate\nname: g\nchecks:\n  - a > 1\n  - id: x\n    severity: warning\n"
    assert found(gate) == [("SPEC202", 5, 5)]


def test_misspelt_required_key_is_reported_once() -> None:
    _, diags = check(MODEL.replace("owner:", "ownr:"))
    assert [(d.code, d.help) for d in diags] == [("SPEC201", "did you mean `owner`?")]


def test_strict_types() -> None:
    assert found(MODEL + '  cv: "5"\n') == [("SPEC203", 11, 7)]
    assert found(MODEL + "  cv: 5.0\n") == [("SPEC203", 11, 7)]
    assert found(MODEL + "  cv: true\n") == [("SPEC203", 11, 7)]
    assert found(MODEL + "  cv: 1\n") == [("SPEC204", 11, 7)]


def test_values_the_loader_refused_are_not_reported_twice() -> None:
    text = "kind: source\nname: s\npath: p\ncolumns:\n  a: {type: int64, unique: yes}\n"
    loaded, diags = check(text)
    assert [d.code for d in diags] == ["SPEC103"]
    assert loaded is not None and loaded.reported("columns", "a", "unique")
    loaded, diags = check(MODEL.replace("class: HistGradientBoostingClassifier",
                                        "class: !!python/name:os.system"))
    assert [d.code for d in diags] == ["SPEC104"] and loaded is None


@pytest.mark.parametrize(("text", "code"), [
    ("- a\n- b\n", "SPEC108"), ("text\n", "SPEC108"), ("--- null\n", "SPEC108"),
    ("name: x\n", "SPEC206"), ("kind: modle\nname: x\n", "SPEC205"),
    ("kind: [model]\nname: x\n", "SPEC205"),
])
def test_documents_that_are_not_specs(text: str, code: str) -> None:
    loaded, diags = check(text)
    assert loaded is None and [d.code for d in diags] == [code]


def test_unknown_kind_did_you_mean() -> None:
    _, diags = check("kind: modle\nname: x\n")
    assert diags[0].help == "did you mean `model`?" and diags[0].span.col == 7


def test_salvage_gives_up_when_a_required_field_is_broken() -> None:
    loaded, diags = check(MODEL.replace("spine: loans", "spine: [loans]"))
    assert [d.code for d in diags] == ["SPEC203"]
    assert loaded is None


def test_salvage_keeps_list_indices() -> None:
    text = "kind: gate\nname: g\nchecks:\n  - {check: a, severity: fatal}\n  - b > 1\n"
    loaded, _ = check(text)
    assert loaded is not None and loaded.was_pruned("checks", 0, "severity")
    assert loaded.spec.checks[1] == "b > 1"


def test_bad_mapping_keys_are_reported_at_the_key() -> None:
    text = ("kind: source\nname: s\npath: p\ncolumns:\n  ok: {type: int64}\n"
            "  bad-name: {type: int64}\n")
    assert found(text) == [("SPEC204", 6, 3)]


def test_a_spec_with_a_broken_version_is_not_salvaged() -> None:
    loaded, diags = check("kind: feature\nname: v\nversion: 0\nsource: s\nfeatures: {a: b}\n")
    assert loaded is None and [d.code for d in diags] == ["SPEC204"]
