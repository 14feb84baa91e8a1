"""Benchmark: single-row OIP requests against the lean server, Ray Serve and MLflow.

Workload: a HistGradientBoostingClassifier (income, age, region) trained, exported,
benchmarked and registered through specops' own ops in a temporary project. Each server
runs as its own process on 127.0.0.1; this process is the load generator: `--clients`
(32) keep-alive connections on raw asyncio sockets (a Python HTTP client would be the
bottleneck), each sending one single-row request after the previous answer, for
`--seconds` (20) or `--max-requests`, whichever comes first. Requests cycle through 256
real test rows. Latency is measured per request from send to the last byte received.

Servers:
- `lean`: `specops serve --server lean` (uvicorn + onnxruntime, prediction log on);
- `ray_<variant>`: `specops serve --server ray` on a local Ray, one entry per
  `--ray-variants` item (default `direct1,direct2,serve1,serve2`): `directN` = N replicas
  answering HTTP themselves on the shared port (`--ray-ingress direct`, the default),
  `serveN` = N Ray Serve replicas behind Serve's proxy (`--ray-ingress serve`); also
  `haproxy1` (Serve with RAY_SERVE_ENABLE_HA_PROXY=1: HAProxy in front of Serve's direct
  ingress), `throughput1` (RAY_SERVE_THROUGHPUT_OPTIMIZED=1) and `batch1` (@serve.batch
  16/2 ms); `ray_scaling` = direct2 / direct1 requests per second;
- each specops server's line has `cpu_cores`: cores used during the load per process
  group (loadgen, server, proxy, replica, controller, ray_system), read from /proc, to
  show where the time goes, and `cpu_ms_per_request` per group;
- baseline: `mlflow models serve --env-manager local` with the same fitted scikit-learn
  pipeline, from its own virtualenv `bench/.venvs/mlflow` (never a project dependency),
  which the bench makes when it is missing (`uv venv` + `uv pip install mlflow
  scikit-learn`, a few minutes once); `/invocations` with `dataframe_split`. A failure is
  reported as `baseline_error`.
- `metrics_update_us`: the per-request metric updates of one request (in-flight up and
  down, request counter and histogram, model histogram, rows), timed in this process.

Protocols (`--protocol`; Ray Serve's proxy takes json and binary, the lean server and
direct Ray replicas all three):
- `json`: OIP JSON tensors (the default);
- `binary`: the binary tensor data extension, as the Triton/KServe clients send by default
  (`Inference-Header-Content-Length`, raw FP32 and length-prefixed BYTES, outputs asked
  back as binary);
- `grpc`: OIP over gRPC (`specops serve --grpc-port`), `--clients` concurrent ModelInfer
  calls on one grpc.aio channel with raw input contents.

Prints one JSON line: `rps`, `p50_ms`, `p99_ms`, `errors` (lean server, the OIP
endpoint), `baseline_rps`, `ratio`, and `ray_*` / `<server>_*` for each server measured.

`--compare-ref REF` also runs the lean server from git ref REF, alternating with the current
one (`before_*` / `after_*`): a before/after of a change measured under the same load.

    uv run python bench/serve_load.py [--seconds 20] [--clients 32] [--skip-ray]
        [--protocol json|binary|grpc] [--ray-variants direct1,...] [--compare-ref REF]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
MLFLOW_VENV = HERE / ".venvs" / "mlflow"
MLFLOW_PY = MLFLOW_VENV / "bin" / "python"
LOOPBACK = "127.0.0.1"


# -- the model -------------------------------------------------------------------------
def build_model(root: Path) -> dict[str, Any]:
    """Train -> export -> benchmark -> register through the real ops."""
    import polars as pl

    from specops.runtime.engine.op_interface import OpContext
    from specops.runtime.registry import Registry
    from specops.runtime.registry.register import register
    from specops.runtime.training.benchmark import benchmark
    from specops.runtime.training.export_onnx import export_onnx
    from specops.runtime.training.train import train

    rng = np.random.default_rng(0)
    n = 4000
    income = rng.normal(50, 15, n)
    age = rng.integers(18, 80, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    y = ((income - 50) / 15 + (age - 50) / 30 + (region == "north") * 0.8
         + rng.normal(0, 0.7, n) > 0.3).astype(np.int64)
    df = pl.DataFrame({"id": np.arange(n), "ts": np.arange(n), "income": income, "age": age,
                       "region": region, "y": y})
    data = root / "training_set"
    data.mkdir(parents=True)
    df[:3000].write_parquet(data / "train.parquet")
    df[3000:].write_parquet(data / "test.parquet")
    inputs = [{"name": "income", "type": "float64", "role": "numeric"},
              {"name": "age", "type": "int64", "role": "numeric"},
              {"name": "region", "type": "string", "role": "categorical"}]
    (data / "schema.json").write_text(json.dumps({"inputs": inputs, "label": "y",
                                                  "entity": "id", "timestamp": "ts"}))

    def ctx(node: str, op: str, params: dict[str, Any], ins: dict[str, Path],
            extra: dict[str, Any] | None = None) -> OpContext:
        out = root / "work" / node.replace(":", "_")
        out.mkdir(parents=True, exist_ok=True)
        return OpContext(node, op, params, root, out, ins, "bench", "sha256:" + "0" * 64,
                         {}, extra or {})

    tr = ctx("train:credit", "train", {   # complete params, as the compiler writes them
        "task": "binary_classification", "label": {"name": "y", "type": "int64"},
        "inputs": inputs,
        "estimator": {"class": "HistGradientBoostingClassifier", "params": {"max_iter": 100},
                      "search": {}, "search_strategy": "grid", "n_iter": 10, "cv": 3,
                      "cv_strategy": "kfold", "seed": 7, "scoring": None}},
        {"training_set:credit": data})
    train(tr)
    ex = ctx("export_onnx:credit", "export_onnx",
             {"target_opset": 17, "float_type": "float32", "tolerance": 1e-4},
             {"train:credit": tr.out_dir, "training_set:credit": data})
    export_onnx(ex)
    bm = ctx("benchmark:credit", "benchmark", {"rows": 200, "repeats": 1, "test_rows": 100},
             {"export_onnx:credit": ex.out_dir, "train:credit": tr.out_dir,
              "training_set:credit": data})
    benchmark(bm)
    proj = root / "proj"
    if not os.environ.get("SPECOPS_REGISTRY_KEY"):   # the registry never makes a key itself
        from specops.runtime.trust.ssh_keys import create_keypair

        key = create_keypair(root / "keys", "pipeline")
        os.environ["SPECOPS_REGISTRY_KEY"] = str(key.path)   # servers inherit both
        os.environ["SPECOPS_REGISTRY_PUBKEYS"] = str(root / "keys" / "pipeline.pub")
    reg = Registry.open(proj)
    register(ctx("register:credit", "register",
                 {"model": "credit", "owner": "team:risk", "risk_tier": "high",
                  "task": "binary_classification"},
                 {"train:credit": tr.out_dir, "export_onnx:credit": ex.out_dir,
                  "benchmark:credit": bm.out_dir}, {"registry": reg}))
    reg.close()
    rows = pl.read_parquet(data / "test.parquet").head(256)
    return {"project": proj, "joblib": tr.out_dir / "model.joblib", "rows": rows}


# -- requests --------------------------------------------------------------------------
def _http(path: str, body: bytes, port: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def oip_requests(rows: Any, port: int) -> list[bytes]:
    out = []
    for r in rows.iter_rows(named=True):
        inc = None if r["income"] is None or r["income"] != r["income"] else r["income"]
        body = {"inputs": [
            {"name": "income", "datatype": "FP32", "shape": [1, 1], "data": [inc]},
            {"name": "age", "datatype": "FP32", "shape": [1, 1], "data": [float(r["age"])]},
            {"name": "region", "datatype": "BYTES", "shape": [1, 1], "data": [r["region"]]}]}
        out.append(_http("/v2/models/credit/infer", json.dumps(body).encode(), port))
    return out


def _row_values(r: dict[str, Any]) -> tuple[float, float, bytes]:
    inc = float("nan") if r["income"] is None else float(r["income"])
    return inc, float(r["age"]), str(r["region"]).encode()


def binary_requests(rows: Any, port: int) -> list[bytes]:
    """The binary tensor data extension: JSON header, then raw FP32 and BYTES."""
    import struct

    out = []
    for r in rows.iter_rows(named=True):
        inc, age, region = _row_values(r)
        blobs = [struct.pack("<f", inc), struct.pack("<f", age),
                 struct.pack("<I", len(region)) + region]
        head = json.dumps({
            "inputs": [{"name": n, "datatype": d, "shape": [1, 1],
                        "parameters": {"binary_data_size": len(b)}}
                       for (n, d), b in zip((("income", "FP32"), ("age", "FP32"),
                                             ("region", "BYTES")), blobs, strict=True)],
            "parameters": {"binary_data_output": True}}).encode()
        body = head + b"".join(blobs)
        out.append((f"POST /v2/models/credit/infer HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
                    f"Content-Type: application/octet-stream\r\n"
                    f"Inference-Header-Content-Length: {len(head)}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    return out


def grpc_requests(rows: Any) -> list[Any]:
    import struct

    from tritonclient.grpc import service_pb2

    out = []
    for r in rows.iter_rows(named=True):
        inc, age, region = _row_values(r)
        req = service_pb2.ModelInferRequest(model_name="credit")
        for name, dtype in (("income", "FP32"), ("age", "FP32"), ("region", "BYTES")):
            req.inputs.add(name=name, datatype=dtype, shape=[1, 1])
        req.raw_input_contents.extend([struct.pack("<f", inc), struct.pack("<f", age),
                                       struct.pack("<I", len(region)) + region])
        out.append(req)
    return out


async def _grpc_load(port: int, reqs: list[Any], clients: int, seconds: float,
                     max_requests: int) -> dict[str, Any]:
    import grpc
    from tritonclient.grpc import service_pb2_grpc

    lat: list[float] = []
    errors, budget = [0], [max_requests]
    async with grpc.aio.insecure_channel(f"{LOOPBACK}:{port}") as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)

        async def client(offset: int, stop_at: float) -> None:
            i = offset
            while time.perf_counter() < stop_at and budget[0] > 0:
                budget[0] -= 1
                t0 = time.perf_counter()
                try:
                    await stub.ModelInfer(reqs[i % len(reqs)])
                except grpc.aio.AioRpcError:
                    errors[0] += 1
                    continue
                finally:
                    i += 1
                lat.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*[client(k * 7, start + seconds) for k in range(clients)])
        elapsed = time.perf_counter() - start
    ms = np.asarray(lat) * 1000 if lat else np.asarray([np.nan])
    return {"rps": round(len(lat) / elapsed, 1), "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3), "errors": errors[0],
            "requests": len(lat)}


def mlflow_requests(rows: Any, port: int) -> list[bytes]:
    out = []
    for r in rows.iter_rows(named=True):
        body = {"dataframe_split": {"columns": ["income", "age", "region"],
                                    "data": [[r["income"], float(r["age"]), r["region"]]]}}
        out.append(_http("/invocations", json.dumps(body).encode(), port))
    return out


# -- the load generator ----------------------------------------------------------------
async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        low = line.lower()
        if low.startswith(b"content-length:"):
            length = int(low.split(b":", 1)[1])
        elif low.startswith(b"transfer-encoding:") and b"chunked" in low:
            chunked = True
    if length is not None:
        await reader.readexactly(length)
    elif chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _client(port: int, reqs: list[bytes], offset: int, stop_at: float,
                  budget: list[int], lat: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    i = offset
    try:
        while time.perf_counter() < stop_at and budget[0] > 0:
            budget[0] -= 1
            req = reqs[i % len(reqs)]
            i += 1
            t0 = time.perf_counter()
            try:
                writer.write(req)
                status = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors[0] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(LOOPBACK, port)
                continue
            lat.append(time.perf_counter() - t0)
            if status >= 300:
                errors[0] += 1
    finally:
        writer.close()


async def _load(port: int, reqs: list[bytes], clients: int, seconds: float,
                max_requests: int) -> dict[str, Any]:
    lat: list[float] = []
    errors, budget = [0], [max_requests]
    start = time.perf_counter()
    await asyncio.gather(*[_client(port, reqs, k * 7, start + seconds, budget, lat, errors)
                           for k in range(clients)])
    elapsed = time.perf_counter() - start
    ms = np.asarray(lat) * 1000 if lat else np.asarray([np.nan])
    return {"rps": round(len(lat) / elapsed, 1), "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3), "errors": errors[0],
            "requests": len(lat)}


def run_load(port: int, reqs: list[bytes], clients: int, seconds: float,
             max_requests: int) -> dict[str, Any]:
    try:
        import uvloop
        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    warm = runner(_load(port, reqs, 4, 1.0, 2000))   # connections, caches, JIT-free warmup
    del warm
    out: dict[str, Any] = runner(_load(port, reqs, clients, seconds, max_requests))
    return out


# -- where the CPU goes ----------------------------------------------------------------
_GROUPS = (("proxy", ("ProxyActor", "haproxy")), ("replica", ("ServeReplica", "LeanReplica")),
           ("controller", "ServeController"),
           ("ray_system", ("raylet", "gcs_server", "log_monitor", "dashboard", "monitor.py",
                           "runtime_env")))


def _cpu_snapshot(server_pid: int) -> dict[str, float]:
    """CPU seconds so far per group of processes (from /proc; Linux only)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(d.name)
        group = ("loadgen" if pid == os.getpid() else "server" if pid == server_pid
                 else None)
        for name, pats in _GROUPS:
            if group is None and any(p in cmd for p in ((pats,) if isinstance(pats, str)
                                                         else pats)):
                group = name
        if group is None:
            continue
        out[group] = out.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_share(before: dict[str, float], after: dict[str, float], seconds: float
              ) -> dict[str, float]:
    """Cores used per group during the measurement (1.0 = one core busy)."""
    return {k: round((after.get(k, 0.0) - before.get(k, 0.0)) / seconds, 2)
            for k in sorted(after) if after.get(k, 0.0) - before.get(k, 0.0) > 0.01}


# -- servers ---------------------------------------------------------------------------
def _wait_ready(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{LOOPBACK}:{port}{path}", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"server not ready after {timeout:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def measure_specops(project: Path, rows: Any, args: argparse.Namespace, server: str,
                    env: dict[str, str] | None = None, extra: list[str] | None = None,
                    log: Path | None = None) -> dict[str, Any]:
    port = _free_port()
    protocol = getattr(args, "protocol", "json")
    grpc_port = _free_port() if protocol == "grpc" else None
    cmd = [sys.executable, "-c", "import sys; from specops.compiler.cli.main import main; "
           "sys.exit(main())", "serve", "credit", "--project", str(project), "--port",
           str(port), "--server", server, *(extra or []),
           *(["--grpc-port", str(grpc_port)] if grpc_port else [])]
    with open(log or os.devnull, "wb") as out:
        proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            t0 = time.monotonic()
            _wait_ready(port, "/v2/models/credit/ready", proc, 180)
            started = time.monotonic() - t0
            before, t1 = _cpu_snapshot(proc.pid), time.monotonic()
            if grpc_port is not None:
                reqs = grpc_requests(rows)
                asyncio.run(_grpc_load(grpc_port, reqs, 4, 1.0, 2000))     # warm-up
                result = asyncio.run(_grpc_load(grpc_port, reqs, args.clients, args.seconds,
                                                args.max_requests))
            else:
                make = binary_requests if protocol == "binary" else oip_requests
                result = run_load(port, make(rows, port), args.clients, args.seconds,
                                  args.max_requests)
            result["cpu_cores"] = cores = cpu_share(before, _cpu_snapshot(proc.pid),
                                                    time.monotonic() - t1)
            if result["rps"]:
                result["cpu_ms_per_request"] = {k: round(v / result["rps"] * 1000, 3)
                                                for k, v in cores.items()}
            result["start_s"] = round(started, 1)
            return result
        finally:
            _stop(proc)


def ensure_mlflow() -> str | None:
    """Make `bench/.venvs/mlflow` when it is missing (as bench/pit_join.py does for Feast);
    returns why it could not, or None."""
    if MLFLOW_PY.exists():
        return None
    try:
        MLFLOW_VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["uv", "venv", "--python", sys.executable, str(MLFLOW_VENV)],
                       check=True, capture_output=True, text=True, timeout=600)
        subprocess.run(["uv", "pip", "install", "--python", str(MLFLOW_PY), "mlflow",
                        "scikit-learn"], check=True, capture_output=True, text=True,
                       timeout=1800)
    except (subprocess.SubprocessError, OSError) as exc:
        err = getattr(exc, "stderr", None) or str(exc)
        return f"making {MLFLOW_VENV} failed: " + str(err).strip()[-300:]
    return None


def measure_mlflow(joblib_path: Path, rows: Any, args: argparse.Namespace,
                   tmp: Path) -> dict[str, Any]:
    made = ensure_mlflow()
    if made is not None:
        return {"baseline_error": made}
    model_dir = tmp / "mlflow_model"
    # skops (MLflow 3's default format) refuses HistGradientBoosting's TreePredictor unless
    # it is trusted explicitly; this is our own freshly trained model, so trust its types.
    save = ("import joblib, mlflow.sklearn, skops.io as sio, sys; "
            "m = joblib.load(sys.argv[1]); "
            "mlflow.sklearn.save_model(m, sys.argv[2], serialization_format='skops', "
            "skops_trusted_types=sio.get_untrusted_types(data=sio.dumps(m)))")
    done = subprocess.run([str(MLFLOW_PY), "-c", save, str(joblib_path), str(model_dir)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        return {"baseline_error": "saving the model failed: " + done.stderr[-300:]}
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"file:{tmp}/mlruns"}
    env.pop("VIRTUAL_ENV", None)
    # MLflow execs `uvicorn` from PATH: it must be its venv's, not this project's
    path = [p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p]
    env["PATH"] = os.pathsep.join([str(MLFLOW_PY.parent), *path])
    cmd = [str(MLFLOW_PY.parent / "mlflow"), "models", "serve", "-m", str(model_dir),
           "-h", LOOPBACK, "-p", str(port), "--env-manager", "local"]
    with open(tmp / "mlflow.log", "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            _wait_ready(port, "/ping", proc, 180)
            return run_load(port, mlflow_requests(rows, port), args.clients, args.seconds,
                            args.max_requests)
        except RuntimeError as exc:
            tail = (tmp / "mlflow.log").read_text(errors="replace")[-300:]
            return {"baseline_error": f"{exc}: {tail}"}
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


_RAY_VARIANTS: dict[str, tuple[dict[str, str], list[str]]] = {
    "direct1": ({}, ["--ray-ingress", "direct", "--replicas", "1"]),
    "direct2": ({}, ["--ray-ingress", "direct", "--replicas", "2"]),
    "serve1": ({}, ["--ray-ingress", "serve", "--replicas", "1"]),
    "serve2": ({}, ["--ray-ingress", "serve", "--replicas", "2"]),
    "haproxy1": ({"RAY_SERVE_ENABLE_HA_PROXY": "1"},
                 ["--ray-ingress", "serve", "--replicas", "1"]),
    "throughput1": ({"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"},
                    ["--ray-ingress", "serve", "--replicas", "1"]),
    "batch1": ({}, ["--ray-ingress", "serve", "--replicas", "1", "--max-batch-size", "16",
                    "--batch-wait-ms", "2"]),
}


def measure_ray(built: dict[str, Any], args: argparse.Namespace, tmp: Path
                ) -> dict[str, Any]:
    """Each `--ray-variants` item as `ray_<variant>_*` keys, and the 2-replica scaling."""
    out: dict[str, Any] = {}
    for name in args.ray_variants.split(","):
        env, extra = _RAY_VARIANTS[name]
        key = f"ray_{name}"
        if args.protocol == "grpc" and "serve" in extra:
            out[f"{key}_error"] = "Ray Serve's proxy is measured over HTTP (json, binary)"
            continue
        try:
            r = measure_specops(built["project"], built["rows"], args, "ray", env, extra,
                                log=tmp / f"{key}.log")
        except RuntimeError as exc:
            r = {"error": str(exc)}
        out.update({f"{key}_{k}": v for k, v in r.items()})
    for kind in ("direct", "serve"):
        one, two = out.get(f"ray_{kind}1_rps"), out.get(f"ray_{kind}2_rps")
        if one and two:
            out[f"ray_{kind}_scaling"] = round(two / one, 2)
    return out


def compare_lean(built: dict[str, Any], args: argparse.Namespace, tmp: Path
                 ) -> dict[str, Any]:
    """The lean server at git ref `--compare-ref` and as checked out, alternately (two
    rounds each, same model, same load), so a before/after comes from one run on the same
    machine load: `before_rps` / `after_rps` are the rounds' means."""
    tree = tmp / "before"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", args.compare_ref,
                              "src", "compiler", "contract", "runtime", "specs", "schemas"],
                             check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    old = {"PYTHONPATH": str(tree / "src")}     # first on sys.path: the old package
    rounds: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for _ in range(2):
        for name, env in (("before", old), ("after", {})):
            rounds[name].append(measure_specops(built["project"], built["rows"], args,
                                                "lean", env, log=tmp / f"{name}.log"))
    out: dict[str, Any] = {"before_ref": args.compare_ref}
    for name, runs in rounds.items():
        out[f"{name}_rps"] = round(sum(r["rps"] for r in runs) / len(runs), 1)
        out[f"{name}_p99_ms"] = round(sum(r["p99_ms"] for r in runs) / len(runs), 3)
        out[f"{name}_rounds_rps"] = [r["rps"] for r in runs]
        out[f"{name}_server_cpu_ms"] = [r.get("cpu_ms_per_request", {}).get("server")
                                        for r in runs]
    return out


def metrics_update_us(n: int = 100_000) -> float:
    """Microseconds of one request's metric updates (the lean server's hot path)."""
    from specops.runtime.serve.prometheus import Metrics

    m = Metrics("credit", 1, "sha256:" + "0" * 64)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            m.in_flight(1)
            m.observe_model(0.0001)
            m.observe("infer", 200, 0.001, 1)
            m.in_flight(-1)
        best = min(best, (time.perf_counter() - t0) / n * 1e6)
    return round(best, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--max-requests", type=int, default=2_000_000)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--protocol", choices=["json", "binary", "grpc"], default="json",
                    help="request encoding (grpc: lean and direct Ray replicas)")
    ap.add_argument("--compare-ref", help="also run the lean server at this git ref, "
                    "alternating with the current one (before/after in one run)")
    ap.add_argument("--ray-variants", default="direct1,direct2,serve1,serve2",
                    help="comma-separated: " + ", ".join(_RAY_VARIANTS))
    args = ap.parse_args()
    report: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds,
                              "protocol": args.protocol,
                              "cpus": os.cpu_count(), "model": "HistGradientBoosting(100)",
                              "metrics_update_us": metrics_update_us()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        built = build_model(tmp)
        if args.compare_ref:
            report.update(compare_lean(built, args, tmp))
        lean = measure_specops(built["project"], built["rows"], args, "lean",
                               log=tmp / "lean.log")
        report.update(lean)
        logged = 0
        with contextlib.suppress(Exception):
            import polars as pl

            logged = sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in
                         (built["project"] / ".specops" / "predictions").rglob("*.parquet"))
        report["logged_rows"] = logged
        if not args.skip_ray:
            report.update(measure_ray(built, args, tmp))
        if not args.skip_baseline:
            base = measure_mlflow(built["joblib"], built["rows"], args, tmp)
            if "baseline_error" in base:
                report["baseline_error"] = base["baseline_error"]
            else:
                report.update({"baseline_rps": base["rps"], "baseline_p50_ms": base["p50_ms"],
                               "baseline_p99_ms": base["p99_ms"],
                               "baseline_errors": base["errors"]})
                report["ratio"] = round(report["rps"] / base["rps"], 1) if base["rps"] else None
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
