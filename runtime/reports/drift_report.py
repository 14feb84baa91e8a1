"""Drift reports: the JSON document of a monitoring pass, the HTML page rendered from it,
and the index page listing a model's passes.

Why the HTML is rendered from the JSON (and nothing else): what a reviewer sees is exactly
what a machine reads, and an old JSON report can be re-rendered later.

What the page holds, after Evidently's data drift preset: the prediction distribution
(reference vs latest window) and its drift per window; drift per feature (chart and table)
and each feature's statistic across windows with the thresholds; data quality (missing
values against the reference, values outside the reference range, unseen categories);
the distributions on the reference bins; performance, fairness and latency over time;
the windows and the alerts. Charts are Vega-Lite (drift_charts.py) with the JavaScript
inlined by chart_kit.py: hover tooltips and zoom, offline, one file. The page carries
binned shares and per-window statistics, never rows, so its size does not grow with the
data (bench/drift_html.py: about 0.96 MB, most of it the Vega bundle, at 10k and at 100k
rows; Evidently 0.7's DataDriftPreset page on the same frames is about 4.3 MB).

Every cell says something: a missing value is written as why it is missing ("too few
values", "not in the log"), never as "-" or "None".
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from markupsafe import Markup

from specops.runtime.reports import drift_charts as charts
from specops.runtime.reports.chart_kit import ChartSet

__all__ = ["render_html", "render_index", "write_index", "write_reports"]

_TEMPLATES = Path(__file__).resolve().parent
TEMPLATE = "drift_report.html.j2"
INDEX_TEMPLATE = "drift_index.html.j2"
_PERF_KEYS = ("roc_auc", "pr_auc", "accuracy", "f1", "brier", "rmse", "mae", "r2")
_FAIR_KEYS = ("disparate_impact", "demographic_parity_difference",
              "equalized_odds_difference")
_OPS = ("requests", "error_rate", "latency_p50_ms", "latency_p99_ms")


def _fmt(value: Any, digits: int = 4, missing: str = "not computed") -> str:
    """A cell value: `digits` significant digits, thousands separators for counts, words
    for booleans, and `missing` (a reason) where there is no value."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return missing
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:.{digits}g}"
    return str(value)


def _pct(value: Any) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return "not computed"
    v = float(value) * 100
    return "0%" if v == 0 else (f"{v:.2g}%" if abs(v) < 1 else f"{v:.1f}%")


def _words(key: Any) -> str:
    return str(key).replace("_", " ")


def _pval(value: Any) -> str:
    """A p-value as a reader compares it with 0.05: three digits, or `< 0.0001`."""
    if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return "not computed"
    return "< 0.0001" if float(value) < 1e-4 else f"{float(value):.3g}"


def _when(iso: Any) -> str:
    """`2025-03-26T00:00:00+00:00` as `2025-03-26 00:00 UTC`."""
    text = str(iso)
    return f"{text[:10]} {text[11:16]} UTC" if len(text) >= 16 and text[10] == "T" else text


def _alert_runs(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per signal for the banner: its latest alert (the longest run)."""
    latest: dict[str, dict[str, Any]] = {}
    for a in alerts:
        latest[a["signal"]] = a
    return list(latest.values())


def _env() -> Any:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
                               autoescape=jinja2.select_autoescape(["html", "j2"]),
                               undefined=jinja2.StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    env.filters["pct"] = _pct
    env.filters["words"] = _words
    env.filters["pval"] = _pval
    env.filters["when"] = _when
    return env


def _trend_rows(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"feature": f["feature"], "end": w["end"], "window": w["label"],
             "value": f["value"], "status": _words(f["status"])}
            for w in windows if w.get("end")
            for f in (w.get("drift") or {}).get("features") or []]


def _series(windows: list[dict[str, Any]], name: str, get: Any) -> list[dict[str, Any]]:
    return [{"series": name, "end": w["end"], "window": w["label"], "value": get(w)}
            for w in windows if w.get("end")]


def _quality_note(q: dict[str, Any]) -> str:
    """The quality finding of one feature in words (the table's last column)."""
    if q.get("absent"):
        return "column not in the current data"
    if q["kind"] == "numeric":
        if "out_of_range" not in q:
            return "no reference sample to compare the range with"
        rng = f"{_fmt(q['reference_min'], 4)} to {_fmt(q['reference_max'], 4)}"
        if not q["below"] and not q["above"]:
            return f"all values within the reference range {rng}"
        return (f"{_pct(q['out_of_range'])} outside the reference range {rng} "
                f"({q['below']:,} below, {q['above']:,} above)")
    unseen = q.get("unseen") or []
    if not unseen:
        return "no category the reference did not have"
    names = ", ".join(f"{u['category']} ({_pct(u['share'])})" for u in unseen[:5])
    return f"{_pct(q['unseen_share'])} in {len(unseen)} unseen categor" \
           f"{'y' if len(unseen) == 1 else 'ies'}: {names}"


def _quality(last: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for q in last.get("quality") or []:
        grew = float(q.get("missing_current") or 0.0) - float(q.get("missing_reference") or 0.0)
        flag = bool(q.get("absent")) or grew > 0.01 or float(q.get("out_of_range") or 0) > 0.01 \
            or float(q.get("unseen_share") or 0) > 0.0
        rows.append({**q, "note": _quality_note(q), "flag": flag})
    return rows


def _context(doc: dict[str, Any], kit: ChartSet) -> dict[str, Any]:
    """Everything the template shows, as plain data; charts as markup from `kit`."""
    windows: list[dict[str, Any]] = list(doc.get("windows") or [])
    cfg = dict((doc.get("config") or {}).get("drift") or {})
    method = str(cfg.get("method", "psi"))
    thresholds = {} if method == "chisquare" else {"warn": cfg.get("warn"),
                                                    "alert": cfg.get("alert")}
    last = windows[-1] if windows else {}
    drift = last.get("drift") or {}
    timed = [w for w in windows if w.get("end")]
    trend = len(timed) >= 2
    ref = (doc.get("reference") or {}).get("metrics") or {}

    def add(cid: str, chart: Any) -> Markup | None:
        return kit.add(cid, chart) if chart is not None else None

    c: dict[str, Any] = {}
    pred = drift.get("prediction")
    c["prediction"] = add("prediction", charts.prediction_chart(last.get("prediction_histogram")))
    c["prediction_trend"] = add("prediction-trend", charts.series_chart(
        f"Prediction drift per window ({method})",
        _series(windows, "prediction", lambda w: ((w.get("drift") or {}).get("prediction")
                                                  or {}).get("value")),
        method, thresholds, zero=True)) if trend and pred else None
    c["drift_bars"] = add("drift-bars", charts.drift_bars(drift.get("features") or [],
                                                           method, thresholds))
    c["drift_trend"] = add("feature-trend", charts.trend_chart(
        _trend_rows(windows), method, thresholds,
        f"Drift per feature per window ({method})")) if trend else None
    c["drift_share"] = add("drift-share", charts.series_chart(
        "Share of drifted features per window",
        _series(windows, "drift share", lambda w: (w.get("drift") or {}).get("drift_share")),
        "share of features in alert", {"dataset drift": cfg.get("drift_share", 0.5)},
        zero=True)) if trend else None
    quality = _quality(last)
    c["missing"] = add("missing", charts.missing_chart(quality))
    statuses = {f["feature"]: f["status"] for f in drift.get("features") or []}
    c["distributions"] = [
        add(f"dist-{name}", charts.distribution_chart(name, h["labels"], h["reference"],
                                                      h["current"], statuses.get(name, "ok")))
        for name, h in sorted((last.get("histograms") or {}).items())]
    perf = [r for k in _PERF_KEYS for r in _series(
        windows, k, lambda w, k=k: (((w.get("performance") or {}).get("metrics") or {})
                                    .get(k)))]
    perf = [r for r in perf if r["value"] is not None]
    c["performance"] = add("performance", charts.series_chart(
        "Realised performance per window", perf, "metric",
        baselines={k: float(ref[k]) for k in sorted({r["series"] for r in perf}) if k in ref})
    ) \
        if perf else None
    fair = []
    for attr in sorted({a for w in windows for a in (w.get("fairness") or {})}):
        rows = [r for k in _FAIR_KEYS for r in _series(
            windows, k, lambda w, k=k, a=attr: (((w.get("fairness") or {}).get(a) or {})
                                                .get(k)))]
        rows = [r for r in rows if isinstance(r["value"], (int, float))]
        chart = add(f"fairness-{attr}", charts.series_chart(
            f"Fairness by {attr} per window", rows, "measure",
            baselines={k: float(ref[f"{k}:{attr}"]) for k in sorted({r["series"] for r in rows})
                       if f"{k}:{attr}" in ref})) if rows else None
        fair.append({"attribute": attr, "chart": chart})
    c["fairness"] = fair
    ops = [r for k in ("latency_p50_ms", "latency_p99_ms") for r in _series(
        windows, k.replace("latency_", "").replace("_ms", ""),
        lambda w, k=k: (w.get("operational") or {}).get(k))]
    ops = [r for r in ops if r["value"] is not None]
    c["operational"] = add("latency", charts.series_chart(
        "Latency per window", ops, "milliseconds")) if ops else None
    logged = any((w.get("operational") or {}).get("latency_p50_ms") is not None
                 for w in windows)
    source = dict(doc.get("source") or {})
    return {"doc": doc, "windows": windows, "last": last, "drift": drift, "pred": pred,
            "cfg": cfg, "method": method, "trend": trend, "charts": c, "quality": quality,
            "logged": logged, "source": source,
            "stream": "the serving log" if source.get("kind") == "log" else "current rows",
            "alerts": list(doc.get("alerts") or []),
            "alert_runs": _alert_runs(list(doc.get("alerts") or [])),
            "in_breach": list(doc.get("in_breach") or []),
            "retrain": doc.get("retrain"), "healing": doc.get("self_healing"),
            "config": doc.get("config") or {}}


def render_html(doc: dict[str, Any]) -> str:
    """The self-contained, interactive HTML page for a monitoring report document."""
    kit = ChartSet()
    ctx = _context(doc, kit)
    ctx["chart_scripts"] = kit.scripts()
    return str(_env().get_template(TEMPLATE).render(**ctx))


def write_reports(doc: dict[str, Any], out_dir: Path, stem: str = "monitor") -> dict[str, Path]:
    """`<stem>.json` and `<stem>.html` in `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / f"{stem}.json", out_dir / f"{stem}.html"
    json_path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n",
                         encoding="utf-8")
    html_path.write_text(render_html(doc), encoding="utf-8")
    return {"json": json_path, "html": html_path}


def _pass_order(path: Path) -> tuple[str, int]:
    """`monitor-<UTC stamp>[-n]`: by stamp, then n (a plain string sort puts `-2`, the
    second pass of that second, before the first)."""
    m = re.fullmatch(r"(.*?)-(\d+)", path.stem)
    return (m.group(1), int(m.group(2))) if m else (path.stem, 1)


def render_index(out_dir: Path, pattern: str = "monitor-*.json") -> str:
    """The index page of the passes in `out_dir`, newest first, read from their JSON."""
    passes: list[dict[str, Any]] = []
    for path in sorted(out_dir.glob(pattern), key=_pass_order, reverse=True):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        windows = doc.get("windows") or []
        src = doc.get("source") or {}
        html = path.with_suffix(".html")
        passes.append({
            "report": html.name if html.is_file() else None, "json": path.name,
            "generated_at": _when(doc.get("generated_at") or "time not recorded"),
            "version": doc.get("version") or "version not recorded",
            "stream": "serving log" if src.get("kind") == "log" else "current rows",
            "path": src.get("path") or "",
            "rows": int(src.get("rows") or 0), "windows": len(windows),
            "span": (f"{str(windows[0].get('start'))[:10]} to {str(windows[-1]['end'])[:10]}"
                     if windows and windows[0].get("start") and windows[-1].get("end")
                     else "one window, no time column"),
            "drift_share": ((windows[-1].get("drift") or {}).get("drift_share")
                            if windows else None),
            "fired": len(doc.get("alerts") or []),
            "alerts": [f"{_words(a['signal'])} ({a['level']}, {a['consecutive']} in a row)"
                       for a in _alert_runs(list(doc.get("alerts") or []))],
            "in_breach": [_words(b) for b in doc.get("in_breach") or []]})
    model = next((str(p["version"]).split("@")[0] for p in passes), out_dir.name)
    return str(_env().get_template(INDEX_TEMPLATE).render(model=model, passes=passes))


def write_index(out_dir: Path) -> Path:
    """`index.html` in `out_dir`: every pass's report, linked (relative links, so the
    folder can be archived or moved as a whole)."""
    path = out_dir / "index.html"
    path.write_text(render_index(out_dir), encoding="utf-8")
    return path
