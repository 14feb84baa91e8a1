"""`specops export mlflow`: runs, parameters, metrics and registered versions to an MLflow
tracking server, over MLflow's REST API.

Why REST over httpx and not the `mlflow` package: mlflow (with its server-side
dependencies) is a ~600 MB install of its own (pandas, alembic, flask, graphene, ...) and
pins much of what the runtime also uses; the export needs a dozen REST calls, and httpx is
already a runtime dependency. The test (tests/runtime/registry/test_mlflow_export.py)
runs a real `mlflow server` and reads everything back over the same API.

Mapping: the project is one experiment (`specops/<project>`); every finished specops run is
one MLflow run (tag `specops.run_id`, name = the run id, start/end time and status from
the store), with each node's metrics as `<node id>/<metric>` and each trained model's
search result as parameters (`<model>.<param>`). Every registered (not rejected) version
whose signed manifest verifies becomes an MLflow model version of the registered model
of the same name: its ONNX file, `signature.json`, `manifest.json` and `manifest.sig` are
uploaded as artifacts of the run that registered it, and the version carries the content
digest, the model digest, the manifest's sha256 and its signature as tags. Aliases follow.

Idempotent: runs are looked up by their `specops.run_id` tag and versions by their
`specops.version` and `specops.content_digest` tags before anything is created (the same
number with other content is another project's model of that name); a run is marked
`specops.exported` only once everything of it is logged, so an export cut short is
completed, not duplicated, by the next one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ExportReport", "MlflowClient", "MlflowError", "export_to_mlflow", "mlflow_key",
           "shown_uri"]

_API = "/api/2.0/mlflow"
_ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_VERSION_FILES = ("model.onnx", "signature.json", "manifest.json", "manifest.sig")
_BATCH = 100               # params per log-batch call (MLflow's limit)
_METRIC_BATCH = 1000       # metrics per log-batch call (MLflow's limit)
_PARAM_CHARS = 6000        # longest parameter value MLflow keeps


class MlflowError(RuntimeError):
    """The tracking server cannot be used or refused a call: one line, with the call."""


def shown_uri(uri: str) -> str:
    """The tracking URI as messages print it: credentials in it (`https://user:token@host`,
    which httpx sends as basic auth) replaced by `***`, so an error or the summary line
    never writes a secret to a terminal or a CI log."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable URI>"
    if "@" not in parts.netloc:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def mlflow_key(text: str) -> str:
    """A metric or parameter name MLflow accepts (alphanumerics, `_-. :/`)."""
    return re.sub(r"[^A-Za-z0-9_\-. :/]", "_", text)[:250]


class MlflowClient:
    """The few REST calls the export makes. Credentials as MLflow's own clients take them:
    MLFLOW_TRACKING_TOKEN (bearer) or MLFLOW_TRACKING_USERNAME / _PASSWORD (basic)."""

    def __init__(self, tracking_uri: str, timeout_s: float = 30.0) -> None:
        import httpx

        if not tracking_uri.startswith(("http://", "https://")):
            raise MlflowError("--tracking-uri must be an http(s):// URL, not "
                              f"{shown_uri(tracking_uri)!r}")
        self.uri = tracking_uri.rstrip("/")
        headers: dict[str, str] = {}
        auth: tuple[str, str] | None = None
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif os.environ.get("MLFLOW_TRACKING_USERNAME"):
            auth = (os.environ["MLFLOW_TRACKING_USERNAME"],
                    os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
        self.http = httpx.Client(base_url=self.uri, timeout=timeout_s, headers=headers,
                                 auth=auth)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, endpoint: str, body: Mapping[str, Any] | None = None, *,
             query: Mapping[str, Any] | None = None, missing_ok: bool = False
             ) -> dict[str, Any] | None:
        """One API call; None for RESOURCE_DOES_NOT_EXIST when `missing_ok`."""
        import httpx

        try:
            r = self.http.request(method, _API + endpoint, json=body, params=query)
        except httpx.HTTPError as exc:
            raise MlflowError(f"cannot reach the MLflow tracking server at "
                              f"{shown_uri(self.uri)}: "
                              f"{type(exc).__name__}: {exc}") from None
        try:
            doc = r.json() if r.content else {}
        except ValueError:
            doc = {"message": r.text[:200]}
        if r.status_code == 404 and missing_ok and doc.get(
                "error_code") == "RESOURCE_DOES_NOT_EXIST":
            return None
        if r.status_code >= 300:
            raise MlflowError(f"MLflow {method} {endpoint}: HTTP {r.status_code} "
                              f"{doc.get('error_code', '')}: "
                              f"{(str(doc.get('message', '')).splitlines() or [''])[0]}")
        return doc if isinstance(doc, dict) else {}

    def upload(self, artifact_uri: str, rel_path: str, data: bytes) -> None:
        """PUT one file through the server's artifact proxy (`mlflow-artifacts:` URIs)."""
        import httpx

        prefix = "mlflow-artifacts:"
        if not artifact_uri.startswith(prefix):
            raise MlflowError(f"the run's artifacts live at {artifact_uri}, which the server "
                              "does not proxy; start it with --serve-artifacts")
        path = artifact_uri[len(prefix):].lstrip("/") + "/" + rel_path
        try:
            r = self.http.put(f"{_ARTIFACTS_API}/{path}", content=data)
        except httpx.HTTPError as exc:
            raise MlflowError(f"cannot upload {rel_path}: {type(exc).__name__}: {exc}"
                              ) from None
        if r.status_code >= 300:
            raise MlflowError(f"MLflow artifact upload of {rel_path}: HTTP {r.status_code}")

    def pages(self, method: str, endpoint: str, key: str, body: dict[str, Any]
              ) -> Iterator[dict[str, Any]]:
        """Every item of a paginated search."""
        token = None
        while True:
            args = {**body, **({"page_token": token} if token else {})}
            doc = (self.call("GET", endpoint, query=args) if method == "GET"
                   else self.call(method, endpoint, args)) or {}
            yield from doc.get(key) or []
            token = doc.get("next_page_token")
            if not token:
                return


@dataclass
class ExportReport:
    experiment_id: str = ""
    runs_created: int = 0
    runs_existing: int = 0
    params: int = 0
    metrics: int = 0
    versions_created: int = 0
    versions_existing: int = 0
    aliases: int = 0
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _tags(tags: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in tags.items() if v not in (None, "")]


def _ms(seconds: float | None) -> int | None:
    return int(seconds * 1000) if seconds else None


def _run_params(nodes: list[dict[str, Any]]) -> dict[str, str]:
    """Each trained model's search outcome: best parameters, scoring, candidates, folds."""
    params: dict[str, str] = {}
    for n in nodes:
        report = n.get("report")
        if n.get("op") != "train" or not isinstance(report, Mapping):
            continue
        model = str(n["node_id"]).split(":", 1)[-1]
        for k, v in sorted((report.get("best_params") or {}).items()):
            params[mlflow_key(f"{model}.{k}")] = json.dumps(v) if not isinstance(v, str) else v
        for k in ("scoring", "candidates", "folds"):
            if report.get(k) is not None:
                params[mlflow_key(f"{model}.{k}")] = str(report[k])
    return {k: v[:_PARAM_CHARS] for k, v in params.items()}


class _Export:
    def __init__(self, client: MlflowClient, store: Any, registry: Any, project: str,
                 experiment: str | None) -> None:
        self.client, self.store, self.registry = client, store, registry
        self.project = project
        self.experiment_name = experiment or f"specops/{project}"
        self.report = ExportReport()
        self.runs: dict[str, dict[str, Any]] = {}   # specops run id -> MLflow run info+tags

    # -- experiment and runs -------------------------------------------------------------
    def experiment(self) -> str:
        found = self.client.call("GET", "/experiments/get-by-name",
                                 query={"experiment_name": self.experiment_name},
                                 missing_ok=True)
        if found is not None:
            return str(found["experiment"]["experiment_id"])
        made = self.client.call("POST", "/experiments/create", {
            "name": self.experiment_name, "tags": _tags({"specops.project": self.project})})
        return str((made or {})["experiment_id"])

    def known_runs(self, experiment_id: str) -> None:
        for run in self.client.pages("POST", "/runs/search", "runs", {
                "experiment_ids": [experiment_id], "max_results": 1000,
                "filter": "tags.`specops.run_id` != ''"}):
            tags = {t["key"]: t["value"] for t in run.get("data", {}).get("tags") or []}
            if tags.get("specops.run_id"):
                self.runs[tags["specops.run_id"]] = {**run["info"], "tags": tags}

    def export_run(self, experiment_id: str, run: Mapping[str, Any]) -> None:
        rid = str(run["run_id"])
        known = self.runs.get(rid)
        if known is not None and known["tags"].get("specops.exported") == "true":
            self.report.runs_existing += 1
            return
        if known is None:
            made = self.client.call("POST", "/runs/create", {
                "experiment_id": experiment_id, "run_name": rid,
                "start_time": _ms(run.get("started_at")),
                "tags": _tags({"specops.run_id": rid, "specops.project": run.get("project"),
                               "specops.spec_hash": run.get("spec_hash"),
                               "specops.executor": run.get("executor"),
                               "specops.status": run.get("status")})}) or {}
            known = {**made["run"]["info"], "tags": {}}
            self.runs[rid] = known
            self.report.runs_created += 1
        else:
            self.report.runs_existing += 1
        mid = str(known["run_id"])
        nodes = self.store.node_runs(rid)
        params = _run_params(nodes)
        stamp = _ms(run.get("finished_at") or run.get("started_at")) or 0
        metrics = [{"key": mlflow_key(f"{node}/{name}"), "value": float(value),
                    "timestamp": stamp, "step": 0}
                   for node, values in sorted(self.store.metrics(rid).items())
                   for name, value in sorted(values.items())
                   if isinstance(value, int | float) and math.isfinite(value)]
        items = [{"key": k, "value": v} for k, v in sorted(params.items())]
        for i in range(0, len(items), _BATCH):
            self.client.call("POST", "/runs/log-batch", {"run_id": mid,
                                                         "params": items[i:i + _BATCH]})
        for i in range(0, len(metrics), _METRIC_BATCH):
            self.client.call("POST", "/runs/log-batch", {
                "run_id": mid, "metrics": metrics[i:i + _METRIC_BATCH]})
        self.report.params += len(items)
        self.report.metrics += len(metrics)
        self.client.call("POST", "/runs/update", {
            "run_id": mid, "status": _STATUS.get(str(run.get("status")), "FINISHED"),
            "end_time": _ms(run.get("finished_at"))})
        self.client.call("POST", "/runs/set-tag", {"run_id": mid, "key": "specops.exported",
                                                   "value": "true"})
        known["tags"]["specops.exported"] = "true"

    # -- registry ------------------------------------------------------------------------
    def export_model(self, model: Mapping[str, Any]) -> None:
        name = str(model["name"])
        versions = [v for v in self.registry.versions(name) if v.status == "registered"]
        if not versions:   # only rejected versions: nothing MLflow could load
            return
        if self.client.call("GET", "/registered-models/get", query={"name": name},
                            missing_ok=True) is None:
            self.client.call("POST", "/registered-models/create", {
                "name": name, "tags": _tags({"specops.owner": model.get("owner"),
                                             "specops.risk_tier": model.get("risk_tier"),
                                             "specops.task": model.get("task"),
                                             "specops.project": self.project})})
        known: dict[tuple[str, str], str] = {}   # (version, content digest) -> MLflow's
        for mv in self.client.pages("GET", "/model-versions/search", "model_versions",
                                    {"filter": f"name='{name}'", "max_results": 200}):
            tags = {t["key"]: t["value"] for t in mv.get("tags") or []}
            known[(tags.get("specops.version", ""), tags.get("specops.content_digest", ""))] = \
                str(mv["version"])
        mapped: dict[int, str] = {}   # specops version -> MLflow version
        for v in versions:
            # the same number with other content is another project's model of that name
            existing = known.get((str(v.version), v.content_digest))
            if existing is not None:
                mapped[v.version] = existing
                self.report.versions_existing += 1
                continue
            made = self.export_version(v)
            if made:
                mapped[v.version] = made
        for alias, version in sorted(self.registry.aliases(name).items()):
            if version in mapped:
                self.client.call("POST", "/registered-models/alias", {
                    "name": name, "alias": alias, "version": mapped[version]})
                self.report.aliases += 1

    def export_version(self, v: Any) -> str | None:
        checked = self.registry.verify(v.model, v.version)
        if checked["problems"]:
            self.report.problems.append(f"{v.ref} not exported: it does not verify "
                                        f"({'; '.join(checked['problems'][:2])})")
            return None
        run = self.runs.get(v.run_id)
        if run is None:
            self.report.problems.append(f"{v.ref} not exported: the run that registered it "
                                        f"({v.run_id}) is not in the store")
            return None
        rel = f"specops-registry/{v.model}/{v.version}"
        for fname in _VERSION_FILES:
            path = Path(v.path) / fname
            if path.is_file():
                self.client.upload(str(run["artifact_uri"]), f"{rel}/{fname}",
                                   path.read_bytes())
        manifest = (Path(v.path) / "manifest.json").read_bytes()
        sig = json.loads((Path(v.path) / "manifest.sig").read_text(encoding="utf-8"))
        made = self.client.call("POST", "/model-versions/create", {
            "name": v.model, "source": f"{run['artifact_uri']}/{rel}",
            "run_id": str(run["run_id"]),
            "description": f"specops {v.ref}: signed manifest and ONNX model",
            "tags": _tags({"specops.version": v.version, "specops.ref": v.ref,
                           "specops.project": self.project, "specops.run_id": v.run_id,
                           "specops.content_digest": v.content_digest,
                           "specops.model_digest": v.model_digest,
                           "specops.manifest_sha256": "sha256:" + hashlib.sha256(
                               manifest).hexdigest(),
                           "specops.signature": sig.get("signature"),
                           "specops.signature_key_id": sig.get("key_id"),
                           "specops.signature_algorithm": sig.get("algorithm")})}) or {}
        self.report.versions_created += 1
        return str(made["model_version"]["version"])


def export_to_mlflow(client: MlflowClient, store: Any, registry: Any, project: str, *,
                     experiment: str | None = None) -> ExportReport:
    """Export every finished run of `store` and every verified registered version of
    `registry`; raises MlflowError when the server cannot be used. Versions that do not
    verify are listed in the report's `problems`, not exported."""
    job = _Export(client, store, registry, project, experiment)
    experiment_id = job.experiment()
    job.report.experiment_id = experiment_id
    job.known_runs(experiment_id)
    runs = [r for r in store.list_runs(10**9) if r.get("status") in _STATUS]
    for run in sorted(runs, key=lambda r: r.get("started_at") or 0):
        job.export_run(experiment_id, run)
    for model in registry.models():
        job.export_model(model)
    return job.report
