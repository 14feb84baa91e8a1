"""Shared chart plumbing for the reports: one theme, readable number formats, and the two
ways a Vega-Lite chart reaches a reader.

Why Vega-Lite through altair: the hand-written SVG the reports used had to solve ticks,
label overlap and scales chart by chart, and got them wrong (ticks like -0.0625, labels
drawn over each other). Vega-Lite solves these once (nice ticks, `labelOverlap`, d3 number
formats) and gives hover tooltips and zoom for free.

Why the JavaScript is inlined: a report is archived and opened offline as one file, so
`ChartSet.scripts()` writes the Vega, Vega-Lite and vega-embed bundle that
vl-convert-python ships (`vl_convert.javascript_bundle()`, about 0.9 MB, once per
document) plus each chart's spec into the page; nothing is fetched. For print (the PDF,
where no script runs), `ChartSet(static=True)` renders the same specs to SVG with
vl-convert's embedded engine, so the browser and the PDF show the same chart.

Used by the model report (model_charts.py) and the drift report.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from markupsafe import Markup

__all__ = ["COLORS", "THEME", "ChartSet", "number_format", "spec_of"]

COLORS = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b", "#975a16",
          "#4a5568")
FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"

THEME: dict[str, Any] = {
    "font": FONT,
    "background": "white",
    "view": {"stroke": "#cbd5e0"},
    "range": {"category": list(COLORS)},
    "title": {"fontSize": 13, "fontWeight": 600, "anchor": "start", "color": "#1a202c"},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": 500,
             "titleColor": "#2d3748", "labelColor": "#2d3748", "gridColor": "#edf2f7",
             "labelOverlap": "greedy", "labelLimit": 160, "tickCount": 6},
    "axisX": {"labelAngle": 0},
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "bottom"},
    "header": {"labelFontSize": 11, "titleFontSize": 11},
}

_ID = re.compile(r"[^A-Za-z0-9_-]+")
_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"


def number_format(values: Iterable[float | int | None]) -> str:
    """A d3 format that gives readable ticks and tooltips for these values.

    Rates and probabilities (all within [-1, 1]) get two decimals with trailing zeros
    trimmed (0.25, not 0.2500 or -0.0625); large magnitudes get SI prefixes (185k, not
    1.85e+5); whole numbers get thousands separators; anything else three significant
    digits."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return ",.3~g"
    top = max(abs(v) for v in finite)
    if top <= 1.0:
        return ".2~f"
    if top >= 10_000:
        return ".3~s"
    if all(float(v).is_integer() for v in finite):
        return ",d"
    return ",.3~g"


def spec_of(chart: Any) -> dict[str, Any]:
    """The Vega-Lite spec of an altair chart (or a spec dict) with the shared theme."""
    spec: dict[str, Any] = chart if isinstance(chart, dict) else chart.to_dict()
    spec = dict(spec)
    spec["config"] = {**THEME, **(spec.get("config") or {})}
    # keep (or add) $schema: without it vega-embed draws `concat` views empty. It is an
    # identifier only (vega-embed reads the version from it); nothing is fetched.
    spec.setdefault("$schema", _SCHEMA)
    return spec


_SNIPPET = "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"


def _bundle_cache_path() -> Path:
    """Where the built bundle is kept between processes: the user's cache folder, keyed by
    vl-convert's version and the snippet (a new vl-convert builds a new file).

    Why a disk cache: building the bundle takes vl-convert 2-12 s, which every `specops
    monitor` and `specops report` process paid. Why this is no new trust: the bundle only
    draws charts in the written HTML, which anyone able to write this folder can edit
    directly too; the signed evidence, not the HTML, is what `evidence verify` checks."""
    version = metadata.version("vl-convert-python")
    key = hashlib.sha256(f"{version}\0{_SNIPPET}".encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "specops" / f"vega-bundle-{key}.js"


@cache
def _bundle() -> str:
    path = _bundle_cache_path()
    try:
        js = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        import vl_convert

        js = vl_convert.javascript_bundle(_SNIPPET)
        try:   # atomic: a concurrent reader sees the old file or the whole new one
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(js, encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass   # a read-only home only costs the rebuild next time
    if "</script" in js.lower() or "vegaEmbed" not in js:   # would end the <script> early
        raise RuntimeError(f"the Vega bundle ({path}) is unusable; delete it to rebuild")
    return js


def _script_json(doc: Any) -> str:
    """JSON that can sit inside a <script> element: no '</' sequence, no '<!--'."""
    return json.dumps(doc, sort_keys=True, allow_nan=False).replace("<", "\\u003c")


class ChartSet:
    """The charts of one document: `add` returns the markup standing where a chart goes,
    `scripts` the one block (bundle + embed calls) that draws them all.

    Interactive (default): each chart is a `<div class="chart" data-chart=ID>` that
    vega-embed fills with an SVG (renderer "svg", so print and DOM checks see vectors),
    with tooltips, and zoom/pan where the chart was made `.interactive()`.
    Static (`static=True`, for the PDF): each chart is its SVG, rendered now; `scripts()`
    is empty."""

    def __init__(self, *, static: bool = False) -> None:
        self.static = static
        self.specs: dict[str, dict[str, Any]] = {}

    def add(self, chart_id: str, chart: Any, *, alt: str = "") -> Markup:
        cid = _ID.sub("-", chart_id).strip("-") or f"chart-{len(self.specs)}"
        while cid in self.specs:
            cid += "-x"
        spec = spec_of(chart)
        self.specs[cid] = spec
        title = spec.get("title")
        label = alt or str(title.get("text", cid) if isinstance(title, dict) else title or cid)
        if self.static:
            import vl_convert

            svg = vl_convert.vegalite_to_svg(spec)
            svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
            return Markup('<div class="chart" data-chart="{}" role="img" aria-label="{}">'
                          ).format(cid, label) + Markup(svg) + Markup("</div>")
        return Markup('<div class="chart" data-chart="{}" role="img" aria-label="{}">'
                      '<noscript>chart: {}</noscript></div>').format(cid, label, label)

    def scripts(self) -> Markup:
        """The inline bundle and one embed call per chart; empty when static or no charts.
        A chart that fails to draw writes its error into its div (visible, testable)."""
        if self.static or not self.specs:
            return Markup("")
        embed = (
            "(function(){const specs=JSON.parse(document.getElementById('vl-specs')"
            ".textContent);for(const [id,spec] of Object.entries(specs)){"
            "const el=document.querySelector('[data-chart=\"'+id+'\"]');if(!el)continue;"
            "vegaEmbed(el,spec,{renderer:'svg',actions:false,tooltip:true})"
            ".then(()=>el.setAttribute('data-rendered','1'))"
            ".catch(e=>{el.setAttribute('data-error',String(e));"
            "el.textContent='chart failed: '+e;});}})();")
        return (Markup("<script>") + Markup(_bundle()) + Markup("</script>\n")
                + Markup('<script type="application/json" id="vl-specs">')
                + Markup(_script_json(self.specs)) + Markup("</script>\n<script>")
                + Markup(embed) + Markup("</script>"))
