"""The drift report's charts, as Vega-Lite (altair) specs drawn by chart_kit.py.

Why altair instead of the hand-written SVG this module used to hold: the SVG charts
computed their own ticks and labels and printed ticks like -0.0625 and bin labels on top
of each other. Vega-Lite picks nice ticks, drops overlapping labels (`labelOverlap`), and
gives every mark a hover tooltip; the continuous charts zoom and pan (`.interactive()`).
Number formats come from `chart_kit.number_format`, so a PSI axis reads 0.25, not
0.2500 or 2.5e-1.

Inputs are the monitoring report document only (binned shares, per-window statistics):
the report never carries rows. Each function returns None when there is nothing to draw,
and the report then says why in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from specops.runtime.reports.chart_kit import COLORS, number_format

__all__ = ["STATUS_COLORS", "distribution_chart", "drift_bars", "missing_chart",
           "prediction_chart", "series_chart", "trend_chart"]

STATUS_COLORS = {"ok": "#2f855a", "warn": "#d69e2e", "alert": "#c53030",
                 "insufficient data": "#a0aec0", "missing": "#a0aec0"}
# threshold lines darker than the bars they cross (an alert line over red bars)
_RULE_COLORS = {"warn": "#975a16", "alert": "#742a2a", "dataset drift": "#742a2a"}
_TIME = alt.Scale(padding=14, nice=False)
_SOURCES = alt.Scale(domain=["reference", "current"], range=["#a0aec0", COLORS[0]])
WIDE = 640


def _data(rows: list[dict[str, Any]]) -> Any:
    return alt.Data(values=rows)  # type: ignore[no-untyped-call]


def _pct(values: Sequence[float]) -> str:
    """A percent format whose ticks differ: 0.1% steps need a decimal, 10% steps not."""
    top = max([abs(v) for v in values] + [0.0])
    return ".2~%" if top < 0.005 else (".1~%" if top < 0.05 else ".0%")


def _rules(levels: Mapping[str, float | None], axis: str = "y") -> list[Any]:
    """Dashed threshold lines (warn, alert) with a tooltip naming them."""
    out = []
    for level, value in levels.items():
        if value is None:
            continue
        enc = {axis: alt.X("v:Q") if axis == "x" else alt.Y("v:Q"),
               "tooltip": [alt.Tooltip("level:N", title="threshold"),
                           alt.Tooltip("v:Q", title="value", format=",.4~g")]}
        out.append(alt.Chart(_data([{"v": float(value), "level": level}])).mark_rule(
            color=_RULE_COLORS.get(level, "#4a5568"), strokeDash=[5, 3],
            strokeWidth=1.5).encode(**enc))
    return out


def drift_bars(features: Sequence[Mapping[str, Any]], method: str,
               thresholds: Mapping[str, float | None]) -> Any:
    """One horizontal bar per feature (the latest window's statistic), coloured by
    status, sorted worst first, with the warn/alert thresholds as dashed lines."""
    rows: list[dict[str, Any]] = [{"feature": str(f["feature"]), "value": float(f["value"]),
             "status": str(f["status"]).replace("_", " "), "n": int(f.get("count") or 0)}
            for f in features if f.get("value") is not None]
    if not rows:
        return None
    rows.sort(key=lambda r: -r["value"])
    fmt = number_format([r["value"] for r in rows]
                        + [v for v in thresholds.values() if v is not None])
    bars = alt.Chart(_data(rows)).mark_bar().encode(
        y=alt.Y("feature:N", sort=[r["feature"] for r in rows], title=None),
        x=alt.X("value:Q", title=f"{method} (latest window)", axis=alt.Axis(format=fmt)),
        color=alt.Color("status:N", title="status", scale=alt.Scale(
            domain=list(STATUS_COLORS)[:4], range=list(STATUS_COLORS.values())[:4])),
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("value:Q", title=method,
                                                       format=",.4~g"),
                 alt.Tooltip("status:N"), alt.Tooltip("n:Q", title="values", format=",d")])
    return alt.layer(bars, *_rules(thresholds, "x")).properties(
        title=f"Drift per feature ({method})", width=420, height=max(80, 22 * len(rows)))


def trend_chart(rows: Sequence[Mapping[str, Any]], method: str,
                thresholds: Mapping[str, float | None], title: str) -> Any:
    """The drift statistic of each feature per window, with the thresholds: a feature
    that creeps up shows before it crosses. Click a legend entry to pick out one line;
    drag to pan, scroll to zoom."""
    pts = [dict(r) for r in rows if r.get("value") is not None]
    if not pts:
        return None
    fmt = number_format([float(r["value"]) for r in pts]
                        + [v for v in thresholds.values() if v is not None])
    pick = alt.selection_point(fields=["feature"], bind="legend")
    lines = alt.Chart(_data(pts)).mark_line(point=True).encode(
        x=alt.X("end:T", title="window end", scale=_TIME,
                axis=alt.Axis(format="%b %d", labelAngle=0)),
        y=alt.Y("value:Q", title=method, axis=alt.Axis(format=fmt)),
        color=alt.Color("feature:N", title=None, legend=alt.Legend(columns=4)),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("window:N"),
                 alt.Tooltip("value:Q", title=method, format=",.4~g"),
                 alt.Tooltip("status:N")]).add_params(pick)
    return alt.layer(lines, *_rules(thresholds)).properties(
        title=title, width=WIDE, height=260).interactive(bind_y=False)


def series_chart(title: str, rows: Sequence[Mapping[str, Any]], y_title: str,
                 thresholds: Mapping[str, float | None] | None = None,
                 baselines: Mapping[str, float] | None = None, zero: bool = False) -> Any:
    """Any per-window series (`{"end", "window", "series", "value"}` rows): one line
    per series, dashed thresholds, and dotted baselines (the test-set value). `zero`:
    the axis starts at 0 (drift statistics and shares, where 0 means no drift)."""
    pts = [dict(r) for r in rows if r.get("value") is not None]
    if not pts:
        return None
    fmt = number_format([float(r["value"]) for r in pts]
                        + [v for v in (thresholds or {}).values() if v is not None]
                        + list((baselines or {}).values()))
    lines = alt.Chart(_data(pts)).mark_line(point=True).encode(
        x=alt.X("end:T", title="window end", scale=_TIME,
                axis=alt.Axis(format="%b %d", labelAngle=0)),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=zero),
                axis=alt.Axis(format=fmt)),
        color=alt.Color("series:N", title=None),
        tooltip=[alt.Tooltip("series:N", title="measure"), alt.Tooltip("window:N"),
                 alt.Tooltip("value:Q", format=",.4~g")])
    layers: list[Any] = [lines, *_rules(thresholds or {})]
    if baselines:
        base = [{"series": k, "v": float(v), "what": f"{k} on the test set"}
                for k, v in baselines.items()]
        layers.append(alt.Chart(_data(base)).mark_rule(strokeDash=[2, 3]).encode(
            y="v:Q", color=alt.Color("series:N"),
            tooltip=[alt.Tooltip("what:N", title="baseline"),
                     alt.Tooltip("v:Q", title="value", format=",.4~g")]))
    return alt.layer(*layers).properties(title=title, width=WIDE, height=230
                                         ).interactive(bind_y=False)


def distribution_chart(feature: str, labels: Sequence[str], reference: Sequence[float],
                       current: Sequence[float], status: str) -> Any:
    """Reference and current share per bin (numeric, reference quantile bins) or per
    category, side by side, in bin order."""
    if not labels:
        return None
    rows: list[dict[str, Any]] = [{"bin": str(lab), "source": who, "share": float(v)}
            for lab, r, c in zip(labels, reference, current, strict=True)
            for who, v in (("reference", r), ("current", c))]
    order = [str(lab) for lab in labels]
    return alt.Chart(_data(rows)).mark_bar().encode(
        x=alt.X("bin:N", sort=order, title=None,
                axis=alt.Axis(labelAngle=-35, labelLimit=90, labelOverlap="greedy")),
        xOffset=alt.XOffset("source:N", sort=["reference", "current"]),
        y=alt.Y("share:Q", title="share of rows",
                axis=alt.Axis(format=_pct([r["share"] for r in rows]))),
        color=alt.Color("source:N", title=None, scale=_SOURCES),
        tooltip=[alt.Tooltip("bin:N", title=feature), alt.Tooltip("source:N"),
                 alt.Tooltip("share:Q", format=".1%")],
    ).properties(title=f"{feature} ({status.replace('_', ' ')})", width=300, height=170)


def prediction_chart(hist: Mapping[str, Any] | None) -> Any:
    """The model's score on the test set (reference) and in the latest window, on equal
    bins, overlaid; zoom with the mouse wheel along the score axis."""
    if not hist:
        return None
    edges = [float(e) for e in hist["edges"]]
    rows: list[dict[str, Any]] = [{"lo": lo, "hi": hi, "source": who, "share": float(v)}
            for who in ("reference", "current")
            for lo, hi, v in zip(edges[:-1], edges[1:], hist[who], strict=True)]
    fmt = number_format(edges)
    return alt.Chart(_data(rows)).mark_bar(opacity=0.55, binSpacing=0).encode(
        x=alt.X("lo:Q", title="predicted score", bin="binned", axis=alt.Axis(format=fmt)),
        x2="hi:Q",
        y=alt.Y("share:Q", title="share of predictions", stack=None,
                axis=alt.Axis(format=_pct([r["share"] for r in rows]))),
        color=alt.Color("source:N", title=None, scale=_SOURCES),
        tooltip=[alt.Tooltip("source:N"), alt.Tooltip("lo:Q", title="from", format=",.3~g"),
                 alt.Tooltip("hi:Q", title="to", format=",.3~g"),
                 alt.Tooltip("share:Q", format=".1%")],
    ).properties(title=f"Prediction distribution: {hist['n_reference']:,} test-set scores vs "
                       f"{hist['n_current']:,} in the latest window",
                 width=WIDE, height=220).interactive(bind_y=False)


def missing_chart(quality: Sequence[Mapping[str, Any]]) -> Any:
    """Missing-value share per feature, reference against the latest window."""
    rows: list[dict[str, Any]] = [
        {"feature": str(q["feature"]), "source": who, "share": float(q[key])}
            for q in quality
            for who, key in (("reference", "missing_reference"), ("current", "missing_current"))
            if q.get(key) is not None]
    if not rows:
        return None
    names = list(dict.fromkeys(r["feature"] for r in rows))
    return alt.Chart(_data(rows)).mark_bar().encode(
        y=alt.Y("feature:N", sort=names, title=None),
        yOffset=alt.YOffset("source:N", sort=["reference", "current"]),
        x=alt.X("share:Q", title="missing values (share of rows)",
                axis=alt.Axis(format=_pct([r["share"] for r in rows]))),
        color=alt.Color("source:N", title=None, scale=_SOURCES),
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("source:N"),
                 alt.Tooltip("share:Q", title="missing", format=".2%")],
    ).properties(title="Missing values per feature", width=420,
                 height=max(80, 30 * len(names)))
