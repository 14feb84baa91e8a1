"""`specops compile | graph | explain | diff`: the compiler's plan commands.

Why here and not in main.py: main.py stays the lint front door and loads fast; these
commands import the graph and plan modules (networkx) only when they run.

Exit codes: 0 ok; 1 the specs have errors (compile, graph, explain) or, with
`diff --exit-code`, the plans differ; 2 a usage mistake (unknown node, missing file, bad
git ref, unreadable plan), reported in one line without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specops.compiler.cli.helpers import (
    AddCommon,
    UsageError,
    existing,
    parse_vars,
    report_errors,
    write_output,
)

if TYPE_CHECKING:
    from specops.compiler.plan.compile import CompileResult

__all__ = ["cmd_compile", "cmd_diff", "cmd_explain", "cmd_graph", "register"]


def _compile(path: Path, args: argparse.Namespace, with_plan: bool = True
             ) -> CompileResult:
    from specops.compiler.plan.compile import compile_project

    return compile_project(path, parse_vars(getattr(args, "var", None)), with_plan=with_plan)


def cmd_compile(args: argparse.Namespace) -> int:
    from specops.compiler.plan.compile_cache import compile_with_cache, summarise

    path, variables = existing(args.path), parse_vars(getattr(args, "var", None))
    if args.no_cache:
        compiled = summarise(_compile(path, args), "off")
    else:   # an unchanged project replays its last plan (compiler/plan/compile_cache.py)
        compiled = compile_with_cache(path, variables)
    if compiled.result is not None and report_errors(compiled.result, "compile"):
        return 1
    write_output(compiled.text, args.output)
    warnings, models = compiled.warnings, compiled.models
    note = f"; {warnings} warning{'s' * (warnings != 1)} (see `specops lint`)" \
        if warnings else ""
    print(f"compiled {compiled.nodes} nodes for {models} model"
          f"{'s' * (models != 1)}" + (f" -> {args.output}" if args.output else "")
          + note, file=sys.stderr)
    return 0



def cmd_graph(args: argparse.Namespace) -> int:
    from specops.compiler.plan.dag import SelectionError, graph_data, select
    from specops.compiler.render import render_graph

    result = _compile(existing(args.path), args, with_plan=False)
    if report_errors(result, "graph"):
        return 1
    assert result.graph is not None
    chosen = None
    if args.select:
        try:
            chosen = select(result.graph, args.select)
        except SelectionError as exc:
            raise UsageError(str(exc)) from None
    nodes, edges = graph_data(result.graph, chosen)
    write_output(render_graph(args.format, nodes, edges), args.output)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from specops.compiler.plan.dag import SelectionError, select
    from specops.compiler.plan.explain import explain_node

    result = _compile(existing(args.path), args)
    if report_errors(result, "explain"):
        return 1
    assert result.plan is not None and result.graph is not None
    node_id = args.node
    if node_id not in result.graph:
        try:
            hits = sorted(select(result.graph, [node_id.strip("+")]))
        except SelectionError as exc:
            raise UsageError(f"unknown node: {exc}") from None
        if len(hits) != 1:
            listed = ", ".join(hits[:8]) + (", ..." if len(hits) > 8 else "")
            raise UsageError(f"`{node_id}` matches {len(hits)} nodes ({listed}); name one")
        node_id = hits[0]
    sys.stdout.write(explain_node(node_id, result.plan, result.graph, result.lint.project))
    return 0


def _plan_side(spec: str, args: argparse.Namespace, label: str,
               shown: str | None = None) -> dict[str, Any]:
    """A plan from a plan.json file or by compiling a project folder (`shown` names it in
    messages when `spec` is a temporary export)."""
    path = existing(spec)
    if path.is_file() and path.suffix not in (".yaml", ".yml"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: not a readable plan JSON ({exc})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path}: not a specops plan")
        return data
    result = _compile(path, args)
    if result.errors or result.plan is None:
        n = len(result.errors)
        where = shown or spec
        raise UsageError(f"{label}: the project at {where} has {n} error{'s' * (n != 1)}; "
                         f"run `specops lint {where}`")
    return result.plan.data


def cmd_diff(args: argparse.Namespace) -> int:
    from specops.compiler.frontend.gitref import GitRefError, NotAtRef, project_at_ref
    from specops.compiler.plan import FORMAT_VERSION
    from specops.compiler.plan.plan_diff import PlanDiffError, diff_plans
    from specops.compiler.render.diff_text import render_diff

    if args.git is not None:
        if args.new is not None:
            raise UsageError("with --git REF give at most one PATH (the project)")
        path = existing(args.old)
        try:
            with project_at_ref(args.git, path) as old_path:
                old = _plan_side(str(old_path), args, f"at {args.git}",
                                 shown=f"{path} (checked out at {args.git})")
        except NotAtRef:   # the project is new: everything in it is added
            old = {"format_version": FORMAT_VERSION, "nodes": [], "models": {}}
        except GitRefError as exc:
            raise UsageError(str(exc)) from None
        new = _plan_side(str(path), args, "working tree")
    else:
        if args.old is None or args.new is None:
            raise UsageError("diff needs OLD and NEW (plan.json files or project folders), "
                             "or --git REF [PATH]")
        old = _plan_side(args.old, args, "OLD")
        new = _plan_side(args.new, args, "NEW")
    try:
        diff = diff_plans(old, new)
    except PlanDiffError as exc:
        raise UsageError(str(exc)) from None
    except (KeyError, TypeError, AttributeError):
        raise UsageError("cannot compare: a plan is malformed (regenerate it with "
                         "`specops compile`)") from None
    write_output(render_diff(args.format, diff), args.output)
    return 1 if args.exit_code and diff.has_changes else 0


def register(sub: Any, add_common: AddCommon) -> None:
    """Add compile, graph, explain and diff to the CLI."""
    p = sub.add_parser("compile", help="lint, then write the execution plan (plan.json)",
                       description="Compile the project into a deterministic, versioned "
                       "execution plan. Refuses (exit 1) while lint reports errors.")
    p.add_argument("path", nargs="?", help="project folder (default: .)")
    p.add_argument("-o", "--output", help="write the plan here (default: stdout)")
    p.add_argument("--no-cache", action="store_true", help="compile afresh; read and write "
                   "no cache (default: an unchanged project replays its last plan from "
                   "<project>/.specops/cache/compile)")
    add_common(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("graph", help="print the pipeline DAG (Mermaid, DOT or JSON)")
    p.add_argument("path", nargs="?", help="project folder (default: .)")
    p.add_argument("--format", choices=["mermaid", "dot", "json"], default="mermaid")
    p.add_argument("--select", metavar="SEL", help="nodes to show: name, +name (with "
                   "upstream), name+ (with downstream), +name+; comma-separated for several")
    p.add_argument("-o", "--output", help="write to a file (default: stdout)")
    add_common(p)
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("explain", help="what a node does and what its fingerprint depends on")
    p.add_argument("node", help="node id, e.g. train:credit_default")
    p.add_argument("path", nargs="?", help="project folder (default: .)")
    add_common(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("diff", help="compare two plans: what changed, why, and the impact",
                       description="Compare two plans (plan.json files or project folders), "
                       "or the project with itself at a git ref (--git REF [PATH]).")
    p.add_argument("old", nargs="?", help="old plan.json or project (with --git: the project)")
    p.add_argument("new", nargs="?", help="new plan.json or project")
    p.add_argument("--git", metavar="REF", help="compare against the project at this git ref")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    p.add_argument("--exit-code", action="store_true",
                   help="exit 1 when the plans differ, 0 when they do not (2: error)")
    p.add_argument("-o", "--output", help="write to a file (default: stdout)")
    add_common(p)
    p.set_defaults(func=cmd_diff)
