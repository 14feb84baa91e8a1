"""Compile = lint, then build the graph, check it is acyclic, then build the plan.

Why lint first, always: a plan must never be built from specs lint would reject, so
`specops compile` refuses to write anything while there is an error, and reports every
error at once (lint's diagnostics plus graph-level ones such as cycles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity, sort_key
from specops.compiler.frontend.project import (
    Project,
    command_line_targets,
    find_root,
    load_project,
)
from specops.compiler.passes.lint import LintResult, check_project
from specops.compiler.plan import Plan, build_plan
from specops.compiler.plan.compile_cache import gc_paused
from specops.compiler.plan.dag import build_graph, cycle_diagnostic, find_cycle

__all__ = ["CompileResult", "compile_loaded", "compile_project"]


@dataclass(slots=True)
class CompileResult:
    lint: LintResult
    graph: nx.DiGraph[str] | None = None
    plan: Plan | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity >= Severity.ERROR]


def compile_project(path: Path, variables: dict[str, str] | None = None,
                    base: Path | None = None, with_plan: bool = True) -> CompileResult:
    """Compile the project at or above `path` (a folder or any file inside it)."""
    with gc_paused():
        return _compile(path, variables, base, with_plan)


def _compile(path: Path, variables: dict[str, str] | None, base: Path | None,
             with_plan: bool) -> CompileResult:
    # the command-line path is checked as a link (not `resolve()`d first), exactly as lint
    # checks it: a folder link out of its project is refused there, never walked
    targets, refused = command_line_targets([path])
    target = targets[0]
    root = find_root(target) or (target if target.is_dir() else target.parent)
    return _compile_loaded(load_project([path] if refused else [root], variables, base),
                           with_plan)


def compile_loaded(project: Project, with_plan: bool = True) -> CompileResult:
    """`compile_project` for a project loaded already (compile_cache.py loads it from the
    bytes it hashed, so what is cached is what was compiled)."""
    with gc_paused():
        return _compile_loaded(project, with_plan)


def _compile_loaded(project: Project, with_plan: bool) -> CompileResult:
    lint = check_project(project)
    result = CompileResult(lint, diagnostics=list(lint.diagnostics))
    if not lint.ok:
        return result
    graph = build_graph(lint.context)
    cycle = find_cycle(graph)
    if cycle is not None:
        result.diagnostics = sorted([*result.diagnostics, cycle_diagnostic(graph, cycle)],
                                    key=sort_key)
        return result
    result.graph = graph
    if with_plan:
        plan = build_plan(lint.context, graph)
        if plan.problems:
            result.diagnostics = sorted({*result.diagnostics, *plan.problems}, key=sort_key)
            return result
        result.plan = plan
    return result
