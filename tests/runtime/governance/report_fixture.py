"""A realistic registered version for report tests and docs/screenshot_report.py.

Evaluation data comes from a real gradient-boosting pipeline fitted on synthetic applicants
and the runtime's own metric, fairness (banded age, declared favourable outcome) and
soundness functions, so the report is fed exactly the structures `evaluate`, `gate`,
`export_onnx` and `benchmark` write (the ONNX file itself is a stand-in); the version is
registered and signed by the real registry, its approval
request is opened by the real `request_approval` op, then approved and deployed.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specops.runtime.evaluation import (
    calibration_curve_data,
    classification_metrics,
    curve_data,
    fairness_report,
    slice_metrics,
)

SPECOPS_YAML = """\
name: credit_risk
people:
  alice: {roles: [ml_engineer], teams: [credit_risk]}
  dan: {roles: [ml_engineer], teams: [risk_data]}
  bob: {roles: [model_risk_officer], teams: [model_validation]}
  erin: {roles: [model_risk_officer], teams: [model_validation]}
  carol: {roles: [business_owner], teams: [lending]}
  frank: {roles: [platform_engineer], teams: [platform]}
"""

MODEL_FACTS: dict[str, Any] = {
    "owner": "team:credit_risk", "authors": ["alice"], "risk_tier": "high",
    "task": "binary_classification", "validator": "bob",
    "description": "Probability that an applicant defaults within 12 months.",
    "intended_use": "Rank consumer credit applications for manual review; not for "
                    "automated denial.",
    "limitations": "Trained on synthetic applicants; not validated for small-business "
                   "lending.",
    "assumptions": "Bureau data is available at application time for most applicants.",
    "gates": ["quality", "fair_lending"], "protected": ["applications.sex", "applications.age"],
    "review_cadence_s": 31449600,
    "monitoring": {"drift": {"method": "psi", "warn": 0.1, "alert": 0.25, "bins": 10,
                             "binning": "quantile"},
                   "window_s": 604800, "label_delay_s": 2592000, "consecutive_windows": 2,
                   "retrain_on": ["data_drift"], "cooldown_s": 604800, "performance": {}},
    "approval": {"name": "risk_tiered", "environments": ["production"],
                 "rules": [{"index": 0, "applies": True, "auto_approve": False,
                            "expires_s": 7776000, "separation_of_duties": True,
                            "require": {"business_owner": 1, "model_risk_officer": 1},
                            "when": {"op": "lit", "value": True}}]},
}


def _dump(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    return path


FEATURES = [{"name": "income", "type": "float64", "role": "numeric"},
            {"name": "debt_ratio", "type": "float64", "role": "numeric"},
            {"name": "n_late_payments_90d", "type": "int64", "role": "numeric"},
            {"name": "region", "type": "string", "role": "categorical"}]


def _applicants(n: int, rng: np.random.Generator) -> pl.DataFrame:
    region = rng.choice(["north", "south", "east", "west"], n)
    income = rng.lognormal(10.5, 0.5, n)
    debt = rng.beta(2, 5, n)
    late = rng.poisson(0.4, n)
    z = -2.0 + 3.0 * debt + 0.8 * late - 0.6 * (np.log(income) - 10.5) \
        + 0.3 * (region == "south")
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return pl.DataFrame({"income": income, "debt_ratio": debt, "n_late_payments_90d": late,
                         "region": region, "age": rng.integers(18, 80, n),
                         "sex": rng.choice(["F", "M"], n), "defaulted": y})


@functools.cache
def evaluation(n: int = 3000, seed: int = 7) -> dict[str, Any]:
    """What `evaluate` writes, for a real gradient-boosting pipeline fitted on synthetic
    applicants: metrics, plots, slices, banded fairness with a declared favourable outcome
    (no default), and the soundness block (benchmark, importance, sensitivity) from the
    runtime's own functions. Cached: several tests build the same project."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from specops.runtime.evaluation.banding import (
        FairnessSettings,
        band_edges,
        band_groups,
        band_names,
        describe,
        favourable,
    )
    from specops.runtime.evaluation.soundness import soundness
    from specops.runtime.training.preprocess import Feature, build_pipeline, prepare_frame

    rng = np.random.default_rng(seed)
    train, test = _applicants(4 * n, rng), _applicants(n, rng)
    features = [Feature(**f) for f in FEATURES]
    pipe = build_pipeline(features, HistGradientBoostingClassifier(
        max_depth=3, max_iter=60, random_state=0), tree=True)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):   # much faster than a thread per core on busy CI
        pipe.fit(prepare_frame(train, features), train.get_column("defaulted").to_numpy())
    x = prepare_frame(test, features)
    y = test.get_column("defaulted").to_numpy()
    proba = pipe.predict_proba(x)
    y_pred = pipe.predict(x)
    p = proba[:, 1]
    region = test.get_column("region").to_numpy()

    def compute(mask: np.ndarray) -> dict[str, float]:
        return classification_metrics(y[mask], y_pred[mask], proba[mask], [0, 1])

    settings = FairnessSettings(0, 0.5, {"age": band_edges(
        train.get_column("age").to_numpy(), {"quantiles": 4})})
    truth, decision = favourable(settings, [0, 1], y, proba, y_pred)
    assert truth is not None and decision is not None
    fairness = {}
    for col in ("age", "sex"):
        groups = band_groups(test.get_column(col).to_numpy(), settings.bands.get(col))
        fairness[col] = fairness_report(truth, decision, groups, 30)
        if col in settings.bands:
            fairness[col]["bands"] = band_names(settings.bands[col])
    with tempfile.TemporaryDirectory() as tmp:
        train_path = Path(tmp) / "train.parquet"
        train.write_parquet(train_path)
        sound = soundness(pipe, train_path, test, features, "defaulted", [0, 1], True, seed)
    return {"task": "binary_classification", "n": n, "label": "defaulted",
            "classes": [0, 1], "min_group_size": 30,
            "metrics": compute(np.ones(n, dtype=bool)),
            "plots": {**curve_data(y, p), "calibration": calibration_curve_data(y, p)},
            "slices": {"region": slice_metrics(region, compute, 30)},
            "fairness": fairness,
            "fairness_settings": {**settings.to_json(), "favorable_label": 0,
                                  "threshold": 0.5, "description": describe(settings, [0, 1])},
            "soundness": sound}


def artifact_files(d: Path) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    ev = json.loads(json.dumps(evaluation()))   # a copy: evaluation() is cached
    auc = ev["metrics"]["roc_auc"]
    di = ev["fairness"]["sex"]["disparate_impact"]
    features = FEATURES
    (d / "model.onnx").write_bytes(b"\x08\x07fake-onnx-graph-for-report-tests")
    return {
        "model.onnx": d / "model.onnx",
        "evaluation.json": _dump(d / "evaluation.json", ev),
        "signature.json": _dump(d / "signature.json", {"features": features,
                                                       "label": "defaulted",
                                                       "task": "binary_classification"}),
        "params.json": _dump(d / "params.json", {
            "estimator": "HistGradientBoostingClassifier",
            "params": {"learning_rate": 0.1, "max_depth": 3}, "seed": 7,
            "task": "binary_classification", "inputs": features, "label": "defaulted",
            "scoring": "roc_auc", "cv": 3, "cv_strategy": "stratified",
            "search_strategy": "grid", "n_train": 12000,
            "data": {"dir": ".specops/artifacts/ab/training_set",
                     "files": {"train.parquet": "sha256:" + "1a" * 32,
                               "test.parquet": "sha256:" + "2b" * 32}}}),
        "search.json": _dump(d / "search.json", {"scoring": "roc_auc", "strategy": "grid",
                                                 "cv": 3, "candidates": [
            {"index": i, "params": {"learning_rate": lr, "max_depth": md},
             "mean": round(0.74 + 0.01 * i, 4), "std": 0.006, "rank": 4 - i}
            for i, (lr, md) in enumerate([(0.05, 3), (0.05, 5), (0.1, 5), (0.1, 3)])]}),
        "parity.json": _dump(d / "parity.json", {"passed": True, "rows": 3000,
                                                 "max_abs_diff": 2.4e-7,
                                                 "label_mismatches": 0, "reasons": []}),
        "benchmark.json": _dump(d / "benchmark.json", {
            "latency_p50_ms": 0.041, "latency_p99_ms": 0.093, "throughput_rows_s": 185000.0,
            "model_size_mb": 0.21, "peak_rss_mb": 212.0, "threads": 1}),
        "gate_report.quality.json": _dump(d / "gate_report.quality.json", {
            "gate": "quality", "passed": True, "failed": [], "warnings": [],
            "checks": [{"id": "min_auc", "text": "roc_auc >= 0.70", "severity": "blocking",
                        "status": "pass", "passed": True, "value": auc, "threshold": 0.7,
                        "comparator": ">="}]}),
        "gate_report.fair_lending.json": _dump(d / "gate_report.fair_lending.json", {
            "gate": "fair_lending", "passed": True, "failed": [], "warnings": [],
            "checks": [{"id": "four_fifths", "text": "disparate_impact(sex) >= 0.8",
                        "severity": "blocking", "status": "pass" if di >= 0.8 else "fail",
                        "passed": di >= 0.8, "value": di, "threshold": 0.8,
                        "comparator": ">="}]}),
    }


def build(root: Path) -> tuple[Any, str, int]:
    """A project at `root` with credit_default@1 registered, approved and deployed.

    Returns (Governance, model, version)."""
    from specops.runtime.engine.op_interface import OpContext
    from specops.runtime.governance import Governance
    from specops.runtime.governance.approvals import approve
    from specops.runtime.governance.promotion import deploy
    from specops.runtime.governance.request_approval import request_approval
    from specops.runtime.registry import Registry

    root.mkdir(parents=True, exist_ok=True)
    (root / "specops.yaml").write_text(SPECOPS_YAML)
    url = "sqlite:///.specops/store.db"
    registry = Registry.open(root, url)
    files = artifact_files(root / "build")
    v = registry.register("credit_default", files,
                          {"run_id": "run-20261126-0815", "spec_hash": "sha256:" + "5e" * 32,
                           "plan_fingerprint": "sha256:" + "9f" * 32,
                           "git": {"commit": "4b1c2d9e0f", "dirty": False}},
                          owner="team:credit_risk", risk_tier="high",
                          task="binary_classification")
    reg_dir = root / "register_out"
    reg_dir.mkdir(exist_ok=True)
    _dump(reg_dir / "registration.json", {"model": v.model, "version": v.version,
                                          "model_digest": v.model_digest})
    ctx = OpContext(node_id="approval:credit_default", op="request_approval",
                    params={"model": "credit_default"}, project_root=root,
                    out_dir=root / "approval_out", inputs={"register:credit_default": reg_dir},
                    run_id="run-20261126-0815", fingerprint="sha256:" + "0" * 64,
                    extra={"store_url": url, "actor": "dan",
                           "plan_models": {"credit_default": MODEL_FACTS}})
    request_approval(ctx)
    gov = Governance.open(root, url, registry=registry)
    approve(gov, "bob", "credit_default", v.version, "model_risk_officer",
            "Challenger comparison and back-test reviewed; calibration acceptable.")
    approve(gov, "carol", "credit_default", v.version, "business_owner",
            "Fit for manual-review ranking as documented.")
    deploy(gov, "frank", "credit_default", v.version, "staging", reason="shadow traffic")
    deploy(gov, "frank", "credit_default", v.version, "production", reason="release 1")
    return gov, "credit_default", v.version
