"""The `specops` command line: the entry point, `lint` and `rules`.

Every other command comes from the entry points of the `specops.commands` group (see the
`specops.compiler.cli` package docstring): the compiler's own extension commands and, when
the runtime extra is installed, the runtime's. An entry point whose dependencies are
missing (a light install without `specops[runtime]`) is skipped, and a command only it
would have added fails with one line naming the extra to install.

Exit codes: 0 clean, 1 findings at or above --fail-on (or a failed run), 2 usage or
internal error.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from specops.compiler.cli.helpers import UsageError, parse_vars, version
from specops.compiler.diagnostics.diagnostic import Severity
from specops.compiler.diagnostics.formats import FORMATS, render
from specops.compiler.diagnostics.rules import RULES
from specops.compiler.passes.lint import lint_paths

__all__ = ["COMMAND_GROUP", "UsageError", "build_parser", "main", "parse_vars", "version"]

COMMAND_GROUP = "specops.commands"   # entry points: NAME = "module:register"


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
    result = lint_paths(paths, parse_vars(args.var), cache=not args.no_cache,
                        cache_dir=Path(args.cache_dir) if args.cache_dir else None)
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


# Commands defined in this module: running one of them loads no entry point, so `specops
# lint` in a pre-commit hook imports no extension command and no runtime package at all.
_CORE_COMMANDS = frozenset({"lint", "rules"})


class _Commands:
    """The parser and what went into it: the sub-command table, and the entry points
    skipped because a dependency is not installed ({entry name: missing module})."""

    def __init__(self, parser: argparse.ArgumentParser, sub: Any) -> None:
        self.parser = parser
        self.sub = sub
        self.missing: dict[str, str] = {}

    @property
    def names(self) -> set[str]:
        return set(self.sub.choices)


def _core_parser() -> _Commands:
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
    p.add_argument("--no-cache", action="store_true", help="lint every file afresh; read and "
                   "write no cache (default: <project>/.specops/cache/lint, docs/lint.md)")
    p.add_argument("--cache-dir", metavar="DIR", help="keep the lint cache in DIR")
    _add_common(p)
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("rules", help="list every diagnostic code, or explain one")
    p.add_argument("code", nargs="?")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.set_defaults(func=cmd_rules)
    return _Commands(parser, sub)


def _entry_points() -> list[tuple[str, str, Callable[[], Any]]]:
    """(name, module, load) of every entry point in COMMAND_GROUP, in name order."""
    from importlib.metadata import entry_points

    return [(ep.name, ep.module, ep.load)
            for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name)]


def _not_installed(exc: ModuleNotFoundError, module: str) -> bool:
    """True when loading the entry point of `module` failed because something is not
    installed: a third-party dependency, or the entry point's own package. A missing
    specops module imported from inside it is a bug, and must not hide as a skipped set."""
    name = exc.name or ""
    if not name:
        return False
    own = module == name or module.startswith(f"{name}.")
    return own or not (name == "specops" or name.startswith("specops."))


def _full_parser() -> _Commands:
    commands = _core_parser()
    for name, module, load in _entry_points():
        try:
            register = load()
        except ModuleNotFoundError as exc:
            if not _not_installed(exc, module):
                raise
            commands.missing[name] = exc.name or module
            continue
        register(commands.sub, _add_common)
    if commands.missing:
        commands.parser.epilog = "not installed: " + "; ".join(
            f"the {name} commands (pip install 'specops[{name}]')"
            for name in sorted(commands.missing))
    return commands


def build_parser(extensions: bool = True) -> argparse.ArgumentParser:
    """The `specops` parser: `lint` and `rules`, plus (with `extensions`) every command
    registered through the COMMAND_GROUP entry points that can be loaded here."""
    return (_full_parser() if extensions else _core_parser()).parser


def _unavailable(commands: _Commands, word: str | None) -> str | None:
    """The one-line reason `word` is no command here, when a skipped entry point may be
    why (a close match to a known command is a typo, which argparse reports itself)."""
    if (word is None or not commands.missing or word in commands.names
            or difflib.get_close_matches(word, commands.names, n=1, cutoff=0.75)):
        return None
    needs = "; ".join(f"the {name} commands need `specops[{name}]` (no module named "
                      f"{mod!r}); pip install 'specops[{name}]'"
                      for name, mod in sorted(commands.missing.items()))
    return f"`{word}` is not available: {needs}"


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    try:
        commands = _core_parser() if first in _CORE_COMMANDS else _full_parser()
    except ModuleNotFoundError as exc:   # a broken install: one line, not a traceback
        print(f"specops: error: cannot load the commands: {exc}", file=sys.stderr)
        return 2
    if (reason := _unavailable(commands, first)) is not None:
        print(f"specops: error: {reason}", file=sys.stderr)
        return 2
    parser = commands.parser
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
