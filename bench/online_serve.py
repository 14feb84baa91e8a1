"""Benchmark: online serving by entity key + raw fields, Redis lookups; Feast side by side.

Workload: the credit-risk example (a request-time view of 4 features computed from the
request, the bureau view of 3 features from the online store, `region` as sent; a
HistGradientBoosting model of 8 inputs), generated and trained in a temporary project
with its timestamps shifted so the data ends a day before now (the bureau view's TTL is
365 days: un-shifted data would all be stale at the server's clock). Materialized into
Redis (`--redis-url`, key prefix `specops-bench:`), served by `specops serve credit_default
--features online --online-store URL` (lean server, prediction log on). The load generator
(bench/http_loadgen.py): wrk when it is installed (`apt-get install wrk`; C, a fraction of
the CPU of a Python client, which matters when it shares two cores with the server and
Redis), else raw asyncio sockets in this process (`--loadgen` forces one); `--clients`
(32) keep-alive connections, each sending one single-row `/predict` request (entity key
+ raw fields) after the previous answer, for `--seconds` (20), cycling through 256 real
applications. Both servers get the same generator (`load_generator` names it).
`server_cpu_us_per_request`: the server process's CPU (all threads, /proc) over the run
divided by the requests answered, a cost that does not depend on how busy the machine is
(`load_avg_before`/`_after` say how busy it was).

`parity`: the 256 requests answered one by one equal `specops predict` (batch scoring,
`add_features`' point-in-time join) on the same rows at the request time, bit for bit.

`--feast`: Feast's own feature server (`feast.feature_server.get_app`, FastAPI + uvicorn,
one process like the lean server) from its own environment `bench/.venvs/feast` (made
here with `uv venv` + `uv pip install feast[redis] onnxruntime`, never a project
dependency), on the same bureau values (the specops view's rows as a Feast FileSource,
`feast materialize` into the same Redis, db `--feast-db`), with a `/predict` route that
calls `store.get_online_features` for the 3 bureau features, computes the 4 request
features in Python by hand (favouring Feast: no on-demand view), and scores the same
ONNX file in that process. Same clients, rows and duration: `feast_rps`, `feast_p50_ms`,
`feast_p99_ms`, `feast_errors`, `feast_parity`, `feast_server_cpu_us_per_request`,
`ratio` = rps / feast_rps, `cpu_ratio` = Feast's server CPU per request / specops'.

`--features-only`: no servers; the request-time views of one request computed by the
compiled closures vs one polars `select` over a micro-batch frame, for 1..1024 rows
(`closures_us`, `polars_us` per batch), which is why `OnlineVector` uses closures below
`POLARS_FROM_ROWS` rows.

    uv run python bench/online_serve.py [--seconds 20] [--clients 32] [--feast]
        [--project DIR] [--features-only] [--loadgen auto|wrk|python]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from http_loadgen import load  # noqa: E402  (the load generator beside this file)

EXAMPLE = HERE.parent / "examples" / "credit-risk"
VENV = HERE / ".venvs" / "feast"
LOOPBACK = "127.0.0.1"
MODEL = "credit_default"


def _env() -> dict[str, str]:
    drop = ("SPECOPS_REGISTRY_KEY", "SPECOPS_REGISTRY_PUBKEYS", "SPECOPS_USER", "SPECOPS_KEY",
            "SPECOPS_STORE_URL", "SPECOPS_ONLINE_STORE")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _specops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "specops.compiler.cli.main", *args],
                          cwd=cwd, env=_env(), capture_output=True, text=True, timeout=1800)


def _shift(data: Path) -> None:
    """Move every timestamp so the data ends one day before now."""
    import polars as pl

    files = sorted(data.rglob("*.parquet"))
    frames = {f: pl.read_parquet(f) for f in files}
    latest = max(df.get_column(c).max() for df in frames.values() for c in df.columns
                 if isinstance(df.schema[c], pl.Datetime))
    delta = int(time.time() * 1e6) - 86_400_000_000 - int(latest.timestamp() * 1e6)
    for f, df in frames.items():
        df.with_columns(pl.col(c) + pl.duration(microseconds=delta) for c in df.columns
                        if isinstance(df.schema[c], pl.Datetime)).write_parquet(f)


def build_project(root: Path) -> Path:
    """The credit-risk example, data shifted to now, trained and registered."""
    import importlib.util

    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(
        "data", ".keys", ".specops", "trust.lock.json", "__pycache__"))
    spec = importlib.util.spec_from_file_location("gen", EXAMPLE / "generate_data.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.generate(root / "data")
    _shift(root / "data")
    run = _specops("run", "--executor", "inline", "--quiet", cwd=root)
    if run.returncode != 0:
        raise SystemExit(f"training failed: {run.stdout[-2000:]}{run.stderr[-2000:]}")
    return root


def from_trained(trained: Path, root: Path) -> Path:
    """A copy of an already trained credit-risk project (`specops run` done), its data
    shifted to now: the registered model is unchanged (it never sees absolute times),
    materialize and batch scoring recompute the views from the shifted sources."""
    shutil.copytree(trained, root, symlinks=True)
    _shift(root / "data")
    return root


def _plan(root: Path) -> Any:
    from specops.compiler.plan.compile import compile_project
    from specops.runtime.engine.plan_reader import parse_plan

    compiled = compile_project(root)
    assert compiled.plan is not None
    return parse_plan(compiled.plan.data)


def request_rows(root: Path, n: int = 256) -> Any:
    """n applications, each its applicant's latest (what the offline join finds now)."""
    import polars as pl

    apps = pl.read_parquet(root / "data" / "applications.parquet").sort("applied_at")
    latest = apps.group_by("applicant_id").agg(pl.col("application_id").last())
    return apps.join(latest, on=["applicant_id", "application_id"]).tail(n)


FIELDS = ["applicant_id", "employment_years", "income", "loan_amount", "region", "term_months"]


def _record(r: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(r[k], float) and r[k] != r[k] else r[k]) for k in FIELDS}


def _wait(port: int, proc: subprocess.Popen[bytes], path: str, timeout: float = 120) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited with {proc.returncode} (its serve.log)")
        try:
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"server on {port} did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _one_by_one(port: int, path: str, records: list[dict[str, Any]]) -> list[float]:
    import http.client

    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    out = []
    for rec in records:
        conn.request("POST", path, json.dumps(rec), {"Content-Type": "application/json"})
        doc = json.loads(conn.getresponse().read())
        out.append(float(doc["predictions"][0]["probabilities"]["1"]))
    return out


def _batch_scores(root: Path, rows: Any, at_us: int) -> np.ndarray:
    import polars as pl

    from specops.runtime.serve.batch import predict_file
    from specops.runtime.serve.served_model import resolve

    src = root / "parity-in.parquet"
    rows.with_columns(pl.lit(at_us).cast(pl.Datetime("us", "UTC")).alias("applied_at")
                      ).write_parquet(src)
    store = f"sqlite:///{root / '.specops/store.db'}"
    predict_file(resolve(root, store, MODEL, None), src, root / "parity-out.parquet",
                 plan=_plan(root), store_url=store)
    out = pl.read_parquet(root / "parity-out.parquet")
    return out.get_column("probability_1").to_numpy().astype(np.float32)


def run_specops(root: Path, url: str, rows: Any, args: argparse.Namespace) -> dict[str, Any]:
    from specops.runtime.serve.lean import free_port
    from specops.runtime.store.online import open_online_store
    from specops.runtime.store.online.materialize import materialize

    store = open_online_store(url, root)
    store.clear()   # type: ignore[attr-defined]
    t0 = time.perf_counter()
    reports = materialize(_plan(root), root, store)
    store.close()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "specops.compiler.cli.main", "serve", MODEL,
                             "--project", str(root), "--features", "online",
                             "--online-store", url, "--port", str(port),
                             "--workers", str(args.workers),
                             *(["--no-log"] if args.no_log else [])],
                            cwd=root, env=_env(), stderr=(root / "serve.log").open("wb"))
    try:
        _wait(port, proc, f"/v2/models/{MODEL}/ready")
        records = [_record(r) for r in rows.iter_rows(named=True)]
        at = int(time.time() * 1e6)
        online = np.array(_one_by_one(port, f"/v2/models/{MODEL}/predict", records),
                          dtype=np.float32)
        parity = bool(np.array_equal(online, _batch_scores(root, rows, at)))
        res = load(port, f"/v2/models/{MODEL}/predict",
                   [json.dumps(r).encode() for r in records], args.clients, args.seconds,
                   proc.pid, args.loadgen)
    finally:
        _stop(proc)
    return {**res, "parity": parity, "materialize_s": round(time.perf_counter() - t0, 2),
            "entities": sum(r.entities for r in reports)}


FEAST_REPO = """project: specops_bench
registry: {registry}
provider: local
online_store:
  type: redis
  connection_string: "{redis}"
offline_store:
  type: file
entity_key_serialization_version: 3
"""

FEAST_DEFS = """
from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64
applicant = Entity(name="applicant", join_keys=["applicant_id"])
source = FileSource(path={path!r}, timestamp_field="reported_at",
                    created_timestamp_column="created_at")
bureau = FeatureView(name="bureau_history", entities=[applicant], ttl=timedelta(days=365),
                     schema=[Field(name="late_12m", dtype=Int64),
                             Field(name="open_accounts", dtype=Int64),
                             Field(name="utilization", dtype=Float64)],
                     source=source, online=True)
"""

FEAST_SERVER = r'''
import json, math, sys
from datetime import datetime, timezone
import numpy as np, onnxruntime as ort, uvicorn
from fastapi import Request
from feast import FeatureStore
from feast.feature_server import get_app
repo, port, model, inputs = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
store = FeatureStore(repo_path=repo)
if sys.argv[5] == "materialize":
    store.apply([__import__("defs").applicant, __import__("defs").bureau])
    store.materialize(datetime(2000, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc))
    sys.exit(0)
app = get_app(store)
opts = ort.SessionOptions(); opts.intra_op_num_threads = 1; opts.inter_op_num_threads = 1
opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
sess = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
outs = [o.name for o in sess.get_outputs()]
FEATS = ["bureau_history:late_12m", "bureau_history:open_accounts", "bureau_history:utilization"]

@app.post("/predict")
def predict(body: dict) -> dict:
    got = store.get_online_features(features=FEATS,
                                    entity_rows=[{"applicant_id": body["applicant_id"]}]).to_dict()
    inc = body["income"]
    vals = {"log_income": None if inc is None or inc <= -1 else math.log1p(inc),
            "loan_to_income": None if inc is None or inc + 1 == 0
            else body["loan_amount"] / (inc + 1),
            "term_months": body["term_months"],
            "employment_years": 0.0 if body["employment_years"] is None
            else body["employment_years"],
            "region": body["region"], "late_12m": got["late_12m"][0],
            "open_accounts": got["open_accounts"][0], "utilization": got["utilization"][0]}
    feeds = {}
    for name, role in inputs:
        v = vals[name]
        feeds[name] = (np.array([[np.nan if v is None else v]], dtype=np.float64).astype(np.float32)
                       if role == "numeric" else np.array([["__missing__" if v is None else v]],
                                                          dtype=object))
    label, proba = sess.run(outs, feeds)
    return {"predictions": [{"label": int(label[0]),
                             "probabilities": {"0": float(proba[0][0]),
                                               "1": float(proba[0][1])}}]}

uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
'''


def _feast_env() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run(["uv", "venv", "--python", sys.executable, str(VENV)], check=True,
                       capture_output=True)
    probe = subprocess.run([str(py), "-c", "import feast, redis, onnxruntime, uvicorn"],
                           capture_output=True)
    if probe.returncode != 0:
        subprocess.run(["uv", "pip", "install", "--python", str(py), "feast[redis]",
                        "onnxruntime", "uvicorn"], check=True, capture_output=True)
    return py


def run_feast(root: Path, redis_url: str, db: int, rows: Any, online_scores: Any,
              args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    from specops.runtime.engine.run_loop import execute_plan
    from specops.runtime.serve.lean import free_port
    from specops.runtime.serve.served_model import load_model, resolve

    py = _feast_env()
    plan = _plan(root)
    res = execute_plan(plan, root, select=["features:bureau_history@2"], executor="inline")
    view = pl.read_parquet(res.nodes["features:bureau_history@2"].path / "features.parquet")
    repo = root / "feast_repo"
    repo.mkdir(exist_ok=True)
    view.write_parquet(repo / "bureau.parquet")
    host = redis_url.split("://", 1)[1].split("/")[0]
    (repo / "feature_store.yaml").write_text(FEAST_REPO.format(
        registry=repo / "registry.db", redis=f"{host},db={db}"))
    (repo / "defs.py").write_text(FEAST_DEFS.format(path=str(repo / "bureau.parquet")))
    (repo / "server.py").write_text(FEAST_SERVER)
    model = load_model(resolve(root, f"sqlite:///{root / '.specops/store.db'}", MODEL, None))
    inputs = json.dumps([[f.name, f.role] for f in model.features])
    onnx = str(model.path / "model.onnx")
    env = {**_env(), "PYTHONPATH": str(repo)}
    mat = subprocess.run([str(py), str(repo / "server.py"), str(repo), "0", onnx, inputs,
                          "materialize"], env=env, capture_output=True, text=True, cwd=repo)
    if mat.returncode != 0:
        return {"feast_error": (mat.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    port = free_port()
    proc = subprocess.Popen([str(py), str(repo / "server.py"), str(repo), str(port), onnx,
                             inputs, "serve"], env=env, cwd=repo,
                            stderr=(repo / "serve.log").open("wb"))
    try:
        _wait(port, proc, "/health")
        records = [_record(r) for r in rows.iter_rows(named=True)]
        feast_scores = np.array(_one_by_one(port, "/predict", records), dtype=np.float32)
        res_load = load(port, "/predict", [json.dumps(r).encode() for r in records],
                        args.clients, args.seconds, proc.pid, args.loadgen)
    finally:
        _stop(proc)
    return {f"feast_{k}": v for k, v in res_load.items()} | {
        "feast_parity": bool(np.array_equal(feast_scores, online_scores))}


def features_only(root: Path) -> dict[str, Any]:
    """Closures vs one polars select for the request-time views, 1..1024 rows."""
    from specops.runtime.serve.features import OnlineVector, raw_signature
    from specops.runtime.serve.served_model import load_model, resolve

    plan = _plan(root)
    model = load_model(resolve(root, f"sqlite:///{root / '.specops/store.db'}", MODEL, None))
    sig = raw_signature(plan, MODEL, [f.name for f in model.features])
    vec = OnlineVector(sig, model.features, store=None)
    base = [_record(r) for r in request_rows(root, 1024).iter_rows(named=True)]
    out: dict[str, Any] = {"rows": [], "closures_us": [], "polars_us": []}
    for n in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024):
        rows = base[:n]
        reps = max(20, 2000 // n)

        def closures(rows: list[dict[str, Any]] = rows) -> None:
            for _, fn in vec._request_fns:
                [fn(r) for r in rows]

        def polars(rows: list[dict[str, Any]] = rows) -> None:
            vec._polars(rows)

        for key, fn in (("closures_us", closures), ("polars_us", polars)):
            fn()
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            out[key].append(round((time.perf_counter() - t0) / reps * 1e6, 1))
        out["rows"].append(n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--redis-url", default=os.environ.get("SPECOPS_TEST_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))
    ap.add_argument("--feast-db", type=int, default=1, help="Redis db of Feast's store")
    ap.add_argument("--feast", action="store_true")
    ap.add_argument("--project", help="build the project here, or reuse it if an earlier "
                    "run built it")
    ap.add_argument("--trained", help="copy this trained credit-risk project (after "
                    "`specops run examples/credit-risk`) instead of training one")
    ap.add_argument("--features-only", action="store_true")
    ap.add_argument("--no-log", action="store_true",
                    help="serve without the prediction log (what the log costs)")
    ap.add_argument("--workers", type=int, default=1,
                    help="specops serve --workers (lean processes sharing the port)")
    ap.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                    help="auto: wrk when installed (both servers get the same one)")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="online-bench-"))
    if a.project and (Path(a.project) / ".specops").is_dir():
        root = Path(a.project)      # built by an earlier run
    elif a.trained:
        root = from_trained(Path(a.trained), Path(a.project) if a.project
                            else tmp / "credit-risk")
    else:
        root = build_project(Path(a.project) if a.project else tmp / "credit-risk")
    if a.features_only:
        print(json.dumps(features_only(root)))
        return
    rows = request_rows(root)
    url = f"{a.redis_url}{'&' if '?' in a.redis_url else '?'}prefix=specops-bench:"
    res: dict[str, Any] = {"clients": a.clients, "seconds": a.seconds, "rows": rows.height,
                           "cores": os.cpu_count(),
                           "load_avg_before": round(os.getloadavg()[0], 2)}
    res.update(run_specops(root, url, rows, a))
    if a.feast:
        records = [_record(r) for r in rows.iter_rows(named=True)]
        del records
        scores = _batch_scores(root, rows, int(time.time() * 1e6))
        fr = run_feast(root, a.redis_url, a.feast_db, rows, scores, a)
        res.update(fr)
        if fr.get("feast_rps"):
            res["ratio"] = round(res["rps"] / fr["feast_rps"], 1)
            if fr.get("feast_server_cpu_us_per_request") and res.get("server_cpu_us_per_request"):
                res["cpu_ratio"] = round(fr["feast_server_cpu_us_per_request"]
                                         / res["server_cpu_us_per_request"], 1)
    res["load_avg_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
