"""`register`: put the packaged model into the signed, immutable registry.

Why the checks here repeat the gates': registration is the last point before a model can
be deployed, so it refuses on its own (defence in depth) when any blocking gate report
among its inputs failed or the ONNX parity report failed, instead of trusting that the
scheduler never runs it after a failure. With no gate at all, a parity failure still
records a `rejected` version and fails the node.

Files registered: `model.onnx`, `signature.json`, `params.json`, `search.json`,
`evaluation.json`, `parity.json`, `benchmark.json`, one `gate_report.<gate>.json` per
gate, and `profile/` (the monitoring reference profile written by `evaluate`).
`model.joblib` is *not* registered: the registry ships ONNX only.

Output: `registration.json` (model, version, whether this run minted it, digests, path).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from specops.contract.op_params import RegisterParams
from specops.runtime.engine.op_inputs import find_input_file, optional_input_file, read_json
from specops.runtime.engine.op_interface import OpContext, OpError, OpResult
from specops.runtime.monitor.reference import profile_files
from specops.runtime.registry.lineage import build_lineage

__all__ = ["register"]

_FILES = ("model.onnx", "signature.json", "params.json", "search.json", "evaluation.json",
          "benchmark.json", "test_rows.parquet")


def _model_name(ctx: OpContext) -> str:
    if ctx.params.get("model"):
        return str(ctx.params["model"])
    parts = ctx.node_id.split(":")
    return str(parts[1]) if len(parts) >= 2 else str(ctx.node_id)


def _parity(ctx: OpContext) -> tuple[dict[str, Any] | None, Path | None]:
    paths = sorted(d / "parity.json" for d in ctx.inputs.values() if (d / "parity.json").is_file())
    if paths:
        return read_json(paths[0]), paths[0]
    bench = optional_input_file(ctx, "benchmark.json")
    if bench:
        embedded = read_json(bench).get("parity")
        return embedded, None
    return None, None


def register(ctx: OpContext) -> OpResult:
    from specops.runtime.registry import Registry

    model = _model_name(ctx)
    files: dict[str, Path] = {"model.onnx": find_input_file(ctx, "model.onnx")}
    for name in _FILES[1:]:
        path = optional_input_file(ctx, name)
        if path is not None:
            files[name] = path
    profile = optional_input_file(ctx, "profile/profile.json")
    if profile is not None:
        files.update(profile_files(profile.parent))
    parity, parity_path = _parity(ctx)
    if parity_path is not None:
        files["parity.json"] = parity_path
    reports: dict[str, dict[str, Any]] = {}
    for nid, d in sorted(ctx.inputs.items()):
        if (d / "gate_report.json").is_file():
            rep = read_json(d / "gate_report.json")
            gname = str(rep.get("gate") or nid.rsplit(":", 1)[-1])
            reports[gname] = rep
            files[f"gate_report.{gname}.json"] = d / "gate_report.json"

    reasons = [f"gate {g}: {', '.join(r.get('failed', []))}" for g, r in reports.items()
               if not r.get("passed") and r.get("blocking", True)]
    if parity is not None and not parity.get("passed"):
        reasons.append("onnx_parity: " + "; ".join(parity.get("reasons") or ["failed"]))

    trained = read_json(files["params.json"]) if "params.json" in files else None
    metrics: dict[str, Any] = {}
    if "evaluation.json" in files:
        metrics.update(read_json(files["evaluation.json"]).get("metrics", {}))
    if "benchmark.json" in files:
        bench = read_json(files["benchmark.json"])
        metrics.update({k: v for k, v in bench.items() if isinstance(v, (int, float))})
        metrics["throughput_rps"] = bench.get("throughput_rows_s")
    if parity is not None:
        metrics["onnx_max_abs_diff"] = parity.get("max_abs_diff")
        metrics["onnx_label_mismatch"] = parity.get("label_mismatches")
    metrics = {k: v for k, v in metrics.items() if v is not None}
    registry = Registry.for_context(ctx)
    lineage = build_lineage(ctx, trained)
    lineage["gates"] = {g: {"passed": r.get("passed"), "no_champion": r.get("no_champion"),
                            "champion": (r.get("champion") or {}).get("ref")}
                        for g, r in reports.items()}
    p = ctx.typed(RegisterParams)   # as the compiler decided them (docs/plan.md)
    common: dict[str, Any] = {"metrics": metrics, "owner": p.owner,
                              "risk_tier": p.risk_tier, "task": p.task}
    try:
        if reasons:
            rejected = registry.register(model, files, lineage, status="rejected",
                                         reasons=reasons, **common)
            raise OpError(f"{model} not registered: {'; '.join(reasons)} — recorded as "
                          f"{rejected.ref} (rejected)")
        v = registry.register(model, files, lineage, **common)
    finally:
        registry.close()
    doc = {"model": model, "version": v.version, "ref": v.ref, "created": v.created,
           "content_digest": v.content_digest, "model_digest": v.model_digest,
           "path": str(v.path), "run_id": v.run_id}
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    (ctx.out_dir / "registration.json").write_text(json.dumps(doc, indent=2, sort_keys=True)
                                                   + "\n")
    how = "registered" if v.created else "identical content already registered as"
    return OpResult(metrics={"version": float(v.version)}, report=doc,
                    message=f"{how} {v.ref} ({v.model_digest[:19]}…)")
