"""`render_report` / `render_pdf`: the model documentation a model risk officer signs, for
one registered version, organised after the Federal Reserve's SR 11-7 (2011) and Annex IV
(technical documentation) of the EU AI Act, Regulation (EU) 2024/1689.

Why generated, not written: SR 11-7 expects documentation "detailed enough that parties
unfamiliar with a model can understand how the model operates, its limitations, and its
key assumptions". Every number here is read from the version's signed registry files
(evaluation with the benchmark model, permutation importance and sensitivity computed by
`evaluate`; gate reports; parity; latency benchmark; training parameters; search log), its
signed manifest lineage, the run store's lineage edges back to the source files, the
approval request (with the spec's purpose, assumptions and limitations snapshotted when it
was opened), the deployment history and the audit log. Verification (registry signature,
approval and vote signatures, audit chain, training-set hashes, spec hash of the specs the
feature owners are read from) is computed when the report is rendered, not asserted. The
narrative fields (intended use, limitations, assumptions) are written by people.

The HTML is one self-contained file: CSS and the chart library inline (chart_kit.py), no
fonts or images fetched; charts are interactive (hover, zoom). The PDF (WeasyPrint, print
stylesheet) draws the same charts as static SVG.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from specops.runtime.governance.approvals import status
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.promotion import history
from specops.runtime.governance.service import Governance
from specops.runtime.reports import model_charts as charts
from specops.runtime.reports.chart_kit import ChartSet
from specops.runtime.reports.model_evidence import (
    champion,
    feature_views,
    run_lineage,
    signatures,
)
from specops.runtime.reports.model_reading import (
    fairness_readings,
    findings,
    gate_thresholds,
    metric_label,
    metric_rows,
    serving_rows,
)

__all__ = ["gather", "render_pdf", "render_report"]

TEMPLATE = "model_report.html.j2"
# the per-slice columns, in this order (a slice table with every metric is unreadable)
SLICE_METRICS = ("roc_auc", "pr_auc", "accuracy", "brier", "positive_rate", "rmse", "mae",
                 "r2", "f1", "recall", "precision")
_TEMPLATES = Path(__file__).resolve().parent


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "never"


def _fmt(v: Any) -> str:
    """A value for a table cell: 4 significant digits, thousands separators, words for
    booleans; the caller decides what to show when there is no value."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2g}"
    if isinstance(v, dict):
        return ", ".join(f"{k} = {_fmt(x)}" for k, x in sorted(v.items()))
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def _days(seconds: Any) -> str:
    d = float(seconds or 0) / 86400
    return f"{d:g} day{'s' if d != 1 else ''}"


def _decision(settings: dict[str, Any], label: str | None) -> str:
    """The favourable outcome and decision, in words."""
    fav = settings.get("favorable_label")
    if fav is None and settings.get("favorable") is None:
        return ("No favourable outcome is declared in the spec (fairness.favorable): rates "
                "count predictions of the positive class.")
    if fav is not None:
        t = settings.get("threshold", 0.5)
        return (f"Favourable outcome: {label} = {fav}. The model makes the favourable "
                f"decision when its probability of {label} = {fav} is at least {t:g}; every "
                "rate below counts how often it makes that decision.")
    return f"Favourable outcome: {settings.get('description') or settings.get('favorable')}."


def _fairness(evaluation: dict[str, Any], thresholds: dict[tuple[str, str], Any] | None = None,
              label: str | None = None) -> list[dict[str, Any]]:
    """Per protected attribute, as evaluated: groups in band order, the figures read
    against `thresholds` (from the gate reports), the chart."""
    out = []
    thresholds = thresholds or {}
    settings = evaluation.get("fairness_settings") or {}
    for attr, rep in sorted((evaluation.get("fairness") or {}).items()):
        groups = rep.get("groups") or {}
        order = {b: i for i, b in enumerate(rep.get("bands") or [])}
        ranked = [{"name": g, **v} for g, v in sorted(
            groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))]
        edges = (settings.get("bands") or {}).get(attr)
        rates = [g["selection_rate"] for g in ranked if g.get("selection_rate") is not None
                 and g["name"] not in (rep.get("excluded_groups") or [])]
        out.append({
            "attribute": attr, "note": rep.get("note"),
            "decision": settings.get("description") or _decision(settings, label),
            "bands": (", ".join(rep.get("bands") or []) + f" (cut at "
                      f"{', '.join(f'{e:g}' for e in edges)})") if edges else None,
            "min_group_size": rep.get("min_group_size") or evaluation.get("min_group_size"),
            "groups": ranked, "excluded": rep.get("excluded_groups") or [],
            "readings": fairness_readings(attr, rep, thresholds),
            "chart": charts.group_rates_chart(attr, ranked, 0.8 * max(rates) if rates
                                              else None)})
    return out


def _slices(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for col, groups in sorted((evaluation.get("slices") or {}).items()):
        present = {m for g in groups.values() for m in (g.get("metrics") or {})}
        names = [m for m in SLICE_METRICS if m in present][:6]
        out.append({"column": col, "metrics": [(m, metric_label(m)) for m in names],
                    "rows": [{"name": k, "n": g.get("n"), "skipped": g.get("skipped"),
                              "values": [(g.get("metrics") or {}).get(m) for m in names]}
                             for k, g in sorted(groups.items())]})
    return out


def gather(gov: Governance, model: str, version: int) -> dict[str, Any]:
    """Everything the template shows, as plain data (charts as altair objects)."""
    v = gov.version(model, version)
    vdir = Path(v.path)
    manifest = v.manifest() if hasattr(v, "manifest") else {}
    lineage = manifest.get("lineage") or {}
    evaluation = _read(vdir / "evaluation.json") or {}
    params = _read(vdir / "params.json") or {}
    search = _read(vdir / "search.json") or {}
    bench = _read(vdir / "benchmark.json") or {}
    parity = _read(vdir / "parity.json") or bench.get("parity") or {}
    signature = _read(vdir / "signature.json") or {}
    gates = []
    for p in sorted(vdir.glob("gate_report.*.json")):
        rep = _read(p) or {}
        gates.append({**rep, "name": p.name[len("gate_report."):-len(".json")]})
    st = status(gov, model, version)
    facts = dict((st.plan.get("model") if st else None) or {})
    assert gov.registry is not None
    verification = dict(gov.registry.verify(model, version))
    n_audit, problem = audit.verify(gov.engine)
    ref = f"{model}@{version}"
    label = params.get("label") or signature.get("label") or evaluation.get("label")
    metrics = evaluation.get("metrics") or v.metrics or {}
    soundness = evaluation.get("soundness") or {}
    champ = champion(gov, model, version)
    plots = evaluation.get("plots") or {}
    thresholds = gate_thresholds(gates)
    approval = st.as_json() if st else None
    sigs = signatures(gov, st.request_id if st else None)
    if approval:
        for vote, sig in zip(approval["votes"], sigs["votes"], strict=False):
            vote["signature"] = sig
    deployments = [d for d in history(gov, model) if d["version"] == version]
    signed_spec = lineage.get("spec_hash") or (approval or {}).get("spec_hash")
    ctx: dict[str, Any] = {
        "ref": ref, "model": model, "version": version, "status": v.status,
        "generated_at": _when(gov.now()), "created_at": _when(v.created_at),
        "facts": facts, "owner": facts.get("owner") or (st.plan.get("owner") if st else None)
        or getattr(v, "owner", None),
        "manifest": {"model_digest": v.model_digest, "content_digest": v.content_digest,
                     "key_id": (manifest.get("signing") or {}).get("key_id"),
                     "algorithm": (manifest.get("signing") or {}).get("algorithm")},
        "lineage": lineage, "data": params.get("data") or lineage.get("data") or {},
        "specops_version": lineage.get("specops_version"),
        "lineage_chain": run_lineage(gov, lineage),
        "feature_views": feature_views(gov, signed_spec, model),
        "features": signature.get("features") or params.get("inputs") or [],
        "label": label,
        "training": {k: params.get(k) for k in ("estimator", "params", "seed", "scoring", "cv",
                                                "cv_strategy", "search_strategy", "n_train")},
        "candidates": sorted(search.get("candidates") or [], key=lambda c: c.get("rank", 0)),
        "metrics": metrics, "n_test": evaluation.get("n"),
        "metric_rows": metric_rows(metrics, (soundness.get("benchmark_model") or {})
                                   .get("metrics"), (champ or {}).get("metrics")),
        "champion": champ, "soundness": soundness,
        "slices": _slices(evaluation), "fairness": _fairness(evaluation, thresholds, label),
        "decision_text": _decision(evaluation.get("fairness_settings") or {}, label),
        "gates": gates, "parity": parity, "serving": serving_rows(bench),
        "approval": approval, "signatures": sigs,
        "monitoring": facts.get("monitoring") or {},
        "review_cadence": _days(facts["review_cadence_s"]) if facts.get("review_cadence_s")
        else None,
        "deployments": deployments,
        "audit": [e.as_json() for e in audit.entries(gov.engine, target=ref)],
        "verification": verification,
        "audit_chain": {"entries": n_audit, "ok": problem is None,
                        "problem": str(problem) if problem else None,
                        "head": audit.head(gov.engine)},
        "charts": {"roc": charts.roc_chart(plots.get("roc"), metrics.get("roc_auc")),
                   "calibration": charts.calibration_chart(plots.get("calibration")),
                   "importance": charts.importance_chart(soundness.get("importance")),
                   "sensitivity": charts.sensitivity_charts(soundness.get("sensitivity"))},
    }
    ctx["production"] = next((d for d in reversed(deployments)
                              if d["environment"] == "production" and d.get("until") is None),
                             None)
    ctx["headline"] = next((k for k in ("roc_auc", "accuracy", "r2", "rmse")
                            if metrics.get(k) is not None), None)
    ctx["findings"] = findings(ctx)
    return ctx


def _html(gov: Governance, model: str, version: int, *, static: bool) -> str:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
                               autoescape=jinja2.select_autoescape(["html", "j2"]),
                               undefined=jinja2.StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    env.filters["when"] = _when
    env.filters["days"] = _days
    ctx = gather(gov, model, version)
    kit = ChartSet(static=static)
    drawn: dict[str, Any] = {}
    for key, chart in ctx["charts"].items():
        if isinstance(chart, list):   # several small charts (sensitivity, one per input)
            drawn[key] = Markup("").join(kit.add(f"{key}-{i}", c, alt=key)
                                         for i, c in enumerate(chart)) if chart else None
        else:
            drawn[key] = kit.add(key, chart) if chart is not None else None
    for f in ctx["fairness"]:
        f["chart"] = kit.add(f"rates-{f['attribute']}", f["chart"]) \
            if f["chart"] is not None else None
    ctx["charts"] = drawn
    ctx["chart_scripts"] = kit.scripts()
    ctx["print"] = static
    return env.get_template(TEMPLATE).render(**ctx)


def render_report(gov: Governance, model: str, version: int) -> str:
    """The interactive HTML document for model@version."""
    return _html(gov, model, version, static=False)


def render_pdf(gov: Governance, model: str, version: int, out: Path) -> int:
    """The PDF for model@version at `out` (WeasyPrint); returns the page count."""
    import weasyprint  # type: ignore[import-untyped]

    html = _html(gov, model, version, static=True)
    # the document is self-contained: fetching anything (file:, http:) is refused
    no_fetch = weasyprint.urls.URLFetcher(allowed_protocols=("data",))
    doc = weasyprint.HTML(string=html, base_url=None, url_fetcher=no_fetch).render()
    doc.write_pdf(str(out))
    return len(doc.pages)
