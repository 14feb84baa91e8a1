"""`Governance`: what every governance service function works against.

Why one object: an action needs the database (governance tables + audit chain), the
project's people and permissions, the model registry (digests, signatures, aliases) and a
clock (tests move time to check expiry). Service functions take it as their first argument.

The registry is reached through `RegistryLike`, the minimal interface governance needs;
`specops.runtime.registry.Registry` satisfies it, and tests can pass a fake.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from specops.runtime.governance.database import open_engine
from specops.runtime.governance.errors import NotFound
from specops.runtime.governance.governance_tables import ensure_schema
from specops.runtime.governance.identity import Directory, load_directory

__all__ = ["Governance", "RegistryLike", "VersionLike"]


class VersionLike(Protocol):
    model: str
    version: int
    status: str
    model_digest: str
    run_id: str


class RegistryLike(Protocol):
    """The registry calls governance makes (all provided by `Registry`)."""

    def get(self, model: str, version: int) -> Any: ...

    def verify(self, model: str, version: int) -> Mapping[str, Any]: ...

    def set_alias(self, model: str, alias: str, version: int | None, actor: str = "",
                  reason: str = "") -> None: ...


@dataclass
class Governance:
    """`signed` (runtime/trust/acting.py): actions are signed statements and the people,
    roles and permissions in force are the accepted trust root's (`trust`), not the live
    specops.yaml; `trust_problem` is why the acceptance chain does not verify (every
    governed action is then refused). `signer` is the acting person's key."""

    engine: sa.Engine
    directory: Directory = field(default_factory=Directory)
    registry: RegistryLike | None = None
    clock: Callable[[], float] = time.time
    project_root: Path = field(default_factory=Path.cwd)
    signed: bool = False
    trust: Any = None                 # TrustRoot | None
    trust_problem: str | None = None
    signer: Any = None                # runtime.trust.signer.Signer | None

    def __post_init__(self) -> None:
        ensure_schema(self.engine)

    def load_trust(self, keys_in_config: bool) -> None:
        """Switch to signed mode when the project lists keys, when $SPECOPS_REQUIRE_SIGNED
        is set, or when a trust root was ever accepted: a `trust_roots` row, or its audit
        entry (the audit log's triggers and checkpoints keep that one, so deleting the
        roots and the keys from specops.yaml cannot downgrade to claimed identity). Then
        people and permissions come from the root in force."""
        import os

        from specops.runtime.governance.ledger import audit
        from specops.runtime.trust.trust_root import TrustError
        from specops.runtime.trust.trust_store import ensure_trust_schema, in_force, roots

        ensure_trust_schema(self.engine)
        try:
            with self.engine.connect() as conn:
                ever = conn.execute(sa.select(roots.c.seq).limit(1)).first() is not None \
                    or conn.execute(sa.select(audit.log.c.seq).where(
                        audit.log.c.action == "trust_root_in_force").limit(1)).first() \
                    is not None
                if not (keys_in_config or ever or os.environ.get("SPECOPS_REQUIRE_SIGNED")):
                    return
                self.signed = True
                self.trust = in_force(conn)
        except TrustError as exc:
            self.trust, self.trust_problem = None, f"the trust root is broken: {exc}"
        self.directory = (self.trust.directory() if self.trust is not None
                          else Directory(configured=True))

    @classmethod
    def open(cls, project_root: Path | str = ".", store_url: str | None = None, *,
             artifacts: str | None = None, registry: RegistryLike | None = None,
             directory: Directory | None = None, schema: str | None = None,
             with_registry: bool = True) -> Governance:
        """Governance for the project at `project_root`: its store, people, registry."""
        root = Path(project_root).resolve()
        engine = open_engine(store_url, root, schema=schema)
        if registry is None and with_registry:
            from specops.runtime.registry import Registry

            art = root / (artifacts or ".specops/artifacts")
            registry = Registry(engine, art / "registry", project_root=root)
        gov = cls(engine, directory if directory is not None else load_directory(root),
                  registry, project_root=root)
        if directory is None:
            from specops.runtime.trust.trust_root import keys_configured, read_config

            try:
                config = read_config(root)
            except ValueError:
                config = {}
            gov.load_trust(keys_configured(config))
        return gov

    @property
    def sod(self) -> dict[str, bool]:
        """Separation-of-duties switches across actions (trust root's, else defaults)."""
        base = {"deployer_not_approver": True, "approver_not_author": True}
        if self.trust is not None:
            base.update(self.trust.sod)
        return base

    def now(self) -> float:
        return self.clock()

    def version(self, model: str, version: int) -> Any:
        """The registry's record of model@version (`NotFound` when there is none)."""
        if self.registry is None:
            raise NotFound("no model registry is configured")
        try:
            return self.registry.get(model, version)
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        except RuntimeError as exc:   # RegistryError
            raise NotFound(str(exc)) from None

    def close(self) -> None:
        self.engine.dispose()
