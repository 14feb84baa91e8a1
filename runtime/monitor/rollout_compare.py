"""Champion against challenger from the serving logs, and what the `rollout:` rules decide.

Why from the logs (not from the server's memory): every replica writes its own rows, a
rollout outlives any one process, and the decision must be reproducible from evidence on
disk. Two logs are read, both written by runtime/serve/traffic while a rollout routes:

- the prediction log (`.specops/predictions/model=<m>/`): scored rows with `arm`
  (champion | challenger | shadow), `version`, `request_id`, `latency_ms` and outputs;
- the outcome log (`.specops/rollout/model=<m>/`): one row per request and arm with
  `status` (200, or 500 when the model failed) and `latency_ms`, failures included.

Rows count from the rollout's start and within `window_s` of now. Per arm: requests,
errors and error rate, latency p50/p99 (the request's latency; a shadow's is its own
model time), the score distribution (positive-class probability, or the regression
value) and, once labels arrive, the realised metrics of evaluation (labels joined on
`request_id` = the label key, as `specops monitor` joins them).

Declared tests: `ks`, the two-sample Kolmogorov-Smirnov test of the two score
distributions (`scipy.stats.ks_2samp`, two-sided, exact or asymptotic as scipy chooses);
`errors`, Fisher's exact test that the challenger's error rate is greater than the
champion's (`scipy.stats.fisher_exact`, alternative "greater"; exact at any count, where
a two-proportion z-test is not at a handful of errors).

`decide` applies the rules: nothing before `min_requests` reached the challenger; then any
`rollback_when` rule that holds rolls back; then, after `min_duration`, promotion needs
every `promote_when` rule to hold. A rule whose metric is unavailable (no labels yet, no
scores) does not hold.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

__all__ = ["OUTCOME_DIR", "arm_stats", "compare", "decide", "read_folder", "rule_holds"]

OUTCOME_DIR = Path(".specops") / "rollout"
PREDICTION_DIR = Path(".specops") / "predictions"
_CHALLENGER_ARMS = ("challenger", "shadow")


def read_folder(folder: Path) -> pl.DataFrame:
    """Every parquet file under `folder` (schemas may differ: older files lack `arm`)."""
    files = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f, hive_partitioning=False) for f in files],
                     how="diagonal_relaxed")


def _arm(frame: pl.DataFrame, version: int, challenger: bool, since: datetime
         ) -> pl.DataFrame:
    if frame.height == 0 or "version" not in frame.columns:
        return frame.clear() if frame.width else frame
    arm = pl.col("arm") if "arm" in frame.columns else pl.lit(None, dtype=pl.Utf8)
    wanted = arm.is_in(list(_CHALLENGER_ARMS)) if challenger else (
        arm.is_null() | (arm == "champion"))
    out = frame.filter((pl.col("version") == version) & wanted)
    if "time" in out.columns:
        out = out.filter(pl.col("time") >= since)
    return out


def _scores(frame: pl.DataFrame) -> np.ndarray:
    if frame.height == 0:
        return np.zeros(0)
    if "probabilities" in frame.columns:
        return np.asarray(frame.get_column("probabilities").list.last().cast(pl.Float64)
                          .drop_nulls().to_numpy(), dtype=np.float64)
    for name in ("prediction", "variable"):
        if name in frame.columns:
            return np.asarray(frame.get_column(name).cast(pl.Float64).drop_nulls()
                              .to_numpy(), dtype=np.float64)
    return np.zeros(0)


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def arm_stats(predictions: pl.DataFrame, outcomes: pl.DataFrame) -> dict[str, Any]:
    """Requests, errors, latency and scores of one arm (scores kept as `_scores`)."""
    if outcomes.height:
        status = outcomes.get_column("status").cast(pl.Int64).to_numpy()
        latency = outcomes.get_column("latency_ms").cast(pl.Float64).to_numpy()
        requests, errors = int(outcomes.height), int((status >= 500).sum())
    else:   # no outcome log (a server without rollout routing): scored requests only
        requests = (int(predictions.get_column("request_id").n_unique())
                    if predictions.height else 0)
        errors = 0
        latency = (predictions.unique("request_id").get_column("latency_ms")
                   .cast(pl.Float64).to_numpy() if predictions.height else np.zeros(0))
    scores = _scores(predictions)
    return {"requests": requests, "errors": errors,
            "error_rate": errors / requests if requests else None,
            "p50_latency_ms": _percentile(latency, 50),
            "p99_latency_ms": _percentile(latency, 99),
            "mean_score": float(scores.mean()) if scores.size else None,
            "scored_rows": int(predictions.height), "_scores": scores}


def _performance(predictions: pl.DataFrame, labels: Any, task: str, classes: list[Any]
                 ) -> dict[str, float]:
    """Realised metrics of one arm: its rows joined to labels on request_id = label key."""
    from specops.runtime.monitor.windows import performance

    if labels is None or labels.frame is None or not labels.key or predictions.height == 0:
        return {}
    side = labels.frame.select(pl.col(labels.key).cast(pl.Utf8).alias("request_id"),
                               pl.col(labels.column).alias("__y")).unique("request_id")
    joined = predictions.join(side, on="request_id", how="inner").filter(
        pl.col("__y").is_not_null())
    if joined.height == 0:
        return {}
    y = joined.get_column("__y").to_numpy()
    pred = joined.get_column("label").to_numpy() if "label" in joined.columns else None
    return {k: float(v) for k, v in performance(y, pred, _scores(joined), classes,
                                                task).items()}


def _tests(champion: Mapping[str, Any], challenger: Mapping[str, Any]) -> dict[str, Any]:
    from scipy import stats

    out: dict[str, Any] = {}
    a, b = champion["_scores"], challenger["_scores"]
    if a.size >= 2 and b.size >= 2:
        res = stats.ks_2samp(a, b)
        out["ks"] = {"test": "two-sample Kolmogorov-Smirnov (scipy.stats.ks_2samp), "
                             "scores of the two arms", "statistic": float(res.statistic),
                     "pvalue": float(res.pvalue), "n_champion": int(a.size),
                     "n_challenger": int(b.size)}
    n0, e0 = champion["requests"], champion["errors"]
    n1, e1 = challenger["requests"], challenger["errors"]
    if n0 and n1:
        _, p = stats.fisher_exact([[e1, n1 - e1], [e0, n0 - e0]], alternative="greater")
        out["errors"] = {"test": "Fisher's exact test (scipy.stats.fisher_exact), "
                                 "challenger error rate greater than the champion's",
                         "pvalue": float(p), "errors": [int(e0), int(e1)],
                         "requests": [int(n0), int(n1)]}
    return out


def compare(project_root: Path, model: str, rollout: Mapping[str, Any], *,
            window_s: float | None = None, now: float | None = None, labels: Any = None,
            task: str = "binary_classification", classes: Sequence[Any] = ()
            ) -> dict[str, Any]:
    """The comparison document of `rollout` (`Rollout.as_json()`): per arm and tests."""
    now = time.time() if now is None else now
    start = float(rollout["started_at"])
    since_s = max(start, now - window_s) if window_s else start
    since = datetime.fromtimestamp(since_s, UTC)
    preds = read_folder(project_root / PREDICTION_DIR / f"model={model}")
    outs = read_folder(project_root / OUTCOME_DIR / f"model={model}")
    arms: dict[str, dict[str, Any]] = {}
    for name, version, challenger in (("champion", int(rollout["champion"]), False),
                                      ("challenger", int(rollout["challenger"]), True)):
        p = _arm(preds, version, challenger, since)
        stats = arm_stats(p, _arm(outs, version, challenger, since))
        stats["version"] = version
        stats["performance"] = _performance(p, labels, task, list(classes))
        arms[name] = stats
    tests = _tests(arms["champion"], arms["challenger"])
    for stats in arms.values():
        stats.pop("_scores")
    return {"model": model, "rollout": dict(rollout), "window": {
                "since": since.isoformat(), "until": datetime.fromtimestamp(now, UTC)
                .isoformat(), "window_s": window_s},
            "age_s": now - start, "arms": arms, "tests": tests}


def _metric(arm: Mapping[str, Any], name: str) -> float | None:
    value = arm.get(name)
    if value is None:
        value = (arm.get("performance") or {}).get(name)
    return None if value is None else float(value)


def rule_holds(rule: Mapping[str, Any], doc: Mapping[str, Any]) -> tuple[bool | None, str]:
    """(True / False / None when it cannot be evaluated yet, a one-line account)."""
    if "test" in rule:
        test = (doc.get("tests") or {}).get(rule["test"])
        if test is None:
            return None, f"{rule['test']}: not enough data for the test"
        p = float(test["pvalue"])
        if "p_below" in rule:
            return p < float(rule["p_below"]), f"{rule['test']} p={p:.4g} < {rule['p_below']}"
        return p > float(rule["p_above"]), f"{rule['test']} p={p:.4g} > {rule['p_above']}"
    name = str(rule.get("metric"))
    ch = _metric(doc["arms"]["challenger"], name)
    champ = _metric(doc["arms"]["champion"], name)
    if ch is None:
        return None, f"{name}: not measured yet for the challenger"
    if "above" in rule:
        return ch > float(rule["above"]), f"{name} {ch:.4g} > {rule['above']}"
    if "below" in rule:
        return ch < float(rule["below"]), f"{name} {ch:.4g} < {rule['below']}"
    if champ is None:
        return None, f"{name}: not measured yet for the champion"
    if "above_champion_by" in rule:
        d = float(rule["above_champion_by"])
        return ch - champ > d, f"{name} {ch:.4g} - champion {champ:.4g} > {d}"
    d = float(rule["below_champion_by"])
    return champ - ch > d, f"champion {name} {champ:.4g} - {ch:.4g} > {d}"


def decide(doc: Mapping[str, Any], rules: Mapping[str, Any]) -> dict[str, Any]:
    """`promote`, `rollback` or `wait`, with the reason and every rule's outcome."""
    n = int(doc["arms"]["challenger"]["requests"])
    need = int(rules.get("min_requests") or 0)
    checked: dict[str, list[dict[str, Any]]] = {}
    for kind in ("rollback_when", "promote_when"):
        checked[kind] = []
        for rule in rules.get(kind) or []:
            holds, why = rule_holds(rule, doc)
            checked[kind].append({"rule": dict(rule), "holds": holds, "why": why})
    out: dict[str, Any] = {"rules": checked, "challenger_requests": n}
    if n < need:
        return {**out, "decision": "wait",
                "reason": f"{n} of {need} requests reached the challenger"}
    fired = [c for c in checked["rollback_when"] if c["holds"] is True]
    if fired:
        return {**out, "decision": "rollback",
                "reason": "; ".join(c["why"] for c in fired)}
    min_age = float(rules.get("min_duration_s") or 0)
    if float(doc["age_s"]) < min_age:
        return {**out, "decision": "wait", "reason": f"the rollout is "
                f"{float(doc['age_s']):.0f}s old, min_duration is {min_age:.0f}s"}
    promote = checked["promote_when"]
    if promote and all(c["holds"] is True for c in promote):
        return {**out, "decision": "promote",
                "reason": "; ".join(c["why"] for c in promote)}
    pending = [c["why"] for c in promote if c["holds"] is not True]
    return {**out, "decision": "wait", "reason": "no rollback rule holds" + (
        f"; promotion waits on: {'; '.join(pending)}" if pending else
        " and no promote_when rule is declared")}
