"""Render templated string values after parsing, in Jinja's immutable sandbox.

Why after parsing: rendering the whole file first (Helm's way) moves every line number and
lets a variable inject YAML structure. Rendering one string value at a time keeps positions
exact and keeps a variable a value. A value that is exactly one `{{ expression }}` keeps the
expression's native type, so `max_iter: "{{ iterations }}"` stays an integer.
"""

from __future__ import annotations

import re
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from .diagnostics import Diagnostic, Span
from .loader import Document, Path_
from .suggest import did_you_mean

__all__ = ["render_document", "make_environment"]

_MARKERS = ("{{", "{%", "{#")
_WHOLE = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}$", re.DOTALL)


def make_environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                         keep_trailing_newline=True)


def _error_span(span: Span, lineno: int | None) -> Span:
    if not lineno or lineno <= 1 or span.end_line == span.line:
        return span
    line = min(span.line + lineno - 1, span.end_line)
    return Span(line, 1, line, 2)


def _render_one(env: ImmutableSandboxedEnvironment, text: str, variables: dict[str, Any],
                doc: Document, path: Path_, diags: list[Diagnostic]) -> Any:
    span = doc.value_span(path)
    try:
        whole = _WHOLE.match(text.strip())
        if whole:
            value = env.compile_expression(whole.group("expr"),
                                           undefined_to_none=False)(**variables)
            if isinstance(value, jinja2.Undefined):
                str(value)  # raises UndefinedError with the name
            return value
        return env.from_string(text).render(**variables)
    except jinja2.TemplateSyntaxError as exc:
        diags.append(Diagnostic("SPEC151", f"template syntax error: {exc.message}", doc.file,
                                _error_span(span, exc.lineno)))
    except jinja2.UndefinedError as exc:
        message = str(exc.message or exc)
        name = re.search(r"'([^']+)' is undefined", message)
        help_text = did_you_mean(name.group(1), variables) if name else None
        if help_text is None:
            help_text = ("define it under `vars:` in specops.yaml or pass --var NAME=VALUE")
        diags.append(Diagnostic("SPEC152", f"template variable is undefined: {message}",
                                doc.file, span, help=help_text))
    except SecurityError as exc:
        diags.append(Diagnostic("SPEC153", f"template refused by the sandbox: {exc}",
                                doc.file, span))
    except Exception as exc:  # noqa: BLE001 - any rendering failure is the user's input
        diags.append(Diagnostic("SPEC154", f"template failed: {type(exc).__name__}: {exc}",
                                doc.file, span))
    return text


def render_document(doc: Document, variables: dict[str, Any],
                    env: ImmutableSandboxedEnvironment | None = None) -> list[Diagnostic]:
    """Render every templated string in `doc.data` in place; return diagnostics."""
    diags: list[Diagnostic] = []
    environment = env or make_environment()

    def walk(value: Any, path: Path_) -> Any:
        if isinstance(value, str):
            if any(m in value for m in _MARKERS):
                return _render_one(environment, value, variables, doc, path, diags)
            return value
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, str | dict | list):
                    value[k] = walk(v, (*path, k))
            return value
        if isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, str | dict | list):
                    value[i] = walk(v, (*path, i))
            return value
        return value

    doc.data = walk(doc.data, ())
    return diags
