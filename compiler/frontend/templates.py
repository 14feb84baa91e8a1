"""Render templated string values after parsing, in Jinja's immutable sandbox.

Why after parsing: rendering the whole file first (Helm's way) moves every line number and
lets a variable inject YAML structure. Rendering one string value at a time keeps positions
exact and keeps a variable a value. A value that is exactly one `{{ expression }}` keeps the
expression's native type, so `max_iter: "{{ iterations }}"` stays an integer.

Why a bounded sandbox: specs arrive in pull requests and `specops lint` runs on them in CI.
The immutable sandbox already refuses attribute tricks (`''.__class__`) and mutation
(`[].append`), but not work: `'x' * 10**9`, `'x'.ljust(10**9)`, `'%999999999s' % x` or a
loop that doubles a string allocate without limit. So spec templates are expressions plus
`{% if %}` only (no loops, assignments, macros or blocks), `*`, `**` and `%` are bounded,
and no call or filter takes an integer argument over MAX_SIZE. What is left is
multiplicative string work (`s|replace('a', s)`, `xs|join(s)`); on Linux rendering runs
under an address-space cap (MAX_RENDER_MEMORY above what the process already uses), so
such a template fails with MemoryError, reported as SPEC154, instead of taking the machine.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from specops.compiler.diagnostics.diagnostic import Diagnostic, Span
from specops.compiler.diagnostics.suggest import did_you_mean
from specops.compiler.frontend.loader import Document, Path_

__all__ = ["MAX_RANGE", "MAX_SIZE", "SpecEnvironment", "make_environment",
           "render_document"]

_MARKERS = ("{{", "{%", "{#")
_WHOLE = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}$", re.DOTALL)
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")

MAX_SIZE = 100_000      # longest string/list a `*` may build; digits of a `**` result
MAX_RANGE = 10_000
MAX_RENDER_MEMORY = 512 * 1024 * 1024
_BIG_WIDTH = re.compile(r"[0-9]{7,}|%[^a-zA-Z%]*\*")  # format widths of a million and up
_STATEMENTS = (nodes.Output, nodes.If)


def _check_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SIZE:
            raise SecurityError(f"arguments over {MAX_SIZE:,} are not allowed in templates")


def _bounded_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)  # keeps jinja's pass_context/pass_environment marks
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _check_args(args, kwargs)
        return func(*args, **kwargs)

    return wrapper


def _safe_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range is limited to {MAX_RANGE:,} items")
    return rng


class SpecEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with size limits on `*`, `**` and `range`."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False,
                         keep_trailing_newline=True)
        self.globals["range"] = _safe_range
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}

    def call(__self, __context: Any, __obj: Any, *args: Any,
             **kwargs: Any) -> Any:
        _check_args(args, kwargs)
        method = getattr(__obj, "__wrapped__", __obj)  # jinja wraps str.format
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str) and getattr(method, "__name__", "") in (
                "format", "format_map") and _BIG_WIDTH.search(owner):
            raise SecurityError("format widths of a million or more are not allowed")
        return super().call(__context, __obj, *args, **kwargs)

    def check_statements(self, source: str) -> nodes.Template:
        """Parse a template and refuse every statement but `{% if %}`."""
        tree = self.parse(source)
        for node in tree.find_all(nodes.Stmt):
            if not isinstance(node, _STATEMENTS):
                raise SecurityError(f"`{type(node).__name__}` statements are not allowed in "
                                    "spec templates; use {{ expression }} and {% if %}")
        return tree

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "%":
            if isinstance(left, str) and _BIG_WIDTH.search(left):
                raise SecurityError("format widths of a million or more are not allowed")
            return self.binop_table["%"](left, right)
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


@contextlib.contextmanager
def memory_cap(extra: int = MAX_RENDER_MEMORY) -> Iterator[None]:
    """Cap the address space at current use + `extra` (Linux; elsewhere no cap).

    The limit is process-wide, so it is set only while this is the process's only thread:
    inside a server or a Ray driver another thread could hit it. There the template
    sandbox's own size checks still apply."""
    if threading.active_count() > 1:
        yield
        return
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm", encoding="ascii") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
    except (ImportError, OSError, ValueError):
        yield
        return
    cap = used + extra
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield  # already capped at least as tightly
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


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
        return env.from_string(env.check_statements(text)).render(**variables)
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
    except MemoryError:
        doc.flagged.add(path)
        diags.append(Diagnostic("SPEC154", "template needs more than "
                                f"{MAX_RENDER_MEMORY // 2**20} MiB to render", doc.file, span))
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

    if _has_templates(doc.data):
        with memory_cap():
            doc.data = walk(doc.data, ())
    return diags


def _has_templates(value: Any) -> bool:
    if isinstance(value, str):
        return any(m in value for m in _MARKERS)
    if isinstance(value, dict):
        return any(_has_templates(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_templates(v) for v in value)
    return False
