"""specops.yaml: the project config that anchors paths, people and defaults."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from specops.compiler.kinds.common import Duration, Name, SpecModel

__all__ = ["Person", "PrepareStep", "ProjectSpec", "RayConfig"]


class Person(SpecModel):
    roles: list[Name] = Field(default_factory=list)
    teams: list[Name] = Field(default_factory=list)
    email: str | None = None


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
    artifacts: str = Field(".specops/artifacts", description="artifact directory")
    ray: RayConfig = Field(default_factory=lambda: RayConfig())
    packs: list[str] = Field(default_factory=list,
                             description="built-in policy packs: sr11-7, eu-ai-act-high-risk")
    people: dict[Name, Person] = Field(default_factory=dict)
    permissions: dict[Action, list[Name]] = Field(
        default_factory=dict, description="action -> roles allowed (overrides the defaults)")
    vars: dict[Name, str | int | float | bool] = Field(default_factory=dict)
    prepare: list[PrepareStep] = Field(
        default_factory=list, description="commands `specops run` runs first when the files "
                                          "they create are missing")
    run_as: Name | None = Field(
        None, description="who `specops run` acts as when neither --as nor SPECOPS_USER is "
                          "given: a service account listed under `people` (e.g. the CI "
                          "pipeline); unset means the operating-system user")
    review_cadence: Duration | None = None
    extra: dict[str, Any] = Field(default_factory=dict, description="free-form metadata")
