"""OpenLineage run events for `specops run` (`--lineage file:PATH` or `--lineage URL`).

Why plain dicts and not the openlineage-python client: the client brings requests, attrs,
python-dateutil and a second HTTP stack into every runtime install for what is a few
JSON objects a node; the runtime already has httpx. What keeps the dicts honest is
`tests/runtime/engine/test_lineage_events.py`, which validates every event of a real run,
and every facet against the schema its `_schemaURL` names, with the official OpenLineage
spec files (tests/fixtures/vendor/openlineage/, copied unmodified).

Why a Progress wrapper: the run loop already reports node started / finished to a
`Progress`; lineage listens to the same events, so the run loop does not change and a run
without `--lineage` pays nothing.

Model (docs/runtime.md, "Lineage"): the plan run is one OpenLineage job (`<project>`), every
node is a job (`<project>.<node id>`) whose runs carry a `parent` facet naming the plan run.
Inputs and outputs are datasets in the namespace `specops://<project>` named by the node
that produced them (`source:people`, `features:work@1`, `training_set:income`, and
`model:income` for a registration), versioned by their artifact digest; a source's file is a
`file` dataset named by its absolute path. Cache hits send START and COMPLETE with the tag
`specops.cache_hit=true`; skipped nodes send nothing (they never ran).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from specops.runtime.engine.progress import Progress

if TYPE_CHECKING:
    from specops.runtime.engine.plan_reader import Node, Plan
    from specops.runtime.engine.run_loop import NodeOutcome, RunResult

__all__ = ["EVENT_SCHEMA", "PRODUCER", "FileTransport", "HttpTransport", "LineageError",
           "LineageEvents", "LineageProgress", "lineage_progress", "open_transport",
           "run_uuid"]

PRODUCER = "https://github.com/specops/specops"
EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = {   # facet key -> (schema file, version) of the official spec, as validated
    "parent": ("ParentRunFacet", "1-2-0"),
    "errorMessage": ("ErrorMessageRunFacet", "1-0-1"),
    "processing_engine": ("ProcessingEngineRunFacet", "1-1-1"),
    "tags": ("TagsRunFacet", "1-0-0"),
    "jobType": ("JobTypeJobFacet", "2-0-4"),
    "ownership": ("OwnershipJobFacet", "1-0-1"),
    "schema": ("SchemaDatasetFacet", "1-2-0"),
    "version": ("DatasetVersionDatasetFacet", "1-0-1"),
    "datasetOwnership": ("OwnershipDatasetFacet", "1-0-1"),
    "dataQualityMetrics": ("DataQualityMetricsInputDatasetFacet", "1-0-3"),
    "dataQualityAssertions": ("DataQualityAssertionsDatasetFacet", "1-1-0"),
    "outputStatistics": ("OutputStatisticsOutputDatasetFacet", "1-0-2"),
}
_RUN_NS = uuid.UUID("6f1c3c2e-6a55-4d43-9a49-4f1f2f3b8e51")   # fixed: stable run UUIDs
_HTTP_ENDPOINT = "api/v1/lineage"    # the OpenLineage HTTP transport's default endpoint
_GIVE_UP_AFTER = 3                   # consecutive send failures before a run stops trying


class LineageError(ValueError):
    """A `--lineage` target that cannot be used (bad form, file not writable): a usage
    error before anything runs."""


def _facet(key: str, **body: Any) -> dict[str, Any]:
    name, version = _FACETS[key]
    return {"_producer": PRODUCER,
            "_schemaURL": f"https://openlineage.io/spec/facets/{version}/{name}.json"
                          f"#/$defs/{name}", **body}


def run_uuid(run_id: str, node_id: str | None = None) -> str:
    """The OpenLineage runId of a specops run (or of one node in it): a UUID derived from
    the specops ids, so the same run always maps to the same OpenLineage run."""
    return str(uuid.uuid5(_RUN_NS, run_id if node_id is None else f"{run_id}\n{node_id}"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _specops_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("specops")
    except PackageNotFoundError:   # pragma: no cover - running from a bare checkout
        return "0"


class LineageEvents:
    """Builds the events of one plan run (pure: no I/O beyond reading a node's own
    `meta.json` / `report.json` for row counts and data-quality facets)."""

    def __init__(self, plan: Plan, root: Path, run_id: str) -> None:
        self.plan, self.root, self.run_id = plan, root, run_id
        self.nodes = plan.by_id
        self.project = plan.project.name or root.name
        self.namespace = f"specops://{self.project}"
        self.artifacts_root = root / (plan.project.artifacts or ".specops/artifacts")
        self.version = _specops_version()
        self.digests: dict[str, str] = {}     # node id -> output digest, as nodes finish
        self.owners: dict[str, list[dict[str, str]]] = {}
        for model in plan.models.values():
            if not isinstance(model, Mapping):
                continue
            people = [{"name": str(model["owner"]), "type": "owner"}] if model.get(
                "owner") else []
            people += [{"name": str(a), "type": "author"} for a in model.get("authors") or []]
            for nid in model.get("nodes") or []:
                if people:
                    self.owners[str(nid)] = people

    # -- names ---------------------------------------------------------------------------
    def dataset_name(self, node: Node) -> str:
        """The dataset a node writes: its id, or `model:NAME` for a registration."""
        if node.op == "register" and node.params.get("model"):
            return f"model:{node.params['model']}"
        return node.id

    def _columns(self, node: Node) -> list[tuple[str, str | None]]:
        """Declared columns of a node's output, from the plan (nothing for reports)."""
        p = node.params
        if node.op == "load_source":
            return [(c, (s or {}).get("type")) for c, s in (p.get("columns") or {}).items()]
        if node.op == "compute_features":
            key = p.get("entity")
            cols = [(str(key), self._source_type(p.get("source"), key))] if key else []
            return cols + [(f["name"], f.get("type")) for f in p.get("features") or []]
        if node.op == "build_training_set":
            spine, label = p.get("spine") or {}, p.get("label") or {}
            cols = [(str(spine["entity"]), self._source_type(
                f"source:{spine.get('source')}", spine["entity"]))] if spine.get(
                "entity") else []
            cols += [(i["name"], i.get("type")) for i in p.get("inputs") or []]
            if label.get("column"):
                cols.append((label["column"], self._source_type(
                    f"source:{label.get('source')}", label["column"])))
            return cols
        if node.op in ("train", "export_onnx", "register"):
            train = self.nodes.get("train:" + node.id.split(":", 1)[-1])
            if train is not None:
                return [(i["name"], i.get("type")) for i in train.params.get("inputs") or []]
        return []

    def _source_type(self, source_id: Any, column: Any) -> str | None:
        src = self.nodes.get(str(source_id))
        spec = ((src.params.get("columns") or {}) if src is not None else {}).get(column)
        return spec.get("type") if isinstance(spec, Mapping) else None

    def _schema(self, node: Node) -> dict[str, Any]:
        cols = self._columns(node)
        if not cols:
            return {}
        fields = [{"name": n, **({"type": t} if t else {})} for n, t in cols]
        return {"schema": _facet("schema", fields=fields)}

    def _dataset(self, node: Node, digest: str | None) -> dict[str, Any]:
        facets = self._schema(node)
        if digest:
            facets["version"] = _facet("version", datasetVersion=digest)
        if node.id in self.owners and node.op in ("build_training_set", "train",
                                                  "export_onnx", "register"):
            facets["ownership"] = _facet("datasetOwnership", owners=self.owners[node.id])
        return {"namespace": self.namespace, "name": self.dataset_name(node),
                "facets": facets}

    def _file_inputs(self, node: Node) -> list[dict[str, Any]]:
        if node.op != "load_source" or not node.params.get("path"):
            return []
        path = (self.root / str(node.params["path"])).as_posix()
        return [{"namespace": "file", "name": path, "facets": self._schema(node)}]

    # -- facets --------------------------------------------------------------------------
    def _job(self, name: str, job_type: str, owners: list[dict[str, str]] | None) -> dict[
            str, Any]:
        facets: dict[str, Any] = {"jobType": _facet(
            "jobType", processingType="BATCH", integration="SPECOPS", jobType=job_type)}
        if owners:
            facets["ownership"] = _facet("ownership", owners=owners)
        return {"namespace": self.namespace, "name": name, "facets": facets}

    def _tags(self, tags: Mapping[str, Any]) -> dict[str, Any]:
        return _facet("tags", tags=[{"key": k, "value": str(v), "source": "SPECOPS"}
                                    for k, v in tags.items() if v is not None])

    def _engine(self) -> dict[str, Any]:
        return _facet("processing_engine", version=self.version, name="specops",
                      openlineageAdapterVersion=self.version)

    def _event(self, kind: str, run: dict[str, Any], job: dict[str, Any],
               inputs: list[dict[str, Any]] | None = None,
               outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"eventType": kind, "eventTime": _now(), "producer": PRODUCER,
                "schemaURL": EVENT_SCHEMA, "run": run, "job": job,
                "inputs": inputs or [], "outputs": outputs or []}

    # -- the plan run --------------------------------------------------------------------
    def plan_event(self, kind: str, *, tags: Mapping[str, Any] | None = None,
                   error: str | None = None) -> dict[str, Any]:
        facets: dict[str, Any] = {"processing_engine": self._engine(),
                                  "tags": self._tags({"specops.run_id": self.run_id,
                                                      "specops.spec_hash": self.plan.spec_hash,
                                                      **(tags or {})})}
        if error:
            facets["errorMessage"] = _facet("errorMessage", message=error,
                                            programmingLanguage="python")
        return self._event(kind, {"runId": run_uuid(self.run_id), "facets": facets},
                           self._job(self.project, "DAG", None))

    # -- one node ------------------------------------------------------------------------
    def node_event(self, kind: str, node_id: str, outcome: NodeOutcome | None = None
                   ) -> dict[str, Any]:
        node = self.nodes[node_id]
        parent = {"run": {"runId": run_uuid(self.run_id)},
                  "job": {"namespace": self.namespace, "name": self.project}}
        tags: dict[str, Any] = {"specops.run_id": self.run_id, "specops.node": node.id,
                                "specops.op": node.op, "specops.fingerprint": node.fingerprint}
        if outcome is not None:
            tags.update({"specops.cache_hit": str(outcome.cache_hit).lower(),
                         "specops.digest": outcome.digest,
                         "specops.attempts": outcome.attempts or None,
                         "specops.failure_kind": outcome.failure_kind})
            tags.update({f"specops.metric.{k}": v for k, v in sorted(outcome.metrics.items())})
        facets: dict[str, Any] = {"parent": _facet("parent", **parent, root=parent),
                                  "processing_engine": self._engine(),
                                  "tags": self._tags(tags)}
        if outcome is not None and outcome.status == "failed":
            facets["errorMessage"] = _facet("errorMessage", message=outcome.cause or "failed",
                                            programmingLanguage="python")
        inputs = self._file_inputs(node) + [
            self._dataset(self.nodes[i], self.digests.get(i)) for i in node.inputs
            if i in self.nodes]
        if outcome is not None and node.op == "validate_data":
            self._add_quality(inputs, outcome)
        output = self._dataset(node, outcome.digest if outcome is not None else None)
        if outcome is not None and outcome.path is not None:
            stats = _output_statistics(Path(outcome.path))
            if stats:
                output["outputFacets"] = {"outputStatistics": _facet("outputStatistics",
                                                                     **stats)}
        job = self._job(f"{self.project}.{node.id}", "TASK", self.owners.get(node.id))
        return self._event(kind, {"runId": run_uuid(self.run_id, node.id), "facets": facets},
                           job, inputs, [output])

    def _add_quality(self, inputs: list[dict[str, Any]], outcome: NodeOutcome) -> None:
        """Row count, null counts and every check's verdict from the validation report,
        on the validated source (the node's specops input)."""
        report = _validation_report(outcome, self.artifacts_root, self.run_id)
        if not report or not inputs:
            return
        checks = [c for c in report.get("checks") or [] if isinstance(c, Mapping)]
        nulls = {str(c["column"]): {"nullCount": int(c.get("failing") or 0)}
                 for c in checks if c.get("check") == "not_null" and c.get("column")}
        target = inputs[-1]
        quality: dict[str, Any] = {"columnMetrics": nulls}
        if isinstance(report.get("rows"), int):
            quality["rowCount"] = report["rows"]
        assertions = [{"assertion": str(c.get("check")), "success": bool(c.get("passed")),
                       **({"column": str(c["column"])} if c.get("column") else {})}
                      for c in checks]
        target["inputFacets"] = {
            "dataQualityMetrics": _facet("dataQualityMetrics", **quality),
            "dataQualityAssertions": _facet("dataQualityAssertions", assertions=assertions)}


def _validation_report(outcome: NodeOutcome, artifacts_root: Path, run_id: str
                       ) -> dict[str, Any] | None:
    """The validate node's report.json: in its output (done), or where the run loop keeps
    a failed node's files (`failed/<run id>/<node>/`)."""
    if outcome.path is not None:
        path = Path(outcome.path) / "report.json"
    else:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in outcome.node_id)[:80]
        path = artifacts_root / "failed" / run_id / safe / "report.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _output_statistics(out_dir: Path) -> dict[str, int]:
    """Rows (when the op's meta.json says), bytes and files of a node's output."""
    stats: dict[str, int] = {}
    try:
        files = [p for p in out_dir.rglob("*") if p.is_file()]
        stats = {"size": sum(p.stat().st_size for p in files), "fileCount": len(files)}
        meta = json.loads((out_dir / "meta.json").read_text(encoding="utf-8"))
        if isinstance(meta, dict) and isinstance(meta.get("rows"), int):
            stats["rowCount"] = meta["rows"]
    except (OSError, ValueError):
        pass
    return stats


# -- transports --------------------------------------------------------------------------
class Transport(Protocol):
    target: str

    def send(self, event: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


class FileTransport:
    """JSON lines, appended and flushed per event (the OpenLineage file transport's form)."""

    def __init__(self, path: Path) -> None:
        self.target = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.stream: IO[str] = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise LineageError(f"--lineage: cannot write {path}: {exc.strerror or exc}"
                               ) from None

    def send(self, event: Mapping[str, Any]) -> None:
        self.stream.write(json.dumps(event, sort_keys=True, separators=(",", ":")) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()


class HttpTransport:
    """One POST per event, as the OpenLineage HTTP transport does: JSON body, endpoint
    `api/v1/lineage` under a URL without a path, `Authorization: Bearer
    $OPENLINEAGE_API_KEY` when set, 5 s timeout; a non-2xx answer is a failure."""

    def __init__(self, url: str, timeout_s: float = 5.0, *, send_key: bool = True) -> None:
        import httpx

        parsed = httpx.URL(url)
        self.target = url if parsed.path not in ("", "/") else (
            url.rstrip("/") + "/" + _HTTP_ENDPOINT)
        headers = {"Content-Type": "application/json"}
        key = os.environ.get("OPENLINEAGE_API_KEY")
        if key and send_key:
            headers["Authorization"] = f"Bearer {key}"
        self.client = httpx.Client(timeout=timeout_s, headers=headers)

    def send(self, event: Mapping[str, Any]) -> None:
        import httpx

        try:
            r = self.client.post(self.target, content=json.dumps(event).encode())
        except httpx.HTTPError as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from None
        if r.status_code >= 300:
            raise OSError(f"HTTP {r.status_code} {r.text[:120].strip()}")

    def close(self) -> None:
        self.client.close()


def _same_origin(a: str, b: str) -> bool:
    import httpx

    try:
        x, y = httpx.URL(a), httpx.URL(b)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return bool(b) and (x.scheme, x.host, x.port) == (y.scheme, y.host, y.port)


def open_transport(target: str, root: Path, *, from_config: bool = False) -> Transport:
    """`file:PATH` or `http(s)://URL`. A PATH from specops.yaml is relative to the project
    and must stay inside it (a cloned project must not append to files elsewhere); one
    given on the command line is the user's own choice, relative to the current folder.
    A URL from specops.yaml gets no API key unless it is on $OPENLINEAGE_URL's origin."""
    if target.startswith(("http://", "https://")):
        # Why: a cloned project's specops.yaml must not collect the user's
        # OPENLINEAGE_API_KEY; a URL from it gets the key only when it is on the origin
        # of the user's own OPENLINEAGE_URL.
        return HttpTransport(target, send_key=not from_config or _same_origin(
            target, os.environ.get("OPENLINEAGE_URL") or ""))
    if not target.startswith("file:") or not target[5:]:
        raise LineageError(f"--lineage takes file:PATH or an http(s):// URL, not {target!r}")
    raw = target[7:] if target.startswith("file://") else target[5:]
    if from_config:
        path = (root / raw).resolve()
        if not path.is_relative_to(root.resolve()):
            raise LineageError(f"lineage: {raw} in specops.yaml is outside the project; "
                               "use a path inside it or pass --lineage")
    else:
        path = Path(raw).resolve()
    return FileTransport(path)


class LineageProgress(Progress):
    """Forwards every run event to `inner` and sends its OpenLineage events. A target that
    fails never fails the run: the first failure is one notice, later ones are counted,
    and after a few in a row the run stops trying (a dead endpoint costs one timeout
    each, not one per event for the whole run)."""

    def __init__(self, inner: Progress, plan: Plan, root: Path, transport: Transport
                 ) -> None:
        self.inner, self.plan, self.root, self.transport = inner, plan, root, transport
        self.events: LineageEvents | None = None
        self.sent = self.failed = self.streak = 0
        self.first_error = ""
        self.open: set[str] = set()          # node runs started and not yet finished
        self.run_open = False

    def _send(self, event: dict[str, Any]) -> None:
        if self.streak >= _GIVE_UP_AFTER:
            self.failed += 1
            return
        try:
            self.transport.send(event)
        except OSError as exc:
            self.failed += 1
            self.streak += 1
            if not self.first_error:
                self.first_error = str(exc)
                self.inner.notice(f"lineage: cannot send events to {self.transport.target}"
                                  f" ({exc}); the run goes on, failures are counted")
            return
        self.sent += 1
        self.streak = 0

    def start(self, run_id: str, node_ids: Sequence[str], executor: str) -> None:
        self.inner.start(run_id, node_ids, executor)
        self.events = LineageEvents(self.plan, self.root, run_id)
        self.run_open = True
        self._send(self.events.plan_event("START", tags={"specops.executor": executor,
                                                         "specops.nodes": len(node_ids)}))

    def node_started(self, node_id: str) -> None:
        self.inner.node_started(node_id)
        if self.events is not None:
            self.open.add(node_id)
            self._send(self.events.node_event("START", node_id))

    def node_finished(self, outcome: NodeOutcome) -> None:
        self.inner.node_finished(outcome)
        ev = self.events
        if ev is None or outcome.status == "skipped":
            return
        if outcome.node_id not in self.open:     # a cache hit (or failed before starting)
            self._send(ev.node_event("START", outcome.node_id))
        self.open.discard(outcome.node_id)
        if outcome.digest:
            ev.digests[outcome.node_id] = outcome.digest
        kind = "COMPLETE" if outcome.status == "done" else "FAIL"
        self._send(ev.node_event(kind, outcome.node_id, outcome))

    def notice(self, message: str) -> None:
        self.inner.notice(message)

    def finish(self, result: RunResult) -> None:
        if self.events is not None and self.run_open:
            self.run_open = False
            counts = result.counts()
            failed = [o.node_id for o in result.failed]
            self._send(self.events.plan_event(
                "COMPLETE" if result.ok else "FAIL",
                tags={f"specops.{k}": v for k, v in counts.items()},
                error=f"{len(failed)} node(s) failed: {', '.join(failed)}" if failed else None))
        self.inner.finish(result)

    def abort(self, why: str) -> None:
        """The run was interrupted: ABORT for every node run in flight and the plan run."""
        if self.events is None:
            return
        for nid in sorted(self.open):
            event = self.events.node_event("ABORT", nid)
            event["run"]["facets"]["errorMessage"] = _facet(
                "errorMessage", message=why, programmingLanguage="python")
            self._send(event)
        self.open.clear()
        if self.run_open:
            self.run_open = False
            self._send(self.events.plan_event("ABORT", error=why))

    def summary(self) -> str | None:
        if not self.failed:
            return None
        return (f"lineage: {self.failed} of {self.sent + self.failed} events were not sent "
                f"to {self.transport.target} (first error: {self.first_error})")


@contextmanager
def lineage_progress(inner: Progress, plan: Plan, root: Path, target: object, *,
                     from_config: bool = False) -> Iterator[Progress]:
    """`inner` itself without a target; else a LineageProgress around it, which sends
    ABORT events when the run is interrupted and says at the end how many events failed.
    A bad target raises LineageError before anything runs."""
    if not target:
        yield inner
        return
    if not isinstance(target, str):
        raise LineageError("lineage: in specops.yaml takes file:PATH or an http(s):// URL")
    wrapper = LineageProgress(inner, plan, root, open_transport(target, root,
                                                                from_config=from_config))
    try:
        yield wrapper
    except BaseException as exc:
        wrapper.abort(f"run interrupted: {type(exc).__name__}")
        raise
    finally:
        wrapper.transport.close()
        line = wrapper.summary()
        if line:
            inner.notice(line)
