"""Model inputs for raw source rows, computed with the training pipeline's own feature code.

Why not re-implement the features here: the only way to be sure a monitored feature is
the feature the model was trained on is to run the same plan nodes. `--current PATH` with
rows of the model's *spine source* (e.g. a new month of applications) runs a derived plan:
- `source:<spine>` reads PATH instead of the spec's path (its fingerprint is salted with
  PATH's content hash, so it never hits the training data's cache entry);
- `validate:<spine>` becomes a no-op: the source's checks describe training data (a
  minimum row count, say) and would refuse a small window; drift is what monitoring
  checks;
- every feature view is the plan's own node (views over other sources, like bureau
  history, are cache hits from training runs);
- `scoring_set:<model>` replaces `training_set:<model>`: the same point-in-time joins onto
  the same spine, but no label join and no split, so unlabelled rows are kept.
It runs through `execute_plan` on the project's store (inline executor), so the run is
recorded like any other and its outputs are content-addressed.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["SCORING_OP", "model_inputs_from_raw", "scoring_set"]

SCORING_OP = "monitor_scoring_set"


def scoring_set(ctx: Any) -> Any:
    """Op: spine rows + point-in-time features (training_set params, no label, no split)."""
    from specops.runtime.data.pit import index_spine, pit_join
    from specops.runtime.data.table_files import input_table
    from specops.runtime.engine.op_interface import OpError, OpResult

    p = ctx.params
    sp = p["spine"]
    entity, ts = sp["entity"], sp["timestamp"]
    path, _ = input_table(ctx, f"source:{sp['source']}")
    spine = pl.read_parquet(path)
    out = spine
    for view in p.get("views") or []:
        node, key = view["node"], view["entity"]
        vpath, meta = input_table(ctx, node)
        vts = view.get("timestamp") or meta.get("timestamp")
        created = view.get("created_timestamp") or meta.get("created_timestamp")
        feats = list(view["features"])
        if vts:
            cols = [key, vts, *([created] if created else []), *feats]
            tab = pl.read_parquet(vpath, columns=list(dict.fromkeys(cols)))
            joined = pit_join(spine, tab, spine_keys=[key], spine_ts=ts, view_keys=[key],
                              view_ts=vts, view_created=created, features=feats,
                              ttl_s=view.get("ttl_s"),
                              created_cutoff=bool(p.get("created_time_cutoff")),
                              spine_index=index_spine(spine, [key], ts))
        else:
            tab = pl.read_parquet(vpath, columns=[key, *feats]).unique(key, keep="last")
            joined = spine.select(key).join(tab, on=key, how="left",
                                            maintain_order="left").select(feats)
        rename = view.get("rename") or {}
        joined = joined.rename({c: rename.get(c, c) for c in joined.columns})
        clash = [c for c in joined.columns if c in out.columns]
        out = out.drop(clash).hstack(joined)
    if entity not in out.columns:
        raise OpError(f"{ctx.node_id}: the current rows have no {entity} column")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    out.write_parquet(ctx.out_dir / "scoring.parquet")
    return OpResult(metrics={"rows": float(out.height)},
                    message=f"{out.height} rows with model inputs")


def _salt(fingerprint: str, text: str) -> str:
    return "sha256:" + hashlib.sha256(f"{fingerprint}|{text}".encode()).hexdigest()


def derived_plan(plan: Any, model: str, path: Path) -> tuple[Any, str]:
    """The plan whose `scoring_set:<model>` node computes the inputs for PATH's rows."""
    from specops.runtime.engine.datahash import hash_path
    from specops.runtime.engine.plan_reader import Node

    ts_id = f"training_set:{model}"
    by_id = plan.by_id
    if ts_id not in by_id:
        raise LookupError(f"the plan has no {ts_id} node")
    ts_node = by_id[ts_id]
    spine = ts_node.params["spine"]["source"]
    label_src = (ts_node.params.get("label") or {}).get("source")
    content = hash_path(Path("/"), str(path.resolve()).lstrip("/"))
    nodes = []
    for n in plan.nodes:
        if n.id == f"source:{spine}":
            n = replace(n, params={**n.params, "path": str(path.resolve())},
                        fingerprint=_salt(n.fingerprint, content))
        elif n.id == f"validate:{spine}":
            n = replace(n, op="noop", params={}, fingerprint=_salt(n.fingerprint, content))
        nodes.append(n)
    drop = {f"source:{label_src}", f"validate:{label_src}"} if label_src != spine else set()
    params = {k: v for k, v in ts_node.params.items() if k not in ("label", "split")}
    sid = f"scoring_set:{model}"
    nodes.append(Node(id=sid, op=SCORING_OP, params=params,
                      inputs=tuple(i for i in ts_node.inputs if i not in drop),
                      fingerprint=_salt(ts_node.fingerprint, "scoring_set"),
                      resources=ts_node.resources, manual=True))
    return replace(plan, nodes=tuple(nodes)), sid


def model_inputs_from_raw(plan: Any, project_root: Path, model: str, path: Path,
                          store_url: str | None = None, progress: Any = None
                          ) -> pl.DataFrame:
    """Rows of PATH (spine-source rows) with every model input column added."""
    from specops.runtime.engine.op_registry import register_op
    from specops.runtime.engine.progress import make_progress
    from specops.runtime.engine.run_loop import execute_plan

    register_op(SCORING_OP, scoring_set)
    derived, sid = derived_plan(plan, model, path)
    result = execute_plan(derived, project_root, executor="inline", select=sid,
                          store_url=store_url, progress=progress or make_progress("quiet"))
    if not result.ok:
        why = "; ".join(f"{o.node_id}: {o.cause}" for o in result.failed)
        raise RuntimeError(f"cannot compute model inputs for {path}: {why}")
    out = result.nodes[sid].path
    assert out is not None
    return pl.read_parquet(Path(out) / "scoring.parquet")
