"""Training: allowlist, seeded search, CV fan-out, determinism, refit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ml_helpers import INPUTS, make_ctx, make_dataset, train_params

from specops.runtime.engine.op_interface import OpError
from specops.runtime.training.estimator_classes import ESTIMATORS, build_estimator
from specops.runtime.training.search import candidates, fold_indices
from specops.runtime.training.train import train


def _train(tmp: Path, ds: Path, name: str, params: dict[str, Any],
           extra: dict[str, Any] | None = None) -> Path:
    ctx = make_ctx(tmp, f"train:{name}", "train", params, {"training_set:m": ds}, extra)
    train(ctx)
    return ctx.out_dir


def test_allowlist_rejects_unknown_class_and_params() -> None:
    with pytest.raises(OpError, match="not allowed"):
        build_estimator("os.system", {})
    with pytest.raises(OpError, match=r"unknown parameter.*Cc"):
        build_estimator("LogisticRegression", {"Cc": 1.0})
    with pytest.raises(OpError, match="set by the runtime"):
        build_estimator("RandomForestClassifier", {"n_jobs": 4})
    with pytest.raises(OpError, match="scalar"):
        build_estimator("LogisticRegression", {"C": [1.0]})
    assert build_estimator("Ridge", {"alpha": 2.0}, seed=3).random_state == 3


def test_allowlist_matches_compiler_table() -> None:
    from specops.compiler.facts.estimator_allowlist import ESTIMATORS as COMPILER

    assert set(COMPILER) == set(ESTIMATORS)
    for name, info in COMPILER.items():
        assert info.family == ESTIMATORS[name].family


def test_grid_and_seeded_random_candidates() -> None:
    grid = candidates({"max_iter": 50}, {"C": [0.1, 1.0], "penalty": ["l2"]}, "grid", None, 0)
    assert grid == [{"max_iter": 50, "C": 0.1, "penalty": "l2"},
                    {"max_iter": 50, "C": 1.0, "penalty": "l2"}]
    space = {"C": {"low": 0.01, "high": 10, "log": True}, "max_iter": [50, 100]}
    a = candidates({}, space, "random", 5, seed=1)
    assert a == candidates({}, space, "random", 5, seed=1)
    assert a != candidates({}, space, "random", 5, seed=2)
    assert all(0.01 <= c["C"] <= 10 for c in a)
    with pytest.raises(OpError):
        candidates({}, {"C": {"low": 1, "high": 2}}, "grid", None, 0)


def test_time_series_folds_never_look_ahead() -> None:
    y = np.arange(50) % 2
    for tr, te in fold_indices(y, "time_series", 4, 0, True):
        assert tr.max() < te.min()


def test_search_is_deterministic_and_uses_injected_map(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path)
    params = train_params("LogisticRegression", {"C": [0.01, 1.0]}, cv=3)
    calls: list[tuple[int, int]] = []

    def fake_map(fn: Any, items: list[Any], num_cpus: int = 1) -> list[Any]:
        calls.append((len(items), num_cpus))
        return [fn(i) for i in reversed(items)]   # order must not matter

    a = _train(tmp_path / "a", ds, "a", params)
    b = _train(tmp_path / "b", ds, "b", params, {"map": fake_map})
    assert calls == [(6, 1)]
    for f in ("search.json", "params.json", "model.joblib"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    search = json.loads((a / "search.json").read_text())
    assert len(search["candidates"]) == 2 and len(search["folds"]) == 6
    assert all(len(c["fold_scores"]) == 3 for c in search["candidates"])
    best = min(search["candidates"], key=lambda c: c["rank"])
    assert search["best_params"] == best["params"]
    trained = json.loads((a / "params.json").read_text())
    assert trained["classes"] == [0, 1] and trained["data"]["files"]["train.parquet"]


def test_time_series_cv_and_regression(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path, task="regression")
    params = train_params("Ridge", {"alpha": [0.1, 10.0]}, task="regression",
                          cv_strategy="time_series")
    out = _train(tmp_path, ds, "r", params)
    search = json.loads((out / "search.json").read_text())
    assert search["scoring"] == "neg_root_mean_squared_error"
    assert search["cv_strategy"] == "time_series"


def test_task_family_mismatch_and_protected_input(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path)
    with pytest.raises(OpError, match="regressor"):
        _train(tmp_path, ds, "x", train_params("Ridge"))
    bad = train_params()
    bad["inputs"] = [*INPUTS, {"name": "sex", "type": "string", "role": "categorical"}]
    with pytest.raises(OpError, match="protected"):
        _train(tmp_path, ds, "y", bad)
