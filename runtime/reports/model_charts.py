"""The model report's charts, as Vega-Lite (altair) specs: ROC, calibration, group rates,
permutation importance, sensitivity.

Why altair instead of the hand-written SVG this module used to hold: ticks, label overlap
and scales are solved by Vega-Lite (theme and number formats in chart_kit.py), and the
charts get hover tooltips (every point and bar) and zoom/pan (curves) in the browser; the
same specs render to static SVG for the PDF. Inputs are what `evaluate` wrote into
`evaluation.json` (plot data, group rates, the soundness block); nothing is re-scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from specops.runtime.reports.chart_kit import COLORS, number_format

__all__ = ["calibration_chart", "group_rates_chart", "importance_chart", "roc_chart",
           "sensitivity_charts"]

SQUARE = 300


def _data(rows: list[dict[str, Any]]) -> Any:
    return alt.Data(values=rows)  # type: ignore[no-untyped-call]


def _diagonal() -> Any:
    return alt.Chart(_data([{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 1.0}])).mark_line(
        color="#a0aec0", strokeDash=[4, 4]).encode(x="x:Q", y="y:Q")


def roc_chart(roc: Mapping[str, Any] | None, auc: float | None = None) -> Any:
    """ROC curve with the chance diagonal; zoomable; hover shows FPR, TPR, threshold."""
    if not roc or not roc.get("x"):
        return None
    thresholds = list(roc.get("threshold") or roc.get("thresholds") or [])
    rows = [{"fpr": float(x), "tpr": float(y),
             **({"threshold": float(thresholds[i])} if i < len(thresholds)
                and thresholds[i] is not None and abs(float(thresholds[i])) <= 1 else {})}
            for i, (x, y) in enumerate(zip(roc["x"], roc["y"], strict=False))]
    title = "ROC curve on the test set" + (f" (AUC {auc:.3f})" if auc is not None else "")
    fmt = ".2~f"
    curve = alt.Chart(_data(rows)).mark_line(color=COLORS[0], point=alt.OverlayMarkDef(
        size=12, opacity=0.4)).encode(
        x=alt.X("fpr:Q", title="false positive rate", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=fmt)),
        y=alt.Y("tpr:Q", title="true positive rate", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=fmt)),
        tooltip=[alt.Tooltip("fpr:Q", title="false positive rate", format=".3f"),
                 alt.Tooltip("tpr:Q", title="true positive rate", format=".3f"),
                 alt.Tooltip("threshold:Q", title="score threshold", format=".3f")])
    return alt.layer(_diagonal(), curve).properties(
        title=title, width=SQUARE, height=SQUARE).interactive()


def calibration_chart(calibration: Mapping[str, Any] | None) -> Any:
    """Reliability diagram: mean predicted probability vs observed rate per bin; point size
    is the bin's row count."""
    bins = (calibration or {}).get("bins") or []
    if not bins:
        return None
    rows = [{"predicted": float(b["mean_predicted"]), "observed": float(b["observed_rate"]),
             "count": int(b.get("count") or 0), "bin": str(b.get("bin"))} for b in bins]
    ece = (calibration or {}).get("ece")
    title = "Calibration on the test set" + (f" (ECE {float(ece):.3f})" if ece is not None
                                              else "")
    points = alt.Chart(_data(rows)).mark_line(
        color=COLORS[1], point=alt.OverlayMarkDef(color=COLORS[1], size=40)).encode(
        x=alt.X("predicted:Q", title="mean predicted probability",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".2~f")),
        y=alt.Y("observed:Q", title="observed rate", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=".2~f")),
        tooltip=[alt.Tooltip("bin:N", title="bin"),
                 alt.Tooltip("predicted:Q", title="mean predicted", format=".3f"),
                 alt.Tooltip("observed:Q", title="observed rate", format=".3f"),
                 alt.Tooltip("count:Q", title="rows", format=",d")])
    return alt.layer(_diagonal(), points).properties(
        title=title, width=SQUARE, height=SQUARE).interactive()


def group_rates_chart(attribute: str, groups: Sequence[Mapping[str, Any]],
                      reference: float | None = None) -> Any:
    """Favourable-decision rate and true positive rate per group, side by side, groups in
    band order; `reference` draws the four-fifths line (0.8 x the highest selection rate)."""
    order = [str(g["name"]) for g in groups]
    rows = []
    for g in groups:
        for key, measure in (("selection_rate", "favourable-decision rate"),
                             ("tpr", "true positive rate")):
            if g.get(key) is not None:
                rows.append({"group": str(g["name"]), "measure": measure,
                             "rate": float(g[key]), "n": int(g.get("n") or 0)})
    if not rows:
        return None
    bars = alt.Chart(_data(rows)).mark_bar().encode(
        x=alt.X("group:N", title=attribute, sort=order, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("measure:N"),
        y=alt.Y("rate:Q", title="rate", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=".0%")),
        color=alt.Color("measure:N", title=None,
                        scale=alt.Scale(range=[COLORS[0], COLORS[2]])),
        tooltip=[alt.Tooltip("group:N", title=attribute), alt.Tooltip("measure:N"),
                 alt.Tooltip("rate:Q", format=".1%"), alt.Tooltip("n:Q", title="rows",
                                                                  format=",d")])
    layers: list[Any] = [bars]
    if reference is not None:
        rule = alt.Chart(_data([{"y": reference,
                                           "label": "four-fifths of the highest rate"}])
                         ).mark_rule(color="#c53030", strokeDash=[5, 3]).encode(
            y="y:Q", tooltip=[alt.Tooltip("label:N", title="line"),
                              alt.Tooltip("y:Q", title="rate", format=".1%")])
        layers.append(rule)
    width = max(220, min(560, 70 * len(order)))
    return alt.layer(*layers).properties(title=f"Rates by {attribute}", width=width,
                                         height=220)


def importance_chart(importance: Mapping[str, Any] | None) -> Any:
    """Permutation importance: mean score drop per input with +-1 standard deviation."""
    feats = list((importance or {}).get("features") or [])
    if not feats:
        return None
    scoring = str((importance or {}).get("scoring") or "score")
    rows = [{"feature": f["feature"], "mean": float(f["mean"]), "std": float(f["std"]),
             "lo": float(f["mean"]) - float(f["std"]), "hi": float(f["mean"]) + float(f["std"])}
            for f in feats]
    order = [r["feature"] for r in rows]
    fmt = number_format([r["hi"] for r in rows] + [r["lo"] for r in rows])
    base = alt.Chart(_data(rows))
    bars = base.mark_bar(color=COLORS[0]).encode(
        y=alt.Y("feature:N", sort=order, title=None),
        x=alt.X("mean:Q", title=f"drop in {scoring} when the input is shuffled",
                axis=alt.Axis(format=fmt)),
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("mean:Q", title="mean drop",
                                                       format=".4f"),
                 alt.Tooltip("std:Q", title="std over repeats", format=".4f")])
    whiskers = base.mark_rule(color="#1a202c").encode(y=alt.Y("feature:N", sort=order),
                                                      x="lo:Q", x2="hi:Q")
    return alt.layer(bars, whiskers).properties(
        title="Permutation feature importance (test set)", width=520,
        height=max(120, 26 * len(rows)))


def sensitivity_charts(sensitivity: Mapping[str, Any] | None, limit: int = 4) -> list[Any]:
    """Mean prediction as each of the `limit` most important inputs moves across its
    test-set range (others held at their values): one small chart per input, all on the
    same y scale so the swings compare; separate charts so each sits in the page's flow
    and breaks across PDF pages on its own."""
    feats = [f for f in (sensitivity or {}).get("features") or []][:limit]
    if not feats:
        return []
    target = str((sensitivity or {}).get("prediction") or "mean prediction")
    values = [float(m) for f in feats for m in f["mean_prediction"]]
    fmt = number_format(values)
    pad = (max(values) - min(values)) * 0.05 or 0.01
    domain = [min(values) - pad, max(values) + pad]
    panels = []
    for f in feats:
        rows = [{"value": v, "prediction": float(m)}
                for v, m in zip(f["grid"], f["mean_prediction"], strict=False)]
        numeric = f.get("role") != "categorical"
        base = alt.Chart(_data(rows))
        mark = base.mark_line(color=COLORS[1], point=alt.OverlayMarkDef(color=COLORS[1])) \
            if numeric else base.mark_bar(color=COLORS[1])
        xfmt = number_format([float(v) for v in f["grid"]]) if numeric else ""
        x = alt.X("value:Q", title=f["feature"], scale=alt.Scale(zero=False),
                  axis=alt.Axis(format=xfmt, tickCount=5)) if numeric else \
            alt.X("value:N", title=f["feature"], axis=alt.Axis(labelAngle=0))
        panels.append(mark.encode(
            x=x, y=alt.Y("prediction:Q", title=target, scale=alt.Scale(domain=domain),
                         axis=alt.Axis(format=fmt)),
            tooltip=[alt.Tooltip("value:Q", title=f["feature"], format=",.4~g") if numeric
                     else alt.Tooltip("value:N", title=f["feature"]),
                     alt.Tooltip("prediction:Q", title=target, format=".4f")],
        ).properties(title=f"Sensitivity to {f['feature']}", width=220, height=170))
    return panels
