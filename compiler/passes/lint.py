"""Lint = load the project, run every pass, apply suppressions, sort.

`specops compile` runs exactly this first, so anything compile refuses, lint reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, sort_key
from specops.compiler.diagnostics.suppress import apply_suppressions
from specops.compiler.frontend.project import Project, load_project
from specops.compiler.passes import run_passes
from specops.compiler.passes.context import Context

__all__ = ["LintResult", "check_project", "lint_paths"]


@dataclass(slots=True)
class LintResult:
    project: Project
    context: Context
    diagnostics: list[Diagnostic]

    def sources(self) -> dict[str, list[str]]:
        return {path: f.text.splitlines() for path, f in self.project.files.items()}

    def count(self, at_least: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity >= at_least)

    @property
    def ok(self) -> bool:
        return self.count(Severity.ERROR) == 0


def check_project(project: Project) -> LintResult:
    ctx = Context(project, diagnostics=list(project.diagnostics))
    run_passes(ctx)
    suppressions = [s for f in project.files.values() for s in f.suppressions]
    diags = apply_suppressions(ctx.diagnostics, suppressions)
    if project.selected is not None:
        diags = [d for d in diags if d.file in project.selected]
    unique = sorted(dict.fromkeys(diags), key=sort_key)
    return LintResult(project, ctx, unique)


def lint_paths(paths: list[Path], variables: dict[str, str] | None = None,
               base: Path | None = None) -> LintResult:
    return check_project(load_project(paths, variables, base))
