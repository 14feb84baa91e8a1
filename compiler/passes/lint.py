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

__all__ = ["LintResult", "check_project", "finish", "lint_paths"]


@dataclass(slots=True)
class LintResult:
    project: Project
    context: Context
    diagnostics: list[Diagnostic]
    # how the cache served it: "off", "cold" (no usable entry), "replayed" (nothing
    # changed), "incremental" (changes re-checked), "full" (changes, linted whole)
    how: str = "off"

    def sources(self) -> dict[str, list[str]]:
        return {path: f.text.splitlines() for path, f in self.project.files.items()}

    def count(self, at_least: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity >= at_least)

    @property
    def ok(self) -> bool:
        return self.count(Severity.ERROR) == 0


def finish(project: Project, raw: list[Diagnostic]) -> list[Diagnostic]:
    """Raw diagnostics to the reported list: suppressions applied, only the files asked
    about, duplicates dropped, sorted (fully, so a cached run orders ties alike)."""
    suppressions = [s for f in project.files.values() for s in f.suppressions]
    diags = apply_suppressions(raw, suppressions)
    if project.selected is not None:
        diags = [d for d in diags if d.file in project.selected]
    return sorted(dict.fromkeys(diags), key=lambda d: (sort_key(d), d.message))


def check_project(project: Project) -> LintResult:
    ctx = Context(project, diagnostics=list(project.diagnostics))
    run_passes(ctx)
    return LintResult(project, ctx, finish(project, ctx.diagnostics))


def lint_paths(paths: list[Path], variables: dict[str, str] | None = None,
               base: Path | None = None, *, cache: bool = False,
               cache_dir: Path | None = None) -> LintResult:
    """Lint the project at `paths`. With `cache`, reuse and refresh the project's lint
    cache (`<root>/.specops/cache/lint/`, or `cache_dir`): see lint_incremental.py."""
    if cache:
        from specops.compiler.passes.lint_incremental import lint_with_cache

        return lint_with_cache(paths, variables, base, cache_dir)
    return check_project(load_project(paths, variables, base))
