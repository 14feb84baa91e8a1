"""Inline SVG charts for the drift report (no JavaScript, no network, no matplotlib).

Why not reuse governance/plots.py as is: those charts have a fixed 0..1 scale (rates,
probabilities). Drift values (PSI, KS D, Wasserstein/std), metrics over time and binned
shares need their own scales and threshold lines; the look (size, margins, palette) is
kept the same so both reports read alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["distribution_chart", "drift_bars", "line_chart"]

W, H = 360, 240
L, R, T, B = 50, 16, 18, 46
PW, PH = W - L - R, H - T - B
COLORS = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b")
STATUS = {"ok": "#2f855a", "warn": "#d69e2e", "alert": "#c53030",
          "insufficient_data": "#a0aec0", "missing": "#a0aec0"}


def _svg(title: str, body: list[str], width: int = W, height: int = H) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
            'font-family="system-ui, sans-serif" font-size="10">'
            f'<title>{escape(title)}</title>{"".join(body)}</svg>')


def _nice_max(v: float) -> float:
    if v <= 0 or not math.isfinite(v):
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return float(m * exp)
    return float(10 * exp)


def drift_bars(title: str, values: Mapping[str, float | None], statuses: Mapping[str, str],
               warn: float | None = None, alert: float | None = None) -> str:
    """Horizontal bars, one per feature, coloured by status, with threshold lines."""
    items = [(k, v) for k, v in values.items() if v is not None and math.isfinite(v)]
    if not items:
        return ""
    row = 18
    height = T + row * len(items) + 30
    left = 130
    width = W + 80
    pw = width - left - R
    top = _nice_max(max([v for _, v in items] + [alert or 0, warn or 0]) * 1.05)
    body = []
    for i, (name, v) in enumerate(items):
        y = T + i * row
        w = pw * min(v / top, 1.0)
        color = STATUS.get(statuses.get(name, "ok"), COLORS[0])
        body.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">'
                    f'{escape(name[:22])}</text>')
        body.append(f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" '
                    f'fill="{color}"><title>{escape(name)}: {v:.4g} '
                    f'({escape(statuses.get(name, ""))})</title></rect>')
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + 12}">{v:.3g}</text>')
    base = T + row * len(items)
    for level, value in (("warn", warn), ("alert", alert)):
        if value is None:
            continue
        x = left + pw * min(value / top, 1.0)
        body.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{base}" '
                    f'stroke="{STATUS[level]}" stroke-dasharray="4 3"/>'
                    f'<text x="{x:.1f}" y="{base + 12}" text-anchor="middle" '
                    f'fill="{STATUS[level]}">{level} {value:g}</text>')
    body.append(f'<line x1="{left}" y1="{T}" x2="{left}" y2="{base}" stroke="#4a5568"/>')
    return _svg(title, body, width, height)


def distribution_chart(title: str, labels: Sequence[str], reference: Sequence[float],
                       current: Sequence[float]) -> str:
    """Reference vs current share per bin (or category), side by side."""
    n = len(labels)
    if n == 0:
        return ""
    top = _nice_max(max(list(reference) + list(current) + [0.0]) * 1.05)
    slot = PW / n
    bw = max(1.0, slot * 0.38)
    body = [f'<rect x="{L}" y="{T}" width="{PW}" height="{PH}" fill="none" stroke="#cbd5e0"/>']
    for i in range(5):
        v = top * i / 4
        y = T + PH - PH * i / 4
        body.append(f'<text x="{L - 4}" y="{y + 3:.1f}" text-anchor="end">{v:.2g}</text>')
    for i, (lab, r, c) in enumerate(zip(labels, reference, current, strict=True)):
        x = L + slot * i + slot * 0.1
        for j, (v, color, who) in enumerate(((r, "#a0aec0", "reference"),
                                             (c, COLORS[0], "current"))):
            h = PH * min(v / top, 1.0)
            body.append(f'<rect x="{x + j * bw:.1f}" y="{T + PH - h:.1f}" width="{bw:.1f}" '
                        f'height="{h:.1f}" fill="{color}"><title>{escape(lab)} {who}: '
                        f'{v:.3f}</title></rect>')
        every = max(1, math.ceil(n / 5))      # at most ~5 labels: they never overlap
        if i % every == 0:
            body.append(f'<text x="{x + bw:.1f}" y="{T + PH + 12}" text-anchor="middle">'
                        f'<title>{escape(lab)}</title>{escape(lab[:12])}</text>')
    body.append(f'<rect x="{L + PW - 118}" y="{T + 2}" width="8" height="8" fill="#a0aec0"/>'
                f'<text x="{L + PW - 106}" y="{T + 10}">reference</text>'
                f'<rect x="{L + PW - 56}" y="{T + 2}" width="8" height="8" fill="{COLORS[0]}"/>'
                f'<text x="{L + PW - 44}" y="{T + 10}">current</text>')
    body.append(f'<text x="{L + PW / 2}" y="{H - 8}" text-anchor="middle" font-size="11">'
                'bins fit on the reference (share of rows)</text>')
    return _svg(title, body)


def line_chart(title: str, xlabels: Sequence[str],
               series: Mapping[str, Sequence[float | None]],
               baselines: Mapping[str, float] | None = None, ylabel: str = "") -> str:
    """One line per series across windows; dashed lines for reference values."""
    vals = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    vals += list((baselines or {}).values())
    n = len(xlabels)
    if not vals or n == 0:
        return ""
    lo, hi = min(vals), max(vals)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.1
    lo, hi = lo - pad, hi + pad

    def x(i: int) -> float:
        return L + (PW * (i + 0.5) / n)

    def y(v: float) -> float:
        return T + PH * (1 - (v - lo) / (hi - lo))

    body = [f'<rect x="{L}" y="{T}" width="{PW}" height="{PH}" fill="none" stroke="#cbd5e0"/>']
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        body.append(f'<text x="{L - 4}" y="{y(v) + 3:.1f}" text-anchor="end">{v:.3g}</text>')
    step = max(1, math.ceil(n / 6))
    for i, lab in enumerate(xlabels):
        if i % step == 0:
            body.append(f'<text x="{x(i):.1f}" y="{T + PH + 12}" text-anchor="middle">'
                        f'{escape(lab[:10])}</text>')
    for k, (name, s) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        pts = [(x(i), y(v)) for i, v in enumerate(s) if v is not None and math.isfinite(v)]
        if len(pts) > 1:
            body.append('<polyline points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
                        + f'" fill="none" stroke="{color}" stroke-width="2"/>')
        for a, b in pts:
            body.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>')
        body.append(f'<text x="{L + 6}" y="{T + 12 + 12 * k}" fill="{color}">'
                    f'{escape(name)}</text>')
        base = (baselines or {}).get(name)
        if base is not None:
            body.append(f'<line x1="{L}" y1="{y(base):.1f}" x2="{L + PW}" y2="{y(base):.1f}" '
                        f'stroke="{color}" stroke-dasharray="4 3"><title>{escape(name)} '
                        f'reference {base:.4g}</title></line>')
    if ylabel:
        body.append(f'<text x="12" y="{T + PH / 2}" font-size="11" text-anchor="middle" '
                    f'transform="rotate(-90 12 {T + PH / 2})">{escape(ylabel)}</text>')
    return _svg(title, body)
