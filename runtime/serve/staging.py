"""The staging check: contract tests against a running endpoint, recorded per digest.

What is checked (every check is recorded with its detail, the check passes only if all do):
- `ready`: `/v2/health/ready` and `/v2/models/{name}/ready` answer 200;
- `metadata`: `/v2/models/{name}` lists exactly the signed signature's inputs and
  outputs (names, datatypes, shapes), and the inputs are the features the model was
  trained on;
- `scores`: the registry's recorded test rows (`test_rows.parquet`, written when the
  version was built) sent as one OIP request and as single-row requests return the
  recorded labels exactly and the recorded probabilities (or predictions) within the
  signature's parity tolerance;
- `refuses_malformed`: a table of malformed requests is answered 4xx with a reason
  (never a 5xx, never a 200).

The endpoint is started through serving admission (admission.py: the signed manifest
verifies and the loaded bytes are the signed ones), and the recorded test rows are read
through it too (`Admitted.artifact`: hashed against the manifest, parsed from those
bytes), so a swapped model or swapped expected outputs cannot pass the check.

Why per digest: production must serve bytes that passed staging, so the record holds the
model digest, and `require_staging_check` (a governance promotion check) looks for a
passed record of the same digest. Results live in the store (`staging_checks` table).

How it hooks into `specops deploy`: `install()` registers `staging_hook` as a governance
pre-deploy hook and `require_staging_check` as production's promotion check. Both act only
while `enforced()` is active (the CLI's `deploy` wraps itself in it, see cli_serve.py), so
library callers and the governance tests keep the plain rules unless they opt in.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa

__all__ = ["MALFORMED", "enforced", "install", "latest_check", "record", "require_staging_check",
           "run_contract_tests", "stage_and_check", "staging_hook"]

metadata = sa.MetaData()
checks_table = sa.Table(
    "staging_checks", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model_digest", sa.String(80), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("report", sa.JSON, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

_ENFORCED: contextvars.ContextVar[bool] = contextvars.ContextVar("staging_enforced",
                                                                 default=False)


def _malformed(name: str, inputs: list[dict[str, Any]]) -> list[tuple[str, str, str, Any]]:
    """(case, method, path, body) rows; each must be answered 4xx."""
    good = [{"name": t["name"], "datatype": t["datatype"], "shape": [1, 1],
             "data": ["x"] if t["datatype"] == "BYTES" else [1.0]} for t in inputs]
    numeric = next((t["name"] for t in inputs if t["datatype"] != "BYTES"), None)
    infer = f"/v2/models/{name}/infer"
    rows: list[tuple[str, str, str, Any]] = [
        ("not JSON", "POST", infer, b"{not json"),
        ("JSON array instead of object", "POST", infer, b"[1, 2]"),
        ("no inputs", "POST", infer, {"inputs": []}),
        ("missing input", "POST", infer, {"inputs": good[1:]}),
        ("unknown input", "POST", infer,
         {"inputs": [*good, {"name": "__nope__", "datatype": "FP32", "shape": [1],
                             "data": [1.0]}]}),
        ("duplicate input", "POST", infer, {"inputs": [*good, good[0]]}),
        ("shape/data mismatch", "POST", infer,
         {"inputs": [{**good[0], "shape": [2, 1]}, *good[1:]]}),
        ("bad shape", "POST", infer, {"inputs": [{**good[0], "shape": [1, 3]}, *good[1:]]}),
        ("wrong datatype", "POST", infer,
         {"inputs": [{**good[0], "datatype": "BOOL"}, *good[1:]]}),
        ("unknown model", "POST", "/v2/models/__nope__/infer", {"inputs": good}),
        ("unknown version", "POST", f"/v2/models/{name}/versions/999999/infer",
         {"inputs": good}),
        ("GET on infer", "GET", infer, None),
        ("predict: record lacks a feature", "POST", f"/v2/models/{name}/predict",
         [{t["name"]: 1.0 for t in inputs[1:]}]),
        ("predict: not a list", "POST", f"/v2/models/{name}/predict", {"a": 1}),
    ]
    if numeric is not None:
        cols = [{**t, "data": ["oops"]} if t["name"] == numeric else t for t in good]
        rows.append(("string in a numeric input", "POST", infer, {"inputs": cols}))
        cols = [{**t, "data": [True]} if t["name"] == numeric else t for t in good]
        rows.append(("boolean in a numeric input", "POST", infer, {"inputs": cols}))
    return rows


MALFORMED = _malformed   # the table, for tests and docs


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "passed": bool(ok), "detail": detail}


def _infer_body(rows: pl.DataFrame, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    tensors = []
    for t in inputs:
        values = rows.get_column(t["name"]).to_list()
        if t["datatype"] != "BYTES":
            values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v
                      for v in values]
        tensors.append({"name": t["name"], "datatype": t["datatype"],
                        "shape": [rows.height, 1], "data": values})
    return {"id": "staging", "inputs": tensors}


def _compare(doc: dict[str, Any], rows: pl.DataFrame, tolerance: float) -> str | None:
    got = {o["name"]: o for o in doc.get("outputs", [])}
    for col in rows.columns:
        if not col.startswith("output:"):
            continue
        name = col.split(":", 1)[1]
        if name not in got:
            return f"output {name} missing from the response"
        expected = rows.get_column(col).to_list()
        data = got[name]["data"]
        if isinstance(expected[0], list):
            exp = np.asarray(expected, dtype=np.float64).reshape(-1)
            diff = float(np.max(np.abs(np.asarray(data, dtype=np.float64) - exp)))
            if not diff <= tolerance:
                return f"output {name}: max difference {diff:.3g} > tolerance {tolerance:g}"
        elif isinstance(expected[0], float):
            diff = float(np.max(np.abs(np.asarray(data, dtype=np.float64) -
                                       np.asarray(expected, dtype=np.float64))))
            if not diff <= tolerance:
                return f"output {name}: max difference {diff:.3g} > tolerance {tolerance:g}"
        elif [str(x) for x in data] != [str(x) for x in expected]:
            return f"output {name}: values differ from the recorded ones"
    return None


def _recorded_rows(version_dir: Path, admitted: Any) -> pl.DataFrame | None:
    """The recorded test rows: through admission (bytes checked against the signed
    manifest, parsed from those bytes) when the version was admitted, else the file."""
    if admitted is not None:
        if "test_rows.parquet" not in admitted.manifest.get("artifacts", {}):
            return None
        return pl.read_parquet(io.BytesIO(admitted.artifact("test_rows.parquet")))
    path = version_dir / "test_rows.parquet"
    return pl.read_parquet(path) if path.is_file() else None


def run_contract_tests(url: str, version_dir: Path, model: str, version: int,
                       timeout: float = 30.0, admitted: Any = None) -> dict[str, Any]:
    """Run every check against the endpoint at `url`; returns the report. With
    `admitted` (the `admission.Admitted` of the served version) the signature and test
    rows are the admitted, digest-checked bytes, not a second read of the files."""
    import httpx

    sig = (admitted.signature if admitted is not None
           else json.loads((version_dir / "signature.json").read_text()))
    inputs, outputs = sig["inputs"], sig["outputs"]
    tolerance = float(sig.get("tolerance", 1e-4))
    results: list[dict[str, Any]] = []
    with httpx.Client(base_url=url, timeout=timeout) as c:
        r1, r2 = c.get("/v2/health/ready"), c.get(f"/v2/models/{model}/ready")
        results.append(_check("ready", r1.status_code == 200 and r2.status_code == 200,
                              f"health {r1.status_code}, model {r2.status_code}"))
        meta = c.get(f"/v2/models/{model}")
        problems = []
        if meta.status_code != 200:
            problems.append(f"status {meta.status_code}")
        else:
            m = meta.json()
            for key, want in (("inputs", inputs), ("outputs", outputs)):
                strip = [{k: t[k] for k in ("name", "datatype", "shape")} for t in want]
                if m.get(key) != strip:
                    problems.append(f"{key} {m.get(key)} != signature {strip}")
            if str(version) not in m.get("versions", []):
                problems.append(f"versions {m.get('versions')} lack {version}")
            trained = [f["name"] for f in sig.get("features") or []]
            if trained and [t["name"] for t in m.get("inputs", [])] != trained:
                problems.append("inputs are not the features the model was trained on")
        results.append(_check("metadata", not problems, "; ".join(problems) or "matches"))
        rows = _recorded_rows(version_dir, admitted)
        if rows is None:
            results.append(_check("scores", False, "the version has no recorded test rows "
                                  "(test_rows.parquet); re-register it"))
        else:
            r = c.post(f"/v2/models/{model}/infer", json=_infer_body(rows, inputs))
            why = (_compare(r.json(), rows, tolerance) if r.status_code == 200
                   else f"status {r.status_code}: {r.text[:200]}")
            singles = 0
            for i in range(min(rows.height, 20)):
                if why:
                    break
                one = rows.slice(i, 1)
                r = c.post(f"/v2/models/{model}/infer", json=_infer_body(one, inputs))
                why = (_compare(r.json(), one, tolerance) if r.status_code == 200
                       else f"row {i}: status {r.status_code}")
                singles += 1
            results.append(_check("scores", why is None, why or
                                  f"{rows.height} recorded rows in one request and "
                                  f"{singles} single-row requests within {tolerance:g}"))
        bad = []
        for case, method, path, body in _malformed(model, inputs):
            content = body if isinstance(body, bytes) else (
                json.dumps(body).encode() if body is not None else None)
            r = c.request(method, path, content=content,
                          headers={"content-type": "application/json"})
            reason = ""
            with contextlib.suppress(ValueError):
                doc = r.json()
                reason = str(doc.get("error", "")) if isinstance(doc, dict) else ""
            if not 400 <= r.status_code < 500 or not reason:
                bad.append(f"{case}: {r.status_code}")
        results.append(_check("refuses_malformed", not bad,
                              "; ".join(bad) or f"{len(_malformed(model, inputs))} "
                              "malformed requests answered 4xx with a reason"))
    return {"model": model, "version": version, "url": url,
            "passed": all(r["passed"] for r in results), "checks": results}


def record(engine: sa.Engine, report: dict[str, Any], model_digest: str) -> None:
    metadata.create_all(engine)
    with engine.begin() as c:
        c.execute(checks_table.insert().values(
            model=report["model"], version=report["version"], model_digest=model_digest,
            passed=report["passed"], report=report, at=time.time()))


def latest_check(engine: sa.Engine, model: str, model_digest: str) -> dict[str, Any] | None:
    """The newest staging check of this digest (None when there was none)."""
    if not sa.inspect(engine).has_table("staging_checks"):
        return None
    with engine.connect() as c:
        row = c.execute(sa.select(checks_table).where(
            checks_table.c.model == model, checks_table.c.model_digest == model_digest)
            .order_by(checks_table.c.id.desc())).first()
    return dict(row._mapping) if row is not None else None


def stage_and_check(project_root: Path, store_url: str | None, registry: Any, model: str,
                    version: int) -> dict[str, Any]:
    """Start the version on a loopback staging endpoint, run the checks, stop it."""
    from specops.runtime.serve.lean import LeanServer, build_service
    from specops.runtime.serve.served_model import ModelSource

    source = ModelSource(str(project_root), store_url, model, version)
    service = build_service(source, log=False, registry=registry)
    with LeanServer(service) as server:
        report = run_contract_tests(server.url, service.model.path, model, version,
                                    admitted=service.model.admitted)
    report["model_digest"] = service.model.model_digest
    return report


def staging_hook(gov: Any, model: str, version: int, environment: str) -> str | None:
    """Pre-deploy hook: deploying to staging runs and records the contract tests."""
    if environment != "staging" or not _ENFORCED.get():
        return None
    try:
        report = stage_and_check(gov.project_root, None, gov.registry, model, version)
    except Exception as exc:   # a model that cannot even start fails the check
        report = {"model": model, "version": version, "passed": False,
                  "checks": [_check("start", False, f"{type(exc).__name__}: {exc}")]}
        digest = gov.version(model, version).model_digest
    else:
        digest = report["model_digest"]
    record(gov.engine, report, digest)
    if report["passed"]:
        return None
    failed = [f"{c['name']} ({c['detail']})" for c in report["checks"] if not c["passed"]]
    return "staging contract tests failed: " + "; ".join(failed)


def require_staging_check(gov: Any, model: str, version: int,
                          past: list[dict[str, Any]]) -> str | None:
    """Production promotion check: a passed staging check of the same model digest."""
    if not _ENFORCED.get():
        return None
    digest = gov.version(model, version).model_digest
    last = latest_check(gov.engine, model, digest)
    if last is None:
        return (f"no staging check of digest {digest[:19]}…; deploy it to staging first "
                f"(specops deploy {model}@{version} --env staging)")
    if not last["passed"]:
        return f"the last staging check of digest {digest[:19]}… failed"
    return None


def install() -> None:
    """Register the hooks with governance (idempotent)."""
    from specops.runtime.governance.promotion import (
        PROMOTION_CHECKS,
        register_pre_deploy_hook,
        register_promotion_check,
    )

    register_pre_deploy_hook(staging_hook)
    if require_staging_check not in PROMOTION_CHECKS.get("production", []):
        register_promotion_check("production", require_staging_check)


@contextlib.contextmanager
def enforced() -> Iterator[None]:
    """Within this block, deploys run the staging check and production requires it."""
    install()
    token = _ENFORCED.set(True)
    try:
        yield
    finally:
        _ENFORCED.reset(token)
