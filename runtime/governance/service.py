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
    engine: sa.Engine
    directory: Directory = field(default_factory=Directory)
    registry: RegistryLike | None = None
    clock: Callable[[], float] = time.time
    project_root: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        ensure_schema(self.engine)

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
            registry = Registry(engine, art / "registry", root / ".specops" / "keys")
        return cls(engine, directory if directory is not None else load_directory(root),
                   registry, project_root=root)

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
