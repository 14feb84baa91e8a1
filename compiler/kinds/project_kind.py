"""specops.yaml: the project config that anchors paths, people and defaults.

People (with their public `keys`), `permissions`, `policy`, `registry` and
`separation_of_duties` together are the *trust root*: the runtime acts on the last
version of them accepted with `specops policy accept`, and lint (SPEC508) says when the
working copy differs from the accepted one recorded in `trust.lock.json`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from specops.compiler.kinds.common import Duration, Name, SpecModel

__all__ = ["DutiesConfig", "Person", "PolicyConfig", "PrepareStep", "ProjectSpec",
           "RayConfig", "RegistryConfig"]


class Person(SpecModel):
    roles: list[Name] = Field(default_factory=list)
    teams: list[Name] = Field(default_factory=list)
    email: str | None = None
    keys: list[str] = Field(
        default_factory=list,
        description="the person's SSH ed25519 public keys: `ssh-ed25519 AAAA...` lines or "
                    "paths of .pub files relative to the project root; an action counts "
                    "only when signed by one of them (docs/governance.md)")


class PolicyConfig(SpecModel):
    """How the trust root (people, keys, roles, permissions) itself changes."""

    accept_requires: int = Field(
        1, ge=1, description="distinct people allowed to change_policy who must sign "
                             "`specops policy accept` (2: the two-person rule)")


class RegistryConfig(SpecModel):
    """The registry's signing key (referenced, never generated) and the pinned keys."""

    key: str | None = Field(
        None, description="path of the private key that signs registry manifests "
                          "(relative to the project; $SPECOPS_REGISTRY_KEY overrides)")
    pinned: list[str] = Field(
        default_factory=list,
        description="public keys that verify manifests (lines or .pub paths); keep "
                    "retired keys listed so older versions still verify")


class DutiesConfig(SpecModel):
    """Separation of duties across actions, enforced at run time and checked by lint."""

    deployer_not_approver: bool = Field(
        True, description="whoever deploys a version is not one of its approvers")
    approver_not_author: bool = Field(
        True, description="a model's authors never approve it, whatever the rule says")


class RayConfig(SpecModel):
    address: str | None = Field(None, description="ray://host:port or auto; local when unset")
    num_cpus: int | None = Field(None, ge=1)


Action = Literal["register", "approve", "reject", "deploy", "rollback", "change_policy"]


class PrepareStep(SpecModel):
    """A command that creates local inputs (e.g. an example's synthetic data) when missing.

    Runs only from `specops run`, never from lint or compile, as an argument list without a
    shell, in the project root; `python` means the interpreter running specops.
    """

    run: list[str] = Field(min_length=1, description="argv, e.g. [python, generate_data.py]")
    creates: str = Field(description="path or glob, relative to the project root; the step "
                                     "runs only when it matches nothing")
    timeout_s: int = Field(600, ge=1, le=86400)


class ProjectSpec(SpecModel):
    kind: Literal["project"] = "project"
    name: Name
    description: str | None = None
    specs: list[str] = Field(default_factory=lambda: ["specs/**/*.yaml", "specs/**/*.yml"],
                             description="globs of spec files, relative to the project root")
    store: str = Field("sqlite:///.specops/store.db", description="SQLAlchemy URL")
    online_store: str | None = Field(
        None, description="online feature store URL for `specops materialize`, `push` and "
                          "serving: sqlite:///PATH or redis://HOST:PORT/DB; unset means "
                          "sqlite:///.specops/online.sqlite ($SPECOPS_ONLINE_STORE and "
                          "--online-store override)")
    artifacts: str = Field(".specops/artifacts", description="artifact directory")
    ray: RayConfig = Field(default_factory=lambda: RayConfig())
    packs: list[str] = Field(default_factory=list,
                             description="built-in policy packs: sr11-7, eu-ai-act-high-risk")
    people: dict[Name, Person] = Field(default_factory=dict)
    permissions: dict[Action, list[Name]] = Field(
        default_factory=dict, description="action -> roles allowed (overrides the defaults)")
    policy: PolicyConfig = Field(default_factory=lambda: PolicyConfig())
    registry: RegistryConfig = Field(default_factory=lambda: RegistryConfig())
    separation_of_duties: DutiesConfig = Field(default_factory=lambda: DutiesConfig())
    vars: dict[Name, str | int | float | bool] = Field(default_factory=dict)
    prepare: list[PrepareStep] = Field(
        default_factory=list, description="commands `specops run` runs first when the files "
                                          "they create are missing")
    run_as: Name | None = Field(
        None, description="who `specops run` acts as when neither --as nor SPECOPS_USER is "
                          "given: a service account listed under `people` (e.g. the CI "
                          "pipeline); unset means the operating-system user")
    review_cadence: Duration | None = None
    lineage: str | None = Field(
        None, pattern=r"^(file:.+|https?://.+)$",
        description="where `specops run` sends OpenLineage run events: `file:PATH` (JSON "
                    "lines, inside the project) or an http(s):// endpoint; `--lineage` "
                    "overrides (docs/runtime.md)")
    extra: dict[str, Any] = Field(default_factory=dict, description="free-form metadata")
