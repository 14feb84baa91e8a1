"""The entry points other passes call: text in, JSON tree and Diagnostics out.

Why a separate module: parse/check speak in character offsets inside the string; this is
the one place that knows how a YAML value maps onto file columns. A value's span starts
at its opening quote for quoted scalars, so the text begins one column later; block
scalars (`|`, `>`) and values folded over several lines have no single column, and their
diagnostics fall back to the whole value's span.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from specops.compiler.diagnostics.diagnostic import Diagnostic, Span
from specops.compiler.diagnostics.rules import RULES
from specops.compiler.expr.check import CheckResult, Tree, check
from specops.compiler.expr.env import Env
from specops.compiler.expr.issues import ExprIssue
from specops.compiler.expr.parse import parse

if TYPE_CHECKING:  # only attributes are read; importing would couple expr to the passes
    from specops.compiler.frontend.validate_specs import LoadedSpec
    from specops.compiler.passes.context import Context

__all__ = [
    "Memo",
    "check_expression",
    "check_spec_expression",
    "compile_expression",
    "issue_span",
    "text_offset",
]

# (text, the caller's key for its environment) -> the checked result (`check_spec_expression`)
Memo = dict[tuple[str, Any], CheckResult]


def compile_expression(text: str, env: Env) -> CheckResult:
    """Parse and type-check `text` in `env`; positions are offsets inside `text`."""
    parsed = parse(text)
    if parsed.tree is None:
        return CheckResult(None, None, parsed.issues)
    return check(parsed.tree, env)


def text_offset(source_line: str | None, span: Span, text: str | None = None) -> int | None:
    """Columns between the value span's start and the expression's first character.

    `source_line` is the raw YAML line the span starts on (without the newline). Returns
    1 for a single-line quoted scalar, 0 for a plain one, None when the text has no
    column of its own (block scalars, multi-line values, unknown line). With `text`, the
    source at that offset must read exactly `text`; otherwise (a rendered template, an
    escape such as `\\"` inside double quotes) the result is None too, so a diagnostic
    never points at the wrong characters.
    """
    if source_line is None or span.end_line != span.line:
        return None
    i = span.col - 1
    if not 0 <= i < len(source_line):
        return None
    first = source_line[i]
    if first in "|>":
        return None
    offset = 1 if first in "'\"" else 0
    if text is not None and source_line[i + offset:i + offset + len(text)] != text:
        return None
    return offset


def check_spec_expression(ctx: Context, loaded: LoadedSpec, text: str, env: Env,
                          *path: str | int, memo: Memo | None = None,
                          env_key: Hashable = None) -> Tree | None:
    """Compile the expression at `path` of a loaded spec, appending diagnostics to ctx.

    The convenience every pass wants: finds the value's span and raw source line, so
    diagnostics land on the exact columns inside the YAML string.

    `memo` with `env_key` (a hashable value that determines `env` entirely, chosen by the
    caller): the parse and type check are done once per (text, env_key) and the result
    reused, tree object included (trees are never mutated after compiling); diagnostics
    are still placed at this use's span.
    """
    span = loaded.span(*path)
    source = ctx.project.files.get(loaded.file)
    line = source.line(span.line) if source is not None else None
    offset = text_offset(line, span, text)
    if memo is None or env_key is None:
        tree, diags = check_expression(text, env, file=loaded.file, span=span, offset=offset)
    else:
        result = memo.get((text, env_key))
        if result is None:
            result = memo[(text, env_key)] = compile_expression(text, env)
        tree, diags = result.tree, _diagnostics(result, loaded.file, span, offset)
    ctx.diagnostics.extend(diags)
    return tree


def issue_span(issue: ExprIssue, span: Span, offset: int | None) -> Span:
    """The file span of one issue; the whole value when the offset is unknown."""
    if offset is None:
        return span
    return span.shifted(offset + issue.start, issue.end - issue.start)


def check_expression(text: str, env: Env, *, file: str, span: Span,
                     offset: int | None = 0) -> tuple[Tree | None, list[Diagnostic]]:
    """Compile one expression found in a YAML value at `span` of `file`.

    `offset` comes from `text_offset` (1 when the value was quoted). The tree is None
    exactly when there is at least one diagnostic.
    """
    result = compile_expression(text, env)
    return result.tree, _diagnostics(result, file, span, offset)


def _diagnostics(result: CheckResult, file: str, span: Span, offset: int | None
                 ) -> list[Diagnostic]:
    return [Diagnostic(i.code, i.message, file, issue_span(i, span, offset),
                       RULES[i.code].severity, help=i.help) for i in result.issues]
