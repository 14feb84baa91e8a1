"""Drift reports: the JSON document and a self-contained HTML page rendered from it.

Why the HTML is rendered from the JSON (and nothing else): what a reviewer sees is exactly
what a machine reads, and an old JSON report can be re-rendered later. The page has every
chart as inline SVG (plots.py) and no script, stylesheet or font from the network, so it
opens offline, archives as one file and stays small: it carries binned shares, never the
raw rows (Evidently's reports embed the data and take minutes to open at 250k rows).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from specops.runtime.reports.drift_charts import distribution_chart, drift_bars, line_chart

__all__ = ["render_html", "write_reports"]

_TEMPLATES = Path(__file__).resolve().parent
TEMPLATE = "drift_report.html.j2"
_PERF_KEYS = ("roc_auc", "pr_auc", "accuracy", "f1", "brier", "rmse", "mae", "r2")
_FAIR_KEYS = ("disparate_impact", "demographic_parity_difference",
              "equalized_odds_difference")


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:.{digits}g}"
    return str(value)


def _short(w: dict[str, Any]) -> str:
    end = w.get("end") or ""
    return str(end)[:10] or f"w{w.get('index', 0)}"


def _charts(doc: dict[str, Any]) -> dict[str, Any]:
    windows = doc.get("windows") or []
    if not windows:
        return {"drift_bars": "", "distributions": [], "performance": "", "fairness": [],
                "drift_share": "", "operational": ""}
    last = windows[-1]
    drift = last.get("drift") or {}
    cfg = (doc.get("config") or {}).get("drift") or {}
    feats = drift.get("features") or []
    values = {f["feature"]: f["value"] for f in feats}
    statuses = {f["feature"]: f["status"] for f in feats}
    method = cfg.get("method", "psi")
    bars = drift_bars(f"{method} per feature (latest window)", values, statuses,
                      None if method == "chisquare" else cfg.get("warn"),
                      None if method == "chisquare" else cfg.get("alert"))
    dists = []
    for name, h in sorted((last.get("histograms") or {}).items()):
        dists.append({"feature": name, "status": statuses.get(name, ""),
                      "svg": distribution_chart(name, h["labels"], h["reference"],
                                                h["current"])})
    xl = [_short(w) for w in windows]
    ref = (doc.get("reference") or {}).get("metrics") or {}
    perf_series: dict[str, list[float | None]] = {}
    for key in _PERF_KEYS:
        s = [((w.get("performance") or {}).get("metrics") or {}).get(key) for w in windows]
        if any(v is not None for v in s):
            perf_series[key] = s
    perf = line_chart("Realised performance per window", xl, perf_series,
                      {k: ref[k] for k in perf_series if k in ref}) if perf_series else ""
    fair = []
    attrs = sorted({a for w in windows for a in (w.get("fairness") or {})})
    for attr in attrs:
        series = {k: [((w.get("fairness") or {}).get(attr) or {}).get(k) for w in windows]
                  for k in _FAIR_KEYS}
        series = {k: v for k, v in series.items() if any(x is not None for x in v)}
        base = {k: ref[f"{k}:{attr}"] for k in series if f"{k}:{attr}" in ref}
        if series:
            fair.append({"attribute": attr,
                         "svg": line_chart(f"Fairness by {attr} per window", xl, series, base)})
    share = line_chart("Share of drifted features per window", xl,
                       {"drift share": [(w.get("drift") or {}).get("drift_share")
                                        for w in windows]},
                       {"drift share": cfg.get("drift_share", 0.5)})
    ops_series = {k: [(w.get("operational") or {}).get(k) for w in windows]
                  for k in ("latency_p50_ms", "latency_p99_ms")}
    ops_series = {k: v for k, v in ops_series.items() if any(x is not None for x in v)}
    ops = line_chart("Latency per window (ms)", xl, ops_series) if ops_series else ""
    return {"drift_bars": bars, "distributions": dists, "performance": perf, "fairness": fair,
            "drift_share": share, "operational": ops}


def render_html(doc: dict[str, Any]) -> str:
    """The self-contained HTML page for a monitoring report document."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    charts = _charts(doc)
    safe: dict[str, Any] = {}
    for key, value in charts.items():      # SVG built from numbers; text escaped in plots
        if isinstance(value, str):
            safe[key] = Markup(value)
        else:
            safe[key] = [{**item, "svg": Markup(item["svg"])} for item in value]
    return env.get_template(TEMPLATE).render(doc=doc, charts=safe)


def write_reports(doc: dict[str, Any], out_dir: Path, stem: str = "monitor") -> dict[str, Path]:
    """`<stem>.json` and `<stem>.html` in `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / f"{stem}.json", out_dir / f"{stem}.html"
    json_path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n",
                         encoding="utf-8")
    html_path.write_text(render_html(doc), encoding="utf-8")
    return {"json": json_path, "html": html_path}
