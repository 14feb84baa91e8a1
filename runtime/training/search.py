"""Hyperparameter candidates and cross-validation folds, deterministic under a seed.

Why our own loop instead of `GridSearchCV`: the runtime fans out one task per
candidate x fold through whatever executor runs the plan (Ray on a laptop or a cluster),
records every fold score for the experiment log, and must give the same candidates, folds
and winner for the same seed on any executor. Each task is a plain function of a plain
dict (`fit_and_score`), so it pickles cleanly into a Ray worker.

Search spaces: a list of values per parameter (grid, or sampled for random search), or
for random search a range `{"low": a, "high": b, "log": bool, "int": bool}`.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specops.runtime.engine.op_interface import OpError
from specops.runtime.training.estimator_classes import build_estimator, estimator_entry
from specops.runtime.training.preprocess import Feature, build_pipeline, prepare_frame

__all__ = ["candidates", "default_scoring", "fit_and_score", "fold_indices", "load_xy"]


def _grid(space: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = sorted(space)
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(space[k] for k in keys))]


def _sample(rng: random.Random, dist: dict[str, Any]) -> Any:
    low, high = float(dist["low"]), float(dist["high"])
    if dist.get("log"):
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    return round(value) if dist.get("int") else value


def candidates(base: dict[str, Any], space: dict[str, Any] | None, strategy: str,
               n_iter: int | None, seed: int) -> list[dict[str, Any]]:
    """The parameter sets to try, in a stable order; base params are under every one."""
    if not space:
        return [dict(base)]
    for key, values in space.items():
        if isinstance(values, dict):
            if strategy != "random":
                raise OpError(f"search parameter {key!r}: ranges need search_strategy: random")
            if not {"low", "high"} <= set(values):
                raise OpError(f"search parameter {key!r}: a range needs low and high")
        elif not isinstance(values, list) or not values:
            raise OpError(f"search parameter {key!r}: give a non-empty list of values")
    if strategy == "grid":
        combos = _grid(space)
    elif strategy == "random":
        n = int(n_iter or 10)
        rng = random.Random(seed)
        if all(isinstance(v, list) for v in space.values()):
            grid = _grid(space)
            combos = [grid[i] for i in sorted(rng.sample(range(len(grid)), min(n, len(grid))))]
        else:
            combos = []
            for _ in range(n):
                combos.append({k: (_sample(rng, v) if isinstance(v, dict) else rng.choice(v))
                               for k, v in sorted(space.items())})
    else:
        raise OpError(f"search_strategy must be grid or random, got {strategy!r}")
    return [{**base, **combo} for combo in combos]


def default_scoring(task: str, n_classes: int) -> str:
    if "regression" in task:
        return "neg_root_mean_squared_error"
    return "roc_auc" if n_classes == 2 else "accuracy"


@lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int) -> pl.DataFrame:
    """Read once per worker process: Ray reuses workers across candidate x fold tasks."""
    return pl.read_parquet(path)


def load_xy(path: Path, features: list[Feature], label: str,
            sort_by: str | None) -> tuple[pl.DataFrame, np.ndarray]:
    df = _read(str(path), path.stat().st_mtime_ns)
    if label not in df.columns:
        raise OpError(f"label column {label!r} missing from {path.name}")
    if sort_by:
        if sort_by not in df.columns:
            raise OpError(f"time-series CV: timestamp column {sort_by!r} missing")
        df = df.sort(sort_by, maintain_order=True)
    if df.get_column(label).null_count():
        raise OpError(f"label column {label!r} has missing values")
    return prepare_frame(df, features), df.get_column(label).to_numpy()


def fold_indices(y: np.ndarray, strategy: str, n_splits: int, seed: int,
                 classification: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    if n_splits < 2:
        raise OpError(f"cv must be at least 2 folds, got {n_splits}")
    splitter: Any
    if strategy == "time_series":
        splitter = TimeSeriesSplit(n_splits=n_splits)
    elif strategy == "stratified" or (strategy in ("kfold", "auto") and classification):
        # K-fold for a classifier is stratified, as scikit-learn's own `cv=k` is
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    elif strategy in ("kfold", "auto"):
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    else:
        raise OpError(f"cv_strategy must be auto, kfold, stratified or time_series, "
                      f"got {strategy!r}")
    dummy = np.zeros((len(y), 1))
    try:
        return [(tr, te) for tr, te in splitter.split(dummy, y)]
    except ValueError as exc:
        raise OpError(f"cannot split {len(y)} rows into {n_splits} folds: {exc}") from exc


def fit_and_score(item: dict[str, Any]) -> dict[str, Any]:
    """One candidate x fold: fit on the fold's train rows, score its held-out rows.

    Runs in a Ray worker or inline. Threads are capped at the task's CPUs so parallel tasks
    do not oversubscribe the machine (HGB would otherwise start one OpenMP thread per core).
    """
    from sklearn.metrics import get_scorer
    from threadpoolctl import threadpool_limits

    features = [Feature(**f) for f in item["features"]]
    x, y = load_xy(Path(item["data"]), features, item["label"], item.get("sort_by"))
    folds = fold_indices(y, item["cv_strategy"], item["cv"], item["seed"],
                         item["classification"])
    train_idx, test_idx = folds[item["fold"]]
    name = item["estimator"]
    start = time.perf_counter()
    with threadpool_limits(limits=max(1, int(item.get("num_cpus", 1)))):
        pipe = build_pipeline(features, build_estimator(name, item["params"], item["seed"]),
                              estimator_entry(name).tree)
        pipe.fit(x[train_idx], y[train_idx])
        fit_s = time.perf_counter() - start
        score = float(get_scorer(item["scoring"])(pipe, x[test_idx], y[test_idx]))
    return {"candidate": item["candidate"], "fold": item["fold"], "score": score,
            "fit_s": round(fit_s, 6), "n_train": len(train_idx), "n_test": len(test_idx)}
