"""The `specops` command line. Compiler commands live here; runtime commands are added
from `specops.runtime.cli.run_commands` when the runtime extra is installed (imported lazily so that
`specops lint` in a pre-commit hook never loads Ray, polars or scikit-learn).

Exit codes: 0 clean, 1 findings at or above --fail-on (or a failed run), 2 usage or
internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from specops.compiler.diagnostics.diagnostic import Severity
from specops.compiler.diagnostics.formats import FORMATS, render
from specops.compiler.diagnostics.rules import RULES
from specops.compiler.passes.lint import lint_paths

__all__ = ["main", "parse_vars", "version"]


def version() -> str:
    try:
        return metadata.version("specops")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0.0.0"


class UsageError(Exception):
    """A mistake on the command line: one line to stderr, exit 2."""


def parse_vars(items: Sequence[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise UsageError(f"--var expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def _default_format() -> str:
    if os.environ.get("GITHUB_ACTIONS") == "true" and os.environ.get("GITHUB_WORKFLOW"):
        return "github"
    return "full"


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--var", action="append", metavar="NAME=VALUE",
                   help="template variable (repeatable); overrides specops.yaml vars")


def cmd_lint(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths] or [Path.cwd()]
    for p in paths:
        if not p.exists():
            raise UsageError(f"no such file or directory: {p}")
    result = lint_paths(paths, parse_vars(args.var))
    diags = result.diagnostics
    if args.select:
        wanted = tuple(c.strip().upper() for c in args.select.split(","))
        diags = [d for d in diags if d.code.startswith(wanted)]
    if args.ignore:
        dropped = tuple(c.strip().upper() for c in args.ignore.split(","))
        diags = [d for d in diags if not d.code.startswith(dropped)]
    fmt = args.format or _default_format()
    color = fmt == "full" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    text = render(fmt, diags, result.sources(), version(), color)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary_file:  # every finding, also those past annotation caps
        from specops.compiler.diagnostics.formats.github import render_summary

        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(render_summary(diags))
    fail_on = Severity.parse(args.fail_on)
    failing = sum(1 for d in diags if d.severity >= fail_on)
    if fmt in ("full", "concise") and not args.quiet:
        errors = sum(1 for d in diags if d.severity == Severity.ERROR)
        warnings = sum(1 for d in diags if d.severity == Severity.WARNING)
        files = len(result.project.files)
        summary = (f"checked {files} file{'s' * (files != 1)}: {errors} error"
                   f"{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}")
        print(summary if diags else f"{summary}; all clean", file=sys.stderr)
    return 1 if failing else 0


def cmd_rules(args: argparse.Namespace) -> int:
    if args.code:
        code = args.code.upper()
        r = RULES.get(code)
        if r is None:
            raise UsageError(f"unknown code {args.code!r}; run `specops rules` for the list")
        print(f"{r.code} {r.slug} ({r.severity.label})\n\n{r.summary}\n\n{r.explanation}")
        from specops.compiler.diagnostics.rule_examples import EXAMPLES

        if (ex := EXAMPLES.get(code)) is not None:
            print(f"\nExample ({ex.file}):\n\n{ex.text.rstrip()}" if ex.verify
                  else f"\nExample: {ex.text.rstrip()}")
        return 0
    if args.format == "markdown":  # docs/rules.md
        from specops.compiler.diagnostics.rules_doc import render_rules_markdown

        sys.stdout.write(render_rules_markdown())
        return 0
    if args.format == "json":
        import json

        print(json.dumps([{"code": r.code, "slug": r.slug, "severity": r.severity.label,
                           "summary": r.summary, "explanation": r.explanation}
                          for r in RULES.values()], indent=2))
        return 0
    for r in RULES.values():
        print(f"{r.code}  {r.slug:<28} {r.severity.label:<8} {r.summary}")
    return 0


# Commands defined in this module: running one of them never imports an extension module,
# so `specops lint` in a pre-commit hook loads no runtime package at all.
_CORE_COMMANDS = frozenset({"lint", "rules"})


def build_parser(extensions: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specops", description="Declarative MLOps pipeline compiler and runtime.")
    parser.add_argument("--version", action="version", version=f"specops {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("lint", help="check specs and report every problem at once")
    p.add_argument("paths", nargs="*", help="project folder or spec files (default: .)")
    p.add_argument("--format", choices=FORMATS, help="output format (default: full; github "
                   "inside GitHub Actions)")
    p.add_argument("--output", "-o", help="write the report to a file")
    p.add_argument("--fail-on", choices=["error", "warning", "info"], default="error",
                   help="lowest severity that makes the exit code 1 (default: error)")
    p.add_argument("--select", help="only these codes or prefixes (comma-separated)")
    p.add_argument("--ignore", help="drop these codes or prefixes (comma-separated)")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary line")
    _add_common(p)
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("rules", help="list every diagnostic code, or explain one")
    p.add_argument("code", nargs="?")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.set_defaults(func=cmd_rules)

    for register in _extensions() if extensions else ():
        register(sub, _add_common)
    return parser


_EXTENSION_MODULES = (
    "specops.compiler.cli.plan_commands",       # compile, graph, explain, diff
    "specops.compiler.cli.schema_command",      # schema
    "specops.runtime.cli.run_commands",         # run, runs (runtime extra)
    "specops.runtime.cli.model_commands",       # models, runs compare, reproduce
    "specops.runtime.cli.governance_commands",  # approvals, approve, deploy, rollback, audit
    "specops.runtime.cli.serve_commands",       # serve, predict (+ the staging check)
    "specops.runtime.cli.monitor_commands",     # monitor
)


def _extensions() -> list[Any]:
    """Commands defined outside this module. Each module exposes `register(sub, common)`
    and must import nothing heavy at module level (lint stays fast)."""
    regs = []
    for name in _EXTENSION_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # not built yet, or the runtime extra is not installed
            raise
        regs.append(module.register)
    return regs


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(extensions=first not in _CORE_COMMANDS)
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
        return int(code or 0)
    except UsageError as exc:
        print(f"specops: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("specops: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # pragma: no cover - `specops ... | head`
        return 0
    except Exception:  # a crash must not read as "findings" (exit 1) in pre-commit or CI
        import traceback

        traceback.print_exc()
        print("specops: internal error (a bug in specops; please report it with the "
              "traceback above)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
