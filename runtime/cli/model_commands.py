"""`specops models list|show|verify|alias`, `specops runs compare`, `specops reproduce`.

Why a separate module: `runtime/cli/run_commands.py` owns `run` and `runs list|show`; these
commands are the registry's and the experiment log's. `register(sub, add_common)`
adds them; `runs compare` is attached to the existing `runs` parser when it is there.

Exit codes: 0 success; 1 verification failed or the model did not reproduce; 2 a user
mistake (unknown model or version, bad reference, unreachable store).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import fail, project_setting, store_setting, when

__all__ = ["cmd_models_alias", "cmd_models_list", "cmd_models_show", "cmd_models_verify",
           "cmd_reproduce", "cmd_runs_compare", "extend", "register"]


def _registry(args: argparse.Namespace) -> Any:
    from specops.runtime.registry import Registry

    root = Path(getattr(args, "project", None) or ".").resolve()
    return Registry.open(root, store_setting(args, root),
                         getattr(args, "artifacts", None) or project_setting(root, "artifacts"))


def _resolve(reg: Any, ref: str, need_version: bool = False) -> Any:
    from specops.runtime.registry import RegistryError, parse_ref

    try:
        name, tag = parse_ref(ref)
        if need_version and tag is None:
            raise fail(f"give a version: {name}@VERSION (or {name}@ALIAS)")
        return reg.resolve(ref)
    except RegistryError as exc:
        raise fail(str(exc)) from None


def _json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def cmd_models_list(args: argparse.Namespace) -> int:
    rows = _registry(args).models()
    if args.json:
        _json(rows)
        return 0
    if not rows:
        print("no models registered yet", file=sys.stderr)
        return 0
    print(f"{'MODEL':<28} {'LATEST':>6} {'VERSIONS':>8} {'REJECTED':>8}  ALIASES")
    for r in rows:
        al = ", ".join(f"{a}=@{v}" for a, v in sorted(r["aliases"].items())) or "-"
        print(f"{r['name']:<28} {r['latest'] or '-':>6} {r['versions']:>8} "
              f"{r['rejected']:>8}  {al}")
    return 0


def _show_version(reg: Any, v: Any, as_json: bool) -> int:
    manifest = v.manifest()
    check = reg.verify(v.model, v.version)
    if as_json:
        _json({"version": {k: val for k, val in v.__dict__.items() if k != "created"},
               "manifest": manifest, "verify": check})
        return 0
    lin = manifest.get("lineage", {})
    print(f"{v.ref}  {v.status}  created {when(v.created_at)}  run {v.run_id or '-'}")
    print(f"model digest   {v.model_digest}")
    print(f"content digest {v.content_digest}")
    print(f"signature      {manifest.get('signing', {}).get('algorithm')} key "
          f"{manifest.get('signing', {}).get('key_id', '')[:23]}…  "
          f"{'verified' if check['ok'] else 'FAILED: ' + '; '.join(check['problems'])}")
    if v.reasons:
        print("rejected because:")
        for r in v.reasons:
            print(f"  - {r}")
    git = lin.get("git") or {}
    print(f"lineage        spec {lin.get('spec_hash') or '-'}  plan "
          f"{lin.get('plan_fingerprint') or '-'}  git {git.get('commit', '-')[:12]}"
          f"{' (dirty)' if git.get('dirty') else ''}")
    data = lin.get("data") or {}
    for name, h in sorted((data.get("files") or {}).items()):
        print(f"  data {name:<22} {h[:23]}…")
    params = (lin.get("parameters") or {})
    if params:
        print(f"estimator      {params.get('estimator')} {json.dumps(params.get('params'))}")
    for gname, g in sorted((lin.get("gates") or {}).items()):
        skipped = f", skipped (no champion): {', '.join(g['no_champion'])}" \
            if g.get("no_champion") else ""
        print(f"gate {gname}: {'passed' if g.get('passed') else 'FAILED'}, champion "
              f"{g.get('champion') or 'none (first model)'}{skipped}")
    print("artifacts:")
    for name, a in sorted(manifest.get("artifacts", {}).items()):
        print(f"  {name:<28} {a['size']:>10}  {a['sha256'][:23]}…")
    metrics = manifest.get("metrics") or {}
    keys = [k for k in ("roc_auc", "pr_auc", "f1", "accuracy", "rmse", "mae", "r2",
                        "latency_p50_ms", "latency_p99_ms", "model_size_mb",
                        "onnx_max_abs_diff") if k in metrics]
    if keys:
        print("metrics: " + ", ".join(f"{k}={_fmt(metrics[k])}" for k in keys))
    return 0


def cmd_models_show(args: argparse.Namespace) -> int:
    from specops.runtime.registry import parse_ref

    reg = _registry(args)
    name, tag = parse_ref(args.ref)
    if tag is not None:
        return _show_version(reg, _resolve(reg, args.ref), args.json)
    versions = reg.versions(name)
    if not versions:
        raise fail(f"no model {name!r} in the registry; see `specops models list`")
    aliases = reg.aliases(name)
    history = reg.alias_history(name)
    if args.json:
        _json({"model": name, "aliases": aliases, "alias_history": history,
               "versions": [{k: val for k, val in v.__dict__.items() if k != "created"}
                            for v in versions]})
        return 0
    by_version: dict[int, list[str]] = {}
    for a, n in aliases.items():
        by_version.setdefault(n, []).append(a)
    print(f"{'VERSION':>7} {'STATUS':<10} {'CREATED':<20} {'RUN':<24} {'ALIASES':<18} METRICS")
    for v in versions:
        m = v.metrics
        headline = ", ".join(f"{k}={_fmt(m[k])}" for k in ("roc_auc", "rmse",
                                                           "latency_p99_ms") if k in m)
        tags = ",".join(sorted(by_version.get(v.version, []))) or "-"
        print(f"{v.version:>7} {v.status:<10} {when(v.created_at):<20} "
              f"{(v.run_id or '-')[:24]:<24} {tags:<18} {headline}")
        for r in v.reasons:
            print(f"{'':>8} rejected: {r}")
    if history:
        print("\nalias history:")
        for h in history:
            frm = f"@{h['from']}" if h["from"] is not None else "(none)"
            to = f"@{h['to']}" if h["to"] is not None else "(removed)"
            print(f"  {when(h['at'])}  {h['alias']}: {frm} -> {to}  by {h['actor'] or '-'}"
                  f"{'  (' + h['reason'] + ')' if h['reason'] else ''}")
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    reg = _registry(args)
    v = _resolve(reg, args.ref, need_version=True)
    report = reg.verify(v.model, v.version)
    if args.json:
        _json(report)
    elif report["ok"]:
        print(f"{v.ref}: OK — signature valid, {len(report['checked'])} file(s) match the "
              "manifest")
    else:
        print(f"{v.ref}: VERIFICATION FAILED", file=sys.stderr)
        for p in report["problems"]:
            print(f"  - {p}", file=sys.stderr)
    return 0 if report["ok"] else 1


def cmd_models_alias(args: argparse.Namespace) -> int:
    from specops.runtime.registry import RegistryError

    reg = _registry(args)
    v = _resolve(reg, args.ref, need_version=True)
    try:
        reg.set_alias(v.model, args.alias, None if args.remove else v.version,
                      actor=args.actor or "", reason=args.reason or "")
    except RegistryError as exc:
        raise fail(str(exc)) from None
    print(f"{v.model}@{args.alias} " + ("removed" if args.remove else f"-> {v.ref}"))
    return 0


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def cmd_runs_compare(args: argparse.Namespace) -> int:
    from specops.runtime.store import Store, StoreError, resolve_url

    root = Path(args.project or ".").resolve()
    try:
        store = Store.from_url(resolve_url(store_setting(args, root), root), root)
    except StoreError as exc:
        raise fail(str(exc)) from None
    sides = []
    for rid in (args.a, args.b):
        run = store.get_run(rid)
        if run is None:
            store.close()
            raise fail(f"no run {rid!r} (or the prefix is ambiguous)")
        nodes = {n["node_id"]: n for n in store.node_runs(run["run_id"])}
        data = {nid: {r["source"]: r["source_hash"] for r in store.lineage(n["digest"])
                      if r["source_kind"] == "file"}
                for nid, n in nodes.items() if n.get("digest")}
        sides.append((run, nodes, store.metrics(run["run_id"]), data))
    store.close()
    (ra, na, ma, da), (rb, nb, mb, db) = sides
    diff: dict[str, Any] = {"runs": [ra["run_id"], rb["run_id"]], "nodes": {}}
    if ra.get("spec_hash") != rb.get("spec_hash"):
        diff["spec_hash"] = [ra.get("spec_hash"), rb.get("spec_hash")]
    for nid in sorted(set(na) | set(nb)):
        a, b = na.get(nid), nb.get(nid)
        if a is None or b is None:
            diff["nodes"][nid] = {"only_in": ra["run_id"] if b is None else rb["run_id"]}
            continue
        d: dict[str, Any] = {}
        for key in ("fingerprint", "digest", "status"):
            if a.get(key) != b.get(key):
                d[key] = [a.get(key), b.get(key)]
        fa, fb = _flatten(a.get("report") or {}), _flatten(b.get("report") or {})
        rep = {k: [fa.get(k), fb.get(k)] for k in sorted(set(fa) | set(fb))
               if fa.get(k) != fb.get(k) and not k.endswith("_s")}
        if rep:
            d["report"] = rep
        xa, xb = ma.get(nid, {}), mb.get(nid, {})
        met = {k: [xa.get(k), xb.get(k)] for k in sorted(set(xa) | set(xb))
               if xa.get(k) != xb.get(k)}
        if met:
            d["metrics"] = met
        if da.get(nid) != db.get(nid):
            d["data"] = [da.get(nid), db.get(nid)]
        if d:
            diff["nodes"][nid] = d
    if args.json:
        _json(diff)
        return 0
    print(f"comparing {ra['run_id']} (A) with {rb['run_id']} (B)")
    if "spec_hash" in diff:
        print(f"specs differ: {diff['spec_hash'][0]} -> {diff['spec_hash'][1]}")
    if not diff["nodes"]:
        print("no differences in nodes, outputs, parameters or metrics")
    for nid, d in diff["nodes"].items():
        print(f"\n{nid}")
        if "only_in" in d:
            print(f"  only in {d['only_in']}")
            continue
        for key in ("fingerprint", "digest", "status"):
            if key in d:
                print(f"  {key}: {str(d[key][0])[:23]} -> {str(d[key][1])[:23]}")
        for k, (x, y) in d.get("report", {}).items():
            print(f"  {k}: {_fmt(x)} -> {_fmt(y)}")
        for k, (x, y) in d.get("metrics", {}).items():
            print(f"  metric {k}: {_fmt(x)} -> {_fmt(y)}")
        if "data" in d:
            print(f"  input data: {d['data'][0]} -> {d['data'][1]}")
    return 0


def reproduce_version(reg: Any, v: Any, project_root: Path) -> dict[str, Any]:
    """Re-train and re-export from the recorded parameters and data; compare digests."""
    from specops.runtime.engine.datahash import file_sha256
    from specops.runtime.engine.op_interface import OpContext, OpError
    from specops.runtime.training.export_onnx import export_onnx
    from specops.runtime.training.train import train

    manifest = v.manifest()
    lin = manifest.get("lineage") or {}
    data = lin.get("data") or {}
    op_params = lin.get("train_op_params")
    if not data.get("dir") or op_params is None:
        return {"reproduced": False, "reason": "the version records no training data or "
                "training parameters"}
    ddir = Path(data["dir"])
    ddir = ddir if ddir.is_absolute() else project_root / ddir
    changed = [n for n, h in sorted((data.get("files") or {}).items())
               if not (ddir / n).is_file() or file_sha256(ddir / n) != h]
    if changed:
        return {"reproduced": False, "reason": f"recorded data is missing or changed: "
                f"{', '.join(changed)} in {ddir}"}
    sig = json.loads((v.path / "signature.json").read_text()) \
        if (v.path / "signature.json").is_file() else {}
    with tempfile.TemporaryDirectory(prefix="specops-reproduce-") as tmp:
        t = Path(tmp)

        def ctx(nid: str, op: str, params: dict[str, Any], inputs: dict[str, Path]) -> Any:
            out = t / op
            out.mkdir()
            return OpContext(node_id=nid, op=op, params=params, project_root=project_root,
                             out_dir=out, inputs=inputs, run_id=f"reproduce-{v.ref}",
                             fingerprint=str(lin.get("node_fingerprint") or ""))
        try:
            tr = ctx(f"train:{v.model}", "train", op_params, {f"training_set:{v.model}": ddir})
            train(tr)
            ex = ctx(f"export_onnx:{v.model}", "export_onnx",
                     {"target_opset": sig.get("target_opset"),
                      "float_type": sig.get("float_type", "float32")}, {"train": tr.out_dir})
            export_onnx(ex)
        except OpError as exc:
            return {"reproduced": False, "reason": f"re-run failed: {exc}"}
        digest = file_sha256(ex.out_dir / "model.onnx")
        fit = json.loads((tr.out_dir / "params.json").read_text()).get("fit_digest")
    return {"reproduced": digest == v.model_digest, "model_digest": digest,
            "registered_digest": v.model_digest, "fit_digest": fit,
            "registered_fit_digest": lin.get("fit_digest")}


def cmd_reproduce(args: argparse.Namespace) -> int:
    reg = _registry(args)
    v = _resolve(reg, args.ref, need_version=True)
    if v.status != "registered":
        raise fail(f"{v.ref} is {v.status}; only registered versions carry a model")
    result = reproduce_version(reg, v, Path(args.project or ".").resolve())
    if args.json:
        _json(result)
    elif result["reproduced"]:
        print(f"{v.ref}: reproduced — same model digest {result['model_digest']}")
    else:
        print(f"{v.ref}: NOT reproduced — " + result.get(
            "reason", f"digest {result.get('model_digest')} != registered "
                      f"{result.get('registered_digest')}"), file=sys.stderr)
    return 0 if result["reproduced"] else 1


def _common(q: argparse.ArgumentParser) -> None:
    q.add_argument("--project", help="project folder (default: .)")
    q.add_argument("--store", help="store URL (default: $SPECOPS_STORE_URL, the project's "
                   "specops.yaml, else sqlite:///.specops/store.db)")
    q.add_argument("--artifacts", help="artifact folder (default: the project's, else "
                   ".specops/artifacts)")
    q.add_argument("--json", action="store_true", help="machine-readable output")


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("models", help="the model registry: list, show, verify, alias")
    ms = p.add_subparsers(dest="models_command", metavar="{list,show,verify,alias}",
                          required=True)
    q = ms.add_parser("list", help="registered models, latest versions and aliases")
    _common(q)
    q.set_defaults(func=cmd_models_list)
    q = ms.add_parser("show", help="a model's versions and alias history, or one version "
                      "(NAME@VERSION or NAME@ALIAS): lineage, artifacts, metrics")
    q.add_argument("ref", help="NAME, NAME@VERSION or NAME@ALIAS")
    _common(q)
    q.set_defaults(func=cmd_models_show)
    q = ms.add_parser("verify", help="re-hash every file of a version and check its "
                      "signature (exit 1 on any change)")
    q.add_argument("ref", help="NAME@VERSION or NAME@ALIAS")
    _common(q)
    q.set_defaults(func=cmd_models_verify)
    q = ms.add_parser("alias", help="point an alias (e.g. production) at a version; the "
                      "move is kept in the alias history")
    q.add_argument("ref", help="NAME@VERSION")
    q.add_argument("alias")
    q.add_argument("--remove", action="store_true", help="remove the alias instead")
    q.add_argument("--actor", help="who moves it (recorded)")
    q.add_argument("--reason", help="why (recorded)")
    _common(q)
    q.set_defaults(func=cmd_models_alias)

    p = sub.add_parser("reproduce", help="re-train a registered version from its recorded "
                       "parameters and data and compare the model digest")
    p.add_argument("ref", help="NAME@VERSION")
    _common(p)
    p.set_defaults(func=cmd_reproduce)


def extend(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `runs compare` under the `runs` command (registered by run_commands)."""
    runs = sub.choices.get("runs")
    actions = [a for a in getattr(runs, "_actions", [])
               if isinstance(a, argparse._SubParsersAction)]
    if actions:
        q = actions[0].add_parser("compare", help="what differed between two runs: nodes, "
                                  "outputs, parameters, metrics, input data")
        q.add_argument("a", help="first run id (or prefix, or latest)")
        q.add_argument("b", help="second run id (or prefix)")
        _common(q)
        q.set_defaults(func=cmd_runs_compare)
