"""The compile context every pass reads and appends to.

Why an explicit context (not kwargs by introspection, sqlglot's habit we avoid): each pass
declares what it needs by reading attributes, and all diagnostics land in one list so the
user sees every error from every pass in one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from specops.compiler.diagnostics.diagnostic import Diagnostic, Related, Severity, Span
from specops.compiler.frontend.project import Project
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import (
    ApprovalSpec,
    FeatureSpec,
    GateSpec,
    ModelSpec,
    PolicySpec,
    ProjectSpec,
    SourceSpec,
)

__all__ = ["Context", "InputRef", "SpecIndex"]


@dataclass(slots=True)
class SpecIndex:
    sources: dict[str, LoadedSpec] = field(default_factory=dict)
    features: dict[str, dict[int, LoadedSpec]] = field(default_factory=dict)
    models: dict[str, LoadedSpec] = field(default_factory=dict)
    gates: dict[str, LoadedSpec] = field(default_factory=dict)
    approvals: dict[str, LoadedSpec] = field(default_factory=dict)
    policies: dict[str, LoadedSpec] = field(default_factory=dict)

    def source(self, name: str) -> SourceSpec:
        spec: SourceSpec = self.sources[name].spec
        return spec

    def feature(self, name: str, version: int) -> FeatureSpec:
        spec: FeatureSpec = self.features[name][version].spec
        return spec


@dataclass(frozen=True, slots=True)
class InputRef:
    """One resolved entry of a model's `training.features` (or `protected`) list."""

    text: str
    kind: str                    # "view" or "column"
    name: str                    # view or source name
    version: int | None          # view version
    columns: tuple[str, ...]     # features of the view, or the one source column
    index: int                   # position in the list (for spans)


@dataclass(slots=True)
class Context:
    project: Project
    index: SpecIndex = field(default_factory=SpecIndex)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    inputs: dict[str, list[InputRef]] = field(default_factory=dict)
    protected: dict[str, list[InputRef]] = field(default_factory=dict)
    # (view, version) -> ("source", name, None) or ("view", name, version)
    view_sources: dict[tuple[str, int], tuple[str, str, int | None]] = field(
        default_factory=dict)
    # compiled expression trees and the facts derived from them (read by the plan)
    feature_trees: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    feature_types: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)
    feature_columns: dict[tuple[str, int], dict[str, list[str]]] = field(default_factory=dict)
    gate_trees: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    approval_trees: dict[str, list[dict[str, Any] | None]] = field(default_factory=dict)
    approval_plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    policy_results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> ProjectSpec | None:
        return self.project.config

    def error(self, code: str, message: str, where: LoadedSpec, *path: str | int,
              key: bool = False, help: str | None = None, suggestion: str | None = None,
              severity: Severity = Severity.ERROR, span: Span | None = None,
              related: Sequence[Related] = ()) -> None:
        at = span or (where.key_span(*path) if key else where.span(*path))
        self.diagnostics.append(Diagnostic(code, message, where.file, at, severity,
                                           help=help, suggestion=suggestion,
                                           related=tuple(related)))

    @staticmethod
    def related(message: str, where: LoadedSpec, *path: str | int,
                key: bool = False) -> Related:
        """A related location for `error(..., related=[...])`: the other party of a finding
        (the person, the rule, the column), located in its own spec so a reader can jump
        there; the primary span stays on the field that must change."""
        at = where.key_span(*path) if key else where.span(*path)
        return Related(where.file, at, message)

    def models(self) -> list[tuple[LoadedSpec, ModelSpec]]:
        return [(ls, ls.spec) for ls in self.index.models.values()]

    def gates(self) -> list[tuple[LoadedSpec, GateSpec]]:
        return [(ls, ls.spec) for ls in self.index.gates.values()]

    def approvals(self) -> list[tuple[LoadedSpec, ApprovalSpec]]:
        return [(ls, ls.spec) for ls in self.index.approvals.values()]

    def policies(self) -> list[tuple[LoadedSpec, PolicySpec]]:
        return [(ls, ls.spec) for ls in self.index.policies.values()]
