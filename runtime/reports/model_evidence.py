"""Evidence the model report gathers beyond the version's own files, each item checked
against what was signed rather than taken on trust.

- `run_lineage`: the chain from the signed training set back to the source files, walked
  in the run store's lineage edges (`lineage` table) starting at the training-set artifact
  the signed manifest names; sources with their file hashes, the validation results of
  each source, the feature views computed. `linked` says whether the training-set files
  on disk still hash to the signed values.
- `feature_views`: versions, owners and descriptions of the views the model uses, read
  from the project's specs; `matches` says whether their spec hash equals the signed one
  (when it does not, the specs on disk are not the ones that were reviewed, or this
  specops reads them differently, and the report says so beside the table).
- `champion`: the version serving production, other than this one, and its signed
  evaluation metrics.
- `signatures`: for the approval request and each vote, whether its signed statement
  verifies against the trust root in force (runtime/trust/acting.py), computed now.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from specops.runtime.governance.service import Governance

__all__ = ["champion", "feature_views", "run_lineage", "signatures"]


def _digest_of(data_dir: str | None) -> str | None:
    """The content digest of a store artifact folder (`.../objects/<hex>`)."""
    if not data_dir:
        return None
    name = Path(data_dir).name
    return f"sha256:{name}" if len(name) == 64 and all(c in "0123456789abcdef" for c in name) \
        else None


def _file_hashes_match(root: Path, data: dict[str, Any]) -> bool | None:
    from specops.runtime.engine.datahash import file_sha256

    folder = root / str(data.get("dir") or "")
    files = data.get("files") or {}
    if not files or not folder.is_dir():
        return None
    return all((folder / name).is_file() and file_sha256(folder / name) == digest
               for name, digest in files.items())


def run_lineage(gov: Governance, lineage: dict[str, Any]) -> dict[str, Any]:
    """Sources, validations and feature views upstream of the signed training set."""
    from specops.runtime.store.store import Store

    data = lineage.get("data") or {}
    start = _digest_of(data.get("dir"))
    out: dict[str, Any] = {"training_set": start, "sources": [], "validations": [],
                           "views": [], "linked": _file_hashes_match(gov.project_root, data),
                           "found": False}
    if start is None:
        return out
    store = Store(gov.engine)
    try:
        runs = {r["node_id"]: r for r in store.node_runs(str(lineage.get("run_id") or ""))}
        seen: set[str] = set()
        todo = [start]
        nodes: dict[str, str] = {}
        files: dict[str, list[dict[str, str]]] = {}
        while todo:
            digest = todo.pop()
            if digest in seen:
                continue
            seen.add(digest)
            for edge in store.lineage(digest):
                nodes[digest] = edge["node_id"]
                if edge["source_kind"] == "artifact":
                    todo.append(edge["source_hash"])
                else:
                    files.setdefault(edge["node_id"], []).append(
                        {"path": edge["source"], "sha256": edge["source_hash"]})
    except sa.exc.SQLAlchemyError:   # no run store in this database (report-only project)
        return out
    out["found"] = bool(nodes)
    for digest, node in sorted(nodes.items(), key=lambda kv: kv[1]):
        kind, _, name = node.partition(":")
        run = runs.get(node) or {}
        report = run.get("report") or {}
        if kind == "source":
            out["sources"].append({"name": name, "digest": digest, "files": files.get(node, []),
                                   "rows": report.get("rows"),
                                   "n_files": len(report.get("files") or [])})
        elif kind == "validate":
            checks = report.get("checks") or []
            out["validations"].append({
                "source": name, "passed": report.get("passed"), "rows": report.get("rows"),
                "total": report.get("total", len(checks)), "failed": report.get("failed", 0),
                "failures": [c for c in checks if not c.get("passed")],
                "checks": checks})
        elif kind == "features":
            out["views"].append({"view": name, "digest": digest, "rows": report.get("rows"),
                                 "message": run.get("message")})
    return out


def feature_views(gov: Governance, signed_spec_hash: str | None, model: str
                  ) -> dict[str, Any]:
    """The feature views `model` uses, from the project's specs, and whether those are the
    signed ones."""
    out: dict[str, Any] = {"views": [], "spec_hash": None, "matches": False}
    try:
        from specops.compiler import compile_project

        result = compile_project(gov.project_root)
    except Exception:   # the report still renders for a project that no longer compiles
        return out
    if result.plan is None:
        return out
    plan = result.plan.data
    out["spec_hash"] = plan.get("spec_hash")
    out["matches"] = bool(signed_spec_hash) and out["spec_hash"] == signed_spec_hash
    facts = ((plan.get("models") or {}).get(model) or {}).get("facts") or {}
    used = [u for u in facts.get("model.uses_feature") or [] if "@" in u]
    specs = {(s.spec.kind, s.spec.name, getattr(s.spec, "version", None)): s.spec
             for s in result.lint.project.specs}
    for ref in sorted(used):
        name, _, version = ref.partition("@")
        spec = specs.get(("feature", name, int(version)))
        if spec is None:
            continue
        owner = getattr(spec, "owner", None)
        out["views"].append({
            "ref": ref, "name": name, "version": int(version),
            "owner": str(owner) if owner else None,
            "description": getattr(spec, "description", None),
            "source": getattr(spec, "source", None),
            "features": sorted((getattr(spec, "features", None) or {}).keys())
            if isinstance(getattr(spec, "features", None), dict) else [],
            "access": getattr(spec, "access", None)})
    owners = {s.spec.name: getattr(s.spec, "owner", None) for s in result.lint.project.specs
              if s.spec.kind == "source"}
    for ref in sorted(u for u in facts.get("model.uses_feature") or []
                      if "." in u and "@" not in u):
        src_owner = owners.get(ref.split(".", 1)[0])
        out["views"].append({"ref": ref, "name": ref, "version": None,
                             "owner": str(src_owner) if src_owner else None,
                             "description": "column read directly from the source",
                             "source": ref.split(".", 1)[0], "features": [ref.split(".")[1]],
                             "access": None})
    return out


def champion(gov: Governance, model: str, version: int) -> dict[str, Any] | None:
    """The version in production other than this one, with its signed metrics."""
    from specops.runtime.governance.promotion import current

    serving = current(gov, model, "production")
    if serving is None or serving == version:
        return None
    v = gov.version(model, serving)
    try:
        evaluation = json.loads((Path(v.path) / "evaluation.json").read_text())
    except (OSError, ValueError):
        evaluation = {}
    return {"version": serving, "ref": f"{model}@{serving}",
            "metrics": evaluation.get("metrics") or v.metrics or {},
            "n_test": evaluation.get("n")}


def signatures(gov: Governance, request_id: int | None) -> dict[str, Any]:
    """Whether the request and each vote (in vote order, as `approvals.status` lists them)
    carry a signed statement that verifies now."""
    from specops.runtime.governance.governance_tables import requests, votes
    from specops.runtime.trust.acting import request_problem, vote_problem

    out: dict[str, Any] = {"signed_mode": bool(gov.signed), "request": None, "votes": []}
    if request_id is None:
        return out
    with gov.engine.connect() as conn:
        req = conn.execute(sa.select(requests).where(requests.c.id == request_id)).first()
        rows = conn.execute(sa.select(votes).where(votes.c.request_id == request_id)
                            .order_by(votes.c.id)).all()
        if req is None:
            return out
        if gov.signed:
            problem = request_problem(gov, req, conn)
            out["request"] = {"verified": problem is None, "problem": problem}
    for row in rows:
        if gov.signed:
            problem = vote_problem(gov, row, req)
            out["votes"].append({"verified": problem is None, "problem": problem,
                                 "signed": bool(row.envelope)})
        else:
            out["votes"].append({"verified": False, "signed": bool(row.envelope),
                                 "problem": "claimed identity: the project lists no keys"})
    return out
