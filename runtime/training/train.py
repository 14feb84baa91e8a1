"""`train`: hyperparameter search with cross-validation, then a refit of the best candidate.

Why it is built this way:
- Candidates x folds are independent, so they fan out as one task each through
  `ctx.extra["map"]` (the Ray executor injects `map(fn, items, num_cpus=...)` running each
  item as a Ray task); without it they run in order, with identical results.
- Same seed, same data -> same candidates, folds, scores, winner and fitted model. Ties go
  to the lowest candidate index (the stable order of `search.candidates`).
- `model.joblib` is written and read only by specops, inside the content-addressed artifact
  store whose hashes are verified before a node's outputs are reused. It is never loaded
  from a user-provided path; the portable, signed deliverable is `model.onnx`.

Outputs: `model.joblib`, `params.json` (estimator, best params, inputs, label, task,
classes), `search.json` (every candidate x fold score, mean/std/rank per candidate).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import joblib

from specops.contract.op_params import TrainParams
from specops.runtime.engine.datahash import file_sha256
from specops.runtime.engine.op_inputs import find_input_file
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult
from specops.runtime.training.estimator_classes import build_estimator, estimator_entry
from specops.runtime.training.preprocess import build_pipeline, features_from, read_schema
from specops.runtime.training.search import candidates, default_scoring, fit_and_score, load_xy

__all__ = ["train"]


def _sequential_map(fn: Callable[[Any], Any], items: list[Any], num_cpus: int = 1) -> list[Any]:
    return [fn(item) for item in items]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _classification(task: str) -> bool:
    return "regression" not in task


def train(ctx: OpContext) -> OpResult:
    started = time.perf_counter()
    data_path = find_input_file(ctx, "train.parquet")
    schema = read_schema(data_path.parent)
    features, label = features_from(ctx.params, schema)
    p = ctx.typed(TrainParams)   # every setting as the compiler decided it (docs/plan.md)
    task = p.task
    est = p.estimator
    name = est.class_
    entry = estimator_entry(str(name))
    classification = _classification(task)
    if (entry.family == "classifier") != classification:
        raise OpError(f"{name} is a {entry.family} but the task is {task}")
    seed = est.seed
    strategy = est.search_strategy
    cv_strategy = est.cv_strategy
    n_folds = est.cv
    timestamp = schema.get("timestamp") if cv_strategy == "time_series" else None
    if cv_strategy == "time_series" and not timestamp:
        raise OpError("cv_strategy time_series needs a timestamp column in schema.json")

    x, y = load_xy(data_path, features, label, timestamp)
    classes = sorted({v.item() if hasattr(v, "item") else v for v in y}) if classification \
        else []
    if classification and len(classes) < 2:
        raise OpError(f"label {label!r} has a single class in the training data")
    # null scoring in the plan means the task's own scorer, which depends on the classes
    scoring = est.scoring or default_scoring(task, len(classes))
    cands = candidates(dict(est.params), dict(est.search), strategy, est.n_iter, seed)
    for params in cands:   # fail fast on bad params, before any task is scheduled
        build_estimator(str(name), params, seed)

    num_cpus = int(ctx.resources.get("task_num_cpus", ctx.resources.get("num_cpus", 1)) or 1)
    common = {"data": str(data_path), "features": [asdict(f) for f in features],
              "label": label, "sort_by": timestamp, "cv": n_folds, "cv_strategy": cv_strategy,
              "seed": seed, "classification": classification, "estimator": str(name),
              "scoring": scoring, "num_cpus": num_cpus}
    items = [{**common, "candidate": ci, "fold": fold, "params": params}
             for ci, params in enumerate(cands) for fold in range(n_folds)]
    fan_out = ctx.extra.get("map")
    mapper: Callable[..., list[Any]] = fan_out if callable(fan_out) else _sequential_map
    results = sorted(mapper(fit_and_score, items, num_cpus=num_cpus),
                     key=lambda r: (r["candidate"], r["fold"]))
    search_s = time.perf_counter() - started

    rows: list[dict[str, Any]] = []
    for ci, params in enumerate(cands):
        scores = [r["score"] for r in results if r["candidate"] == ci]
        rows.append({"index": ci, "params": params, "fold_scores": scores,
                     "mean": statistics.fmean(scores),
                     "std": statistics.pstdev(scores) if len(scores) > 1 else 0.0})
    order = sorted(rows, key=lambda r: (-r["mean"], r["index"]))
    for rank, row in enumerate(order, start=1):
        row["rank"] = rank
    best = order[0]

    refit_started = time.perf_counter()
    pipe = build_pipeline(features, build_estimator(str(name), best["params"], seed),
                          entry.tree)
    pipe.fit(x, y)
    refit_s = time.perf_counter() - refit_started

    data_dir = data_path.parent
    data = {"dir": _relative(data_dir, ctx.project_root),
            "files": {f.name: file_sha256(f) for f in sorted(data_dir.iterdir()) if f.is_file()}}
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = ctx.out_dir / "model.joblib"
    joblib.dump(pipe, model_path)
    fit_digest = "sha256:" + hashlib.sha256(model_path.read_bytes()).hexdigest()
    params_doc = {"estimator": str(name), "params": best["params"], "seed": seed, "task": task,
                  "inputs": common["features"], "label": label, "classes": classes,
                  "scoring": scoring, "cv": n_folds, "cv_strategy": cv_strategy,
                  "search_strategy": strategy, "n_train": len(y), "data": data,
                  "op_params": ctx.params, "fit_digest": fit_digest}
    (ctx.out_dir / "params.json").write_text(json.dumps(params_doc, indent=2, sort_keys=True,
                                                        default=str) + "\n")
    search_doc = {"scoring": scoring, "strategy": strategy, "cv": n_folds,
                  "cv_strategy": cv_strategy, "seed": seed, "best_index": best["index"],
                  "best_params": best["params"], "candidates": rows,
                  # timings are left out so the search log is a deterministic artifact
                  "folds": [{k: v for k, v in r.items() if k != "fit_s"} for r in results]}
    (ctx.out_dir / "search.json").write_text(json.dumps(search_doc, indent=2, sort_keys=True,
                                                        default=str) + "\n")
    return OpResult(
        metrics={f"cv_{scoring}": best["mean"], "cv_std": best["std"], "train_rows": len(y),
                 "candidates": float(len(cands)), "search_s": search_s, "refit_s": refit_s,
                 "fit_s_total": sum(r["fit_s"] for r in results)},
        report={"best_params": best["params"], "scoring": scoring, "candidates": len(cands),
                "search": [{k: r[k] for k in ("index", "params", "mean", "std", "rank")}
                           for r in rows],
                "folds": n_folds, "tasks": len(items), "fit_digest": fit_digest},
        message=f"{name}: best {scoring}={best['mean']:.4f} of {len(cands)} candidate(s) "
                f"x {n_folds} folds")
