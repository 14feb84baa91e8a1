"""Benchmark: what canary and shadow routing cost per request in the serving process.

Workload: the model of bench/serve_load.py (HistGradientBoostingClassifier, 100
iterations, 3 inputs) registered as credit@1, a second version (another ONNX doc string,
so other bytes and identical answers) as credit@2, both approved in a claimed-identity
project; credit@1 deployed to production. Requests are single-row OIP JSON with distinct
ids, sent through `asgi.Service.handle` in this process (the lean server's application
without the socket, which bench/serve_load.py measures), one after another, for:

- `plain`: `lean.build_service`, no rollout (the server as before this feature);
- `canary`: `traffic.build_routed_service` with a 10% canary (routing, both arms'
  prediction logs and the outcome log);
- `shadow`: the same with a shadow (the champion answers; the challenger scores every
  request after the answer, in the same process).

Prints one JSON line: requests, and per mode the wall and CPU microseconds per request,
the requests per second, and the share that reached the challenger.

    uv run python bench/canary_routing.py [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import build_model

PEOPLE = """name: bench
people:
  alice: {roles: [ml_engineer], teams: [credit_risk]}
  bob: {roles: [model_risk_officer], teams: [model_validation]}
  frank: {roles: [platform_engineer], teams: [platform]}
permissions: {deploy: [platform_engineer], approve: [model_risk_officer]}
"""


def _facts() -> dict[str, Any]:
    return {"owner": "team:credit_risk", "authors": ["alice"], "risk_tier": "high",
            "task": "binary_classification",
            "approval": {"name": "risk", "environments": ["production"], "rules": [
                {"index": 0, "applies": True, "when": {"op": "lit", "value": True},
                 "require": {"model_risk_officer": 1}, "separation_of_duties": True,
                 "auto_approve": False, "expires_s": None}]}}


def _second_version(proj: Path) -> int:
    import onnx

    from specops.runtime.registry import Registry

    reg = Registry.open(proj)
    try:
        vdir = reg.root / "credit" / "1"
        manifest = json.loads((vdir / "manifest.json").read_bytes())
        stash = proj.parent / "v2"
        files: dict[str, Path] = {}
        for name in manifest["artifacts"]:
            dest = stash / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            data = (vdir / name).read_bytes()
            if name == "model.onnx":
                model = onnx.load_from_string(data)
                model.doc_string = "challenger"
                data = model.SerializeToString()
            dest.write_bytes(data)
            files[name] = dest
        return int(reg.register("credit", files, manifest.get("lineage") or {}).version)
    finally:
        reg.close()


def _govern(proj: Path) -> None:
    from specops.runtime.governance import Governance
    from specops.runtime.governance.approvals import approve, open_request
    from specops.runtime.governance.promotion import deploy

    (proj / "specops.yaml").write_text(PEOPLE)
    gov = Governance.open(proj)
    try:
        for v in (1, 2):
            open_request(gov, model="credit", version=v,
                         model_digest=gov.version("credit", v).model_digest, spec_hash="s",
                         facts=_facts(), trigger="alice")
            approve(gov, "bob", "credit", v, "model_risk_officer")
        deploy(gov, "frank", "credit", 1, "production")
    finally:
        gov.close()


def _rollout(proj: Path, **how: Any) -> None:
    from specops.runtime.governance import Governance
    from specops.runtime.governance.deploy import abort_rollout, running_rollout, start_rollout

    gov = Governance.open(proj)
    try:
        if running_rollout(gov, "credit", "production") is not None:
            abort_rollout(gov, "credit", "production", "bench", actor="frank")
        if how:
            start_rollout(gov, "frank", "credit", 2, "production", **how)
    finally:
        gov.close()


def _bodies(rows: Any, n: int) -> list[bytes]:
    out = []
    for i in range(n):
        r = rows.row(i % rows.height, named=True)
        out.append(json.dumps({"id": f"customer-{i}", "inputs": [
            {"name": "income", "datatype": "FP32", "shape": [1, 1], "data": [r["income"]]},
            {"name": "age", "datatype": "INT64", "shape": [1, 1], "data": [r["age"]]},
            {"name": "region", "datatype": "BYTES", "shape": [1, 1],
             "data": [r["region"]]}]}).encode())
    return out


def _measure(service: Any, bodies: list[bytes]) -> dict[str, Any]:
    async def run() -> list[str]:
        versions = []
        for b in bodies[:200]:                         # warm-up
            await service.handle("POST", "/v2/models/credit/infer", b)
        t0, c0 = time.perf_counter(), time.process_time()
        for b in bodies:
            status, payload, _ = await service.handle("POST", "/v2/models/credit/infer", b)
            assert status == 200, payload
            versions.append(json.loads(payload)["model_version"])
        await asyncio.sleep(0.2)                       # pending shadow scoring
        out["wall"], out["cpu"] = time.perf_counter() - t0, time.process_time() - c0
        return versions

    out: dict[str, float] = {}
    versions = asyncio.run(run())
    n = len(bodies)
    return {"wall_us_per_request": round(out["wall"] / n * 1e6, 1),
            "cpu_us_per_request": round(out["cpu"] / n * 1e6, 1),
            "rps": round(n / out["wall"], 1),
            "challenger_share": round(versions.count("2") / n, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20_000)
    args = ap.parse_args()
    from specops.runtime.serve.lean import build_service
    from specops.runtime.serve.served_model import resolve
    from specops.runtime.serve.traffic import build_routed_service

    root = Path(tempfile.mkdtemp(prefix="canary-bench-"))
    built = build_model(root)
    proj = built["project"]
    _second_version(proj)
    _govern(proj)
    bodies = _bodies(built["rows"], args.requests)
    source = resolve(proj, None, "credit", "production")
    result: dict[str, Any] = {"requests": args.requests}
    for mode, how in (("plain", {}), ("canary", {"share": 10.0}), ("shadow", {"shadow": True})):
        _rollout(proj, **how)
        service = (build_service(source, log=True, recheck_s=0) if mode == "plain" else
                   build_routed_service(source, log=True, recheck_s=0))
        try:
            result[mode] = _measure(service, bodies)
        finally:
            service.close()
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
