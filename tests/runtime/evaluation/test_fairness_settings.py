"""Fairness that says what it measures (issue 13): the favourable outcome and decision
threshold of the model spec, banded numeric attributes, and each gate's own minimum group
size, checked against fairlearn on the very rows and decisions the evaluate op used.

Each test here fails on the code before the change: `evaluate` refused a `fairness` param
(and always counted the positive class at predict()), every distinct age was a group, and
a gate compared groups at the smallest `min_group_size` of all the model's gates.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from fairlearn.metrics import demographic_parity_ratio, equalized_odds_difference
from ml_helpers import make_ctx, make_frame, run_pipeline

from specops.runtime.engine.op_interface import OpError
from specops.runtime.evaluation.banding import (
    FairnessSettings,
    band_edges,
    band_groups,
    favourable,
)
from specops.runtime.evaluation.evaluate import evaluate
from specops.runtime.evaluation.gate import gate


def _dataset(root: Path, n: int = 800) -> Path:
    """The ml_helpers data plus a protected numeric attribute that is not a model input."""
    d = root / "training_set"
    d.mkdir(parents=True, exist_ok=True)
    df = make_frame(n, 3)
    ages = np.random.default_rng(11).integers(18, 90, n)
    df = df.with_columns(pl.Series("applicant_age", ages))
    cut = int(n * 0.6)
    df[:cut].write_parquet(d / "train.parquet")
    df[cut:].write_parquet(d / "test.parquet")
    (d / "schema.json").write_text(json.dumps({
        "inputs": [{"name": "income", "type": "float64", "role": "numeric"},
                   {"name": "age", "type": "int64", "role": "numeric"},
                   {"name": "region", "type": "string", "role": "categorical"}],
        "label": "y", "protected": ["sex", "applicant_age"], "entity": "id",
        "timestamp": "ts", "task": "binary_classification"}))
    return d


def _evaluate(root: Path, dirs: dict[str, Path], fairness: dict[str, Any] | None,
              name: str = "e", min_group_size: int = 5) -> dict[str, Any]:
    params: dict[str, Any] = {
        "task": "binary_classification", "metrics": [], "slices": ["region"],
        "protected": ["sex", "applicant_age"], "min_group_size": min_group_size,
        "label": {"name": "y", "type": "int64"}}
    if fairness is not None:
        params["fairness"] = fairness
    ctx = make_ctx(root / name, "evaluate:m", "evaluate", params,
                   {"train:m": dirs["train"], "training_set:m": dirs["data"]})
    evaluate(ctx)
    dirs[name] = ctx.out_dir
    return dict(json.loads((ctx.out_dir / "evaluation.json").read_text()))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("fair")
    ds = _dataset(root)
    return root, run_pipeline(root, data=ds)


def _test_rows(dirs: dict[str, Path], name: str) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    test = pl.read_parquet(dirs["data"] / "test.parquet")
    preds = pl.read_parquet(dirs[name] / "predictions.parquet")
    return test, test.get_column("y").to_numpy(), preds.get_column("proba").to_numpy()


def test_favourable_label_and_threshold_equal_fairlearn(
        trained: tuple[Path, dict[str, Path]]) -> None:
    """Where 1 is the adverse outcome, fairness compares approval rates: the decision is
    P(0) >= threshold, and every number equals fairlearn's with 0 as the positive label."""
    root, dirs = trained
    ev = _evaluate(root, dirs, {"favorable": 0, "threshold": 0.4, "bands": {}}, "fav")
    test, y, p1 = _test_rows(dirs, "fav")
    decision = ((1.0 - p1) >= 0.4).astype(int)
    truth = (y == 0).astype(int)
    sex = test.get_column("sex").to_numpy()
    rep = ev["fairness"]["sex"]
    kw = {"y_true": truth, "y_pred": decision, "sensitive_features": sex}
    assert rep["disparate_impact"] == pytest.approx(demographic_parity_ratio(**kw))
    assert rep["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(**kw))
    for g in ("F", "M"):
        assert rep["groups"][g]["selection_rate"] == pytest.approx(
            decision[sex == g].mean())
    # the adverse-outcome rate (the old "positive class at 0.5") is a different number
    adverse = (p1 >= 0.5).astype(int)
    assert rep["disparate_impact"] != pytest.approx(demographic_parity_ratio(
        y_true=y, y_pred=adverse, sensitive_features=sex))
    settings = ev["fairness_settings"]
    assert settings["favorable"] == 0 and settings["favorable_label"] == 0
    assert settings["threshold"] == 0.4 and "P(0) >= 0.4" in settings["description"]


def test_default_is_the_positive_class_at_one_half(
        trained: tuple[Path, dict[str, Path]]) -> None:
    root, dirs = trained
    ev = _evaluate(root, dirs, None, "default")
    test, y, p1 = _test_rows(dirs, "default")
    kw = {"y_true": y, "y_pred": (p1 >= 0.5).astype(int),
          "sensitive_features": test.get_column("sex").to_numpy()}
    assert ev["fairness"]["sex"]["disparate_impact"] == pytest.approx(
        demographic_parity_ratio(**kw))
    assert ev["fairness_settings"]["favorable_label"] == 1
    assert ev["fairness_settings"]["threshold"] == 0.5


def test_banded_attribute_groups_are_the_bands(trained: tuple[Path, dict[str, Path]]) -> None:
    root, dirs = trained
    ev = _evaluate(root, dirs, {"favorable": None, "threshold": None,
                                "bands": {"applicant_age": [30.0, 50.0, 70.0]}}, "bands")
    rep = ev["fairness"]["applicant_age"]
    assert set(rep["groups"]) == {"<30", "30-50", "50-70", ">=70"}
    assert rep["bands"] == ["<30", "30-50", "50-70", ">=70"]
    test, y, p1 = _test_rows(dirs, "bands")
    ages = test.get_column("applicant_age").to_numpy()
    # [a, b): 30 is in 30-50, 50 in 50-70
    by_hand = np.where(ages < 30, "<30", np.where(ages < 50, "30-50",
                                                  np.where(ages < 70, "50-70", ">=70")))
    kw = {"y_true": y, "y_pred": (p1 >= 0.5).astype(int), "sensitive_features": by_hand}
    assert rep["disparate_impact"] == pytest.approx(demographic_parity_ratio(**kw))
    assert {g: v["n"] for g, v in rep["groups"].items()} == {
        g: int((by_hand == g).sum()) for g in rep["groups"]}
    assert ev["fairness_settings"]["bands"] == {"applicant_age": [30.0, 50.0, 70.0]}
    # without bands (the old behaviour) every distinct age was its own group
    plain = _evaluate(root, dirs, None, "plain")
    assert len(plain["fairness"]["applicant_age"]["groups"]) > 40


def test_quantile_bands_are_cut_on_the_training_split_and_stored(
        trained: tuple[Path, dict[str, Path]]) -> None:
    root, dirs = trained
    ev = _evaluate(root, dirs, {"favorable": None, "threshold": None,
                                "bands": {"applicant_age": {"quantiles": 4}}}, "q")
    train_ages = pl.read_parquet(dirs["data"] / "train.parquet").get_column(
        "applicant_age").to_numpy().astype(float)
    expected = [float(v) for v in np.quantile(train_ages, [0.25, 0.5, 0.75])]
    assert ev["fairness_settings"]["bands"]["applicant_age"] == pytest.approx(expected)
    assert len(ev["fairness"]["applicant_age"]["groups"]) == 4


def test_a_favourable_value_that_is_no_class_fails_the_step(
        trained: tuple[Path, dict[str, Path]]) -> None:
    root, dirs = trained
    with pytest.raises(OpError, match="not a class"):
        _evaluate(root, dirs, {"favorable": 7, "threshold": None, "bands": {}}, "bad")


def _gate(root: Path, dirs: dict[str, Path], name: str, min_group_size: int) -> dict[str, Any]:
    tree = {"op": "compare", "fn": "ge", "type": "bool",
            "left": {"op": "fairness", "fn": "disparate_impact", "attribute": "sex",
                     "type": "float64"},
            "right": {"op": "lit", "value": 0.0, "type": "float64"}}
    ctx = make_ctx(root / "gates" / name, f"gate:m:{name}", "gate",
                   {"gate": name, "checks": [{"id": "di", "text": "disparate_impact(sex) >= 0",
                                              "expr": tree, "severity": "blocking",
                                              "message": None}],
                    "blocking": True, "min_group_size": min_group_size,
                    "require_champion": False},
                   {"evaluate:m": dirs["fav"], "benchmark:m": dirs["benchmark"]},
                   extra={"record_rejections": False, "champion": None})
    with contextlib.suppress(OpError):
        gate(ctx)
    return dict(json.loads((ctx.out_dir / "gate_report.json").read_text()))


def test_each_gate_compares_groups_at_its_own_min_group_size(
        trained: tuple[Path, dict[str, Path]]) -> None:
    """evaluate ran at the smallest size (5); a gate that says more than the smaller sex
    group's rows must not compare the two groups, one that says less must."""
    root, dirs = trained
    ev = json.loads((dirs["fav"] / "evaluation.json").read_text())
    sizes = sorted(g["n"] for g in ev["fairness"]["sex"]["groups"].values())
    small = _gate(root, dirs, "loose", sizes[0])
    assert small["passed"] and small["checks"][0]["status"] == "pass"
    strict = _gate(root, dirs, "strict", sizes[0] + 1)
    di = strict["checks"][0]
    assert not strict["passed"] and di["status"] == "error"
    assert f"at least {sizes[0] + 1} rows" in di["detail"]


def test_regression_decisions_by_direction_and_threshold() -> None:
    pred = np.array([1.0, 5.0, 3.0, 2.0])
    y = np.array([4.0, 1.0, 3.0, 2.5])
    hi = FairnessSettings("higher_score", 3.0)
    truth, decision = favourable(hi, [], y, None, pred)
    assert decision is not None and truth is not None
    assert decision.tolist() == [0, 1, 1, 0] and truth.tolist() == [1, 0, 1, 0]
    _, low = favourable(FairnessSettings("lower_score", 2.0), [], None, None, pred)
    assert low is not None and low.tolist() == [1, 0, 0, 1]
    assert favourable(FairnessSettings(None, None), [], y, None, pred) == (None, None)


def test_band_groups_are_half_open_and_keep_missing_apart() -> None:
    groups = band_groups(np.array([24, 25, 39.9, 40, 60, None], dtype=object), [25, 40, 60])
    assert groups.tolist() == ["<25", "25-40", "25-40", "40-60", ">=60", None]
    assert band_groups(np.array(["F", None], dtype=object), None).tolist() == ["F", None]
    # tied quantiles never make empty bands
    assert band_edges(np.array([1.0] * 9 + [2.0]), {"quantiles": 4}) == [1.0]


def test_report_shows_the_decision_and_bands_in_order(
        trained: tuple[Path, dict[str, Path]]) -> None:
    """The governance report reads evaluation.json only: it says what a selection is and
    lists banded groups in band order, not text order (">=70" sorts before "<30")."""
    from specops.runtime.reports.model_report import _fairness

    root, dirs = trained
    ev = _evaluate(root, dirs, {"favorable": 0, "threshold": 0.5,
                                "bands": {"applicant_age": [30.0, 50.0, 70.0]}}, "rep")
    [age, sex] = _fairness(ev)
    assert [g["name"] for g in age["groups"]] == ["<30", "30-50", "50-70", ">=70"]
    assert age["bands"] == "<30, 30-50, 50-70, >=70 (cut at 30, 50, 70)"
    assert sex["decision"] == "favourable decision: P(0) >= 0.5; favourable outcome: label 0"
    assert sex["bands"] is None and sex["min_group_size"] == 5


def test_regression_fairness_on_decisions_by_direction(tmp_path: Path) -> None:
    """A regression's selection is `prediction >= threshold` (higher_score): disparate
    impact equals fairlearn's on those decisions; without a direction it is a note."""
    dirs = run_pipeline(tmp_path, "Ridge", task="regression")
    label = {"name": "y", "type": "float64"}

    def run(name: str, fairness: dict[str, Any] | None) -> dict[str, Any]:
        params: dict[str, Any] = {"task": "regression", "metrics": [], "slices": [],
                                  "protected": ["sex"], "min_group_size": 5, "label": label}
        if fairness is not None:
            params["fairness"] = fairness
        ctx = make_ctx(tmp_path / name, "evaluate:m", "evaluate", params,
                       {"train:m": dirs["train"], "training_set:m": dirs["data"]})
        evaluate(ctx)
        dirs[name] = ctx.out_dir
        return dict(json.loads((ctx.out_dir / "evaluation.json").read_text()))

    ev = run("reg", {"favorable": "higher_score", "threshold": 0.0, "bands": {}})
    test = pl.read_parquet(dirs["data"] / "test.parquet")
    pred = pl.read_parquet(dirs["reg"] / "predictions.parquet").get_column("y_pred").to_numpy()
    kw = {"y_true": (test.get_column("y").to_numpy() >= 0.0).astype(int),
          "y_pred": (pred >= 0.0).astype(int),
          "sensitive_features": test.get_column("sex").to_numpy()}
    assert ev["fairness"]["sex"]["disparate_impact"] == pytest.approx(
        demographic_parity_ratio(**kw))
    assert ev["fairness_settings"]["description"] == "favourable decision: prediction >= 0"
    plain = run("plain", None)
    assert "needs fairness.favorable" in plain["fairness"]["sex"]["note"]
