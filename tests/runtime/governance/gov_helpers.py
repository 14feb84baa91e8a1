"""Shared pieces of the governance tests: people, model facts, a fake registry, stores."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from postgres_helpers import postgres_url

from specops.runtime.governance import Directory, Governance

CONFIG: dict[str, Any] = {
    "people": {
        "alice": {"roles": ["ml_engineer"], "teams": ["credit_risk"]},
        "dan": {"roles": ["ml_engineer"], "teams": ["risk_data"]},
        "bob": {"roles": ["model_risk_officer"], "teams": ["model_validation"]},
        "erin": {"roles": ["model_risk_officer"], "teams": ["model_validation"]},
        "gina": {"roles": ["model_risk_officer"], "teams": ["credit_risk"]},
        "carol": {"roles": ["business_owner"], "teams": ["lending"]},
        "hank": {"roles": ["business_owner", "model_risk_officer"], "teams": ["lending"]},
        "frank": {"roles": ["platform_engineer"], "teams": ["platform"]},
        "vic": {"roles": ["validator"], "teams": ["model_validation"]},
        "root": {"roles": ["admin"], "teams": []},
        "nobody": {"roles": [], "teams": []},
    },
}


def directory(permissions: dict[str, list[str]] | None = None) -> Directory:
    cfg = dict(CONFIG)
    if permissions is not None:
        cfg["permissions"] = permissions
    return Directory.from_config(cfg)


def rule(require: dict[str, int], *, sod: bool = True, auto: bool = False,
         expires_s: int | None = None, environments: list[str] | None = None
         ) -> dict[str, Any]:
    return {"name": "risk_tiered", "environments": environments or ["production"],
            "rules": [{"index": 0, "applies": True, "when": {"op": "lit", "value": True},
                       "require": require, "separation_of_duties": sod, "auto_approve": auto,
                       "expires_s": expires_s}]}


def facts(approval: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    base = {"owner": "team:credit_risk", "authors": ["alice"], "risk_tier": "high",
            "task": "binary_classification", "description": "PD model",
            "intended_use": "rank applications", "limitations": "synthetic data",
            "assumptions": "bureau data available", "validator": "bob",
            "gates": ["quality"], "protected": ["applications.sex"],
            "approval": approval if approval is not None else rule(
                {"model_risk_officer": 1, "business_owner": 1}, expires_s=90 * 86400)}
    base.update(over)
    return base


class SignedRegistry:
    """The real signed registry (`specops.runtime.registry.Registry`) for governance tests.

    Every version is registered for real (signed manifest, read-only files, the session key
    of tests/runtime/conftest.py), so `verify` checks actual bytes. The states the old fake
    set by assignment are reached here the way they happen: `tamper` flips a byte of a
    stored file (anyone with write access to the artifact folder), `forge_digest` rewrites
    the version row's digest (anyone with write access to the database), and a rejected
    version is registered as rejected."""

    def __init__(self, root: Path) -> None:
        from specops.runtime.registry import Registry

        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.reg = Registry.open(root, f"sqlite:///{root / 'registry.db'}")
        self._saved: dict[Path, bytes] = {}

    def __getattr__(self, name: str) -> Any:   # get, verify, set_alias, aliases, ...
        return getattr(self.reg, name)

    def add(self, model: str, version: int, status: str = "registered") -> Any:
        """Register model@1..version (each with its own bytes); model@version."""
        for n in range(1, version + 1):
            try:
                existing = self.reg.get(model, n)
            except LookupError:
                existing = None
            except RuntimeError:     # RegistryError: not registered yet
                existing = None
            if existing is not None:
                continue
            src = self.root / "src" / model / str(n)
            src.mkdir(parents=True, exist_ok=True)
            body = f"{model}@{n}".encode() * 64
            if status == "rejected" and n == version:
                (src / "gate_report.json").write_text('{"passed": false}')
                files = {"gate_report.json": src / "gate_report.json"}
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                v = self.reg.register(model, files, {"run_id": f"run-{n}"}, status=status,
                                      reasons=["gate quality failed"], model_digest=digest)
            else:
                (src / "model.onnx").write_bytes(body)
                v = self.reg.register(model, {"model.onnx": src / "model.onnx"},
                                      {"run_id": f"run-{n}"})
            assert v.version == n, (v.version, n)
        return self.reg.get(model, version)

    def tamper(self, model: str, version: int, name: str = "model.onnx") -> None:
        path = self.reg.get(model, version).path / name
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        data = bytearray(path.read_bytes())
        self._saved.setdefault(path, bytes(data))
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))

    def restore(self) -> None:
        for path, data in self._saved.items():
            path.write_bytes(data)
        self._saved.clear()

    def forge_digest(self, model: str, version: int, digest: str) -> None:
        from specops.runtime.registry import registry_tables as T

        with self.reg.engine.begin() as conn:
            conn.execute(T.versions.update().where(T.versions.c.model == model,
                                                   T.versions.c.version == version)
                         .values(model_digest=digest))

    def close(self) -> None:
        self.reg.close()


@dataclass
class FakeVersion:
    model: str
    version: int
    model_digest: str
    status: str = "registered"
    run_id: str = "run-1"


@dataclass
class FakeRegistry:
    """Kept for the trust tests (tests/runtime/trust/trust_helpers.py), which only need
    a registry's digests and aliases; governance tests use `SignedRegistry`."""

    versions: dict[tuple[str, int], FakeVersion] = field(default_factory=dict)
    broken: set[tuple[str, int]] = field(default_factory=set)
    aliases: list[tuple[str, str, int | None, str]] = field(default_factory=list)

    def add(self, model: str, version: int, digest: str | None = None) -> FakeVersion:
        v = FakeVersion(model, version, digest or f"sha256:{model}-{version}".ljust(71, "0"))
        self.versions[(model, version)] = v
        return v

    def get(self, model: str, version: int) -> FakeVersion:
        try:
            return self.versions[(model, version)]
        except KeyError:
            raise LookupError(f"{model}@{version} does not exist") from None

    def verify(self, model: str, version: int) -> dict[str, Any]:
        return {"problems": ["manifest signature is invalid"]
                if (model, version) in self.broken else []}

    def set_alias(self, model: str, alias: str, version: int | None, actor: str = "",
                  reason: str = "") -> None:
        self.aliases.append((model, alias, version, actor))


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def pg_schema() -> str:
    return f"specops_gov_{uuid.uuid4().hex[:12]}"


def drop_pg_schema(schema: str) -> None:
    eng = sa.create_engine(postgres_url())
    with eng.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    eng.dispose()


def make_gov(url: str, tmp_path: Path, *, registry: Any = None, schema: str | None = None,
             permissions: dict[str, list[str]] | None = None, clock: Clock | None = None
             ) -> Governance:
    gov = Governance.open(tmp_path, url, registry=registry or FakeRegistry(),
                          directory=directory(permissions), schema=schema)
    if clock is not None:
        gov.clock = clock
    return gov
