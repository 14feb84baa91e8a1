"""Salvage puts back a required field when a typo explains it, and only then.

Why these cases: the repair must make a misspelt key or value stop hiding the rest of the
spec, without inventing a value nobody wrote and without looping when the repaired value
is itself wrong.
"""

from __future__ import annotations

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
    loaded, problems = validate_document(docs[0])
    return loaded, diags + problems


def codes(diags: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.col) for d in diags]


def test_misspelt_required_key_is_checked_under_its_suggestion() -> None:
    loaded, diags = check(MODEL.replace("estimator:", "estimater:"))
    assert codes(diags) == [("SPEC201", 9, 1)]
    assert diags[0].help == "did you mean `estimator`?"
    assert loaded is not None and loaded.spec.estimator.class_ == \
        "HistGradientBoostingClassifier"
    assert loaded.was_pruned("estimater") and not loaded.was_pruned("estimator")
    # passes locate the repaired field at what the user wrote
    assert (loaded.span("estimator", "class").line, loaded.span("estimator", "class").col) \
        == (10, 10)
    assert loaded.key_span("estimator").line == 9


def test_misspelt_required_value_takes_the_suggestion() -> None:
    loaded, diags = check(MODEL.replace("task: binary_classification",
                                        "task: binary_clasification"))
    assert codes(diags) == [("SPEC204", 4, 7)]
    assert loaded is not None and loaded.spec.task == "binary_classification"


def test_no_typo_no_repair() -> None:
    missing = MODEL.split("estimator:")[0]
    assert check(missing)[0] is None
    assert codes(check(missing)[1]) == [("SPEC202", 1, 1)]
    unrelated = MODEL.replace("task: binary_classification", "task: forecasting")
    assert check(unrelated)[0] is None
    wrong_key = MODEL.replace("estimator:", "model_class:")
    assert check(wrong_key)[0] is None


def test_a_repaired_value_that_is_itself_wrong_gives_up_cleanly() -> None:
    text = MODEL.replace("estimator:\n  class: HistGradientBoostingClassifier\n",
                         "estimater: 5\n")
    loaded, diags = check(text)
    assert loaded is None
    assert codes(diags) == [("SPEC201", 9, 1)]


def test_identity_is_kept_from_a_misspelt_name_key() -> None:
    loaded, diags = check(MODEL.replace("name: m", "nme: m"))
    assert codes(diags) == [("SPEC201", 2, 1)]
    assert loaded is not None and loaded.name == "m"
