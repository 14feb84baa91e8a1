"""`execute_plan`: the run loop that ties plan, scheduler, cache, executor and store.

Why the driver does the caching and the bookkeeping (not the workers): the cache decision
needs the store and the artifact index, and keeping it in one process makes a run's
history a straight sequence of committed facts. Each finished node is committed (artifact
moved into place, cache entry + lineage written) before anything depends on it, so a
driver killed at any instant leaves a store from which the next `specops run` recomputes
only the nodes that had not finished.

Cache key of a node = sha256(fingerprint, {input node id: input artifact digest}); an entry
under that key is reused only if the external files the op read last time (its
`data_hashes`) still hash the same, and its artifact still verifies.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specops.runtime.engine.artifacts import ArtifactStore
from specops.runtime.engine.datahash import HashMemo, hash_path
from specops.runtime.engine.executors import (
    Executor,
    ExecutorError,
    Task,
    TaskOutcome,
    make_executor,
)
from specops.runtime.engine.op_interface import OpContext
from specops.runtime.engine.op_registry import check_ops
from specops.runtime.engine.plan_reader import Node, Plan, PlanError
from specops.runtime.engine.progress import Progress
from specops.runtime.engine.scheduler import NodeState, Scheduler
from specops.runtime.registry.registry import Registry
from specops.runtime.registry.state import STATEFUL_OPS, registry_state, still_registered
from specops.runtime.store import Store

__all__ = ["NodeOutcome", "RunResult", "cache_key", "execute_plan", "new_run_id"]


@dataclass
class NodeOutcome:
    node_id: str
    op: str
    status: str                       # done | failed | skipped
    cache_hit: bool = False
    digest: str | None = None
    path: Path | None = None          # the output directory (done nodes)
    duration_s: float | None = None
    attempts: int = 0
    cause: str = ""                   # failed: the error; skipped: which node failed
    failure_kind: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["node"] = d.pop("node_id")
        d["path"] = str(self.path) if self.path else None
        return d


@dataclass
class RunResult:
    run_id: str
    status: str                       # succeeded | failed | interrupted
    nodes: dict[str, NodeOutcome]
    duration_s: float
    store_url: str
    artifacts_root: Path

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @property
    def failed(self) -> list[NodeOutcome]:
        return [o for o in self.nodes.values() if o.status == "failed"]

    def digests(self) -> dict[str, str | None]:
        return {nid: o.digest for nid, o in self.nodes.items()}

    def counts(self) -> dict[str, int]:
        c = {"done": 0, "cached": 0, "failed": 0, "skipped": 0}
        for o in self.nodes.values():
            c["cached" if o.cache_hit else o.status] += 1
        return c


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def cache_key(fingerprint: str, input_digests: dict[str, str]) -> str:
    body = json.dumps({"fingerprint": fingerprint, "inputs": input_digests}, sort_keys=True)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


class _Run:
    """One execution of a plan; `execute_plan` is its only user."""

    def __init__(self, plan: Plan, root: Path, ids: list[str], executor: Executor,
                 store: Store, artifacts: ArtifactStore, progress: Progress,
                 run_id: str) -> None:
        self.plan, self.root, self.ids = plan, root, ids
        self.nodes = plan.by_id
        self.executor, self.store, self.artifacts = executor, store, artifacts
        self.progress, self.run_id = progress, run_id
        self.sched = Scheduler({i: self.nodes[i].inputs for i in ids})
        self.digests: dict[str, str] = {}
        self.outcomes: dict[str, NodeOutcome] = {}
        self.staging: dict[str, Path] = {}
        self.memo = HashMemo()
        self.registry: Registry | None = None
        self.artifacts_root = Path(artifacts.root)

    # -- cache ---------------------------------------------------------------------------
    def _key(self, node: Node) -> tuple[str, dict[str, str]]:
        inputs = {i: self.digests[i] for i in node.inputs}
        keyed = dict(inputs)
        if node.op in STATEFUL_OPS:   # results depend on the registry, not just inputs
            state = registry_state(self._registry(), node.id.split(":")[1], node.op)
            if state is not None:
                keyed["registry:state"] = state
        return cache_key(node.fingerprint, keyed), inputs

    def _registry(self) -> Registry:
        if self.registry is None:
            self.registry = Registry(self.store.engine, self.artifacts_root / "registry",
                                     self.root / ".specops" / "keys")
        return self.registry

    def _lookup(self, node: Node, key: str) -> dict[str, Any] | None:
        for cand in self.store.cache_candidates(key):
            hashes = cand["data_hashes"] or {}
            if any(hash_path(self.root, p, self.memo) != h for p, h in hashes.items()):
                continue
            if node.op in STATEFUL_OPS and not still_registered(
                    self._registry(), node.op, (cand["result"] or {}).get("report")):
                continue   # the version it registered is gone (a reset registry)
            problems = self.artifacts.verify(cand["digest"])
            if problems:
                self.progress.notice(
                    f"{node.id}: stored output {cand['digest'][:19]} is corrupted "
                    f"({'; '.join(problems[:3])}); recomputing")
                self.artifacts.discard(cand["digest"])
                self.store.forget_digest(cand["digest"])
                continue
            return cand
        return None

    def _check_data_hashes(self, node: Node, reported: dict[str, str]) -> None:
        """Warn when an op's reported hash is not what `hash_path` computes now: either the
        file changed while the node ran, or the op hashed differently; either way the
        node will not be a cache hit next time."""
        for path, digest in sorted(reported.items()):
            now = hash_path(self.root, path, self.memo)
            if now != digest:
                self.progress.notice(
                    f"{node.id}: reported hash of {path} ({digest[:19]}) differs from its "
                    f"current hash ({now[:19]}); it changed during the run or the op does "
                    "not hash with specops.runtime.engine.datahash.hash_path")

    # -- node lifecycle ------------------------------------------------------------------
    def _finish(self, outcome: NodeOutcome, **store_extra: Any) -> None:
        node = self.nodes[outcome.node_id]
        self.outcomes[node.id] = outcome
        self.store.node_finished(
            self.run_id, node.id, node.op, node.fingerprint, status=outcome.status,
            cache_hit=outcome.cache_hit, attempts=outcome.attempts,
            duration_s=outcome.duration_s, digest=outcome.digest, cause=outcome.cause or None,
            failure_kind=outcome.failure_kind, message=outcome.message or None,
            metrics=outcome.metrics, **store_extra)
        self.progress.node_finished(outcome)

    def _skip_descendants(self, failed: str) -> None:
        for nid in self.sched.fail(failed):
            node = self.nodes[nid]
            how = "input" if failed in node.inputs else "upstream"
            self._finish(NodeOutcome(nid, node.op, "skipped", cause=f"{how} {failed} failed"))

    def _dispatch(self, nid: str) -> None:
        node = self.nodes[nid]
        key, _ = self._key(node)
        hit = self._lookup(node, key)
        if hit is not None:
            result = hit["result"] or {}
            self.digests[nid] = hit["digest"]
            self.sched.hit(nid)
            self._finish(NodeOutcome(nid, node.op, "done", cache_hit=True,
                                     digest=hit["digest"], path=self.artifacts.path(
                                         hit["digest"]), duration_s=0.0,
                                     metrics=dict(result.get("metrics", {})),
                                     message=str(result.get("message", ""))),
                         report=result.get("report"))
            return
        try:
            staging = self.artifacts.staging_dir(self.run_id, nid)
        except OSError as exc:   # a read-only or full artifacts folder: this step fails
            self._finish(NodeOutcome(nid, node.op, "failed", failure_kind="internal",
                                     cause=f"cannot write outputs under {self.artifacts.tmp}"
                                           f": {exc.strerror or exc}"))
            self._skip_descendants(nid)
            return
        self.staging[nid] = staging
        ctx = OpContext(
            node_id=nid, op=node.op, params=json.loads(json.dumps(node.params)),
            project_root=self.root, out_dir=staging,
            inputs={i: self.artifacts.path(self.digests[i]) for i in node.inputs},
            run_id=self.run_id, fingerprint=node.fingerprint,
            resources=dict(node.resources),
            extra={"store_url": self.store.engine.url.render_as_string(hide_password=False),
                   "plan_models": dict(self.plan.models), "spec": dict(node.spec),
                   "spec_hash": self.plan.spec_hash,
                   "artifacts_dir": str(self.artifacts_root),
                   "actor": os.environ.get("SPECOPS_USER") or None})
        self.sched.start(nid)
        self.store.node_started(self.run_id, nid, node.op, node.fingerprint)
        self.progress.node_started(nid)
        self.executor.submit(Task(ctx, max_attempts=node.retry.max_attempts,
                                  backoff_s=node.retry.backoff_s))

    def _completed(self, out: TaskOutcome) -> None:
        node = self.nodes[out.node_id]
        staging = self.staging.pop(out.node_id)
        r = out.result
        if out.ok and r is not None:
            try:
                art = self.artifacts.commit(staging)
            except (OSError, ValueError) as exc:
                out = TaskOutcome(out.node_id, False, error=f"cannot store outputs: {exc}",
                                  kind="internal", attempts=out.attempts,
                                  duration_s=out.duration_s)
            else:
                key, inputs = self._key(node)
                lineage = [("artifact", i, d) for i, d in sorted(inputs.items())]
                lineage += [("file", p, h) for p, h in sorted(r.data_hashes.items())]
                self.store.record_output(
                    run_id=self.run_id, node_id=node.id, fingerprint=node.fingerprint,
                    cache_key=key, digest=art.digest, size_bytes=art.size_bytes,
                    manifest=art.manifest, data_hashes=r.data_hashes,
                    result={"metrics": r.metrics, "report": r.report, "message": r.message},
                    lineage=lineage)
                self._check_data_hashes(node, r.data_hashes)
                self.digests[node.id] = art.digest
                self.sched.finish(node.id)
                self._finish(NodeOutcome(node.id, node.op, "done", digest=art.digest,
                                         path=art.path, duration_s=out.duration_s,
                                         attempts=out.attempts, metrics=dict(r.metrics),
                                         message=r.message), report=r.report)
                return
        cause = out.error
        kept = self._keep_failed_outputs(node.id, staging)
        if kept is not None:   # messages point at what stays, not at the staging folder
            cause = cause.replace(str(staging), str(kept))
        if out.history:
            cause += f" (after {out.attempts} attempts; earlier: {out.history[-1]})"
        self._finish(NodeOutcome(node.id, node.op, "failed", duration_s=out.duration_s,
                                 attempts=out.attempts, cause=cause,
                                 failure_kind=out.kind),
                     traceback=out.traceback or None, report=out.report or None)
        self._skip_descendants(node.id)

    def _keep_failed_outputs(self, node_id: str, staging: Path) -> Path | None:
        """A failed node's files (a validation report, a gate report) are the evidence
        the user reads next, and its message names them; staging is removed after the
        run, so they move to `failed/<run id>/<node>/` under the artifacts folder."""
        try:
            if not staging.is_dir() or not any(staging.iterdir()):
                self.artifacts.discard_staging(staging)
                return None
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in node_id)[:80]
            target = self.artifacts_root / "failed" / self.run_id / safe
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(target)
            return target
        except OSError:
            self.artifacts.discard_staging(staging)
            return None

    def loop(self) -> None:
        while not self.sched.finished:
            progressed = True
            while progressed:                      # cache hits release more nodes at once
                progressed = False
                for nid in self.sched.ready():
                    self._dispatch(nid)
                    progressed = True
            if self.sched.finished:
                break
            outcomes = self.executor.wait()
            if not outcomes and not self.sched.running():
                raise RuntimeError("scheduler stalled: nothing running, nothing ready")
            for out in outcomes:
                self._completed(out)


def execute_plan(plan: Plan, project_root: Path | str, *,
                 executor: str | Executor = "inline", address: str | None = None,
                 select: str | list[str] | None = None, store_url: str | None = None,
                 artifacts_dir: Path | str | None = None, progress: Progress | None = None,
                 run_id: str | None = None) -> RunResult:
    """Run the selected part of `plan`; raises `PlanError` for problems found before
    anything runs (unknown op, bad selection). Node failures are in the result."""
    started = time.perf_counter()
    root = Path(project_root).resolve()
    progress = progress or Progress()
    ids = plan.select(select)
    problems = check_ops(plan.by_id[i].op for i in ids)
    if problems:
        users = {op: [i for i in ids if plan.by_id[i].op == op] for op in problems}
        raise PlanError("; ".join(f"{users[op][0]}: {why}" for op, why in problems.items()))
    store = Store.from_url(store_url or plan.project.store, root)
    artifacts = ArtifactStore(root / (artifacts_dir or plan.project.artifacts
                                      or ".specops/artifacts"))
    for old in store.mark_interrupted():
        progress.notice(f"run {old} was interrupted; its finished nodes are reused")
    artifacts.clean_tmp(store.live_run_ids())
    ex = executor if isinstance(executor, Executor) else make_executor(
        executor, address or plan.project.ray_address)
    run_id = run_id or new_run_id()
    run = _Run(plan, root, ids, ex, store, artifacts, progress, run_id)
    store.load_memo(run.memo)
    status = "failed"
    try:
        ex.init()
    except ExecutorError:
        store.close()
        raise
    except Exception as exc:
        store.close()
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ExecutorError(f"cannot start the {ex.name} executor: "
                            f"{type(exc).__name__}: {first}") from exc
    try:
        store.begin_run(run_id, project=plan.project.name, spec_hash=plan.spec_hash,
                        executor=ex.describe(), selection=ids)
        progress.start(run_id, ids, ex.describe())
        run.loop()
        status = "succeeded" if not run.sched.in_state(NodeState.FAILED) else "failed"
    except ExecutorError:   # e.g. a local Ray that cannot start on its first task
        status = "failed"
        raise
    except BaseException:
        status = "interrupted"
        raise
    finally:
        ex.finalize()
        store.save_memo(run.memo)
        result = RunResult(run_id, status, {i: run.outcomes[i] for i in ids
                                            if i in run.outcomes},
                           time.perf_counter() - started, store.url, artifacts.root)
        store.finish_run(run_id, status, {**result.counts(), "duration_s": result.duration_s})
        artifacts.clean_tmp(store.live_run_ids())
        store.close()
        if status != "interrupted":
            progress.finish(result)
    return result
