"""A signed-mode project: people with SSH keys in specops.yaml, an accepted trust root."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "governance"))
from gov_helpers import FakeRegistry
from postgres_helpers import postgres_url, require_postgres

from specops.runtime.governance import Governance
from specops.runtime.governance.database import transaction
from specops.runtime.trust.ssh_keys import SshPrivateKey, create_keypair
from specops.runtime.trust.trust_root import load_working_root
from specops.runtime.trust.trust_store import accept

PG_URL = postgres_url()   # the tests call postgres_helpers.require_postgres() first

PEOPLE: dict[str, dict[str, list[str]]] = {
    "pipeline": {"roles": ["ml_engineer"], "teams": ["ml_platform"]},
    "alice": {"roles": ["ml_engineer"], "teams": ["credit_risk"]},
    "bob": {"roles": ["model_risk_officer"], "teams": ["model_validation"]},
    "erin": {"roles": ["model_risk_officer"], "teams": ["model_validation"]},
    "carol": {"roles": ["business_owner"], "teams": ["lending"]},
    "frank": {"roles": ["platform_engineer"], "teams": ["platform"]},
    "ivy": {"roles": ["business_owner", "platform_engineer"], "teams": ["lending"]},
}


@dataclass
class Project:
    root: Path
    url: str
    keys: dict[str, SshPrivateKey]
    registry: FakeRegistry = field(default_factory=FakeRegistry)
    schema: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    now: float = 1_750_000_000.0

    def write(self) -> None:
        (self.root / "specops.yaml").write_text(yaml.safe_dump(self.config, sort_keys=False))

    def gov(self, as_person: str | None = None) -> Governance:
        gov = Governance.open(self.root, self.url, registry=self.registry, schema=self.schema)
        gov.clock = lambda: self.now
        gov.signer = self.keys[as_person] if as_person else None
        return gov

    def accept(self, person: str) -> Any:
        gov = self.gov(person)
        try:
            with transaction(gov.engine) as conn:
                return accept(conn, load_working_root(self.root), self.keys[person],
                              at=self.now)
        finally:
            gov.close()

    def add_person(self, name: str, roles: list[str]) -> SshPrivateKey:
        key = create_keypair(self.root / ".keys", name)
        self.keys[name] = key
        self.config["people"][name] = {"roles": roles, "teams": ["x"],
                                       "keys": [f".keys/{name}.pub"]}
        self.write()
        return key


def make_project(tmp: Path, url: str | None = None, schema: str | None = None,
                 accept_requires: int = 1) -> Project:
    root = tmp / "proj"
    root.mkdir()
    keys = {n: create_keypair(root / ".keys", n) for n in PEOPLE}
    config: dict[str, Any] = {
        "name": "p",
        "people": {n: {**p, "keys": [f".keys/{n}.pub"]} for n, p in PEOPLE.items()},
        "permissions": {"register": ["ml_engineer"],
                        "approve": ["model_risk_officer", "business_owner"],
                        "reject": ["model_risk_officer", "business_owner"],
                        "deploy": ["platform_engineer"], "rollback": ["platform_engineer"],
                        "change_policy": ["model_risk_officer"]},
        "policy": {"accept_requires": accept_requires},
        "registry": {"pinned": [".keys/pipeline.pub"]},
    }
    proj = Project(root, url or f"sqlite:///{tmp / 'store.db'}", keys, schema=schema,
                   config=config)
    proj.write()
    return proj


def pg_project(tmp: Path) -> Project:
    return make_project(tmp, PG_URL, f"specops_trust_{uuid.uuid4().hex[:12]}")


def drop_schema(schema: str) -> None:
    assert PG_URL
    eng = sa.create_engine(PG_URL)
    with eng.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    eng.dispose()


def project_for(backend: str, tmp: Path) -> Iterator[Project]:
    """The body of the `project` fixtures parametrized over ["sqlite", "postgres"]: a
    SQLite project, or a Postgres one in its own schema, dropped afterwards."""
    if backend == "sqlite":
        yield make_project(tmp)
        return
    require_postgres()
    proj = pg_project(tmp)
    try:
        yield proj
    finally:
        assert proj.schema
        drop_schema(proj.schema)


def facts() -> dict[str, Any]:
    return {"owner": "team:credit_risk", "authors": ["alice"], "risk_tier": "high",
            "approval": {"name": "tiered", "environments": ["production"],
                         "rules": [{"index": 0, "applies": True,
                                    "when": {"op": "lit", "value": True},
                                    "require": {"model_risk_officer": 1,
                                                "business_owner": 1},
                                    "separation_of_duties": True, "auto_approve": False,
                                    "expires_s": 86400}]}}
