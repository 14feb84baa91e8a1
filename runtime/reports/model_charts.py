"""Inline SVG charts for the model report: ROC, calibration, group rates.

Why hand-written SVG instead of a plotting library: the report must be one self-contained
HTML file that opens offline (no JS CDN, no image files), renders identically in a
browser, a PDF printer and a document archive, and the runtime should not pull matplotlib
in for three charts. Inputs are the plot data `evaluate` already wrote into
`evaluation.json` (no re-scoring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["bar_chart", "calibration_chart", "roc_chart"]

W, H = 360, 300
L, R, T, B = 50, 16, 16, 46          # margins: left, right, top, bottom
PW, PH = W - L - R, H - T - B
_COLORS = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b")


def _x(v: float) -> float:
    return L + max(0.0, min(1.0, v)) * PW


def _y(v: float) -> float:
    return T + (1 - max(0.0, min(1.0, v))) * PH


def _frame(title: str, xlabel: str, ylabel: str, body: list[str], xticks: bool = True) -> str:
    grid = []
    for i in range(6):
        t = i / 5
        if xticks:
            grid.append(f'<line x1="{_x(t):.1f}" y1="{T}" x2="{_x(t):.1f}" y2="{T + PH}" '
                        'stroke="#e2e8f0"/>')
            grid.append(f'<text x="{_x(t):.1f}" y="{T + PH + 14}" font-size="10" '
                        f'text-anchor="middle">{t:.1f}</text>')
        grid.append(f'<line x1="{L}" y1="{_y(t):.1f}" x2="{L + PW}" y2="{_y(t):.1f}" '
                    'stroke="#e2e8f0"/>')
        grid.append(f'<text x="{L - 6}" y="{_y(t) + 3:.1f}" font-size="10" '
                    f'text-anchor="end">{t:.1f}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
            f'height="{H}" role="img" aria-label="{escape(title)}" '
            'font-family="system-ui, sans-serif">'
            f'<title>{escape(title)}</title>' + "".join(grid)
            + f'<rect x="{L}" y="{T}" width="{PW}" height="{PH}" fill="none" stroke="#4a5568"/>'
            + "".join(body)
            + f'<text x="{L + PW / 2}" y="{H - 8}" font-size="11" text-anchor="middle">'
              f'{escape(xlabel)}</text>'
            + f'<text x="12" y="{T + PH / 2}" font-size="11" text-anchor="middle" '
              f'transform="rotate(-90 12 {T + PH / 2})">{escape(ylabel)}</text></svg>')


def _polyline(xs: Sequence[float], ys: Sequence[float], color: str, width: float = 2) -> str:
    pts = " ".join(f"{_x(float(a)):.1f},{_y(float(b)):.1f}" for a, b in zip(xs, ys, strict=False))
    return (f'<polyline points="{pts}" fill="none" stroke="{color}" '
            f'stroke-width="{width}"/>')


def roc_chart(roc: Mapping[str, Any] | None, auc: float | None = None) -> str:
    """ROC curve (x = false positive rate, y = true positive rate) with the chance line."""
    if not roc or not roc.get("x"):
        return ""
    body = [_polyline([0, 1], [0, 1], "#a0aec0", 1),
            _polyline(roc["x"], roc["y"], _COLORS[0])]
    if auc is not None:
        body.append(f'<text x="{L + PW - 6}" y="{T + PH - 8}" font-size="12" '
                    f'text-anchor="end" fill="{_COLORS[0]}">AUC = {auc:.3f}</text>')
    return _frame("ROC curve", "false positive rate", "true positive rate", body)


def calibration_chart(calibration: Mapping[str, Any] | None) -> str:
    """Reliability diagram: mean predicted probability vs observed rate, per bin."""
    bins = (calibration or {}).get("bins") or []
    if not bins:
        return ""
    xs = [float(b["mean_predicted"]) for b in bins]
    ys = [float(b["observed_rate"]) for b in bins]
    body = [_polyline([0, 1], [0, 1], "#a0aec0", 1), _polyline(xs, ys, _COLORS[1])]
    for x, y, b in zip(xs, ys, bins, strict=False):
        body.append(f'<circle cx="{_x(x):.1f}" cy="{_y(y):.1f}" r="3.5" fill="{_COLORS[1]}">'
                    f'<title>bin {b["bin"]}: n={b["count"]}</title></circle>')
    ece = (calibration or {}).get("ece")
    if ece is not None:
        body.append(f'<text x="{L + 8}" y="{T + 16}" font-size="12" '
                    f'fill="{_COLORS[1]}">ECE = {float(ece):.3f}</text>')
    return _frame("Calibration (reliability diagram)", "mean predicted probability",
                  "observed positive rate", body)


def bar_chart(title: str, values: Mapping[str, float | None], ylabel: str = "rate") -> str:
    """Grouped bars on a 0..1 scale (group selection rates, TPR per group)."""
    items = [(k, v) for k, v in values.items() if v is not None]
    if not items:
        return ""
    n = len(items)
    slot = PW / n
    bw = min(48.0, slot * 0.6)
    body = []
    for i, (name, v) in enumerate(items):
        x = L + slot * i + (slot - bw) / 2
        y = _y(float(v))
        color = _COLORS[i % len(_COLORS)]
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" '
                    f'height="{T + PH - y:.1f}" fill="{color}"><title>{escape(name)}: '
                    f'{float(v):.3f}</title></rect>')
        body.append(f'<text x="{x + bw / 2:.1f}" y="{y - 4:.1f}" font-size="10" '
                    f'text-anchor="middle">{float(v):.2f}</text>')
        body.append(f'<text x="{x + bw / 2:.1f}" y="{T + PH + 28}" font-size="10" '
                    f'text-anchor="middle">{escape(name[:12])}</text>')
    return _frame(title, "", ylabel, body, xticks=False)
