"""The governance report as a reader gets it: rendered in real headless Chromium (charts
drawn by the inlined Vega bundle, network disabled), photographed, and read from the DOM;
and printed to PDF by WeasyPrint.

Why a browser and not string checks on the HTML: the charts exist only after vega-embed
ran, and the faults the report had ("Plan fingerprint -", "null", "{}") are only visible
in the rendered text.
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import find_placeholders, render, require_chromium
from report_fixture import artifact_files, build

from specops.runtime.reports.model_report import render_pdf, render_report

SECTIONS = ["summary", "purpose", "lineage", "soundness", "performance", "fairness",
            "packaging", "monitoring", "approvals", "deployments", "audit", "references"]
# ROC, calibration, importance, group rates per attribute, one sensitivity chart per input
CHARTS = {"roc", "calibration", "importance", "rates-age", "rates-sex",
          "sensitivity-0", "sensitivity-1", "sensitivity-2", "sensitivity-3"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("report") / "proj"
    gov, model, version = build(root)
    yield gov, model, version, root
    gov.close()


def test_report_renders_in_chromium_with_every_section_chart_and_no_placeholder(project):
    require_chromium()
    gov, model, version, root = project
    page = root / "report.html"
    page.write_text(render_report(gov, model, version), encoding="utf-8")
    shot = root / "report.png"
    r = render(page, screenshot=shot, height=3000)
    assert r.page.sections == SECTIONS
    assert r.page.headings[0] == "credit_default version 1"      # not the description
    assert set(r.page.charts) == CHARTS
    for cid, state in r.page.charts.items():
        assert state["svg"] and state["rendered"] and not state["error"], (cid, state)
    assert find_placeholders(r.page.values) == []
    text = r.page.text
    # lineage: the real plan fingerprint and the installed version, not "-" / null
    assert re.search(r"Plan fingerprint sha256:[0-9a-f]{64}", text)
    assert "superseded" not in text and "SR 11-7 (2011)" in text and "2024/1689" in text
    # soundness computed by evaluate, benchmark side by side, fairness in words
    assert "Permutation feature importance" in text and "Sensitivity analysis" in text
    assert "benchmark (LogisticRegression)" in text
    assert "Favourable outcome: defaulted = 0" in text
    assert re.search(r"Disparate impact \d\.\d\d is (above|below) the 0\.8 threshold set by "
                     r"gate fair_lending", text)
    assert "the model gives the favourable decision to group" in text
    ages = [t for t in r.page.texts if re.fullmatch(r"(<|>=)?\d+(-\d+)?", t)]
    assert len({a for a in ages if a.startswith(("<", ">="))}) == 2   # 4 quartile bands
    # human labels and units instead of keys
    assert "throughput rows s" not in text and "rows per second" in text
    assert "Performance thresholds none declared" in text
    # approvals: each vote's status computed
    assert "bob" in text and "carol" in text
    assert shot.stat().st_size > 50_000
    # nothing is fetched: no external src/href, the Vega bundle is inline
    html = page.read_text()
    assert not re.search(r"(src|href)=\"https?://", html) and "vegaEmbed" in html


def test_region_table_lists_rows_once(project):
    gov, model, version, _root = project
    html = render_report(gov, model, version)
    header = re.search(r"<h3>Performance by region</h3>\s*<table><tr>(.*?)</tr>", html, re.S)
    assert header is not None
    cells = re.findall(r"<th[^>]*>(.*?)</th>", header.group(1))
    assert cells.count("rows") == 1 and "n" not in cells


def test_pdf_has_pages_and_every_section(project, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    gov, model, version, _root = project
    out = tmp_path / "report.pdf"
    pages = render_pdf(gov, model, version, out)
    reader = pypdf.PdfReader(str(out))
    assert pages == len(reader.pages) > 1
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)
    for heading in ("1. Executive summary", "3. Data and lineage", "4. Conceptual soundness",
                    "5. Performance against a benchmark and the champion", "6. Fairness",
                    "8. Ongoing monitoring plan", "9. Approvals and signatures"):
        assert heading in text, heading
    assert "ROC curve on the test set" in text   # the charts are drawn as vectors


def test_champion_column_reads_the_version_in_production(project):
    """A second version is compared with the first, which serves production."""
    gov, model, _version, root = project
    assert gov.registry is not None
    files = artifact_files(root / "build2")
    files["model.onnx"].write_bytes(b"\x08\x07another-fake-onnx-graph")   # new content
    v2 = gov.registry.register(model, files,
                               {"run_id": "run-2", "spec_hash": "sha256:" + "5e" * 32},
                               owner="team:credit_risk", risk_tier="high",
                               task="binary_classification")
    assert v2.version == 2
    html = render_report(gov, model, v2.version)
    assert "champion credit_default@1" in html
    assert "No approval request was opened for this version." in html
    assert "Not serving production." in html


def test_cli_writes_the_pdf_and_refuses_a_missing_folder(project, tmp_path, capsys):
    from specops.compiler.cli.main import main

    _gov, _model, _version, root = project
    out = tmp_path / "r.pdf"
    assert main(["report", "credit_default@1", "--pdf", str(out), "--project", str(root)]) == 0
    assert out.read_bytes()[:5] == b"%PDF-" and "pages)" in capsys.readouterr().err
    assert main(["report", "credit_default@1", "--format", "pdf", "-o",
                 str(tmp_path / "nowhere" / "r.pdf"), "--project", str(root)]) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and err.count("\n") == 1


def test_placeholder_scanner_finds_what_a_reader_would_see():
    """The scanner itself (shared with the drift report tests): every kind of placeholder
    is caught, ordinary prose, negative numbers, ranges and em dashes are not."""
    dirty = ["Plan fingerprint -", "specops_version null", "Performance thresholds {}",
             "owner None", "AUC nan", "-", "value: -", "undefined", "[]"]
    for t in dirty:
        assert find_placeholders([t]), t
    clean = ["-0.0625", "25-40", "a — b", "none declared: drift only", "no failures",
             "sha256:ab-cd", "\u22120.06"]
    assert find_placeholders(clean) == []
    assert find_placeholders(["None of them"]) != []   # strict: write "no ..." instead


def test_verification_is_computed_when_rendering(project):
    """Change a signed file after registration: the same report now says the registry
    record fails, and leads its findings with it; claimed-identity votes are never shown
    as verified signatures."""
    gov, model, version, root = project
    html = render_report(gov, model, version)
    assert "claimed identity: the project lists no keys" in html
    assert "registry signature: verified" in html
    ev = root / ".specops/artifacts/registry/credit_default/1/evaluation.json"
    original = ev.read_bytes()
    ev.chmod(0o644)
    try:
        ev.write_bytes(original.replace(b'"n": 3000', b'"n": 3001', 1))
        html = render_report(gov, model, version)
        assert "registry signature: FAILED" in html
        first = re.search(r"<th>finding</th></tr>\s*<tr><td class=\"(\w+)\">\w+</td>"
                          r"<td>(\w+)</td>", html)
        assert first is not None and first.groups() == ("high", "integrity")
    finally:
        ev.write_bytes(original)
