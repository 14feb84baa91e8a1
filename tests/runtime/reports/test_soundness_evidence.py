"""The conceptual-soundness evidence `evaluate` signs (runtime/evaluation/soundness.py):
permutation importance finds the inputs the outcome depends on, sensitivity moves the
prediction the way the data was generated, the benchmark model is really trained and
scored, the numbers repeat with the seed, and an undefined score is a stated skip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
from report_fixture import evaluation

from specops.runtime.evaluation.soundness import soundness
from specops.runtime.training.preprocess import Feature, build_pipeline, prepare_frame


def test_importance_sensitivity_and_benchmark_follow_the_data():
    """The fixture's default odds rise with debt_ratio and late payments, fall with income,
    and barely depend on region (report_fixture._applicants)."""
    sound = evaluation()["soundness"]
    imp = sound["importance"]
    ranked = [f["feature"] for f in imp["features"]]
    assert imp["scoring"] == "roc_auc" and imp["repeats"] == 5 and imp["n_rows"] == 3000
    assert set(ranked[:2]) == {"debt_ratio", "n_late_payments_90d"}
    assert ranked[-1] == "region"
    assert all(f["std"] >= 0 for f in imp["features"])
    sens = {f["feature"]: f for f in sound["sensitivity"]["features"]}
    assert sens["debt_ratio"]["direction"] == "increasing"
    assert sens["income"]["direction"] == "decreasing"
    assert sens["debt_ratio"]["swing"] > sens["region"]["swing"]
    assert sound["sensitivity"]["prediction"] == "P(defaulted = 1)"
    bench = sound["benchmark_model"]
    assert bench["estimator"] == "LogisticRegression" and bench["n_test"] == 3000
    assert 0.6 < bench["metrics"]["roc_auc"] < 1.0     # a real fit, not a constant


def _tiny(tmp_path: Path, seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(0)
    train = pl.DataFrame({"a": rng.normal(size=300), "c": rng.choice(["x", "y"], 300)})
    train = train.with_columns(((pl.col("a") + rng.normal(size=300)) > 0).cast(pl.Int64)
                               .alias("y"))
    features = [Feature("a", "numeric"), Feature("c", "categorical")]
    from sklearn.ensemble import HistGradientBoostingClassifier

    pipe = build_pipeline(features, HistGradientBoostingClassifier(max_iter=20), tree=True)
    pipe.fit(prepare_frame(train, features), train.get_column("y").to_numpy())
    path = tmp_path / "train.parquet"
    train.write_parquet(path)
    full = soundness(pipe, path, train.tail(100), features, "y", [0, 1], True, seed)
    one_class = train.filter(pl.col("y") == 1).head(20)
    skipped = soundness(pipe, path, one_class, features, "y", [0, 1], True, seed)
    return full, skipped


def test_same_seed_same_numbers_and_an_undefined_score_is_a_stated_skip(tmp_path):
    a, skipped = _tiny(tmp_path, 3)
    b, _ = _tiny(tmp_path, 3)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert "not computed" in skipped["importance"]["skipped"]
    assert "NaN" not in json.dumps(skipped)           # nothing undefined is written
    assert [f["feature"] for f in skipped["sensitivity"]["features"]] == ["a", "c"]
