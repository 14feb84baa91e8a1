"""Ahead-of-time checks of values, leakage, people and event times: the boundaries.

The fixture corpora (tests/fixtures/broken, semantic) pin each defect's exact location;
these tests pin what must *not* be reported (the near misses a false positive would hit)
and hold the estimator domain table to scikit-learn's own parameter constraints, so the
compiler can never refuse a value the library accepts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from broken_cases import MINIMAL

from specops.compiler.facts.estimator_allowlist import ESTIMATORS
from specops.compiler.facts.estimator_domains import DOMAINS, domain_error
from specops.compiler.passes.lint import lint_paths

sklearn_validation = pytest.importorskip("sklearn.utils._param_validation")


def _lint(tmp_path: Path, **files: str) -> list[str]:
    root = tmp_path / "p"
    shutil.copytree(MINIMAL, root)
    for rel, text in files.items():
        (root / rel.replace("__", "/").replace("_yaml", ".yaml")).write_text(text)
    result = lint_paths([root], {}, base=root)
    return [f"{d.location()} {d.code}" for d in result.diagnostics]


def _model(extra: str = "", features: str = "[loan_features@1, loans.region]") -> str:
    text = (MINIMAL / "specs" / "model.yaml").read_text()
    return text.replace("[loan_features@1, loans.region]", features) + extra


_SAMPLES: tuple[object, ...] = (None, True, False, -1, 0, 1, 2, 255, 256, -0.5, 0.0, 0.3,
                                0.5, 0.7, 1.0, 1.5, "sqrt", "log2", "auto", "cube")


def _sklearn_accepts(cls_name: str, param: str, value: object) -> bool:
    import sklearn.ensemble
    import sklearn.linear_model
    import sklearn.tree

    for module in (sklearn.ensemble, sklearn.linear_model, sklearn.tree):
        cls = getattr(module, cls_name, None)
        if cls is not None:
            break
    constraints = {param: cls._parameter_constraints[param]}
    try:
        sklearn_validation.validate_parameter_constraints(constraints, {param: value},
                                                          caller_name=cls_name)
    except (sklearn_validation.InvalidParameterError, ValueError, TypeError):
        return False
    return True


def test_every_refused_value_is_refused_by_sklearn() -> None:
    """The table may be laxer than scikit-learn, never stricter (no false positive).
    One deliberate exception: `true` for a number (Python's bool is an int, so sklearn
    takes `C: true` as 1); specs are strict about types everywhere else too."""
    checked = refused = 0
    stricter = []
    for cls_name, info in ESTIMATORS.items():
        for param in sorted(info.params & set(DOMAINS)):
            for value in _SAMPLES:
                checked += 1
                if domain_error(cls_name, param, value) is not None:  # type: ignore[arg-type]
                    refused += 1
                    if not isinstance(value, bool) and _sklearn_accepts(cls_name, param,
                                                                        value):
                        stricter.append((cls_name, param, value))
    assert stricter == []
    assert checked > 500 and refused > 100   # the table really refuses things


def test_domain_messages_name_the_value_and_domain() -> None:
    assert domain_error("DecisionTreeClassifier", "max_depth", 0) == \
        "`max_depth: 0` is outside the domain of `DecisionTreeClassifier`: an integer >= 1, " \
        "or null"
    assert domain_error("DecisionTreeClassifier", "max_depth", None) is None
    assert domain_error("GradientBoostingRegressor", "alpha", 1.0) is not None
    assert domain_error("Ridge", "alpha", 1.0) is None


def test_leakage_only_for_the_features_that_read_the_label(tmp_path: Path) -> None:
    view = (MINIMAL / "specs" / "feature.yaml").read_text() + "  was_late: \"defaulted > 0\"\n"
    clean = _lint(tmp_path, specs__feature_yaml=view, specs__model_yaml=_model(
        features="[loan_features@1.log_income, loans.region]"))
    assert clean == []


def test_label_of_another_source_with_the_same_column_name_is_no_leak(tmp_path: Path) -> None:
    other = ("kind: source\nname: history\npath: data/h.parquet\nentity: loan_id\n"
             "columns:\n  loan_id: {type: int64}\n  defaulted: {type: int64}\n")
    found = _lint(tmp_path, specs__history_yaml=other, specs__model_yaml=_model(
        features="[loan_features@1, history.defaulted]"))
    assert not [d for d in found if d.endswith("SPEC430")]


def test_people_are_not_checked_when_the_project_declares_none(tmp_path: Path) -> None:
    config = "name: minimal\nspecs: [\"specs/**/*.yaml\"]\nvars: {data_dir: data, min_auc: 0.7}\n"
    found = _lint(tmp_path, specops_yaml=config,
                  specs__model_yaml=_model("validator: carol\n"))
    assert not [d for d in found if d.endswith("SPEC307") and "model.yaml" in d]


def test_known_people_teams_and_roles_pass(tmp_path: Path) -> None:
    found = _lint(tmp_path, specs__model_yaml=_model(
        "validator: person:bob\nauthors: [alice, team:risk, role:ml_engineer]\n"))
    assert found == []


@pytest.mark.parametrize("drift", [
    "{warn: 0.3, alert: 0.5}",                         # written in order
    "{method: jensenshannon, warn: 0.2, alert: 0.8}",  # below sqrt(ln 2)
    "{method: psi, warn: 2, alert: 5}",                # psi has no maximum
    "{warn: 0.2}",                                     # below the default alert
])
def test_drift_thresholds_that_can_fire_pass(tmp_path: Path, drift: str) -> None:
    assert _lint(tmp_path, specs__model_yaml=_model(f"monitoring:\n  drift: {drift}\n")) == []


def test_formats_and_paths_that_agree_pass(tmp_path: Path) -> None:
    source = (MINIMAL / "specs" / "source.yaml").read_text()
    agree = source.replace("loans.parquet\"\n", "loans.csv.gz\"\nformat: csv\n")
    assert _lint(tmp_path, specs__source_yaml=agree) == []


def test_a_zero_label_delay_is_allowed_but_a_zero_window_is_not(tmp_path: Path) -> None:
    """`label_delay: 0d` means labels arrive with the predictions; a 0d window is empty."""
    assert _lint(tmp_path / "a", specs__model_yaml=_model(
        "monitoring:\n  label_delay: 0d\n")) == []
    assert _lint(tmp_path / "b", specs__model_yaml=_model(
        "monitoring:\n  window: 0d\n")) == ["specs/model.yaml:16:11 SPEC204"]
