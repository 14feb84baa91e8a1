"""Render an HTML report in real headless Chromium and read it as a reader would.

Why a real browser: the reports draw their charts with inline JavaScript (vega-embed), so
only a browser shows whether a chart actually rendered; and the placeholder faults the
reports had ("Plan fingerprint -", "null", "{}") are only visible in the text a person
reads, after rendering. Shared by the governance-report and drift-report tests.

Uses Debian's chromium (`/usr/bin/chromium`, installed by `.ci/run`); nothing is
downloaded. Every proxy points at a dead port, so anything the page tried to fetch from
the network would fail and be missing. Tests call `require_chromium()`, which skips with
the reason when no browser is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

__all__ = ["PLACEHOLDERS", "Page", "Rendered", "find_placeholders", "parse_page",
           "render", "require_chromium"]

# what a report prints where a value is missing: a whole text run equal to one of these,
# or one of the words standing in a sentence, is a finding
PLACEHOLDERS = frozenset({"-", "\u2013", "\u2014", "null", "None", "none", "nan", "NaN", "{}", "[]",
                          "undefined", "Infinity", "-Infinity", "N/A", "n/a", "?"})
_WORDS = re.compile(r"(?<![\w.\-])(null|None|nan|NaN|undefined|Infinity)(?![\w\-])")
_BRACES = re.compile(r"\{\}|\[\]")
# a hyphen (or en dash) standing alone as a value: "fingerprint -", ": -", "(-)", "= -,";
# an em dash between words is punctuation, so only a whole run of one counts
_DASH = re.compile("(?:^|[\\s:=(])[-\u2013](?:$|[\\s,;:)])")
_SKIP = {"script", "style", "noscript", "title", "head", "template"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
         "source", "track", "wbr"}


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run does)")
    return path


@dataclass
class Page:
    """What the parsed DOM holds that the tests ask about."""

    texts: list[str] = field(default_factory=list)          # visible text runs, in order
    values: list[str] = field(default_factory=list)         # the same, less <code> literals
    sections: list[str] = field(default_factory=list)       # ids of <section> elements
    headings: list[str] = field(default_factory=list)       # h1/h2 text
    charts: dict[str, dict[str, str | bool]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(self.texts)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.heading: list[str] | None = None
        self.chart: str | None = None
        self.chart_depth = 0

    def _skipping(self) -> bool:
        return any(tag in _SKIP for tag, _ in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in _VOID:
            return
        self.stack.append((tag, a))
        if tag == "section" and a.get("id"):
            self.page.sections.append(str(a["id"]))
        if tag in ("h1", "h2"):
            self.heading = []
        if a.get("data-chart") and self.chart is None:
            self.chart, self.chart_depth = str(a["data-chart"]), len(self.stack)
            self.page.charts[self.chart] = {"svg": False, "canvas": False,
                                            "error": a.get("data-error") or "",
                                            "rendered": a.get("data-rendered") == "1"}
        elif self.chart is not None and tag in ("svg", "canvas"):
            self.page.charts[self.chart][tag] = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.chart is not None and tag in ("svg", "canvas"):
            self.page.charts[self.chart][tag] = True

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        while self.stack:
            top, _ = self.stack.pop()
            if self.chart is not None and len(self.stack) < self.chart_depth:
                self.chart = None
            if top in ("h1", "h2") and self.heading is not None:
                self.page.headings.append(" ".join("".join(self.heading).split()))
                self.heading = None
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._skipping():
            return
        if self.heading is not None:
            self.heading.append(data)
        text = " ".join(data.split())
        if text:
            self.page.texts.append(text)
            # a <code> run is a literal (a check expression, a path), not a value
            if not any(tag == "code" for tag, _ in self.stack):
                self.page.values.append(text)


def parse_page(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page


def find_placeholders(texts: list[str] | str) -> list[str]:
    """Visible text runs where a placeholder stands in for a value, each with its
    neighbours for context. Empty when the page is clean. Pass `Page.values` (text outside
    `<code>`, where an expression like `a - 0.01` is literal)."""
    runs = [texts] if isinstance(texts, str) else texts
    found = []
    for i, run in enumerate(runs):
        if run in PLACEHOLDERS or _WORDS.search(run) or _BRACES.search(run) \
                or _DASH.search(run):
            before = runs[i - 1] if i else ""
            after = runs[i + 1] if i + 1 < len(runs) else ""
            found.append(f"{before!r} >>{run!r}<< {after!r}")
    return found


@dataclass
class Rendered:
    dom: str            # the DOM after scripts ran (charts drawn)
    page: Page
    screenshot: Path | None


def _base_cmd(chromium: str, profile: Path, width: int, height: int,
              budget_ms: int) -> list[str]:
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--disable-background-networking", "--no-first-run", "--mute-audio",
            "--disable-dev-shm-usage",
            "--proxy-server=http://0.0.0.0:9", "--proxy-bypass-list=<-loopback>",
            f"--user-data-dir={profile}", f"--window-size={width},{height}",
            f"--virtual-time-budget={budget_ms}", "--run-all-compositor-stages-before-draw"]


def render(html_file: Path, *, screenshot: Path | None = None, width: int = 1280,
           height: int = 6000, budget_ms: int = 20_000, timeout_s: int = 150) -> Rendered:
    """Open `html_file` in headless Chromium: the DOM after its scripts ran, parsed, and
    (when `screenshot` is given) a PNG of the first `height` pixels."""
    chromium = require_chromium()
    profile = html_file.parent / f".chromium-{html_file.stem}"
    base = _base_cmd(chromium, profile, width, height, budget_ms)
    proc = subprocess.run([*base, "--dump-dom", html_file.resolve().as_uri()],
                          capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise RuntimeError(f"chromium --dump-dom failed ({proc.returncode}): "
                           f"{proc.stderr.strip()[-800:]}")
    shot = None
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([*base, f"--screenshot={screenshot.resolve()}",
                               html_file.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0 or not screenshot.is_file():
            raise RuntimeError(f"chromium --screenshot failed ({done.returncode}): "
                               f"{done.stderr.strip()[-800:]}")
        shot = screenshot
    return Rendered(proc.stdout, parse_page(proc.stdout), shot)
