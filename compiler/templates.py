"""Render templated string values after parsing, in Jinja's immutable sandbox.

Why after parsing: rendering the whole file first (Helm's way) moves every line number and
lets a variable inject YAML structure. Rendering one string value at a time keeps positions
exact and keeps a variable a value. A value that is exactly one `{{ expression }}` keeps the
expression's native type, so `max_iter: "{{ iterations }}"` stays an integer.

Why a bounded sandbox: specs arrive in pull requests and `specops lint` runs on them in CI.
The immutable sandbox already refuses attribute tricks (`''.__class__`) and mutation
(`[].append`); we also bound the operators that can allocate without limit (`'x' * 10**9`,
`9 ** 9 ** 9`) and the size of `range`.
"""

from __future__ import annotations

import operator
import re
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .diagnostics import Diagnostic, Span
from .loader import Document, Path_
from .suggest import did_you_mean

__all__ = ["MAX_RANGE", "MAX_SIZE", "SpecEnvironment", "make_environment",
           "render_document"]

_MARKERS = ("{{", "{%", "{#")
_WHOLE = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}$", re.DOTALL)
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")

MAX_SIZE = 100_000      # longest string/list a `*` may build; digits of a `**` result
MAX_RANGE = 10_000


def _safe_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range is limited to {MAX_RANGE:,} items")
    return rng


class SpecEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with size limits on `*`, `**` and `range`."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False,
                         keep_trailing_newline=True)
        self.globals["range"] = _safe_range

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and \
                        len(seq) * n > MAX_SIZE:
                    raise SecurityError(f"result would exceed {MAX_SIZE:,} items")
            return operator.mul(left, right)
        # |left| ** right has about right * log2|left| bits; refuse the huge ones early
        if isinstance(left, int) and isinstance(right, int) and right > 0 and \
                abs(left) > 1 and right * abs(left).bit_length() > MAX_SIZE * 3:
            raise SecurityError(f"result would exceed {MAX_SIZE:,} digits")
        return operator.pow(left, right)


def make_environment() -> SpecEnvironment:
    return SpecEnvironment()


def _plain(value: Any) -> bool:
    """Whether a native result is plain spec data (what YAML itself could have written)."""
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _error_span(doc: Document, path: Path_, lineno: int | None) -> Span:
    """The file line of template line `lineno`: exact in `|` block scalars, else the value."""
    span = doc.value_span(path)
    first = doc.literal_lines.get(path)
    if first is None or not lineno:
        return span
    line = min(first + lineno - 1, span.end_line)
    return Span(line, 1, line, 2)


def _render_one(env: SpecEnvironment, text: str, variables: dict[str, Any],
                doc: Document, path: Path_, diags: list[Diagnostic]) -> Any:
    span = doc.value_span(path)
    try:
        whole = _WHOLE.match(text.strip())
        if whole:
            value = env.compile_expression(whole.group("expr"),
                                           undefined_to_none=False)(**variables)
            if isinstance(value, jinja2.Undefined):
                str(value)  # raises UndefinedError (or SecurityError) with the name
            if not _plain(value):
                doc.flagged.add(path)
                diags.append(Diagnostic(
                    "SPEC154", f"template renders to a Python {type(value).__name__}, not a plain "
                    "value", doc.file, span,
                    help="a whole-value template must give a string, number, boolean, "
                         "null, list or mapping"))
                return text
            return list(value) if isinstance(value, tuple) else value
        return env.from_string(text).render(**variables)
    except jinja2.TemplateSyntaxError as exc:
        doc.flagged.add(path)
        diags.append(Diagnostic("SPEC151", f"template syntax error: {exc.message}", doc.file,
                                _error_span(doc, path, exc.lineno)))
    except jinja2.UndefinedError as exc:
        doc.flagged.add(path)
        message = str(exc.message or exc)
        name = _UNDEFINED_NAME.search(message)
        help_text = did_you_mean(name.group(1), variables) if name else None
        if help_text is None:
            help_text = "define it under `vars:` in specops.yaml or pass --var NAME=VALUE"
        diags.append(Diagnostic("SPEC152", f"template variable is undefined: {message}",
                                doc.file, span, help=help_text))
    except SecurityError as exc:
        doc.flagged.add(path)
        diags.append(Diagnostic("SPEC153", f"template refused by the sandbox: {exc}",
                                doc.file, span))
    except Exception as exc:  # any rendering failure is the user's input
        doc.flagged.add(path)
        diags.append(Diagnostic("SPEC154", f"template failed: {type(exc).__name__}: {exc}",
                                doc.file, span))
    return text


def render_document(doc: Document, variables: dict[str, Any],
                    env: SpecEnvironment | None = None) -> list[Diagnostic]:
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
