"""Render a model report and photograph it in headless Chromium (docs and a slow test).

Why: the report must be readable as delivered, a self-contained HTML file opened offline;
rendering it in a real browser with the network disabled and looking at the PNG is the
check that the inlined chart library draws every chart.

    uv run python docs/screenshot_report.py --out report.png
    uv run python docs/screenshot_report.py --out fairness.png --sections fairness \
        --height 1900
    uv run python docs/screenshot_report.py --project examples/credit-risk \
        --ref credit_default@1 --out docs/images/x.png --pdf report.pdf

Without `--project` it builds a throwaway project (a registered, signed, approved and
deployed version; see tests/runtime/governance/report_fixture.py); with it, it reports on
a version that project's pipeline registered. It writes `report.html` into the workdir and
renders it with tests/runtime/reports/browser_helpers.py (Debian's chromium, every proxy
pointed at a dead port, so anything the page tried to fetch would be missing from the
picture). `--pdf` also prints the PDF (WeasyPrint) and reports its page count. Exit 2 when
Chromium is missing (`apt-get install -y chromium`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="report.png", help="PNG to write")
    ap.add_argument("--html", help="also keep the HTML here")
    ap.add_argument("--pdf", help="also write the PDF here (prints its page count)")
    ap.add_argument("--workdir", help="folder to build in (default: a temp dir)")
    ap.add_argument("--project", help="report on this project's registry instead of a "
                    "throwaway fixture project")
    ap.add_argument("--ref", default="credit_default@1", help="MODEL@VERSION (--project)")
    ap.add_argument("--height", type=int, default=9000, help="window height in pixels")
    ap.add_argument("--width", type=int, default=1280, help="window width in pixels")
    ap.add_argument("--sections", help="photograph only these report sections, e.g. "
                    "soundness,performance; default: the whole document")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests" / "runtime" / "reports"))
    sys.path.insert(0, str(ROOT / "tests" / "runtime" / "governance"))
    from browser_helpers import chromium_path, render

    if chromium_path() is None:
        print("chromium is not installed (apt-get install -y chromium)", file=sys.stderr)
        return 2
    from specops.runtime.reports.model_report import render_pdf, render_report

    work = Path(args.workdir or tempfile.mkdtemp(prefix="specops-report-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.project:
        from specops.runtime.governance import Governance

        gov = Governance.open(Path(args.project))
        model, _, v = args.ref.partition("@")
        version = int(v)
    else:
        import os

        from report_fixture import build

        if not os.environ.get("SPECOPS_REGISTRY_KEY"):   # a throwaway signing key
            from specops.runtime.trust.ssh_keys import create_keypair

            key = create_keypair(work / "keys", "pipeline")
            os.environ["SPECOPS_REGISTRY_KEY"] = str(key.path)
            os.environ["SPECOPS_REGISTRY_PUBKEYS"] = str(work / "keys" / "pipeline.pub")
        gov, model, version = build(work / "project")
    html = render_report(gov, model, version)
    if args.pdf:
        pages = render_pdf(gov, model, version, Path(args.pdf))
        print(f"wrote {args.pdf} ({pages} pages)")
    gov.close()
    if args.html:
        Path(args.html).write_text(html, encoding="utf-8")
    if args.sections:
        keep = "".join(f":not(#{s.strip()})" for s in args.sections.split(",") if s.strip())
        html = html.replace("</head>", f"<style>header, footer, section{keep} "
                            "{display: none}</style></head>", 1)
    page = work / "report.html"
    page.write_text(html, encoding="utf-8")
    out = Path(args.out).resolve()
    try:
        rendered = render(page, screenshot=out, width=args.width, height=args.height)
    except RuntimeError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    failed = [c for c, s in rendered.page.charts.items()
              if not s["svg"] or s["error"]]
    if failed:
        print(f"charts not drawn: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({out.stat().st_size} bytes) from {page}; "
          f"{len(rendered.page.charts)} charts drawn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
