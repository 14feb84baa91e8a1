"""Load one registry version for serving: verify first, then one onnxruntime session.

Why this order: the signed manifest is the only proof that the bytes about to answer
requests are the ones that were reviewed and approved, so `registry.verify` runs before
anything reads `model.onnx`, and a version with any problem is refused with the reasons
(`ModelRefused`), never served "for now". The ONNX bytes are then read once, their sha256
is compared with the signed `model_digest` (a file swapped between verification and load
is caught too), and one session is built from those same bytes.

Why one session per process/replica, created once: session creation holds the GIL and is
not safe to run in parallel (onnxruntime#27063, #27089), while `run` is thread-safe and
releases the GIL. Threads: `intra_op_num_threads` = the replica's CPUs (under cgroups the
default of one per physical core oversubscribes), spinning off so idle replicas do not
burn the cores other replicas (and the proxy) need.

Which version: `MODEL@3`, `MODEL@alias` or `MODEL` (latest registered); with
`environment`, only the version governance records as currently deployed there may serve
(`deployable_version`), falling back to the registry alias of the same name when the
store has no deployment history at all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from specops.runtime.training.preprocess import Feature

__all__ = ["LoadedModel", "ModelRefused", "ModelSource", "deployable_version", "load_model",
           "make_session", "resolve"]


class ModelRefused(RuntimeError):
    """This version must not serve (failed verification, not deployed, not registered)."""


@dataclass(frozen=True)
class ModelSource:
    """Where a replica loads its model from: small and picklable (Ray ships it)."""

    project_root: str
    store_url: str | None
    model: str
    version: int
    artifacts: str | None = None
    threads: int = 1


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


def deployable_version(project_root: Path, store_url: str | None, model: str,
                       environment: str, requested: int | None, registry: Any) -> int:
    """The version `environment` serves now; refuse `requested` when it is another one."""
    current: int | None = None
    try:
        from specops.runtime.governance import Governance
        from specops.runtime.governance.promotion import current as deployed_now
        from specops.runtime.governance.promotion import history

        gov = Governance.open(project_root, store_url, registry=registry)
        try:
            known = bool(history(gov, model))
            current = deployed_now(gov, model, environment) if known else None
        finally:
            gov.close()
    except ImportError:   # governance not installed: the alias is all there is
        known = False
    if not known:
        current = registry.aliases(model).get(environment)
    if current is None:
        raise ModelRefused(f"{model} is not deployed to {environment}; deploy it first "
                           f"(specops deploy {model}@VERSION --env {environment})")
    if requested is not None and requested != current:
        raise ModelRefused(f"{model}@{requested} is not the version deployed to {environment} "
                           f"(that is @{current}); only deployed versions serve there")
    return int(current)


def resolve(project_root: Path, store_url: str | None, ref: str, environment: str | None,
            artifacts: str | None = None, threads: int = 1) -> ModelSource:
    """Turn `MODEL[@VERSION|@ALIAS]` (+ environment) into a `ModelSource`."""
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
        raise ModelRefused(str(exc)) from None
    finally:
        registry.close()
    return ModelSource(str(project_root), store_url, name, version, artifacts, threads)


def make_session(onnx_bytes: bytes, threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(onnx_bytes, sess_options=opts,
                                providers=["CPUExecutionProvider"])


def load_model(source: ModelSource, registry: Any | None = None) -> LoadedModel:
    """Verify the version's signed manifest, then build its session (refuse on any doubt)."""
    from specops.runtime.registry import RegistryError

    reg = registry or _registry(source)
    ref = f"{source.model}@{source.version}"
    try:
        v = reg.get(source.model, source.version)
        report = reg.verify(source.model, source.version)
    except RegistryError as exc:
        raise ModelRefused(f"{ref}: {exc}") from None
    finally:
        if registry is None:
            reg.close()
    if report["problems"]:
        raise ModelRefused(f"{ref} refused: registry verification failed: "
                           + "; ".join(report["problems"]))
    if v.status != "registered":
        raise ModelRefused(f"{ref} is {v.status}; only registered versions serve")
    onnx_bytes = (v.path / "model.onnx").read_bytes()
    digest = hashlib.sha256(onnx_bytes).hexdigest()
    if v.model_digest.removeprefix("sha256:") != digest:
        raise ModelRefused(f"{ref} refused: model.onnx changed after verification")
    sig = json.loads((v.path / "signature.json").read_text())
    features = [Feature(**f) for f in sig.get("features") or []]
    session = make_session(onnx_bytes, source.threads)
    return LoadedModel(name=source.model, version=source.version,
                       model_digest="sha256:" + digest, content_digest=v.content_digest,
                       signature=sig, features=features, session=session,
                       inputs=list(sig["inputs"]), outputs=list(sig["outputs"]),
                       classes=list(sig.get("classes") or []), path=v.path)
