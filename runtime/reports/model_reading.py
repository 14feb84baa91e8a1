"""The model report's words: human labels with units, each fairness figure read against its
threshold in a sentence, and the findings the executive summary leads with.

Why a module of its own: a model risk officer reads sentences, not keys. "disparate impact
0.11" means nothing until it says which group gets the favourable decision at what share
of which other group's rate, and whether that passes the threshold the bank set. Every
sentence here is built from the signed evaluation and gate reports; the findings are
computed (failed checks, figures past a threshold, a benchmark that does as well), never
written by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["METRICS", "fairness_readings", "findings", "gate_thresholds", "metric_label",
           "metric_rows", "serving_rows"]

# metric key -> (label, higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "roc_auc": ("ROC AUC", True), "pr_auc": ("PR AUC (average precision)", True),
    "accuracy": ("accuracy", True), "f1": ("F1 score", True),
    "precision": ("precision", True), "recall": ("recall", True),
    "brier": ("Brier score", False), "ece": ("expected calibration error", False),
    "log_loss": ("log loss", False), "positive_rate": ("share of positive labels", True),
    "rmse": ("RMSE", False), "mae": ("mean absolute error", False), "r2": ("R²", True),
    "n": ("rows", True)}
HEADLINE = ("roc_auc", "accuracy", "r2", "rmse")
_FAIRNESS = {"disparate_impact": "disparate impact",
             "demographic_parity_difference": "demographic parity difference",
             "equal_opportunity_difference": "equal opportunity difference",
             "equalized_odds_difference": "equalized odds difference"}
_CHECK = re.compile(r"^\s*(\w+)\((\w+)\)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")
FOUR_FIFTHS = 0.8


def metric_label(key: str) -> str:
    return METRICS.get(key, (key.replace("_", " "), True))[0]


def metric_rows(metrics: Mapping[str, Any], benchmark: Mapping[str, Any] | None,
                champion: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per metric: the model, the benchmark model and the champion side by side,
    with which is better in words."""
    rows = []
    for key, val in sorted(metrics.items(), key=lambda kv: metric_label(kv[0]).lower()):
        if key == "n" or not isinstance(val, (int, float)):
            continue
        label, higher = METRICS.get(key, (key.replace("_", " "), True))
        b = (benchmark or {}).get(key)
        c = (champion or {}).get(key)
        rows.append({"key": key, "label": label, "value": float(val),
                     "benchmark": None if b is None else float(b),
                     "champion": None if c is None else float(c),
                     "better": "higher is better" if higher else "lower is better"})
    return rows


def serving_rows(bench: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The latency benchmark in words and units (µs under a millisecond)."""
    def dur(ms: float) -> str:
        return f"{ms * 1000:,.1f} µs" if ms < 1 else f"{ms:,.2f} ms"

    out: list[tuple[str, str]] = []
    if bench.get("latency_p50_ms") is not None:
        out.append(("median single-row latency", dur(float(bench["latency_p50_ms"]))))
    if bench.get("latency_p99_ms") is not None:
        out.append(("99th percentile single-row latency", dur(float(bench["latency_p99_ms"]))))
    if bench.get("latency_mean_us") is not None:
        out.append(("mean single-row latency", dur(float(bench["latency_mean_us"]) / 1000)))
    if bench.get("throughput_rows_s") is not None:
        rows = f" (batches of {int(bench['batch_rows']):,} rows)" if bench.get("batch_rows") \
            else ""
        out.append(("throughput", f"{float(bench['throughput_rows_s']):,.0f} rows per second"
                                  f"{rows}"))
    if bench.get("model_size_mb") is not None:
        mb = float(bench["model_size_mb"])
        out.append(("model file size", f"{mb * 1000:,.0f} kB" if mb < 1 else f"{mb:,.1f} MB"))
    if bench.get("peak_rss_mb") is not None:
        out.append(("peak memory while benchmarking", f"{float(bench['peak_rss_mb']):,.0f} MB"))
    if bench.get("threads") is not None:
        out.append(("inference threads", f"{int(bench['threads'])}"))
    return out


def gate_thresholds(gates: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(metric, attribute) -> the gate check that sets its threshold, from checks written
    like `disparate_impact(sex) >= 0.8`."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for g in gates:
        for c in g.get("checks") or []:
            m = _CHECK.match(str(c.get("text") or ""))
            if m:
                out[(m.group(1), m.group(2))] = {
                    "gate": g.get("name"), "check": c.get("id"), "comparator": m.group(3),
                    "threshold": float(m.group(4)), "passed": bool(c.get("passed")),
                    "severity": c.get("severity")}
    return out


def _meets(value: float, comparator: str, threshold: float) -> bool:
    return {">=": value >= threshold, "<=": value <= threshold, ">": value > threshold,
            "<": value < threshold}[comparator]


def _pct(v: float) -> str:
    return f"{v:.1%}"


def fairness_readings(attribute: str, rep: Mapping[str, Any],
                      thresholds: Mapping[tuple[str, str], Mapping[str, Any]]
                      ) -> list[dict[str, Any]]:
    """Each fairness figure of one attribute as a sentence, with its status
    (pass, fail, or info where no threshold applies)."""
    groups = {g: v for g, v in (rep.get("groups") or {}).items()
              if g not in set(rep.get("excluded_groups") or [])
              and v.get("selection_rate") is not None}
    out = []
    for key, name in _FAIRNESS.items():
        value = rep.get(key)
        if value is None:
            continue
        value = float(value)
        t = thresholds.get((key, attribute))
        source = f" set by gate {t['gate']} (check {t['check']})" if t else ""
        if key == "disparate_impact" and groups:
            lo = min(groups.items(), key=lambda kv: kv[1]["selection_rate"])
            hi = max(groups.items(), key=lambda kv: kv[1]["selection_rate"])
            meaning = (f"the model gives the favourable decision to group {lo[0]} "
                       f"({_pct(lo[1]['selection_rate'])} of its {lo[1].get('n', 0):,} rows) at "
                       f"{value:.0%} of the rate of group {hi[0]} "
                       f"({_pct(hi[1]['selection_rate'])})")
            if t is None:
                t = {"comparator": ">=", "threshold": FOUR_FIFTHS}
                source = (" of the four-fifths rule (US Uniform Guidelines on Employee "
                          "Selection Procedures, 29 CFR 1607.4(D); no gate sets one for "
                          f"{attribute})")
        elif key == "demographic_parity_difference":
            meaning = (f"favourable-decision rates differ by {value * 100:.1f} percentage "
                       "points between the groups with the highest and lowest rate")
        elif key == "equal_opportunity_difference":
            meaning = ("among rows with the favourable outcome, the rate of favourable "
                       f"decisions differs by {value * 100:.1f} percentage points across "
                       "groups")
        elif key == "equalized_odds_difference":
            meaning = ("the larger of the true positive rate gap and the false positive rate "
                       f"gap across groups is {value * 100:.1f} percentage points")
        else:
            meaning = ""
        if t is not None:
            ok = _meets(value, str(t["comparator"]), float(t["threshold"]))
            side = ("above" if value > float(t["threshold"]) else "below") \
                if value != float(t["threshold"]) else "at"
            text = (f"{name.capitalize()} {value:.2f} is {side} the {float(t['threshold']):g} "
                    f"threshold{source} ({'meets' if ok else 'fails'} "
                    f"{t['comparator']} {float(t['threshold']):g}): {meaning}.")
            status = "pass" if ok else "fail"
        else:
            text = f"{name.capitalize()} {value:.2f} (no threshold set by a gate): {meaning}."
            status = "info"
        out.append({"metric": key, "label": name, "value": value, "status": status,
                    "text": text, "gated": t is not None and bool(source.startswith(" set"))})
    return out


def _headline(metrics: Mapping[str, Any]) -> str | None:
    return next((k for k in HEADLINE if metrics.get(k) is not None), None)


def findings(ctx: Mapping[str, Any]) -> list[dict[str, str]]:
    """Open findings, most severe first: (severity, area, text). Computed from the gathered
    evidence (model_report.gather)."""
    out: list[dict[str, str]] = []

    def add(severity: str, area: str, text: str) -> None:
        out.append({"severity": severity, "area": area, "text": text})

    if not ctx["verification"].get("ok"):
        add("high", "integrity", "The signed registry record does not verify: "
            + "; ".join(ctx["verification"].get("problems") or []))
    if not ctx["audit_chain"]["ok"]:
        add("high", "integrity", f"The audit log's hash chain is broken: "
            f"{ctx['audit_chain']['problem']}")
    for g in ctx["gates"]:
        for c in g.get("checks") or []:
            if not c.get("passed"):
                sev = "high" if c.get("severity") == "blocking" else "medium"
                add(sev, "gates", f"Gate {g['name']} check {c.get('id')} "
                    f"({c.get('text')}) did not pass: value {c.get('value')}.")
    for f in ctx["fairness"]:
        for r in f["readings"]:
            if r["status"] == "fail" and not r["gated"]:
                add("high", "fairness", f"{f['attribute']}: {r['text']}")
    parity = ctx["parity"]
    if parity and not parity.get("passed"):
        add("high", "packaging", "The ONNX model's predictions differ from the trained "
            "model's beyond the tolerance.")
    metrics = ctx["metrics"]
    key = _headline(metrics)
    bench = (ctx["soundness"].get("benchmark_model") or {}).get("metrics") or {}
    if key and bench.get(key) is not None:
        label, higher = METRICS[key]
        m, b = float(metrics[key]), float(bench[key])
        if (b >= m) if higher else (b <= m):
            add("medium", "performance",
                f"The benchmark model ({ctx['soundness']['benchmark_model']['estimator']}, "
                f"trained in the same run) scores {label} {b:.3f} against the model's "
                f"{m:.3f}: the selected model's extra complexity is not earning a better "
                "score on this test set.")
    champ = ctx.get("champion")
    if key and champ and (champ.get("metrics") or {}).get(key) is not None:
        label, higher = METRICS[key]
        m, c = float(metrics[key]), float(champ["metrics"][key])
        if (c > m) if higher else (c < m):
            add("medium", "performance", f"The champion {champ['ref']} scored {label} "
                f"{c:.3f} (on its own test split) against this version's {m:.3f}.")
    imp = (ctx["soundness"].get("importance") or {}).get("features") or []
    idle = [r["feature"] for r in imp if float(r["mean"]) <= 0.0005]
    if idle:
        add("low", "soundness", "Inputs whose shuffling changes the test score by less than "
            f"0.0005 (candidates for removal or review): {', '.join(idle)}.")
    for f in ctx["fairness"]:
        if f["excluded"]:
            add("low", "fairness", f"{f['attribute']}: groups too small to compare "
                f"(fewer than {f['min_group_size']} rows): {', '.join(f['excluded'])}.")
    lin = ctx["lineage_chain"]
    if lin.get("linked") is False:
        add("high", "lineage", "The training-set files on disk no longer match the hashes "
            "signed with this version.")
    if not lin.get("found"):
        add("low", "lineage", "The run store holds no lineage for this version's run, so "
            "sources and validation results cannot be shown.")
    for v in lin.get("validations") or []:
        if v.get("passed") is False:
            add("medium", "data", f"Validation of source {v['source']} failed "
                f"{v['failed']} of {v['total']} checks.")
    if not ctx["feature_views"]["matches"]:
        add("low", "lineage", "The project's specs on disk do not hash to the signed spec "
            "hash: the feature view owners shown are today's, not verified.")
    if not (ctx["lineage"].get("git") or {}).get("commit"):
        add("low", "lineage", "No git commit was recorded (the project was not a git "
            "checkout when the model was registered).")
    elif (ctx["lineage"].get("git") or {}).get("dirty"):
        add("low", "lineage", "The git checkout had uncommitted changes at registration.")
    approval = ctx["approval"]
    if approval is None:
        add("medium", "approval", "No approval request was opened for this version.")
    elif approval["state"] != "approved":
        add("medium", "approval", f"Approval is {approval['state']}: {approval['reason']}.")
    order = {"high": 0, "medium": 1, "low": 2}
    out.sort(key=lambda f: order[f["severity"]])
    return out
