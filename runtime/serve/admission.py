"""Admission: the one gate every serving path passes before a model answers anything.

Why one function (`admit`) for the lean server, Ray Serve replicas, batch `predict` and
its Ray tasks, and the staging check: a rule enforced on one path and forgotten on
another is a rule an attacker routes around. Each path builds its onnxruntime session
only from an `Admitted`, and `Admitted` is only made here.

What is checked, in this order (the first failure refuses, with a one-line cause and the
`check` that failed, see `ModelRefused`):
1. `signature`: the registry's own `verify` (signed manifest, pinned key, every file
   re-hashed). The signature scheme lives in the registry; admission never re-implements
   it, it only calls the public method and refuses on any problem.
2. `bytes`: the exact bytes that will be loaded are read once, hashed, and compared with
   the digests of the signed manifest; the session and the signature metadata are then
   built from those in-memory bytes, never re-read from disk (no time-of-check /
   time-of-use gap). The manifest bytes themselves are pinned: they are read before
   `verify` and must hash to the registry row's manifest digest that `verify` checks the
   file against, so a manifest swapped in after verification is refused.
3. With an environment `E` (`specops serve --env E`):
   - `not_deployed`: governance records a deploy (or rollback) that makes this version
     the one serving `E`. A registry alias is not enough: anyone with database access
     can move an alias; a deploy goes through permissions, approvals and the audit log;
   - `deployed_digest`: the digest of the loaded bytes equals the digest recorded by that
     deploy (a file swapped after deploy, or a version re-registered under the same
     number with other bytes, is refused even when it verifies);
   - `approval`: the version's latest approval request is approved *now* (not voided,
     rejected or expired, bound to exactly these bytes). A rollback is held to the same
     rule: serving needs approvals valid today, not the ones it once served under;
   - `deploy`: governance's `promotion.deploy_is_valid` (the deploy statement's signature
     under the trust root in force, separation of duties) where governance provides it,
     then every validator registered with `register_deploy_validator`.

`check_deployment` is step 3 alone; the lean server's periodic re-check (`recheck.py`)
runs it while serving, so a version voided or expired after start stops answering.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEPLOY_VALIDATORS", "Admitted", "DeployState", "DeployValidator", "ModelRefused",
           "admit", "check_deployment", "register_deploy_validator"]

MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"


class ModelRefused(RuntimeError):
    """This version must not serve; `check` names the rule that refused it (`unknown`,
    `status`, `signature`, `bytes`, `not_deployed`, `deployed_digest`, `deploy`,
    `approval`). The message is always one line."""

    def __init__(self, message: str, check: str = "refused") -> None:
        super().__init__(" ".join(str(message).split()))
        self.check = check


DeployValidator = Callable[[Any, dict[str, Any]], "str | None"]
DEPLOY_VALIDATORS: list[DeployValidator] = []


def register_deploy_validator(validator: DeployValidator) -> None:
    """Run `validator(governance, deployment_row)` on every admission for an environment;
    a returned string refuses (e.g. the deploy statement's signature does not verify
    against the trust root)."""
    if validator not in DEPLOY_VALIDATORS:
        DEPLOY_VALIDATORS.append(validator)


@dataclass(frozen=True)
class DeployState:
    """Why a version may serve an environment now (the evidence admission relied on)."""

    environment: str
    deployment: dict[str, Any]
    request_id: int | None
    approval_state: str | None          # None: the environment needs no approval
    expires_at: float | None            # when the approvals stop counting (None: never)


@dataclass(frozen=True)
class Admitted:
    """A version that passed admission, with the bytes that were checked."""

    model: str
    version: int
    model_digest: str                   # sha256:… of `onnx`
    content_digest: str
    onnx: bytes
    signature: dict[str, Any]           # parsed from the checked signature.json bytes
    manifest: dict[str, Any]
    path: Path
    deploy: DeployState | None = None
    _artifacts: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"

    @property
    def environment(self) -> str | None:
        return self.deploy.environment if self.deploy else None

    def artifact(self, name: str) -> bytes:
        """Another file of the version (e.g. `test_rows.parquet`), read once and checked
        against the signed manifest; use the returned bytes, not the file."""
        info = self._artifacts.get(name)
        if not isinstance(info, dict):
            raise ModelRefused(f"{self.ref}: {name} is not in the signed manifest", "bytes")
        return _checked(self.path / name, info, f"{self.ref}: {name}")


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _checked(path: Path, info: dict[str, Any], what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelRefused(f"{what} cannot be read: {exc.strerror or exc}", "bytes") from None
    if _sha256(data) != info.get("sha256") or len(data) != info.get("size"):
        raise ModelRefused(f"{what} refused: the bytes to load (sha256 {_sha256(data)[:19]}…) "
                           f"are not the signed ones ({str(info.get('sha256'))[:19]}…)",
                           "bytes")
    return data


def _pinned_manifest_digest(registry: Any, model: str, version: int) -> str | None:
    """The registry row's manifest digest (what `verify` checks the file against)."""
    engine = getattr(registry, "engine", None)
    if engine is None:
        return None
    import sqlalchemy as sa

    from specops.runtime.registry import registry_tables as T

    with engine.connect() as c:
        value = c.execute(sa.select(T.versions.c.manifest_sha256).where(
            T.versions.c.model == model, T.versions.c.version == version)).scalar()
    return str(value) if value is not None else None


def _pick_version(registry: Any, model: str, version: int | str | None) -> int | None:
    from specops.runtime.registry import RegistryError

    if version is None:
        return None
    if isinstance(version, int) or str(version).isdigit():
        return int(version)
    try:
        return int(registry.resolve(f"{model}@{version}").version)
    except RegistryError as exc:
        raise ModelRefused(str(exc), "unknown") from None


def _not_deployed(model: str, environment: str) -> ModelRefused:
    return ModelRefused(f"{model} is not deployed to {environment}; deploy it first "
                        f"(specops deploy {model}@VERSION --env {environment})",
                        "not_deployed")


def check_deployment(gov: Any, model: str, version: int, model_digest: str,
                     environment: str) -> DeployState:
    """Refuse unless `model@version` with bytes `model_digest` may serve `environment` now:
    the current deploy there is of exactly these bytes, every deploy validator accepts
    it, and its approvals are valid now."""
    from specops.runtime.governance import promotion
    from specops.runtime.governance.approvals import require_approved
    from specops.runtime.governance.errors import GovernanceError

    ref = f"{model}@{version}"
    row = promotion.current_deployment(gov, model, environment)
    if row is None:
        raise _not_deployed(model, environment)
    if int(row["version"]) != version:
        raise ModelRefused(f"{ref} is not the version deployed to {environment} (that is "
                           f"@{row['version']}); only deployed versions serve there",
                           "not_deployed")
    if row["model_digest"] != model_digest:
        raise ModelRefused(f"{ref} refused for {environment}: its bytes ({model_digest[:19]}…) "
                           f"are not the ones deployed there ({str(row['model_digest'])[:19]}…,"
                           f" {row['action']} by {row['actor']})", "deployed_digest")
    try:
        with gov.engine.connect() as conn:
            st = require_approved(conn, gov, model, version, environment, model_digest)
    except GovernanceError as exc:
        raise ModelRefused(f"{ref} refused for {environment}: {exc}", "approval") from None
    # governance's own verdict on the deploy (its signed statement under the trust root,
    # separation of duties), where this version of governance provides one
    deploy_is_valid = getattr(promotion, "deploy_is_valid", None)
    if deploy_is_valid is not None:
        ok, why = deploy_is_valid(gov, model, version, environment)
        if not ok:
            raise ModelRefused(f"{ref} refused for {environment}: {why}", "deploy")
    for validator in list(DEPLOY_VALIDATORS):
        problem = validator(gov, dict(row))
        if problem:
            raise ModelRefused(f"{ref} refused for {environment}: {problem}", "deploy")
    return DeployState(environment, dict(row), st.request_id if st else None,
                       st.state if st else None, st.expires_at if st else None)


def admit(registry: Any, governance: Any | None, model: str,
          version: int | str | None = None, environment: str | None = None) -> Admitted:
    """Admit `model` (`version`: a number, an alias, or None for the latest registered one
    or, with `environment`, the one deployed there) or raise `ModelRefused`."""
    from specops.runtime.registry import RegistryError

    chosen = _pick_version(registry, model, version)
    if environment:
        if governance is None:
            raise ModelRefused(f"serving {model} in {environment} needs the governance "
                               "store (its deploy record)", "not_deployed")
        from specops.runtime.governance.promotion import current_deployment

        row = current_deployment(governance, model, environment)
        if row is None:
            raise _not_deployed(model, environment)
        deployed = int(row["version"])
        if chosen is not None and chosen != deployed:
            raise ModelRefused(f"{model}@{chosen} is not the version deployed to "
                               f"{environment} (that is @{deployed}); only deployed versions "
                               "serve there", "not_deployed")
        chosen = deployed
    try:
        v = (registry.get(model, chosen) if chosen is not None
             else registry.resolve(model))
    except RegistryError as exc:
        raise ModelRefused(str(exc), "unknown") from None
    ref = f"{model}@{v.version}"
    if v.status != "registered":
        raise ModelRefused(f"{ref} is {v.status}; only registered versions serve", "status")
    # pin the manifest: these bytes, hashed, must be the ones `verify` is about to check
    pinned = _pinned_manifest_digest(registry, model, v.version)
    try:
        manifest_bytes = (v.path / MANIFEST).read_bytes()
    except OSError:
        manifest_bytes = b""
    try:
        report = registry.verify(model, v.version)
    except RegistryError as exc:
        raise ModelRefused(f"{ref}: {exc}", "unknown") from None
    except Exception as exc:   # a broken key or trust root: refuse, never serve unverified
        raise ModelRefused(f"{ref} refused: cannot verify: {type(exc).__name__}: {exc}",
                           "signature") from None
    problems = list(report.get("problems") or [])
    if problems or not report.get("ok", True):
        raise ModelRefused(f"{ref} refused: registry verification failed: "
                           + ("; ".join(problems) or "not ok"), "signature")
    if pinned is not None and _sha256(manifest_bytes) != pinned:
        raise ModelRefused(f"{ref} refused: manifest.json changed during verification",
                           "signature")
    try:
        manifest: dict[str, Any] = json.loads(manifest_bytes)
        artifacts: dict[str, Any] = dict(manifest["artifacts"])
    except (ValueError, KeyError, TypeError):
        raise ModelRefused(f"{ref} refused: manifest.json is not a manifest", "signature"
                           ) from None
    if manifest.get("model") != model or manifest.get("version") != v.version:
        raise ModelRefused(f"{ref} refused: the manifest names another model or version",
                           "signature")
    for name in ("model.onnx", "signature.json"):
        if not isinstance(artifacts.get(name), dict):
            raise ModelRefused(f"{ref} refused: {name} is not in the signed manifest", "bytes")
    onnx = _checked(v.path / "model.onnx", artifacts["model.onnx"], f"{ref}: model.onnx")
    sig_bytes = _checked(v.path / "signature.json", artifacts["signature.json"],
                         f"{ref}: signature.json")
    digest = _sha256(onnx)
    if manifest.get("model_digest") != digest or v.model_digest != digest:
        raise ModelRefused(f"{ref} refused: model.onnx ({digest[:19]}…) is not the model "
                           "digest the registry recorded", "bytes")
    try:
        signature: dict[str, Any] = json.loads(sig_bytes)
    except ValueError:
        raise ModelRefused(f"{ref} refused: signature.json is not JSON", "bytes") from None
    deploy = (check_deployment(governance, model, v.version, digest, environment)
              if environment else None)
    return Admitted(model=model, version=v.version, model_digest=digest,
                    content_digest=str(manifest.get("content_digest", v.content_digest)),
                    onnx=onnx, signature=signature, manifest=manifest, path=v.path,
                    deploy=deploy, _artifacts=artifacts)
