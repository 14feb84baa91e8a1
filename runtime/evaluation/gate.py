"""`gate`: decide a gate's checks against this run's results and write the gate report.

Why here and how:
- Results come from the upstream outputs (`evaluation.json`, `benchmark.json`, which embeds
  the parity report, and `params.json` when the training node is an input), so a gate
  decides on exactly the numbers that will be registered.
- The champion is the version the registry's `production` alias points at (verified before
  use), unless the runtime passes `ctx.extra["champion"]` (a metrics dict, or None for
  "no champion") explicitly. With none, checks against `champion.*` report `no_champion`
  (see `runtime/evaluation/gate_checks.py`): listed, never silently passed, blocking only with
  `require_champion: true`.
- ONNX parity is always checked when a parity report is present (built-in check
  `onnx_parity`: labels equal and max difference under the export tolerance): a model whose
  ONNX file does not predict like the trained pipeline is never registered.
- A failing blocking check fails the node with `OpError` (so registration does not run and
  `specops run` exits non-zero), after recording the candidate in the registry as a
  `rejected` version with its reasons and evidence (evaluation, parity, benchmark and this
  gate report; not the ONNX file: a rejected model is never shipped).

Output: `gate_report.json` (each check with value, threshold, status; verdict; champion).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from specops.contract.op_params import GateParams
from specops.runtime.engine.op_inputs import optional_input_file, read_json
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult
from specops.runtime.evaluation.fairness import fairness_from_groups
from specops.runtime.evaluation.gate_checks import evaluate_gate
from specops.runtime.registry.lineage import build_lineage

__all__ = ["at_group_size", "collect_results", "gate"]


def _numeric(d: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in d.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def collect_results(ctx: OpContext) -> tuple[dict[str, Any], dict[str, Path]]:
    """(results for the gate evaluator, evidence files found among the inputs)."""
    files: dict[str, Path] = {}
    metrics: dict[str, float] = {}
    results: dict[str, Any] = {"metrics": metrics, "slices": {}, "fairness": {}}
    ev_path = optional_input_file(ctx, "evaluation.json")
    if ev_path:
        ev = read_json(ev_path)
        files["evaluation.json"] = ev_path
        metrics.update(_numeric(ev.get("metrics", {})))
        metrics["test_rows"] = float(ev.get("n", 0))
        results["slices"] = ev.get("slices", {})
        results["fairness"] = ev.get("fairness", {})
    bench_path = optional_input_file(ctx, "benchmark.json")
    parity = None
    if bench_path:
        bench = read_json(bench_path)
        files["benchmark.json"] = bench_path
        metrics.update(_numeric(bench))
        if "throughput_rows_s" in bench:
            metrics["throughput_rps"] = float(bench["throughput_rows_s"])
        parity = bench.get("parity")
    parity_path = optional_input_file(ctx, "parity.json")
    if parity_path:
        parity = read_json(parity_path)
        files["parity.json"] = parity_path
    if parity is not None:
        results["parity"] = parity
        if parity.get("max_abs_diff") is not None:
            metrics["onnx_max_abs_diff"] = float(parity["max_abs_diff"])
        if parity.get("label_mismatches") is not None:
            metrics["onnx_label_mismatch"] = float(parity["label_mismatches"])
    params_path = optional_input_file(ctx, "params.json")
    if params_path:
        trained = read_json(params_path)
        results["trained"] = trained
        if "n_train" in trained:
            metrics["train_rows"] = float(trained["n_train"])
    return results, files


def at_group_size(results: dict[str, Any], min_group_size: int) -> dict[str, Any]:
    """Results as this gate sees them: fairness compared over the groups with at least the
    gate's own `min_group_size` rows, and slice groups below it without metrics.

    Why here: `evaluate` runs once for all of a model's gates, at the smallest of their
    sizes, and stores every group's counts; each gate then applies its own size, so a
    gate that says 100 is never decided on groups of 77 because another gate said 30."""
    fairness = {}
    for attr, rep in (results.get("fairness") or {}).items():
        if isinstance(rep, dict) and isinstance(rep.get("groups"), dict):
            again = fairness_from_groups(rep["groups"], min_group_size)
            fairness[attr] = {**{k: v for k, v in rep.items() if k != "note"}, **again}
        else:
            fairness[attr] = rep
    slices: dict[str, Any] = {}
    for by, groups in (results.get("slices") or {}).items():
        slices[by] = {g: (info if int(info.get("n", 0)) >= min_group_size
                          else {"n": info.get("n"),
                                "skipped": f"fewer than {min_group_size} rows"})
                      for g, info in groups.items()}
    return {**results, "fairness": fairness, "slices": slices}


def _model_name(ctx: OpContext) -> str:
    if ctx.params.get("model"):
        return str(ctx.params["model"])
    parts = ctx.node_id.split(":")
    return str(parts[1]) if len(parts) >= 2 else str(ctx.node_id)


def _champion(ctx: OpContext, model: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    if "champion" in ctx.extra:
        given = ctx.extra["champion"]
        return given, {"source": "runtime", "ref": None if given is None else "given"}
    from specops.runtime.registry import Registry, RegistryError

    reg = Registry.for_context(ctx)
    try:
        v = reg.champion(model)
    except RegistryError as exc:
        raise OpError(f"cannot read the champion of {model}: {exc}") from exc
    finally:
        reg.close()
    if v is None:
        return None, {"source": "registry", "ref": None}
    return dict(v.metrics), {"source": "registry", "ref": v.ref,
                             "model_digest": v.model_digest}


def gate(ctx: OpContext) -> OpResult:
    model = _model_name(ctx)
    p = ctx.typed(GateParams)   # as the compiler decided them (docs/plan.md)
    gate_name = p.gate
    checks: list[Mapping[str, Any]] = [c.model_dump(mode="json") for c in p.checks]
    results, files = collect_results(ctx)
    results = at_group_size(results, p.min_group_size)
    champion, champ_info = _champion(ctx, model)
    results["champion"] = champion
    report = evaluate_gate(checks, results, require_champion=p.require_champion)
    parity = results.get("parity")
    if parity is not None:
        ok = bool(parity.get("passed"))
        # the value shown is the one compared with the tolerance: relative to max(|y|, 1)
        # for a regression (export_onnx), absolute for class probabilities
        relative = parity.get("max_rel_diff") is not None
        report["checks"].append({
            "id": "onnx_parity", "text": "ONNX predictions equal scikit-learn's (built in"
            + (", relative difference)" if relative else ")"),
            "severity": "blocking", "status": "pass" if ok else "fail", "passed": ok,
            "value": parity.get("max_rel_diff" if relative else "max_abs_diff"),
            "threshold": parity.get("tolerance"),
            "comparator": "<=", "message": None, "values": {
                "label_mismatches": parity.get("label_mismatches")},
            "detail": "" if ok else "; ".join(parity.get("reasons") or ["parity failed"])})
        if not ok:
            report["failed"].append("onnx_parity")
            report["passed"] = False
    blocking = p.blocking
    report.update({"gate": gate_name, "model": model, "blocking": blocking,
                   "run_id": ctx.run_id,
                   "champion": {**champ_info, "metrics": champion} if champion is not None
                   else {**champ_info, "status": "none",
                         "message": "no champion in production (first model)"}})
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    report_path = ctx.out_dir / "gate_report.json"
    report_path.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")

    failed = [c for c in report["checks"] if c["id"] in report["failed"]]
    reasons = [f"{c['id']}: {c['text']} ({c['detail']})" for c in failed]
    # the count is of the checks the gate spec writes; the built-in parity check is named
    written = [c for c in report["checks"] if c["id"] != "onnx_parity"]
    n_pass = sum(1 for c in written if c["status"] == "pass")
    summary = (f"gate {gate_name}: {n_pass}/{len(written)} passed"
               + ("" if parity is None else ", ONNX parity "
                  + ("ok" if parity.get("passed") else "FAILED"))
               + (f", {len(report['no_champion'])} skipped (no champion in production)"
                  if report["no_champion"] else "")
               + (f", {len(report['warnings'])} warning(s)" if report["warnings"] else ""))
    metrics = {"gate_passed": 1.0 if report["passed"] else 0.0,
               "gate_failed_checks": float(len(report["failed"]))}
    if report["passed"] or not blocking:
        return OpResult(metrics=metrics, report=report, message=summary)

    rejected = _record_rejection(ctx, model, gate_name, files, report_path, results, reasons)
    raise OpError(f"{summary}; FAILED: {'; '.join(reasons)}"
                  + (f" — recorded as {rejected} (rejected)" if rejected else ""),
                  report=report)


def _record_rejection(ctx: OpContext, model: str, gate_name: str, files: dict[str, Path],
                      report_path: Path, results: dict[str, Any],
                      reasons: list[str]) -> str | None:
    if ctx.extra.get("record_rejections") is False:
        return None
    from specops.runtime.registry import Registry

    evidence = {**files, f"gate_report.{gate_name}.json": report_path}
    parity = results.get("parity") or {}
    reg = Registry.for_context(ctx)
    try:
        version = reg.register(
            model, evidence, build_lineage(ctx, results.get("trained")), status="rejected",
            reasons=[f"gate {gate_name}: {r}" for r in reasons], metrics=results["metrics"],
            model_digest=str(parity.get("model_digest", "")))
    finally:
        reg.close()
    return str(version.ref)
