"""`specops serve` and `specops predict`; also makes `specops deploy` run the staging check.

Why these commands compile (through the compiler's public API, like `specops run`):
replicas, batching and the prediction-log switch live in the model spec's `serving` block,
and batch scoring needs the model's feature views; both are read from the plan (`--plan
plan.json`, else the project compiled now; specs that do not compile give the defaults).

Exit codes: 0 served until stopped / scored; 1 refused (the version fails verification,
is not deployed to `--env`, or the staging check failed) with one line saying why; 2 a
usage mistake.

`deploy` wrapping: `extend` (called after every command module registered) wraps the
governance `deploy` command in `staging.enforced()`, so `specops deploy M@V --env staging`
starts the model on a loopback staging endpoint and records the contract tests, and
`--env production` requires a passed check of the same digest (runtime/serve/staging.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specops.runtime.cli.support import (
    NotCompiled,
    fail,
    plan_for,
    project_setting,
    refused,
    store_url,
)

__all__ = ["cmd_predict", "cmd_serve", "extend", "register"]


def _plan(root: Path, args: argparse.Namespace) -> Any:
    """The project's plan (None when there is no way to get one)."""
    try:
        return plan_for(root, args, "serve", report=False)
    except NotCompiled:
        print("specops: warning: the specs do not compile; using serving defaults "
              "(run `specops lint` to see why)", file=sys.stderr)
        return None


def _source(args: argparse.Namespace, root: Path, threads: int) -> Any:
    import sqlalchemy as sa

    from specops.runtime.serve.served_model import ModelRefused, resolve

    url = store_url(args, root)
    try:
        return resolve(root, url, args.ref, args.env, project_setting(root, "artifacts"),
                       threads)
    except ModelRefused:
        raise
    except ValueError as exc:
        raise fail(str(exc)) from None
    except sa.exc.SQLAlchemyError as exc:   # e.g. a store folder that does not exist
        raise fail(f"cannot open the store {url}: {str(exc).splitlines()[0]}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    from specops.runtime.serve.served_model import ModelRefused, load_model

    root = Path(args.project or ".").resolve()
    try:
        source = _source(args, root, args.threads)
        load_model(source)   # verify here: a refusal is one line, before any server starts
    except ModelRefused as exc:
        return refused(str(exc))
    plan = _plan(root, args)
    serving = dict((plan.models.get(source.model) or {}).get("serving") or {}) if plan else {}
    if args.replicas:
        serving["replicas"] = args.replicas
    if args.max_batch_size:
        serving["batching"] = {"max_batch_size": args.max_batch_size,
                               "wait_ms": args.batch_wait_ms}
    log = serving.get("log_predictions", True) and not args.no_log
    server = args.server or ("ray" if args.address else "lean")
    if args.workers < 1:
        raise fail(f"--workers needs at least 1, not {args.workers}")
    if args.workers > 1 and server != "lean":
        raise fail("--workers runs lean processes: for Ray use --replicas")
    if args.features == "online" and server != "lean":
        raise fail("--features online is served by the lean server only (drop --server ray)")
    if args.grpc_port is not None:     # direct Ray replicas run the lean server's gRPC too
        _require_grpc(server if args.ray_ingress == "serve" else "lean")
    print(f"specops: serving {source.model}@{source.version} ({server}) on "
          f"http://{args.host}:{args.port}/v2/models/{source.model}"
          + ("" if log else " (prediction log off)"), file=sys.stderr)
    if server == "ray":
        from specops.runtime.engine.executors import ExecutorError
        from specops.runtime.serve.ray_serve import run_ray_serve

        try:
            run_ray_serve(source, serving, args.host, args.port, args.address, log,
                          ingress=args.ray_ingress, grpc_port=args.grpc_port)
        except ExecutorError as exc:     # Ray did not start: one line, exit 2
            raise fail(str(exc)) from None
        return 0
    if args.workers > 1:
        return _serve_workers(args, root, log)
    from specops.runtime.serve.lean import serve_lean
    from specops.runtime.serve.traffic import build_routed_service  # canary / shadow

    service = _with_features(build_routed_service(source, log=log), args, root, plan)
    serve_lean(service, args.host, args.port, args.grpc_port)
    return 0


def _serve_workers(args: argparse.Namespace, root: Path, log: bool) -> int:
    """`--workers N`: N lean processes on one port, each with its own SO_REUSEPORT socket,
    so the kernel spreads connections over them.

    Why processes: one lean process is one event loop on one core; with the online
    features' per-request Python work (request views, store lookups, the vector) one
    process saturates a core before two cores are busy. Each worker admits and verifies
    the model itself, has its own prediction log files (pid in the name), online store
    connection and /metrics (per process, as for Ray replicas). A worker that dies is not
    restarted; the others keep serving."""
    import multiprocessing as mp

    from specops.runtime.serve.lean import listen_socket

    if args.grpc_port is not None:
        raise fail("--grpc-port is served by one process: drop --workers")
    try:   # bound before any worker starts, so a taken port fails in one line here
        sock = listen_socket(args.host, args.port, reuse_port=True)
    except OSError as exc:
        raise fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    ctx = mp.get_context("spawn")   # fresh interpreters: no onnxruntime or threads forked
    ready = [ctx.Event() for _ in range(1, args.workers)]
    children = [ctx.Process(target=_worker, args=(args, str(root), log, None, event),
                            name=f"specops-serve-{i}", daemon=False)
                for i, event in enumerate(ready, 1)]
    for child in children:
        child.start()
    try:
        _worker(args, str(root), log, sock, None, list(zip(children, ready, strict=True)))
    finally:
        for child in children:
            child.terminate()        # SIGTERM: uvicorn shuts down and flushes its log
        for child in children:
            child.join(timeout=30)
    return 0


def _die_with_parent() -> None:
    """Ask Linux to send this worker SIGTERM when the first process ends, however it ends
    (uvicorn re-raises the signal that stopped it, so no `finally` of the first process
    runs): the worker then shuts down as on Ctrl-C and flushes its prediction log."""
    import ctypes
    import signal

    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):   # not Linux: the first process's `finally` only
        return
    if os.getppid() != parent:          # it ended before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker(args: argparse.Namespace, root: str, log: bool, sock: Any = None,
            ready: Any = None, others: list[tuple[Any, Any]] | None = None) -> None:
    """One `--workers` process: build and serve its own service on the shared port.
    A child sets `ready` once it can serve; the first process (`others`: the children
    and their events) starts serving only when every child is ready, so `/ready` means
    all workers are up."""
    from specops.runtime.serve.lean import listen_socket, serve_lean
    from specops.runtime.serve.traffic import build_routed_service

    if ready is not None:
        _die_with_parent()
    project = Path(root)
    source = _source(args, project, args.threads)
    plan = _plan(project, args)
    service = _with_features(build_routed_service(source, log=log), args, project, plan)
    if sock is None:
        sock = listen_socket(args.host, args.port, reuse_port=True)
    if ready is not None:
        ready.set()
    for child, event in others or []:
        while not event.wait(0.5):
            if not child.is_alive():
                service.close()
                raise fail(f"--workers: {child.name} exited ({child.exitcode}) before "
                           "serving; its error is above")
    serve_lean(service, args.host, args.port, None, sockets=[sock])


def _with_features(service: Any, args: argparse.Namespace, root: Path, plan: Any) -> Any:
    """`--features online`: raw fields + entity keys in, features computed by the server
    (runtime/serve/features); refused in one line when the plan cannot derive them."""
    if args.features != "online":
        return service
    from specops.runtime.serve.features import RawSignatureError, enable_online
    from specops.runtime.store.online import OnlineStoreError, resolve_online_url

    url = resolve_online_url(args.online_store, root)
    try:
        online = enable_online(service, plan, root, url)
    except (RawSignatureError, OnlineStoreError) as exc:
        service.close()
        raise fail(f"--features online: {exc}") from None
    empty = [v.key for v in online.vector.sig.entity_views
             if online.vector.store.watermark(v.key) is None]
    if empty:
        print(f"specops: warning: nothing materialized yet for {', '.join(empty)} in "
              f"{url or 'the embedded online store'}: their features are null until "
              "`specops materialize` or `specops push`", file=sys.stderr)
    return service


def cmd_predict(args: argparse.Namespace) -> int:
    from specops.runtime.serve.batch import BatchError, predict_file
    from specops.runtime.serve.served_model import ModelRefused

    root = Path(args.project or ".").resolve()
    try:
        source = _source(args, root, 1)
        plan = _plan(root, args)
        mapper = None
        executor = None
        if args.executor == "ray":
            from specops.runtime.engine.executors.ray_executor import RayExecutor, ray_map

            executor = RayExecutor(args.address)
            executor.init()
            mapper = ray_map
        try:
            summary = predict_file(source, Path(args.input), Path(args.output), plan=plan,
                                   store_url=source.store_url,
                                   keep=args.keep.split(",") if args.keep else None,
                                   partitions=args.partitions, mapper=mapper)
        finally:
            if executor is not None:
                executor.finalize()
    except ModelRefused as exc:
        return refused(str(exc))
    except BatchError as exc:
        raise fail(str(exc)) from None
    print(json.dumps(summary, sort_keys=True))
    return 0


def _with_staging(func: Callable[[argparse.Namespace], int]
                  ) -> Callable[[argparse.Namespace], int]:
    def deploy_with_staging_check(args: argparse.Namespace) -> int:
        from specops.runtime.serve.staging import enforced

        with enforced():
            return func(args)

    return deploy_with_staging_check


def _require_grpc(server: str) -> None:
    """Fail in one line, before anything starts, when `--grpc-port` cannot be honoured:
    the KServe stubs come from tritonclient (see runtime/serve/wire/grpc_server.py)."""
    if server != "lean":
        raise fail("--grpc-port is not served through Ray Serve's proxy: the lean server "
                   "only, or --server ray --ray-ingress direct")
    if _no_module("grpc") or _no_module("tritonclient.grpc"):
        raise fail("--grpc-port needs grpcio and the KServe stubs of tritonclient: "
                   "pip install 'tritonclient[grpc]'")


def _no_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is None
    except ModuleNotFoundError:
        return True


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `serve` and `predict` (imports nothing heavy: the parser is built for every
    command)."""
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("ref", metavar="MODEL[@VERSION]")
        p.add_argument("--env", choices=["staging", "production"],
                       help="serve only the version deployed to this environment")
        p.add_argument("--project", help="project folder (default: .)")
        p.add_argument("--store", help="store URL (default: the project's)")
        p.add_argument("--plan", help="read serving settings and features from this plan")
        p.add_argument("--address", help="join this Ray cluster instead of a local Ray")
        add_common(p)

    p = sub.add_parser("serve", help="serve a registry version over the Open Inference "
                       "Protocol (lean uvicorn server or Ray Serve)")
    common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, help="also serve OIP over gRPC on this port "
                   "(lean server; KServe's inference.GRPCInferenceService)")
    p.add_argument("--server", choices=["lean", "ray"],
                   help="lean: one uvicorn process (default); ray: Ray Serve replicas "
                   "(default with --address)")
    p.add_argument("--replicas", type=int, help="Ray replicas (default: the spec's)")
    p.add_argument("--ray-ingress", choices=["direct", "serve"], default="direct",
                   help="direct: each replica answers HTTP on the port itself (default, "
                   "fastest); serve: Ray Serve's proxy and deployment")
    p.add_argument("--max-batch-size", type=int, help="@serve.batch size (default: spec's)")
    p.add_argument("--batch-wait-ms", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=1,
                   help="CPUs per replica = onnxruntime intra-op threads (default 1)")
    p.add_argument("--workers", type=int, default=1,
                   help="lean server processes sharing the port (SO_REUSEPORT; default 1)")
    p.add_argument("--no-log", action="store_true", help="do not write the prediction log")
    p.add_argument("--features", choices=["derived", "online"], default="derived",
                   help="derived: requests carry the model's inputs (default); online: raw "
                   "fields + entity keys, features computed by the server from the specs "
                   "and the online store")
    p.add_argument("--online-store", metavar="URL", help="online store for --features "
                   "online (default: $SPECOPS_ONLINE_STORE, specops.yaml online_store, "
                   "else the embedded SQLite)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("predict", help="batch-score a parquet/csv file with a registry "
                       "version (features computed from the plan where missing)")
    common(p)
    p.add_argument("--input", "-i", required=True, help="parquet/csv file, folder or glob")
    p.add_argument("--output", "-o", required=True, help="output .parquet or .csv")
    p.add_argument("--executor", choices=["ray", "inline"], default="ray")
    p.add_argument("--partitions", type=int, help="partitions scored in parallel")
    p.add_argument("--keep", help="input columns to keep, comma-separated (default: the "
                   "training spine's entity and timestamp)")
    p.set_defaults(func=cmd_predict)


def extend(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Wrap `deploy` with the staging check, when a module registered it."""
    deploy = getattr(sub, "choices", {}).get("deploy")
    if deploy is not None and deploy.get_default("func") is not None:
        deploy.set_defaults(func=_with_staging(deploy.get_default("func")))
