"""`render_report`: SR 11-7 style model documentation for one registered version.

Why generated, not written: SR 11-7 (and SR 26-2, EU AI Act Annex IV) expect
documentation "detailed enough that parties unfamiliar with a model can understand how it
operates". Every number here is read from the version's signed registry files
(evaluation, gate reports, parity, benchmark, training parameters, search log), its
manifest lineage, the approval request (with the spec's purpose, assumptions and
limitations snapshotted when it was opened), the deployment history and the audit log;
nothing is re-computed, so the document says what was reviewed. The narrative fields the
spec requires (intended use, limitations, assumptions) are written by people.

The HTML is self-contained: CSS inline, charts as inline SVG (plots.py), no scripts, no
fonts or images fetched, so it opens offline and archives as one file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specops.runtime.governance.approvals import status
from specops.runtime.governance.ledger import audit
from specops.runtime.governance.promotion import history
from specops.runtime.governance.service import Governance
from specops.runtime.reports.model_charts import bar_chart, calibration_chart, roc_chart

__all__ = ["gather", "render_report"]

TEMPLATE = "model_report.html.j2"
_TEMPLATES = Path(__file__).resolve().parent


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "-"


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "-" if v is None else str(v).lower()
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def _fairness(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """Per attribute, as evaluated: groups in band order for a banded attribute, and the
    favourable decision that every rate counts (runtime/evaluation/banding.py)."""
    out = []
    settings = evaluation.get("fairness_settings") or {}
    decision = settings.get("description") or "favourable decision: the positive class " \
        "predicted (evaluated before favourable outcomes were declared)"
    for attr, rep in sorted((evaluation.get("fairness") or {}).items()):
        groups = rep.get("groups") or {}
        order = {b: i for i, b in enumerate(rep.get("bands") or [])}
        ranked = sorted(groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        edges = (settings.get("bands") or {}).get(attr)
        out.append({
            "attribute": attr, "note": rep.get("note"), "decision": decision,
            "bands": (f"banded at {', '.join(f'{e:g}' for e in edges)}" if edges else None),
            "min_group_size": rep.get("min_group_size"),
            "groups": [{"name": g, **v} for g, v in ranked],
            "summary": {k: rep.get(k) for k in (
                "disparate_impact", "demographic_parity_difference",
                "equal_opportunity_difference", "equalized_odds_difference")
                if k in rep},
            "excluded": rep.get("excluded_groups") or [],
            "chart": bar_chart(f"Selection rate by {attr}",
                               {g: v.get("selection_rate") for g, v in ranked},
                               "selection rate"),
            "tpr_chart": bar_chart(f"True positive rate by {attr}",
                                   {g: v.get("tpr") for g, v in ranked},
                                   "true positive rate"),
        })
    return out


def _slices(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for col, groups in sorted((evaluation.get("slices") or {}).items()):
        names = sorted({m for g in groups.values() for m in (g.get("metrics") or {})})
        out.append({"column": col, "metrics": names,
                    "rows": [{"name": k, "n": g.get("n"), "skipped": g.get("skipped"),
                              "values": [(g.get("metrics") or {}).get(m) for m in names]}
                             for k, g in sorted(groups.items())]})
    return out


def gather(gov: Governance, model: str, version: int) -> dict[str, Any]:
    """Everything the template shows, as plain data (also handy for JSON export)."""
    v = gov.version(model, version)
    vdir = Path(v.path)
    manifest = v.manifest() if hasattr(v, "manifest") else {}
    lineage = manifest.get("lineage") or {}
    evaluation = _read(vdir / "evaluation.json") or {}
    params = _read(vdir / "params.json") or {}
    search = _read(vdir / "search.json") or {}
    parity = _read(vdir / "parity.json") or (_read(vdir / "benchmark.json") or {}).get(
        "parity") or {}
    bench = _read(vdir / "benchmark.json") or {}
    signature = _read(vdir / "signature.json") or {}
    gates = []
    for p in sorted(vdir.glob("gate_report.*.json")):
        rep = _read(p) or {}
        gates.append({"name": p.name[len("gate_report."):-len(".json")], **rep})
    st = status(gov, model, version)
    facts = dict((st.plan.get("model") if st else None) or {})
    assert gov.registry is not None
    verification = dict(gov.registry.verify(model, version))
    n_audit, problem = audit.verify(gov.engine)
    ref = f"{model}@{version}"
    trail = [e.as_json() for e in audit.entries(gov.engine, target=ref)]
    deployments = [d for d in history(gov, model) if d["version"] == version]
    plots = evaluation.get("plots") or {}
    metrics = evaluation.get("metrics") or v.metrics or {}
    candidates = sorted(search.get("candidates") or [], key=lambda c: c.get("rank", 0))
    return {
        "ref": ref, "model": model, "version": version, "status": v.status,
        "generated_at": _when(gov.now()), "created_at": _when(v.created_at),
        "facts": facts, "owner": facts.get("owner") or (st.plan.get("owner") if st else ""),
        "manifest": {"model_digest": v.model_digest, "content_digest": v.content_digest,
                     "key_id": (manifest.get("signing") or {}).get("key_id"),
                     "algorithm": (manifest.get("signing") or {}).get("algorithm")},
        "lineage": lineage, "data": params.get("data") or lineage.get("data") or {},
        "features": signature.get("features") or params.get("inputs") or [],
        "label": params.get("label") or signature.get("label"),
        "training": {k: params.get(k) for k in ("estimator", "params", "seed", "scoring", "cv",
                                                "cv_strategy", "search_strategy", "n_train")},
        "candidates": candidates[:20], "n_candidates": len(candidates),
        "metrics": metrics, "n_test": evaluation.get("n"),
        "roc_svg": roc_chart(plots.get("roc"), metrics.get("roc_auc")),
        "calibration_svg": calibration_chart(plots.get("calibration")),
        "slices": _slices(evaluation), "fairness": _fairness(evaluation),
        "gates": gates, "parity": parity,
        "benchmark": {k: bench.get(k) for k in ("latency_p50_ms", "latency_p99_ms",
                                                "latency_mean_us", "throughput_rows_s",
                                                "model_size_mb", "peak_rss_mb", "threads")
                      if k in bench},
        "approval": st.as_json() if st else None,
        "monitoring": facts.get("monitoring") or {},
        "review_cadence_days": (int(facts["review_cadence_s"]) // 86400
                                if facts.get("review_cadence_s") else None),
        "deployments": deployments, "audit": trail,
        "verification": verification,
        "audit_chain": {"entries": n_audit, "ok": problem is None,
                        "problem": str(problem) if problem else None,
                        "head": audit.head(gov.engine)},
    }


def render_report(gov: Governance, model: str, version: int) -> str:
    """The HTML document for model@version."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    env.filters["when"] = _when
    ctx = gather(gov, model, version)
    for key in ("roc_svg", "calibration_svg"):
        ctx[key] = Markup(ctx[key])   # built from numbers by plots.py, text escaped there
    for f in ctx["fairness"]:
        f["chart"], f["tpr_chart"] = Markup(f["chart"]), Markup(f["tpr_chart"])
    return env.get_template(TEMPLATE).render(**ctx)
