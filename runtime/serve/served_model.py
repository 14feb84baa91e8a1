"""Load one registry version for serving: admission first, then one onnxruntime session.

Why this order: nothing reads a byte for serving before `admission.admit` has checked the
version (signed manifest via the registry's `verify`, the exact bytes against the signed
digests, and with an environment the deploy record and approvals valid now), and the
session and the signature metadata are built from the bytes admission hashed, never
re-read from disk. A version with any problem is refused with a one-line cause
(`ModelRefused`), never served "for now". Every serving path (lean server, Ray Serve
replicas, batch `predict` and its Ray tasks, the staging check) loads through
`load_model`, so the rules are the same on all of them.

Why one session per process/replica, created once: session creation holds the GIL and is
not safe to run in parallel (onnxruntime#27063, #27089), while `run` is thread-safe and
releases the GIL. Threads: `intra_op_num_threads` = the replica's CPUs (under cgroups the
default of one per physical core oversubscribes), spinning off so idle replicas do not
burn the cores other replicas (and the proxy) need.

Which version: `MODEL@3`, `MODEL@alias` or `MODEL` (latest registered); with
`environment`, only the version governance records as currently deployed there may serve
(a registry alias alone is not a deploy: it is refused). The environment travels in
`ModelSource`, so a Ray replica or task on another node re-admits against it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from specops.runtime.serve.admission import Admitted, DeployState, ModelRefused, admit
from specops.runtime.training.preprocess import Feature

__all__ = ["LoadedModel", "ModelRefused", "ModelSource", "admit_source", "deployable_version",
           "load_model", "make_session", "open_governance", "resolve"]


@dataclass(frozen=True)
class ModelSource:
    """Where a replica loads its model from: small and picklable (Ray ships it)."""

    project_root: str
    store_url: str | None
    model: str
    version: int
    artifacts: str | None = None
    threads: int = 1
    environment: str | None = None      # set: only the version validly deployed there


@dataclass
class LoadedModel:
    name: str
    version: int
    model_digest: str
    content_digest: str
    signature: dict[str, Any]
    features: list[Feature]
    session: Any
    inputs: list[dict[str, Any]] = field(default_factory=list)    # OIP name/datatype/shape
    outputs: list[dict[str, Any]] = field(default_factory=list)
    classes: list[Any] = field(default_factory=list)
    path: Path = Path(".")
    admitted: Admitted | None = None    # its `onnx` dropped: the session holds the model
    deploy: DeployState | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Output name -> array for already validated feeds (see `protocol`)."""
        names = [o["name"] for o in self.outputs]
        values = self.session.run(names, feeds)
        return dict(zip(names, values, strict=True))


def _registry(source: ModelSource) -> Any:
    from specops.runtime.registry import Registry

    return Registry.open(Path(source.project_root), source.store_url, source.artifacts)


def _governance(project_root: Path, store_url: str | None, registry: Any) -> Any:
    from specops.runtime.governance import Governance

    return Governance.open(project_root, store_url, registry=registry)


def open_governance(source: ModelSource) -> Any:
    """The governance context of `source`'s project, with its own registry (the caller
    closes it; used by the periodic re-check)."""
    from specops.runtime.governance import Governance

    return Governance.open(Path(source.project_root), source.store_url,
                           artifacts=source.artifacts)


def admit_source(source: ModelSource, registry: Any | None = None) -> Admitted:
    """`admission.admit` for a `ModelSource` (opens and closes what it needs)."""
    reg = registry or _registry(source)
    gov = None
    try:
        if source.environment:
            gov = _governance(Path(source.project_root), source.store_url, reg)
        return admit(reg, gov, source.model, source.version, source.environment)
    finally:
        if gov is not None:
            gov.close()
        if registry is None:
            reg.close()


def deployable_version(project_root: Path, store_url: str | None, model: str,
                       environment: str, requested: int | None, registry: Any) -> int:
    """The version governance's deploy record makes current in `environment`; refuse
    `requested` when it is another one. Only the choice: `load_model` admits it."""
    from specops.runtime.governance.promotion import current_deployment

    gov = _governance(project_root, store_url, registry)
    try:
        row = current_deployment(gov, model, environment)
    finally:
        gov.close()
    if row is None:
        raise ModelRefused(f"{model} is not deployed to {environment}; deploy it first "
                           f"(specops deploy {model}@VERSION --env {environment})",
                           "not_deployed")
    if requested is not None and requested != int(row["version"]):
        raise ModelRefused(f"{model}@{requested} is not the version deployed to "
                           f"{environment} (that is @{row['version']}); only deployed "
                           "versions serve there", "not_deployed")
    return int(row["version"])


def resolve(project_root: Path, store_url: str | None, ref: str, environment: str | None,
            artifacts: str | None = None, threads: int = 1) -> ModelSource:
    """Turn `MODEL[@VERSION|@ALIAS]` (+ environment) into a `ModelSource`: which version,
    nothing more (a version not deployed to the environment is refused here already);
    every load of the source is admitted in full by `load_model`."""
    from specops.runtime.registry import Registry, RegistryError, parse_ref

    registry = Registry.open(project_root, store_url, artifacts)
    try:
        name, tag = parse_ref(ref)
        if environment:
            requested = registry.resolve(ref).version if tag else None
            version = deployable_version(project_root, store_url, name, environment,
                                         requested, registry)
        else:
            version = registry.resolve(ref).version
    except RegistryError as exc:
        raise ModelRefused(str(exc), "unknown") from None
    finally:
        registry.close()
    return ModelSource(str(project_root), store_url, name, version, artifacts, threads,
                       environment)


def make_session(onnx_bytes: bytes, threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(onnx_bytes, sess_options=opts,
                                providers=["CPUExecutionProvider"])


def load_model(source: ModelSource, registry: Any | None = None) -> LoadedModel:
    """Admit the version (refuse on any doubt), then build its session from the admitted
    bytes."""
    a = admit_source(source, registry)
    sig = a.signature
    features = [Feature(**f) for f in sig.get("features") or []]
    session = make_session(a.onnx, source.threads)
    return LoadedModel(name=a.model, version=a.version, model_digest=a.model_digest,
                       content_digest=a.content_digest, signature=sig, features=features,
                       session=session, inputs=list(sig["inputs"]),
                       outputs=list(sig["outputs"]), classes=list(sig.get("classes") or []),
                       path=a.path, admitted=replace(a, onnx=b""), deploy=a.deploy)
