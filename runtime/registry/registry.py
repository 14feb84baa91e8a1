"""`Registry`: immutable, signed model versions with aliases that keep their history.

Why it works this way:
- A version's files are copied into `<artifacts>/registry/<model>/<version>/`, made
  read-only, and described by a signed `manifest.json`; `verify` re-hashes every byte, so a
  changed file, a changed manifest, an added or a missing file are all detected.
- A version never changes. Registering identical content (same `content_digest`, see
  `manifest.py`) returns the existing version instead of minting a new number.
- Versions are numbered per model, 1, 2, 3…; a candidate that failed its gates is recorded
  as a version with status `rejected` and its reasons (evidence for reviewers: what was
  tried and why it was stopped). Aliases can only point at `registered` versions.
- Aliases (`production`, `staging`, …) are mutable pointers; each move is appended to the
  alias history (MLflow's missing "which version was in production when" — mlflow#2169).
- Files are staged in a temporary directory and renamed into place, then the row is
  inserted; a crash in between leaves an orphan directory that no row references, which the
  next registration of that number replaces.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from specops.runtime.registry import registry_tables as T
from specops.runtime.registry.manifest import (
    FORMAT,
    MANIFEST,
    SIGNATURE,
    canonical,
    content_digest,
    hash_artifacts,
)
from specops.runtime.registry.signing import ALGORITHM, sign_manifest, verify_manifest
from specops.runtime.trust.keyring import Keyring, load_keyring
from specops.runtime.trust.signer import Signer, registry_signer
from specops.runtime.trust.ssh_keys import KeyProblem
from specops.runtime.trust.trust_root import TrustError, read_config

__all__ = ["Registry", "RegistryError", "Version", "parse_ref"]


class RegistryError(RuntimeError):
    """A registry operation the user asked for cannot be done (unknown model, bad ref)."""


@dataclass(frozen=True)
class Version:
    model: str
    version: int
    status: str
    content_digest: str
    model_digest: str
    path: Path
    run_id: str
    created_at: float
    reasons: list[str]
    metrics: dict[str, Any]
    created: bool = False          # True when this call minted it

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"

    def manifest(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.path / MANIFEST).read_bytes())
        return doc


def parse_ref(ref: str) -> tuple[str, str | None]:
    """`name`, `name@3` or `name@production` -> (name, "3" | "production" | None)."""
    name, sep, tag = ref.partition("@")
    if not name or (sep and not tag):
        raise RegistryError(f"bad model reference {ref!r}; use NAME, NAME@VERSION or "
                            "NAME@ALIAS")
    return name, (tag or None)


def _make_readonly(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            os.chmod(Path(dirpath) / f, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _remove_tree(path: Path) -> None:
    """Remove a staged or orphaned version directory (its files are read-only)."""
    for dirpath, _dirs, files in os.walk(path):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(Path(dirpath) / f, 0o644)
    shutil.rmtree(path)


class Registry:
    def __init__(self, engine: sa.Engine, root: Path, key_dir: Path | None = None, *,
                 project_root: Path | None = None, signer: Signer | None = None,
                 keyring: Keyring | None = None) -> None:
        """`signer` signs new manifests (default: the key specops.yaml or
        $SPECOPS_REGISTRY_KEY references, loaded on first registration; never created);
        `keyring` verifies them (default: the pinned keys, runtime/trust/keyring.py).
        `key_dir` (`<project>/.specops/keys`) only locates the project when
        `project_root` is not given."""
        self.engine = engine
        self.root = root            # <artifacts>/registry
        if project_root is None and key_dir is not None:
            project_root = key_dir.parent.parent
        self.project_root = (project_root or Path.cwd()).resolve()
        self._signer = signer
        self._keyring = keyring
        self.owns_engine = False
        T.ensure_schema(engine)

    @property
    def signer(self) -> Signer:
        """The registry's signing key; `RegistryError` (one line) when none is configured."""
        if self._signer is None:
            reg = read_config(self.project_root).get("registry") or {}
            configured = reg.get("key") if isinstance(reg, dict) else None
            try:
                self._signer = registry_signer(self.project_root,
                                               str(configured) if configured else None)
            except KeyProblem as exc:
                raise RegistryError(str(exc)) from None
        return self._signer

    def keyring(self) -> Keyring:
        """Key id -> pinned public key that may verify manifests."""
        if self._keyring is not None:
            return self._keyring
        return load_keyring(self.engine)

    def close(self) -> None:
        """Release pooled connections this registry opened (not a borrowed engine). The
        engine stays usable: SQLAlchemy reconnects on next use."""
        if self.owns_engine:
            self.engine.dispose()

    @classmethod
    def open(cls, project_root: Path, store_url: str | None = None,
             artifacts: str | Path | None = None) -> Registry:
        """The registry of a project: its store database, artifact dir and key dir."""
        root = project_root.resolve()
        url = store_url or "sqlite:///.specops/store.db"
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url[len("sqlite:///"):]
            if rel and rel != ":memory:":
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                url = "sqlite:///" + str((root / rel).resolve())
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        engine = sa.create_engine(url, **kwargs)
        art = root / (artifacts or ".specops/artifacts")
        reg = cls(engine, art / "registry", project_root=root)
        reg.owns_engine = True
        return reg

    # -- reading -------------------------------------------------------------------------
    def _row_to_version(self, row: Any) -> Version:
        return Version(row.model, row.version, row.status, row.content_digest,
                       row.model_digest, self.root / row.path, row.run_id, row.created_at,
                       list(row.reasons or []), dict(row.metrics or {}))

    def models(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(T.models).order_by(T.models.c.name)).all()
            out = []
            for m in rows:
                vs = c.execute(sa.select(T.versions.c.version, T.versions.c.status)
                               .where(T.versions.c.model == m.name)).all()
                al = c.execute(sa.select(T.aliases.c.alias, T.aliases.c.version)
                               .where(T.aliases.c.model == m.name)).all()
                registered = [v.version for v in vs if v.status == "registered"]
                out.append({"name": m.name, "owner": m.owner, "risk_tier": m.risk_tier,
                            "task": m.task, "versions": len(registered),
                            "rejected": len(vs) - len(registered),
                            "latest": max(registered) if registered else None,
                            "aliases": {a.alias: a.version for a in al}})
            return out

    def versions(self, model: str) -> list[Version]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(T.versions).where(T.versions.c.model == model)
                             .order_by(T.versions.c.version)).all()
        return [self._row_to_version(r) for r in rows]

    def aliases(self, model: str) -> dict[str, int]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(T.aliases).where(T.aliases.c.model == model)).all()
        return {r.alias: r.version for r in rows}

    def alias_history(self, model: str, alias: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(T.alias_history).where(T.alias_history.c.model == model)
        if alias:
            q = q.where(T.alias_history.c.alias == alias)
        with self.engine.connect() as c:
            rows = c.execute(q.order_by(T.alias_history.c.id)).all()
        return [{"alias": r.alias, "from": r.from_version, "to": r.to_version,
                 "actor": r.actor, "reason": r.reason, "at": r.at} for r in rows]

    def get(self, model: str, version: int) -> Version:
        with self.engine.connect() as c:
            row = c.execute(sa.select(T.versions).where(T.versions.c.model == model,
                                                        T.versions.c.version == version)
                            ).first()
        if row is None:
            raise RegistryError(f"{model}@{version} does not exist")
        return self._row_to_version(row)

    def resolve(self, ref: str) -> Version:
        """`name` (latest registered), `name@<n>` or `name@<alias>`."""
        name, tag = parse_ref(ref)
        if tag is None:
            registered = [v for v in self.versions(name) if v.status == "registered"]
            if not registered:
                raise RegistryError(f"model {name!r} has no registered version")
            return registered[-1]
        if tag.isdigit():
            return self.get(name, int(tag))
        version = self.aliases(name).get(tag)
        if version is None:
            raise RegistryError(f"{name} has no alias {tag!r}")
        return self.get(name, version)

    def champion(self, model: str, alias: str = "production") -> Version | None:
        """The version the alias points at, verified; None when nothing is in production."""
        version = self.aliases(model).get(alias)
        if version is None:
            return None
        v = self.get(model, version)
        problems = self.verify(model, version)["problems"]
        if problems:
            raise RegistryError(f"champion {v.ref} fails verification: {'; '.join(problems)}")
        return v

    @classmethod
    def for_context(cls, ctx: Any) -> Registry:
        """The registry an op should use: `ctx.extra["registry"]` when the runtime passes
        one, else the project's, from `ctx.extra` store/artifact settings or the defaults."""
        extra = ctx.extra
        given = extra.get("registry")
        if isinstance(given, Registry):
            return given
        artifacts = extra.get("artifacts_dir") or extra.get("artifacts")
        root = Path(ctx.project_root).resolve()
        store = extra.get("store")
        if store is not None and hasattr(store, "engine"):
            art = root / (artifacts or ".specops/artifacts")
            return cls(store.engine, art / "registry", project_root=root)
        url = extra.get("store_url") or (store if isinstance(store, str) else None)
        return cls.open(root, url, artifacts)

    # -- writing -------------------------------------------------------------------------
    def register(self, model: str, files: dict[str, Path], lineage: dict[str, Any],
                 status: str = "registered", reasons: list[str] | None = None,
                 metrics: dict[str, Any] | None = None, owner: str = "",
                 risk_tier: str = "", task: str = "", model_digest: str = "") -> Version:
        """Record a version (or return the identical one already there).

        A `rejected` version may carry evidence only (evaluation, parity, gate report) and
        no `model.onnx`: a model that failed its gates is never shipped from the registry;
        `model_digest` then names the ONNX file that was judged.
        """
        if status not in ("registered", "rejected"):
            raise RegistryError(f"status must be registered or rejected, got {status!r}")
        if not model or "/" in model or model.startswith("."):
            raise RegistryError(f"bad model name {model!r}")
        if "model.onnx" not in files and status == "registered":
            raise RegistryError("a registered version needs model.onnx")
        reserved = {MANIFEST, SIGNATURE} & set(files)
        if reserved:
            raise RegistryError(f"artifact names {sorted(reserved)} are reserved")
        artifacts = hash_artifacts(files)
        digest = content_digest(artifacts)
        with self.engine.begin() as c:
            if c.execute(sa.select(T.models.c.name).where(T.models.c.name == model)).first() \
                    is None:
                c.execute(T.models.insert().values(name=model, owner=owner,
                                                   risk_tier=risk_tier, task=task,
                                                   created_at=time.time()))
            same = c.execute(sa.select(T.versions).where(
                T.versions.c.model == model, T.versions.c.content_digest == digest,
                T.versions.c.status == status).order_by(T.versions.c.version)).first()
        if same is not None:
            return self._row_to_version(same)
        key = self.signer
        for _attempt in range(5):
            try:
                return self._mint(model, files, artifacts, digest, lineage, status,
                                  reasons or [], metrics or {}, key, model_digest)
            except sa.exc.IntegrityError:
                continue   # another writer took the number; take the next one
        raise RegistryError(f"could not allocate a version number for {model}")

    def _mint(self, model: str, files: dict[str, Path], artifacts: dict[str, Any],
              digest: str, lineage: dict[str, Any], status: str, reasons: list[str],
              metrics: dict[str, Any], key: Signer, model_digest: str) -> Version:
        with self.engine.connect() as c:
            top = c.execute(sa.select(sa.func.max(T.versions.c.version))
                            .where(T.versions.c.model == model)).scalar()
        number = int(top or 0) + 1
        now = time.time()
        manifest = {"format": FORMAT, "model": model, "version": number, "status": status,
                    "reasons": reasons, "artifacts": artifacts, "content_digest": digest,
                    "model_digest": (artifacts["model.onnx"]["sha256"]
                                     if "model.onnx" in artifacts else model_digest),
                    "lineage": lineage, "metrics": metrics, "created_at": now,
                    "signing": {"algorithm": ALGORITHM, "key_id": key.key_id}}
        body = canonical(manifest)
        sig = sign_manifest(key, body)
        model_dir = self.root / model
        model_dir.mkdir(parents=True, exist_ok=True)
        stage = model_dir / f".staging-{uuid.uuid4().hex}"
        stage.mkdir()
        try:
            for name, src in files.items():
                dest = stage / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            (stage / MANIFEST).write_bytes(body)
            (stage / SIGNATURE).write_text(json.dumps(sig, indent=2, sort_keys=True) + "\n")
            _make_readonly(stage)
            final = model_dir / str(number)
            if final.exists():   # an orphan from a crash: no row references it
                with self.engine.connect() as c:
                    claimed = c.execute(sa.select(T.versions.c.id).where(
                        T.versions.c.model == model, T.versions.c.version == number)).first()
                if claimed is not None:
                    raise sa.exc.IntegrityError("version taken", None, Exception())
                _remove_tree(final)
            stage.rename(final)
        except BaseException:
            if stage.exists():
                _remove_tree(stage)
            raise
        row = {"model": model, "version": number, "status": status, "content_digest": digest,
               "model_digest": manifest["model_digest"],
               "manifest_sha256": "sha256:" + hashlib.sha256(body).hexdigest(),
               "key_id": key.key_id, "path": f"{model}/{number}",
               "run_id": str(lineage.get("run_id", "")), "created_at": now,
               "reasons": reasons, "metrics": metrics}
        try:
            with self.engine.begin() as c:
                c.execute(T.versions.insert().values(**row))
        except sa.exc.IntegrityError:
            _remove_tree(final)
            raise
        v = self.get(model, number)
        return Version(**{**v.__dict__, "created": True})

    def set_alias(self, model: str, alias: str, version: int | None, actor: str = "",
                  reason: str = "") -> None:
        """Point `alias` at `version` (None removes it); the move is kept in the history."""
        if not alias or alias.isdigit() or "@" in alias:
            raise RegistryError(f"bad alias name {alias!r}")
        if version is not None:
            v = self.get(model, version)
            if v.status != "registered":
                raise RegistryError(f"{v.ref} is {v.status}; only registered versions can "
                                    "carry an alias")
        now = time.time()
        with self.engine.begin() as c:
            cur = c.execute(sa.select(T.aliases.c.version).where(
                T.aliases.c.model == model, T.aliases.c.alias == alias)).scalar()
            if cur == version:
                return
            if cur is not None:
                c.execute(T.aliases.delete().where(T.aliases.c.model == model,
                                                   T.aliases.c.alias == alias))
            if version is not None:
                c.execute(T.aliases.insert().values(model=model, alias=alias, version=version,
                                                    actor=actor, updated_at=now))
            c.execute(T.alias_history.insert().values(model=model, alias=alias,
                                                      from_version=cur, to_version=version,
                                                      actor=actor, reason=reason, at=now))

    # -- verification --------------------------------------------------------------------
    def verify(self, model: str, version: int) -> dict[str, Any]:
        """Re-hash every file and check the signature; `problems` empty means intact."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(T.versions).where(T.versions.c.model == model,
                                                        T.versions.c.version == version)
                            ).first()
        if row is None:
            raise RegistryError(f"{model}@{version} does not exist")
        vdir = self.root / row.path
        problems: list[str] = []
        checked: list[str] = []
        report: dict[str, Any] = {"model": model, "version": version, "path": str(vdir),
                                  "problems": problems, "checked": checked, "ok": False}
        man_path, sig_path = vdir / MANIFEST, vdir / SIGNATURE
        if not man_path.is_file() or not sig_path.is_file():
            problems.append("manifest.json or manifest.sig is missing")
            return report
        body = man_path.read_bytes()
        if "sha256:" + hashlib.sha256(body).hexdigest() != row.manifest_sha256:
            problems.append("manifest.json differs from the registered manifest digest")
        try:
            sig = json.loads(sig_path.read_text())
            if not isinstance(sig, dict):
                raise ValueError("manifest.sig is not a JSON object")
            problem = verify_manifest(sig, body, self.keyring())
            if problem is None and row.key_id != sig.get("key_id"):
                problem = "manifest.sig names another key than the registered one"
            if problem:
                problems.append(problem)
        except (ValueError, OSError, TrustError) as exc:
            problems.append(f"cannot check the signature: {str(exc).splitlines()[0]}")
        try:
            manifest = json.loads(body)
            arts: dict[str, Any] = manifest["artifacts"]
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"manifest.json is not a valid manifest: {exc}")
            return report
        if manifest.get("model") != model or manifest.get("version") != version:
            problems.append("manifest names a different model or version")
        if manifest.get("model_digest") != row.model_digest:
            problems.append("the registered model digest differs from the signed manifest's")
        for name, info in sorted(arts.items()):
            path = vdir / name
            if not path.is_file():
                problems.append(f"{name}: missing")
                continue
            actual = hash_artifacts({name: path})[name]
            if actual["sha256"] != info.get("sha256") or actual["size"] != info.get("size"):
                problems.append(f"{name}: content changed (sha256 {actual['sha256'][:19]}… "
                                f"!= {str(info.get('sha256'))[:19]}…)")
            checked.append(name)
        present = {str(p.relative_to(vdir)) for p in vdir.rglob("*") if p.is_file()}
        extra = sorted(present - set(arts) - {MANIFEST, SIGNATURE})
        if extra:
            problems.append(f"unexpected file(s): {', '.join(extra)}")
        if content_digest(arts) != row.content_digest:
            problems.append("content digest differs from the registered one")
        report["ok"] = not problems
        return report
