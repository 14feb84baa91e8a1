"""Render a model report and photograph it in headless Chromium (docs and a slow test).

Why: the report must be readable as delivered, a self-contained HTML file opened offline;
rendering it in a real browser with the network disabled and looking at the PNG is the
check that the inline SVG plots (ROC, calibration, group rates) actually show.

    uv run python docs/screenshot_report.py --out report.png
    uv run python docs/screenshot_report.py --out plots.png --sections validation,fairness \
        --height 1900

Builds a throwaway project (a registered, signed, approved and deployed version; see
tests/runtime/governance/report_fixture.py), writes `report.html` into the workdir, and
runs `chromium --headless --screenshot` with every proxy pointed at a dead port, so
anything the page tried to fetch would be missing from the picture. Exit 2 when Chromium is missing
(`apt-get install -y chromium`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="report.png", help="PNG to write")
    ap.add_argument("--html", help="also keep the HTML here")
    ap.add_argument("--workdir", help="project folder to build in (default: a temp dir)")
    ap.add_argument("--height", type=int, default=5200, help="window height in pixels")
    ap.add_argument("--sections", help="photograph only these report sections, e.g. "
                    "validation,fairness (the plots); default: the whole document")
    args = ap.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") \
        or shutil.which("google-chrome")
    if chromium is None:
        print("chromium is not installed (apt-get install -y chromium)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT / "tests" / "runtime" / "governance"))
    from report_fixture import build

    from specops.runtime.reports.model_report import render_report

    work = Path(args.workdir or tempfile.mkdtemp(prefix="specops-report-"))
    gov, model, version = build(work / "project")
    html = render_report(gov, model, version)
    gov.close()
    if args.html:
        Path(args.html).write_text(html, encoding="utf-8")
    if args.sections:
        keep = "".join(f":not(#{s.strip()})" for s in args.sections.split(",") if s.strip())
        html = html.replace("</head>", f"<style>header, section{keep} {{display: none}}"
                            "</style></head>", 1)
    page = work / "report.html"
    page.write_text(html, encoding="utf-8")
    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--disable-background-networking", "--no-first-run",
           "--proxy-server=http://0.0.0.0:9", "--proxy-bypass-list=<-loopback>",
           f"--user-data-dir={work / 'chromium-profile'}",
           f"--window-size=1200,{args.height}", f"--screenshot={out}", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not out.is_file():
        print(f"chromium failed ({proc.returncode}): {proc.stderr.strip()[-500:]}",
              file=sys.stderr)
        return 1
    print(f"wrote {out} ({out.stat().st_size} bytes) from {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
